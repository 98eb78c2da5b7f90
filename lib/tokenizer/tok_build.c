/* Building a tokenizer (see tok_build.h): storage of token texts and the derived tables. */
#include "tokenizer/tok_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "tokenizer/added.h"
#include "tokenizer/bpe.h"
#include "tokenizer/bpe_split.h"
#include "tokenizer/utf8.h"

tinfer_status tf_tok_create(size_t n_vocab, size_t n_text_keys, tinfer_tokenizer **out) {
    if (n_vocab == 0 || n_vocab > (size_t)INT32_MAX / 2)
        return tf_error(TINFER_E_FORMAT, "tokenizer: vocabulary size %zu out of range", n_vocab);
    tinfer_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    t->n_vocab = n_vocab;
    t->tokens = calloc(n_vocab, sizeof *t->tokens);
    t->unk_id = t->bos_id = t->eos_id = t->pad_id = t->unk_special_id = -1;
    for (int i = 0; i < 256; i++) t->byte_ids[i] = -1;
    if (pthread_mutex_init(&t->cache.lock, NULL) != 0) {
        free(t->tokens);
        free(t);
        return tf_error(TINFER_E_NOMEM, "tokenizer: cannot create a lock");
    }
    if (!t->tokens || !tf_str_map_init(&t->by_text, n_text_keys)) {
        tf_tok_destroy(t);
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory for %zu tokens", n_vocab);
    }
    *out = t;
    return TINFER_OK;
}

void tf_tok_destroy(tinfer_tokenizer *t) {
    if (!t) return;
    free(t->tokens);
    free(t->blob);
    tf_str_map_free(&t->by_text);
    tf_str_map_free(&t->by_piece);
    tf_u64_map_free(&t->merges);
    tf_u64_map_free(&t->char_ids);
    free(t->score_rank);
    tf_bpe_cache_free(&t->cache);
    tf_bpe_split_free(t);
    pthread_mutex_destroy(&t->cache.lock);
    for (size_t i = 0; i < t->n_norm; i++) {
        free(t->norm[i].pattern);
        free(t->norm[i].content);
    }
    free(t->norm);
    for (size_t i = 0; i < t->n_pretok; i++) {
        pcre2_code_free(t->pretok[i].regex);
        free(t->pretok[i].literal);
    }
    free(t->pretok);
    free(t->added);
    tf_added_trie_free(&t->trie);
    free(t->prefix_ids);
    free(t->suffix_ids);
    free(t->eog_ids);
    free(t->chat_template);
    free(t->bos_text);
    free(t->eos_text);
    free(t->architecture);
    free(t);
}

char *tf_tok_strdup(const char *text, size_t len) {
    char *copy = len < SIZE_MAX ? malloc(len + 1) : NULL;
    if (!copy) return NULL;
    if (len) memcpy(copy, text, len);
    copy[len] = '\0';
    return copy;
}

/* Makes room for len more bytes of text; the blob may move. Allocated even for an empty first
 * text: the tables do arithmetic on blob. */
static bool blob_reserve(tinfer_tokenizer *t, size_t len) {
    size_t need;
    if (!tinfer_add_size(t->blob_len, len, &need) || need > UINT32_MAX) return false;
    if (need <= t->blob_cap && t->blob) return true;
    size_t cap = t->blob_cap ? t->blob_cap : 4096;
    while (cap < need) cap *= 2; /* need ≤ UINT32_MAX: no overflow */
    char *grown = realloc(t->blob, cap);
    if (!grown) return false;
    t->blob = grown;
    t->blob_cap = cap;
    return true;
}

/* Appends bytes to the blob; bytes must not point into it (blob_copy does that). */
static bool blob_append(tinfer_tokenizer *t, const void *bytes, size_t len, uint32_t *off) {
    if (!blob_reserve(t, len)) return false;
    if (len) memcpy(t->blob + t->blob_len, bytes, len);
    *off = (uint32_t)t->blob_len;
    t->blob_len += len;
    return true;
}

