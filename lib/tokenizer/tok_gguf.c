/* GGUF tokenizer.ggml.* keys → tokenizer, built to give the same ids as the model's Hugging Face
 * tokenizer.json (the reference), not llama.cpp's own tokenizer:
 *  - "llama" (SentencePiece BPE): HF's converter turns the scores into merges — every pair of
 *    tokens whose join is a normal token, ranked by that token's score (descending, then id). We
 *    rank the same way at run time (merges_from_scores) instead of building the 500k-entry merge
 *    list at load. CONTROL tokens are special added tokens, USER_DEFINED ones plain added tokens,
 *    matched in the raw text (GGUF stores their ▁ as spaces for this reason).
 *  - "gpt2" (byte-level BPE): merges as listed; the regex comes from tokenizer.ggml.pre. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tok_build.h"
#include "tokenizer/tokenizer.h"

enum { TYPE_NORMAL = 1, TYPE_UNKNOWN = 2, TYPE_CONTROL = 3, TYPE_USER_DEFINED = 4, TYPE_BYTE = 6 };

/* tokenizer.ggml.pre → the pre-tokenizer of the matching tokenizer.json. */
static const struct {
    const char *names[6];
    const char *regex;
    bool nfc, ignore_merges;
} PRE_TABLE[] = {
    {{"llama-bpe", "llama3", "llama-v3", "smaug-bpe", NULL},
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     false,
     true},
    {{"qwen2", "qwen3", "qwen35", "deepseek-r1-qwen", NULL},
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     true,
     false},
    {{"gpt-2", "gpt2", "default", NULL},
     "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
     false,
     false},
};

static const tf_meta_array *string_array(const tf_metadata *meta, const char *key) {
    const tf_meta_value *v = tf_meta_get(meta, key);
    if (!v || v->type != TINFER_META_ARRAY || v->as.array.elem_type != TINFER_META_STRING)
        return NULL;
    return &v->as.array;
}

static const tf_meta_array *number_array(const tf_metadata *meta, const char *key, uint64_t n) {
    const tf_meta_value *v = tf_meta_get(meta, key);
    if (!v || v->type != TINFER_META_ARRAY || v->as.array.n_elems != n ||
        tf_meta_scalar_size(v->as.array.elem_type) == 0)
        return NULL;
    return &v->as.array;
}

static bool is_integer_type(uint32_t type) {
    return type == TINFER_META_U8 || type == TINFER_META_I8 || type == TINFER_META_U16 ||
           type == TINFER_META_I16 || type == TINFER_META_U32 || type == TINFER_META_I32 ||
           type == TINFER_META_U64 || type == TINFER_META_I64;
}

/* A score as a float the sort can compare: doubles past float's range are clamped (the
 * conversion would be undefined) and NaN ranks last (it would make the order inconsistent). */
static float score_at(const tf_meta_array *scores, size_t i) {
    double v = tf_meta_array_f64(scores, i);
    if (isnan(v) || v < -FLT_MAX) return -FLT_MAX;
    return v > FLT_MAX ? FLT_MAX : (float)v;
}

static int32_t id_key(const tf_metadata *meta, const char *key, size_t n_vocab) {
    uint64_t id;
    return tf_meta_get_u64(meta, key, &id) && id < n_vocab ? (int32_t)id : -1;
}

static bool bool_key(const tf_metadata *meta, const char *key, bool fallback) {
    uint64_t v;
    return tf_meta_get_u64(meta, key, &v) ? v != 0 : fallback;
}

static tinfer_status read_tokens(tinfer_tokenizer *t, const tf_meta_array *tokens,
                                 const tf_meta_array *types) {
    for (uint64_t i = 0; i < tokens->n_elems; i++) {
        tinfer_status st =
            tf_tok_set_token(t, (int32_t)i, tokens->strings[i].ptr, tokens->strings[i].len);
        if (st != TINFER_OK) return st;
    }
    for (uint64_t i = 0; types && i < types->n_elems; i++) {
        int64_t type = tf_meta_array_i64(types, i);
        if ((type != TYPE_CONTROL && type != TYPE_USER_DEFINED) || tokens->strings[i].len == 0)
            continue;
        tf_added_token a = {(int32_t)i, false, false, false, false, type == TYPE_CONTROL};
        tinfer_status st = tf_tok_add_added(t, &a);
        if (st != TINFER_OK) return st;
    }
    return TINFER_OK;
}

