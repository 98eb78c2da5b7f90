/* The GGUF byte-level BPE path (tokenizer.ggml.model = "gpt2"): GGUF tokenizer metadata is built
 * from the llama3 and qwen3 tokenizer.json the way llama.cpp's converter writes it (token list by
 * id, merges as "left right" strings, token types NORMAL / CONTROL for special added tokens /
 * USER_DEFINED for the other added tokens, UNUSED "[PADn]" padding up to the model's embedding
 * rows, tokenizer.ggml.pre, BOS/EOS ids), written with the fixture GGUF writer, read back through
 * the GGUF reader, and must give the committed Hugging Face reference ids on every corpus line,
 * and the reference decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/gguf_writer.h"
#include "format/gguf.h"
#include "test_tokenizer_util.h"
#include "tokenizer/tokenizer.h"

enum { TYPE_NORMAL = 1, TYPE_CONTROL = 3, TYPE_USER_DEFINED = 4, TYPE_UNUSED = 5 };

static tt_corpus corpus;

static int setup(void **state) {
    (void)state;
    return tt_load_corpus(&corpus) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tt_free_corpus(&corpus);
    return 0;
}

/* The vocabulary of a tokenizer.json as GGUF arrays: texts and types by id. */
typedef struct gguf_vocab {
    const char **texts;
    char **pads; /* texts of the padding tokens, owned */
    size_t n_pads;
    int32_t *types;
    size_t n;
    char **merges;
    size_t n_merges;
} gguf_vocab;

static void vocab_free(gguf_vocab *v) {
    for (size_t i = 0; i < v->n_merges; i++) free(v->merges[i]);
    for (size_t i = 0; i < v->n_pads; i++) free(v->pads[i]);
    free(v->pads);
    free(v->merges);
    free(v->texts);
    free(v->types);
}

static size_t max_id(const json_t *vocab, const json_t *added) {
    size_t n = 0, i;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)vocab, key, val) {
        size_t id = (size_t)json_integer_value(val);
        if (id + 1 > n) n = id + 1;
    }
    const json_t *item;
    json_array_foreach(added, i, item) {
        size_t id = (size_t)json_integer_value(json_object_get(item, "id"));
        if (id + 1 > n) n = id + 1;
    }
    return n;
}

/* "left right" for each merge, whether the file lists them as strings or as pairs. */
static void read_merges(const json_t *merges, gguf_vocab *v) {
    v->n_merges = json_array_size(merges);
    v->merges = calloc(v->n_merges, sizeof *v->merges);
    assert_non_null(v->merges);
    for (size_t i = 0; i < v->n_merges; i++) {
        const json_t *m = json_array_get(merges, i);
        if (json_is_string(m)) {
            v->merges[i] = strdup(json_string_value(m));
        } else {
            const char *l = json_string_value(json_array_get(m, 0));
            const char *r = json_string_value(json_array_get(m, 1));
            assert_true(l && r);
            v->merges[i] = malloc(strlen(l) + strlen(r) + 2);
            sprintf(v->merges[i], "%s %s", l, r);
        }
        assert_non_null(v->merges[i]);
    }
}

/* Fills v from root (texts point into root). Every id must have a text, as in a GGUF. Ids from
 * the last token up to n_padded become "[PADn]" tokens of type UNUSED, as llama.cpp's converter
 * pads a vocabulary to the model's embedding rows (Qwen3: 151,669 tokens, 151,936 rows). */
static void read_vocab(const json_t *root, size_t n_padded, gguf_vocab *v) {
    const json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab");
    const json_t *added = json_object_get(root, "added_tokens");
    size_t n_real = max_id(vocab, added);
    v->n = n_padded > n_real ? n_padded : n_real;
    v->texts = calloc(v->n, sizeof *v->texts);
    v->types = calloc(v->n, sizeof *v->types);
    assert_true(v->texts && v->types);
    const char *key;
    const json_t *val, *item;
    json_object_foreach((json_t *)vocab, key, val) {
        v->texts[json_integer_value(val)] = key;
        v->types[json_integer_value(val)] = TYPE_NORMAL;
    }
    size_t i;
    json_array_foreach(added, i, item) {
        size_t id = (size_t)json_integer_value(json_object_get(item, "id"));
        v->texts[id] = json_string_value(json_object_get(item, "content"));
        v->types[id] = json_is_true(json_object_get(item, "special")) ? TYPE_CONTROL : TYPE_USER_DEFINED;
    }
    v->n_pads = v->n - n_real;
    v->pads = calloc(v->n_pads + 1, sizeof *v->pads);
    assert_non_null(v->pads);
    for (size_t k = 0; k < v->n_pads; k++) {
        v->pads[k] = malloc(32);
        assert_non_null(v->pads[k]);
        snprintf(v->pads[k], 32, "[PAD%zu]", n_real + k);
        v->texts[n_real + k] = v->pads[k];
        v->types[n_real + k] = TYPE_UNUSED;
    }
    for (size_t id = 0; id < v->n; id++) assert_non_null(v->texts[id]);
    read_merges(json_object_get(model, "merges"), v);
}