/* Appends a copy of blob[src_off .. src_off + len), read after the blob has grown. */
static bool blob_copy(tinfer_tokenizer *t, uint32_t src_off, size_t len, uint32_t *off) {
    if (!blob_reserve(t, len)) return false;
    if (len) memcpy(t->blob + t->blob_len, t->blob + src_off, len);
    *off = (uint32_t)t->blob_len;
    t->blob_len += len;
    return true;
}

tinfer_status tf_tok_set_token(tinfer_tokenizer *t, int32_t id, const char *text, size_t len) {
    if (id < 0 || (size_t)id >= t->n_vocab)
        return tf_error(TINFER_E_FORMAT, "tokenizer: token id %d out of range (vocabulary %zu)",
                        (int)id, t->n_vocab);
    tf_tok_entry *e = &t->tokens[id];
    if (e->flags & TF_TOK_PRESENT) {
        if (e->text_len == len && (len == 0 || memcmp(t->blob + e->text_off, text, len) == 0))
            return TINFER_OK;
        return tf_error(TINFER_E_FORMAT, "tokenizer: token id %d given two different texts",
                        (int)id);
    }
    uint32_t off;
    if (!blob_append(t, text, len, &off))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory for token texts");
    e->text_off = off;
    e->text_len = (uint32_t)len;
    e->flags |= TF_TOK_PRESENT;
    int32_t existing;
    if (!tf_str_map_put(&t->by_text, t->blob, off, (uint32_t)len, id, &existing))
        return tf_error(TINFER_E_FORMAT, "tokenizer: more token texts than declared");
    return TINFER_OK;
}

int32_t tf_tok_find(const tinfer_tokenizer *t, const char *text, size_t len) {
    return tf_str_map_get(&t->by_text, t->blob, text, len);
}

tinfer_status tf_tok_add_added(tinfer_tokenizer *t, const tf_added_token *added) {
    if (added->id < 0 || (size_t)added->id >= t->n_vocab ||
        !(t->tokens[added->id].flags & TF_TOK_PRESENT))
        return tf_error(TINFER_E_FORMAT, "tokenizer: added token id %d has no text",
                        (int)added->id);
    if (t->tokens[added->id].text_len == 0)
        return tf_error(TINFER_E_FORMAT, "tokenizer: added token id %d is empty", (int)added->id);
    /* a token listed twice: the later entry wins (searched only then: Gemma has ~6k added) */
    for (size_t i = 0; (t->tokens[added->id].flags & TF_TOK_ADDED) && i < t->n_added; i++)
        if (t->added[i].id == added->id) {
            t->added[i] = *added;
            goto flags;
        }
    if (t->n_added == t->cap_added &&
        !tf_grow((void **)&t->added, &t->cap_added, t->n_added, 1, sizeof *t->added))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    t->added[t->n_added++] = *added;
flags:
    t->tokens[added->id].flags |= TF_TOK_ADDED;
    if (added->special) t->tokens[added->id].flags |= TF_TOK_SPECIAL;
    else t->tokens[added->id].flags &= (uint8_t)~TF_TOK_SPECIAL;
    if (added->normalized) t->has_normalized_added = true;
    return TINFER_OK;
}

tinfer_status tf_tok_add_merge(tinfer_tokenizer *t, int32_t left, int32_t right, uint32_t rank) {
    const tf_tok_entry *l = &t->tokens[left], *r = &t->tokens[right];
    char stack[256];
    size_t len = (size_t)l->text_len + r->text_len;
    char *joined = len <= sizeof stack ? stack : malloc(len);
    if (!joined) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    memcpy(joined, t->blob + l->text_off, l->text_len);
    memcpy(joined + l->text_len, t->blob + r->text_off, r->text_len);
    int32_t merged = tf_tok_find(t, joined, len);
    if (joined != stack) free(joined);
    if (merged < 0)
        return tf_error(TINFER_E_FORMAT,
                        "tokenizer: merge %u ('%.*s' '%.*s') makes a token "
                        "not in the vocabulary",
                        rank, (int)l->text_len, t->blob + l->text_off, (int)r->text_len,
                        t->blob + r->text_off);
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    if (!tf_u64_map_set(&t->merges, key, (uint64_t)rank << 32 | (uint32_t)merged))
        return tf_error(TINFER_E_NOMEM, "tokenizer: merge table full");
    return TINFER_OK;
}