/* ---- SentencePiece-style ---- */
static _Thread_local const float *sort_scores;
static int by_score(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (sort_scores[x] != sort_scores[y]) return sort_scores[x] > sort_scores[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static tinfer_status rank_by_scores(tinfer_tokenizer *t, const tf_meta_array *scores,
                                    const tf_meta_array *types) {
    size_t n = t->n_vocab, n_normal = 0;
    float *values = malloc(n * sizeof *values);
    int32_t *order = malloc(n * sizeof *order);
    t->score_rank = malloc(n * sizeof *t->score_rank);
    if (!values || !order || !t->score_rank) {
        free(values);
        free(order);
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        values[i] = scores ? score_at(scores, i) : 0.0f;
        t->score_rank[i] = UINT32_MAX;
        if (!types || tf_meta_array_i64(types, i) == TYPE_NORMAL) order[n_normal++] = (int32_t)i;
    }
    /* qsort has no context argument in C11; loading is single-threaded per call, but two threads
     * loading at once would race, so the comparator reads a thread-local copy of the pointer. */
    sort_scores = values;
    qsort(order, n_normal, sizeof *order, by_score);
    for (size_t r = 0; r < n_normal; r++) t->score_rank[order[r]] = (uint32_t)r;
    free(values);
    free(order);
    t->merges_from_scores = true;
    return TINFER_OK;
}

static tinfer_status add_norm_step(tinfer_tokenizer *t, tf_norm_kind kind, const char *pattern,
                                   const char *content) {
    tf_norm_step *grown = realloc(t->norm, (t->n_norm + 1) * sizeof *grown);
    if (!grown) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    t->norm = grown;
    tf_norm_step *s = &t->norm[t->n_norm++];
    *s = (tf_norm_step){kind, NULL, pattern ? strlen(pattern) : 0, NULL,
                        content ? strlen(content) : 0};
    if ((pattern && !(s->pattern = tf_tok_strdup(pattern, s->pattern_len))) ||
        (content && !(s->content = tf_tok_strdup(content, s->content_len))))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    return TINFER_OK;
}

static tinfer_status setup_spm(tinfer_tokenizer *t, const tf_metadata *meta,
                               const tf_meta_array *types) {
    const tf_meta_array *scores = number_array(meta, "tokenizer.ggml.scores", t->n_vocab);
    tinfer_status st = rank_by_scores(t, scores, types);
    bool space_prefix = bool_key(meta, "tokenizer.ggml.add_space_prefix", true);
    if (st == TINFER_OK && space_prefix)
        st = add_norm_step(t, TF_NORM_PREPEND, NULL, "\xE2\x96\x81");
    if (st == TINFER_OK) st = add_norm_step(t, TF_NORM_REPLACE, " ", "\xE2\x96\x81");
    t->byte_fallback = true;
    t->fuse_unk = true;
    t->unk_id = id_key(meta, "tokenizer.ggml.unknown_token_id", t->n_vocab);
    t->decoder.byte_fallback = true;
    if (space_prefix) {
        t->decoder.strip_char = ' ';
        t->decoder.strip_start = 1;
    }
    return st;
}

/* ---- byte-level ---- */
static tinfer_status read_merges(tinfer_tokenizer *t, const tf_meta_array *merges) {
    if (!merges)
        return tf_error(TINFER_E_FORMAT,
                        "gguf: tokenizer.ggml.merges is missing or not a string array");
    if (merges->n_elems >= UINT32_MAX || !tf_u64_map_init(&t->merges, merges->n_elems))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory for merges");
    for (uint64_t i = 0; i < merges->n_elems; i++) {
        const char *s = merges->strings[i].ptr;
        size_t len = merges->strings[i].len;
        const char *space = memchr(s, ' ', len);
        if (!space)
            return tf_error(TINFER_E_FORMAT, "gguf: tokenizer.ggml.merges[%llu] has no space",
                            (unsigned long long)i);
        size_t l_len = (size_t)(space - s);
        int32_t left = tf_tok_find(t, s, l_len), right = tf_tok_find(t, space + 1, len - l_len - 1);
        if (left < 0 || right < 0)
            return tf_error(TINFER_E_FORMAT,
                            "gguf: tokenizer.ggml.merges[%llu] names an unknown token",
                            (unsigned long long)i);
        tinfer_status st = tf_tok_add_merge(t, left, right, (uint32_t)i);
        if (st != TINFER_OK) return st;
    }
    return TINFER_OK;
}

static tinfer_status setup_bpe(tinfer_tokenizer *t, const tf_metadata *meta) {
    tinfer_status st = read_merges(t, string_array(meta, "tokenizer.ggml.merges"));
    if (st != TINFER_OK) return st;
    const char *pre = tf_meta_get_str(meta, "tokenizer.ggml.pre");
    if (!pre) pre = "default";
    for (size_t i = 0; i < sizeof PRE_TABLE / sizeof PRE_TABLE[0]; i++)
        for (size_t k = 0; PRE_TABLE[i].names[k]; k++) {
            if (strcmp(pre, PRE_TABLE[i].names[k]) != 0) continue;
            t->pretok = calloc(1, sizeof *t->pretok);
            if (!t->pretok) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
            t->n_pretok = 1;
            t->pretok[0].behavior = TF_SPLIT_ISOLATED;
            st = tf_regex_compile(PRE_TABLE[i].regex, strlen(PRE_TABLE[i].regex),
                                  &t->pretok[0].regex);
            if (st == TINFER_OK && PRE_TABLE[i].nfc) st = add_norm_step(t, TF_NORM_NFC, NULL, NULL);
            t->ignore_merges = PRE_TABLE[i].ignore_merges;
            t->byte_level = true;
            t->decoder.byte_level = true;
            return st;
        }
    return tf_error(TINFER_E_UNSUPPORTED, "gguf: tokenizer.ggml.pre '%s' is not supported", pre);
}

/* ---- both ---- */
static tinfer_status setup_specials(tinfer_tokenizer *t, const tf_metadata *meta, bool spm) {
    size_t n = t->n_vocab;
    t->bos_id = id_key(meta, "tokenizer.ggml.bos_token_id", n);
    t->eos_id = id_key(meta, "tokenizer.ggml.eos_token_id", n);
    t->pad_id = id_key(meta, "tokenizer.ggml.padding_token_id", n);
    t->unk_special_id = id_key(meta, "tokenizer.ggml.unknown_token_id", n);
    if (bool_key(meta, "tokenizer.ggml.add_bos_token", spm) && t->bos_id >= 0) {
        if (!(t->prefix_ids = malloc(sizeof *t->prefix_ids)))
            return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
        t->prefix_ids[t->n_prefix++] = t->bos_id;
    }
    if (bool_key(meta, "tokenizer.ggml.add_eos_token", false) && t->eos_id >= 0) {
        if (!(t->suffix_ids = malloc(sizeof *t->suffix_ids)))
            return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
        t->suffix_ids[t->n_suffix++] = t->eos_id;
    }
    const tf_tok_entry *e;
    if (t->bos_id >= 0 && (e = &t->tokens[t->bos_id]) &&
        !(t->bos_text = tf_tok_strdup(t->blob + e->text_off, e->text_len)))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    if (t->eos_id >= 0 && (e = &t->tokens[t->eos_id]) &&
        !(t->eos_text = tf_tok_strdup(t->blob + e->text_off, e->text_len)))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    const char *tmpl = tf_meta_get_str(meta, "tokenizer.chat_template");
    if (tmpl && !(t->chat_template = tf_tok_strdup(tmpl, strlen(tmpl))))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    const char *arch = tf_meta_get_str(meta, "general.architecture");
    if (arch && !(t->architecture = tf_tok_strdup(arch, strlen(arch))))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    return TINFER_OK;
}

static tinfer_status build(const tf_metadata *meta, bool spm, tinfer_tokenizer **out) {
    const tf_meta_array *tokens = string_array(meta, "tokenizer.ggml.tokens");
    if (!tokens)
        return tf_error(TINFER_E_FORMAT,
                        "gguf: tokenizer.ggml.tokens is missing or not a string array");
    const tf_meta_array *types = number_array(meta, "tokenizer.ggml.token_type", tokens->n_elems);
    if (types && !is_integer_type(types->elem_type))
        return tf_error(TINFER_E_FORMAT,
                        "gguf: tokenizer.ggml.token_type holds %s values, not "
                        "integers",
                        tf_meta_type_name(types->elem_type));
    tinfer_tokenizer *t;
    tinfer_status st = tf_tok_create(tokens->n_elems, tokens->n_elems, &t);
    if (st != TINFER_OK) return st;
    st = read_tokens(t, tokens, types);
    if (st == TINFER_OK) st = spm ? setup_spm(t, meta, types) : setup_bpe(t, meta);
    if (st == TINFER_OK) st = setup_specials(t, meta, spm);
    if (st == TINFER_OK) {
        tf_replace_pair space = {"\xE2\x96\x81", " ", 3, 1};
        st = tf_tok_finish(t, spm ? &space : NULL, spm ? 1 : 0);
    }
    if (st != TINFER_OK) {
        tf_tok_destroy(t);
        return st;
    }
    *out = t;
    return TINFER_OK;
}

tinfer_status tf_tokenizer_from_metadata(const tf_metadata *meta, tinfer_tokenizer **out) {
    if (!meta || !out) return tf_error(TINFER_E_INVALID_ARG, "tokenizer: NULL argument");
    const char *model = tf_meta_get_str(meta, "tokenizer.ggml.model");
    if (!model || strcmp(model, "none") == 0)
        return tf_error(TINFER_E_NOT_FOUND,
                        "gguf: the file carries no tokenizer (tokenizer.ggml.model)");
    if (strcmp(model, "llama") == 0) return build(meta, true, out);
    if (strcmp(model, "gpt2") == 0) return build(meta, false, out);
    return tf_error(TINFER_E_UNSUPPORTED,
                    "gguf: tokenizer model '%s' is not supported (llama, gpt2)", model);
}