/* The GGUF file bytes (tokenizer keys only, no tensors) for the named tokenizer.json. */
static uint8_t *build_gguf(const char *name, const char *pre, size_t n_padded, uint32_t bos, uint32_t eos,
                           size_t *size) {
    char rel[256], path[4096];
    size_t len = 0;
    snprintf(rel, sizeof rel, "%s/tokenizer.json.zst", name);
    tt_data_path(path, sizeof path, rel);
    char *text = tt_read_zst(path, &len);
    assert_non_null(text);
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    free(text);
    assert_non_null(root);
    gguf_vocab v = {0};
    read_vocab(root, n_padded, &v);
    gguf_writer *w = gw_new();
    assert_non_null(w);
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(w, "tokenizer.ggml.pre", pre);
    gw_kv_str_array(w, "tokenizer.ggml.tokens", v.n, v.texts);
    gw_kv_array(w, "tokenizer.ggml.token_type", TINFER_META_I32, v.n, v.types);
    gw_kv_str_array(w, "tokenizer.ggml.merges", v.n_merges, (const char *const *)v.merges);
    gw_kv_u32(w, "tokenizer.ggml.bos_token_id", bos);
    gw_kv_u32(w, "tokenizer.ggml.eos_token_id", eos);
    /* both tokenizer.json post-processors add no tokens, so neither does the GGUF */
    gw_kv_bool(w, "tokenizer.ggml.add_bos_token", false);
    uint8_t *bytes = gw_build(w, size);
    assert_non_null(bytes);
    gw_free(w);
    vocab_free(&v);
    json_decref(root);
    return bytes;
}

static void check_against_reference(const tinfer_tokenizer *t, const char *name) {
    tt_reference ref;
    assert_true(tt_load_reference(name, &ref));
    assert_int_equal(ref.n, corpus.n);
    size_t id_ok = 0, text_ok = 0;
    for (size_t i = 0; i < corpus.n; i++) {
        const json_t *jids = json_object_get(ref.lines[i], "ids");
        size_t n_ref = json_array_size(jids), cap = tinfer_tokenize_bound(t, corpus.lens[i]), n = 0;
        int32_t *ids = malloc(cap * sizeof *ids), *ref_ids = malloc((n_ref + 1) * sizeof *ref_ids);
        for (size_t k = 0; k < n_ref; k++) ref_ids[k] = (int32_t)json_integer_value(json_array_get(jids, k));
        tinfer_status st = tinfer_tokenize(t, corpus.texts[i], corpus.lens[i], TINFER_TOKENIZE_DEFAULT, ids, cap, &n);
        if (st == TINFER_OK && n == n_ref && memcmp(ids, ref_ids, n * sizeof *ids) == 0) id_ok++;
        else if (getenv("TT_VERBOSE"))
            fprintf(stderr, "%s line %zu differs: %.*s\n", name, i, (int)(corpus.lens[i] > 120 ? 120 : corpus.lens[i]), corpus.texts[i]);
        const char *dec = json_string_value(json_object_get(ref.lines[i], "decode"));
        size_t text_cap = corpus.lens[i] * 4 + 64, text_len;
        char *out = malloc(text_cap);
        st = tinfer_detokenize(t, ref_ids, n_ref, TINFER_DETOKENIZE_SKIP_SPECIAL, out, text_cap, &text_len);
        if (st == TINFER_OK && text_len == strlen(dec) && memcmp(out, dec, text_len) == 0) text_ok++;
        free(out);
        free(ids);
        free(ref_ids);
    }
    printf("gguf %s (gpt2) vs tokenizer.json reference: ids %zu/%zu, decode %zu/%zu\n", name, id_ok, corpus.n,
           text_ok, corpus.n);
    assert_int_equal(id_ok, corpus.n);
    assert_int_equal(text_ok, corpus.n);
    tt_free_reference(&ref);
}

static void check_gguf(const char *name, const char *pre, size_t n_padded, uint32_t bos, uint32_t eos) {
    size_t size;
    uint8_t *bytes = build_gguf(name, pre, n_padded, bos, eos, &size);
    tf_metadata meta = {0};
    tf_tensor_table tensors = {0};
    uint32_t version;
    assert_int_equal(tf_gguf_read(bytes, size, 0, &meta, &tensors, &version), TINFER_OK);
    tinfer_tokenizer *t = NULL;
    tinfer_status st = tf_tokenizer_from_metadata(&meta, &t);
    if (st != TINFER_OK) fprintf(stderr, "%s: %s\n", name, tinfer_last_error());
    assert_int_equal(st, TINFER_OK);
    if (n_padded) assert_int_equal(tinfer_tokenizer_n_vocab(t), n_padded);
    int32_t id;
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_BOS, &id), TINFER_OK);
    assert_int_equal(id, (int32_t)bos);
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_EOS, &id), TINFER_OK);
    assert_int_equal(id, (int32_t)eos);
    assert_true(tinfer_tokenizer_is_eog(t, (int32_t)eos));
    check_against_reference(t, name);
    tinfer_tokenizer_free(t);
    tf_metadata_free(&meta);
    tf_tensor_table_free(&tensors);
    free(bytes);
}

static void test_llama3_gguf(void **state) {
    (void)state;
    check_gguf("llama3", "llama-bpe", 0, 128000, 128001); /* <|begin_of_text|>, <|end_of_text|> */
}

static void test_qwen3_gguf(void **state) {
    (void)state;
    check_gguf("qwen3", "qwen2", 151936, 151643, 151645); /* <|endoftext|>, <|im_end|> */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3_gguf),
        cmocka_unit_test(test_qwen3_gguf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