/* ---- GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68
 * bytes for U+0100.. in byte order. ---- */
static bool byte_is_printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t tf_byte_level_char(uint8_t b) {
    if (byte_is_printable(b)) return b;
    uint32_t n = 0;
    for (unsigned i = 0; i < b; i++)
        if (!byte_is_printable(i)) n++;
    return 256 + n;
}

int tf_byte_level_byte(uint32_t cp) {
    if (cp < 256) return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    uint32_t n = 0;
    for (unsigned b = 0; b < 256; b++)
        if (!byte_is_printable(b) && n++ == cp - 256) return (int)b;
    return -1;
}

/* ---- pieces: what each token contributes to decoded text ---- */
static bool piece_byte_level(tinfer_tokenizer *t, tf_tok_entry *e, const int16_t *char_byte) {
    const uint8_t *s = (const uint8_t *)t->blob + e->text_off;
    uint8_t stack[512];
    uint8_t *bytes = e->text_len <= sizeof stack ? stack : malloc(e->text_len);
    if (!bytes) return false;
    size_t n = 0, i = 0, bad;
    bool truncated, all_mapped = true;
    while (i < e->text_len) {
        size_t len = tf_utf8_check(s + i, e->text_len - i, &bad, &truncated);
        uint32_t cp = len ? tf_utf8_decode(s + i, len) : 0xFFFF;
        int b = cp < 0x200 ? char_byte[cp] : -1;
        if (!len || b < 0) {
            all_mapped = false;
            break;
        }
        bytes[n++] = (uint8_t)b;
        i += len;
    }
    /* Hugging Face's ByteLevel decoder keeps a token with an unmapped character as its text. */
    bool ok = all_mapped ? blob_append(t, bytes, n, &e->piece_off)
                         : blob_copy(t, e->text_off, e->text_len, &e->piece_off);
    /* the blob may have moved: s is not used after this point */
    e->piece_len = all_mapped ? (uint32_t)n : e->text_len;
    if (bytes != stack) free(bytes);
    return ok;
}

static bool parse_byte_token(const char *s, size_t len, uint8_t *value) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return false;
    unsigned v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        unsigned d = (c >= '0' && c <= '9')   ? (unsigned)(c - '0')
                     : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                     : (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10)
                                              : 16;
        if (d > 15) return false;
        v = v * 16 + d;
    }
    *value = (uint8_t)v;
    return true;
}

/* Decoder Replace steps may grow a piece to PIECE_GROWTH times its text plus PIECE_SLACK bytes.
 * Real decoders shrink pieces ("▁" → " "); chained growing steps in a hostile file would
 * otherwise multiply a one-byte token into gigabytes (eight steps of "a" → 255 × "a"). */
enum { PIECE_GROWTH = 4, PIECE_SLACK = 16 };

/* One Replace step of in[0..len) into out[0..cap); false when the result would pass cap. */
static bool replace_into(const tf_replace_pair *rep, const char *in, size_t len, char *out,
                         size_t cap, size_t *out_len) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        bool hit = in[i] == rep->from[0] && rep->from_len <= len - i &&
                   memcmp(in + i, rep->from, rep->from_len) == 0;
        size_t n = hit ? rep->to_len : 1;
        if (n > cap - o) return false;
        memcpy(out + o, hit ? rep->to : in + i, n);
        o += n;
        i += hit ? rep->from_len : 1;
    }
    *out_len = o;
    return true;
}

/* The text with each decoder Replace applied in order, every step bounded by the same cap. */
static tinfer_status piece_replaced(tinfer_tokenizer *t, size_t id, const tf_replace_pair *reps,
                                    size_t n_reps) {
    tf_tok_entry *e = &t->tokens[id];
    size_t len = e->text_len, cap;
    if (!tinfer_mul_size(len, PIECE_GROWTH, &cap) || !tinfer_add_size(cap, PIECE_SLACK, &cap))
        return tf_error(TINFER_E_FORMAT, "tokenizer: token %zu is too long", id);
    /* most tokens are short: stack buffers spare two allocations per token of a 262k vocabulary */
    char stack_a[256], stack_b[256];
    bool small = cap <= sizeof stack_a;
    char *a = small ? stack_a : malloc(cap), *b = small ? stack_b : malloc(cap);
    tinfer_status st = a && b ? TINFER_OK : tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    if (st == TINFER_OK && len) memcpy(a, t->blob + e->text_off, len);
    for (size_t r = 0; st == TINFER_OK && r < n_reps; r++) {
        if (!replace_into(&reps[r], a, len, b, cap, &len)) {
            st = tf_error(TINFER_E_FORMAT,
                          "tokenizer: decoder Replace steps grow token %zu (%u bytes) past %zu "
                          "bytes",
                          id, (unsigned)e->text_len, cap);
            break;
        }
        char *swap = a;
        a = b;
        b = swap;
    }
    if (st == TINFER_OK && !blob_append(t, a, len, &e->piece_off))
        st = tf_error(TINFER_E_NOMEM, "tokenizer: out of memory for pieces");
    e->piece_len = (uint32_t)len;
    if (!small) {
        free(a);
        free(b);
    }
    return st;
}

static tinfer_status make_pieces(tinfer_tokenizer *t, const tf_replace_pair *reps, size_t n_reps) {
    int16_t char_byte[0x200];
    for (int i = 0; i < 0x200; i++) char_byte[i] = (int16_t)tf_byte_level_byte((uint32_t)i);
    for (size_t id = 0; id < t->n_vocab; id++) {
        tf_tok_entry *e = &t->tokens[id];
        if (!(e->flags & TF_TOK_PRESENT)) continue;
        if (t->decoder.byte_level) {
            if (!piece_byte_level(t, e, char_byte))
                return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory for pieces");
            continue;
        }
        uint8_t value;
        if (t->decoder.byte_fallback &&
            parse_byte_token(t->blob + e->text_off, e->text_len, &value)) {
            e->flags |= TF_TOK_BYTE;
            e->byte_value = value;
        }
        tinfer_status st = piece_replaced(t, id, reps, n_reps);
        if (st != TINFER_OK) return st;
    }
    return TINFER_OK;
}

/* ---- tables for the BPE model ---- */
static tinfer_status make_byte_ids(tinfer_tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char text[8];
        size_t len;
        if (t->byte_level) {
            len = tf_utf8_encode(tf_byte_level_char((uint8_t)b), (uint8_t *)text);
        } else if (t->byte_fallback) {
            snprintf(text, sizeof text, "<0x%02X>", b);
            len = 6;
        } else {
            continue;
        }
        t->byte_ids[b] = tf_tok_find(t, text, len);
        if (t->byte_level && t->byte_ids[b] < 0)
            return tf_error(TINFER_E_FORMAT, "tokenizer: byte-level vocabulary lacks byte 0x%02X",
                            b);
    }
    return TINFER_OK;
}

static tinfer_status make_char_ids(tinfer_tokenizer *t) {
    if (!tf_u64_map_init(&t->char_ids, 1 << 16))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    for (size_t id = 0; id < t->n_vocab; id++) {
        const tf_tok_entry *e = &t->tokens[id];
        if (!(e->flags & TF_TOK_PRESENT) || e->text_len == 0 || e->text_len > 4) continue;
        const uint8_t *s = (const uint8_t *)t->blob + e->text_off;
        size_t bad;
        bool truncated;
        if (tf_utf8_check(s, e->text_len, &bad, &truncated) != e->text_len) continue;
        if (tf_tok_find(t, (const char *)s, e->text_len) != (int32_t)id) continue;
        if (!tf_u64_map_set(&t->char_ids, tf_utf8_decode(s, e->text_len), id)) {
            /* more single characters than the first guess: grow and start over */
            size_t n = t->char_ids.n_used * 4;
            tf_u64_map_free(&t->char_ids);
            if (!tf_u64_map_init(&t->char_ids, n))
                return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
            id = (size_t)-1;
        }
    }
    return TINFER_OK;
}

static tinfer_status make_piece_map(tinfer_tokenizer *t) {
    if (!tf_str_map_init(&t->by_piece, t->n_vocab))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    for (size_t id = 0; id < t->n_vocab; id++) {
        const tf_tok_entry *e = &t->tokens[id];
        if (!(e->flags & TF_TOK_PRESENT) || (e->flags & TF_TOK_ADDED)) continue;
        int32_t existing;
        if (!tf_str_map_put(&t->by_piece, t->blob, e->piece_off, e->piece_len, (int32_t)id,
                            &existing))
            return tf_error(TINFER_E_NOMEM, "tokenizer: piece table full");
    }
    return TINFER_OK;
}

static tinfer_status make_eog(tinfer_tokenizer *t) {
    static const char *const names[] = {
        "<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end_of_text|>", "<|endoftext|>",
        "<|eom_id|>", "</s>",       "<eos>",         "<|end|>",         "<EOT>"};
    size_t n_names = sizeof names / sizeof names[0];
    t->eog_ids = malloc((n_names + 1) * sizeof *t->eog_ids);
    if (!t->eog_ids) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    if (t->eos_id >= 0) t->eog_ids[t->n_eog++] = t->eos_id;
    for (size_t i = 0; i < n_names; i++) {
        int32_t id = tf_tok_find(t, names[i], strlen(names[i]));
        if (id >= 0 && id != t->eos_id) t->eog_ids[t->n_eog++] = id;
    }
    return TINFER_OK;
}

/* Normalized bytes per input byte, at most: invalid bytes and NFC can triple, and each Replace
 * can grow its pattern to its content. Real normalizers expand by 9 at most (" " → "▁" after
 * NFC); a chain of growing Replace steps is refused past MAX_EXPAND, because tokenizing would
 * otherwise turn a short text into gigabytes. */
enum { MAX_EXPAND = 1024 };

static size_t ceil_div(size_t a, size_t b) { return a / b + (a % b != 0); }

static tinfer_status bound_expansion(tinfer_tokenizer *t) {
    size_t factor = 3, prepend = 0;
    for (size_t i = 0; i < t->n_norm; i++) {
        const tf_norm_step *s = &t->norm[i];
        if (s->kind == TF_NORM_REPLACE && s->content_len > s->pattern_len &&
            (!tinfer_mul_size(factor, ceil_div(s->content_len, s->pattern_len), &factor) ||
             factor > MAX_EXPAND))
            return tf_error(TINFER_E_UNSUPPORTED,
                            "tokenizer: normalizer Replace steps grow text more than %d times",
                            MAX_EXPAND);
        if (s->kind == TF_NORM_PREPEND &&
            (!tinfer_add_size(prepend, s->content_len, &prepend) || prepend > MAX_EXPAND))
            break;
    }
    /* what the Prepend steps add, grown by the steps after them: bounded the same way */
    if (prepend > MAX_EXPAND || prepend * factor > MAX_EXPAND) /* each ≤ 1024: no overflow */
        return tf_error(TINFER_E_UNSUPPORTED,
                        "tokenizer: normalizer Prepend steps add more than %d bytes", MAX_EXPAND);
    t->max_expand = factor;
    t->prepend_len = prepend * factor;
    return TINFER_OK;
}

tinfer_status tf_tok_finish(tinfer_tokenizer *t, const tf_replace_pair *reps, size_t n_reps) {
    tinfer_status st = make_pieces(t, reps, n_reps);
    if (st == TINFER_OK) st = make_byte_ids(t);
    if (st == TINFER_OK && !t->byte_level) st = make_char_ids(t);
    if (st == TINFER_OK && t->byte_level) st = make_piece_map(t);
    if (st == TINFER_OK) st = tf_bpe_split_prepare(t);
    if (st == TINFER_OK) st = tf_added_trie_build(t);
    if (st == TINFER_OK) st = make_eog(t);
    if (st == TINFER_OK && !tf_bpe_cache_init(&t->cache))
        st = tf_error(TINFER_E_NOMEM, "tokenizer: out of memory for the cache");
    if (st == TINFER_OK) st = bound_expansion(t);
    return st;
}
