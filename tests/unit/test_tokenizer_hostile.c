/* Hostile tokenizer files (issue 11): each class of bug the fuzzing campaign found, reproduced
 * through the loading entry and the public calls, and the streaming detokenizer held equal to the
 * whole detokenization over thousands of random id sequences. Run under the sanitizers in the
 * ASan build, where the original bugs were reports (stack overflow, NULL + 0, memcpy from NULL). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/gguf_writer.h"
#include "format/gguf.h"
#include "test_tokenizer_util.h"
#include "tokenizer/tok_struct.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

static tinfer_status load_text(const char *json, tinfer_tokenizer **out) {
    *out = NULL;
    return tf_tokenizer_from_hf_json(json, strlen(json), NULL, 0, out);
}

/* A tiny model with the given decoder (or normalizer) JSON spliced in. */
static char *with_pipeline(const char *key, const char *steps) {
    static char json[8192];
    snprintf(
        json, sizeof json,
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]},"
        "\"%s\":{\"type\":\"Sequence\",\"%s\":[%s]}}",
        key, strcmp(key, "decoder") == 0 ? "decoders" : "normalizers", steps);
    return json;
}

static char *growing_replaces(const char *type, int n_steps, size_t to_len) {
    static char steps[6144];
    char to[512];
    memset(to, 'a', to_len);
    to[to_len] = '\0';
    size_t len = 0;
    for (int i = 0; i < n_steps; i++)
        len += (size_t)snprintf(
            steps + len, sizeof steps - len,
            "%s{\"type\":\"%s\",\"pattern\":{\"String\":\"a\"},\"content\":\"%s\"}", i ? "," : "",
            type, to);
    return steps;
}

static void expect_refused(const char *json, tinfer_status want, const char *in_message) {
    tinfer_tokenizer *t;
    tinfer_status st = load_text(json, &t);
    if (st != want || !strstr(tinfer_last_error(), in_message))
        fprintf(stderr, "got %s: %s\n", tinfer_status_str(st), tinfer_last_error());
    assert_int_equal(st, want);
    assert_null(t);
    assert_non_null(strstr(tinfer_last_error(), in_message));
}

/* Decoder Replace steps multiply a piece's size: eight steps of "a" → 255 × "a" once wrapped the
 * size to 0 and overran a stack buffer; fewer asked for gigabytes. Now bounded and checked. */
static void test_decoder_replace_growth_refused(void **state) {
    (void)state;
    expect_refused(with_pipeline("decoder", growing_replaces("Replace", 8, 255)), TINFER_E_FORMAT,
                   "decoder Replace steps grow token");
    expect_refused(with_pipeline("decoder", growing_replaces("Replace", 3, 255)), TINFER_E_FORMAT,
                   "decoder Replace steps grow token");
    expect_refused(with_pipeline("decoder", growing_replaces("Replace", 1, 100)), TINFER_E_FORMAT,
                   "decoder Replace steps grow token");
    /* modest growth is fine: "a" → "aa" twice makes "aaaa" */
    tinfer_tokenizer *t;
    assert_int_equal(load_text(with_pipeline("decoder", growing_replaces("Replace", 2, 2)), &t),
                     TINFER_OK);
    int32_t ids[] = {2};
    char text[64];
    size_t len;
    assert_int_equal(tinfer_detokenize(t, ids, 1, 0, text, sizeof text, &len), TINFER_OK);
    assert_string_equal(text, "aaaab");
    tinfer_tokenizer_free(t);
}

/* Normalizer Replace steps grow the text at every tokenize call: a chain is bounded at load. */
static void test_normalizer_replace_growth_refused(void **state) {
    (void)state;
    expect_refused(with_pipeline("normalizer", growing_replaces("Replace", 8, 255)),
                   TINFER_E_UNSUPPORTED, "normalizer Replace steps grow text");
    /* a 400-byte Prepend that a later Replace grows ninefold: past the bound */
    char *steps = calloc(1, 1024);
    assert_non_null(steps);
    size_t at = (size_t)sprintf(steps, "{\"type\":\"Prepend\",\"prepend\":\"");
    memset(steps + at, 'a', 400);
    strcpy(steps + at + 400, "\"},");
    strcat(steps, growing_replaces("Replace", 1, 3));
    expect_refused(with_pipeline("normalizer", steps), TINFER_E_UNSUPPORTED,
                   "normalizer Prepend steps add");
    free(steps);
    tinfer_tokenizer *t;
    assert_int_equal(load_text(with_pipeline("normalizer", growing_replaces("Replace", 2, 3)), &t),
                     TINFER_OK);
    assert_true(tinfer_tokenize_bound(t, 10) < 1000);
    tinfer_tokenizer_free(t);
}

static size_t tokenize(const tinfer_tokenizer *t, const char *text, int32_t *ids, size_t cap) {
    size_t n = 99;
    assert_int_equal(tinfer_tokenize(t, text, strlen(text), 0, ids, cap, &n), TINFER_OK);
    return n;
}

/* A word none of whose characters is in the vocabulary, without an unknown token, makes zero
 * tokens: no pointer arithmetic on the empty id list, none copied into the cache (twice: the
 * second call reads the cache). */
/* The id space sizes the token table, so it must be backed by the file's tokens: holes are fine
 * (as many as there are tokens, plus 1024), one far id is refused before the table is made. */
static void test_id_space_backed_by_tokens(void **state) {
    (void)state;
    tinfer_tokenizer *t = NULL;
    assert_int_equal(load_text("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,"
                               "\"ab\":1027},\"merges\":[\"a b\"]}}",
                               &t),
                     TINFER_OK);
    assert_int_equal(tinfer_tokenizer_n_vocab(t), 1028);
    tinfer_tokenizer_free(t);
    expect_refused("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":1030},"
                   "\"merges\":[]}}",
                   TINFER_E_FORMAT, "holes");
    expect_refused("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
                   "\"added_tokens\":[{\"id\":16777215,\"content\":\"<x>\"}]}",
                   TINFER_E_FORMAT, "holes");
}

/* A section of more than 256 steps is refused (each step runs on every call; a pre-tokenizer
 * step compiles a regex); 256 are accepted. */
static void test_pipeline_steps_capped(void **state) {
    (void)state;
    static char steps[300 * 16];
    size_t len = 0;
    for (int i = 0; i < 257; i++) len += (size_t)sprintf(steps + len, "%s{\"type\":\"NFC\"}", i ? "," : "");
    expect_refused(with_pipeline("normalizer", steps), TINFER_E_UNSUPPORTED, "more than 256 steps");
    steps[len - strlen(",{\"type\":\"NFC\"}")] = '\0';
    tinfer_tokenizer *t = NULL;
    assert_int_equal(load_text(with_pipeline("normalizer", steps), &t), TINFER_OK);
    tinfer_tokenizer_free(t);
}

static void test_word_with_no_tokens(void **state) {
    (void)state;
    tinfer_tokenizer *t;
    assert_int_equal(
        load_text("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", &t),
        TINFER_OK);
    int32_t ids[8];
    for (int round = 0; round < 2; round++) {
        assert_int_equal(tokenize(t, "b", ids, 8), 0);
        assert_int_equal(tokenize(t, "", ids, 8), 0);
        assert_int_equal(tokenize(t, "ba", ids, 8), 1);
        assert_int_equal(ids[0], 0);
    }
    size_t n = 99;
    assert_int_equal(tinfer_tokenize(t, "b", 1, 0, NULL, 0, &n), TINFER_OK);
    assert_int_equal(n, 0);
    tinfer_tokenizer_free(t);
}

/* A vocabulary whose texts are all empty: the token-text storage is empty too. */
static void test_empty_token_texts(void **state) {
    (void)state;
    static const char *const files[] = {
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"\":0},\"merges\":[]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"\":0,\"a\":1},\"merges\":[]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"\":0},\"merges\":[]},\"decoder\":{\"type\":"
        "\"Replace\",\"pattern\":{\"String\":\"a\"},\"content\":\"b\"}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"\":0},\"merges\":[],\"byte_fallback\":true},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"}]}}",
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        tinfer_tokenizer *t;
        tinfer_status st = load_text(files[f], &t);
        if (st != TINFER_OK) {
            assert_non_null(tinfer_last_error());
            continue;
        }
        int32_t ids[8];
        tokenize(t, "ab", ids, 8);
        tokenize(t, "", ids, 8);
        int32_t zero = 0;
        char text[16];
        size_t len;
        assert_int_equal(tinfer_detokenize(t, &zero, 1, 0, text, sizeof text, &len), TINFER_OK);
        assert_int_equal(len, 0);
        tinfer_tokenizer_free(t);
    }
}

/* A byte-level decoder keeps a token with a character outside its alphabet as its text, copied
 * within the token-text storage: a long one grows the storage while it is the source (it was
 * read after being freed). */
static void test_byte_level_unmapped_long_token(void **state) {
    (void)state;
    size_t n_chars = 1700, len = 0; /* 5100 bytes of "€", outside the byte-level alphabet */
    char *json = malloc(n_chars * 3 + 256), *text = malloc(n_chars * 3 + 1);
    assert_true(json && text);
    for (size_t i = 0; i < n_chars; i++) memcpy(text + 3 * i, "\xE2\x82\xAC", 3);
    text[n_chars * 3] = '\0';
    len = (size_t)sprintf(json,
                          "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"%s\":0,\"a\":1},"
                          "\"merges\":[]},\"decoder\":{\"type\":\"ByteLevel\"}}",
                          text);
    tinfer_tokenizer *t;
    assert_int_equal(tf_tokenizer_from_hf_json(json, len, NULL, 0, &t), TINFER_OK);
    int32_t id = 0;
    char *out = malloc(n_chars * 3 + 1);
    size_t out_len;
    assert_int_equal(tinfer_detokenize(t, &id, 1, 0, out, n_chars * 3 + 1, &out_len), TINFER_OK);
    assert_int_equal(out_len, n_chars * 3);
    assert_memory_equal(out, text, out_len);
    tinfer_tokenizer_free(t);
    free(out);
    free(text);
    free(json);
}

/* GGUF tokenizer arrays of the wrong number kind: token types that are floats are refused (a
 * float past int64's range made the conversion undefined), scores past float's range or NaN
 * are clamped before they are sorted. */
static tinfer_status load_gguf_tokenizer(uint32_t types_kind, const void *types,
                                         uint32_t scores_kind, const void *scores,
                                         tinfer_tokenizer **out) {
    static const char *const texts[] = {"<unk>", "\xE2\x96\x81", "a", "b",
                                        "\xE2\x96\x81\x61" /* "▁a" */};
    gguf_writer *w = gw_new();
    assert_non_null(w);
    gw_kv_str(w, "tokenizer.ggml.model", "llama");
    gw_kv_str_array(w, "tokenizer.ggml.tokens", 5, texts);
    gw_kv_array(w, "tokenizer.ggml.token_type", types_kind, 5, types);
    gw_kv_array(w, "tokenizer.ggml.scores", scores_kind, 5, scores);
    gw_kv_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    size_t size = 0;
    uint8_t *bytes = gw_build(w, &size);
    assert_non_null(bytes);
    tf_metadata meta = {0};
    tf_tensor_table tensors = {0};
    uint32_t version;
    assert_int_equal(tf_gguf_read(bytes, size, 0, &meta, &tensors, &version), TINFER_OK);
    *out = NULL;
    tinfer_status st = tf_tokenizer_from_metadata(&meta, out);
    tf_metadata_free(&meta);
    tf_tensor_table_free(&tensors);
    free(bytes);
    gw_free(w);
    return st;
}

static void test_gguf_number_kinds(void **state) {
    (void)state;
    const int32_t types[5] = {2, 1, 1, 1, 1};
    const float float_types[5] = {2, 1.77e28f, 1, 1, 1}, scores[5] = {0, -1, -2, -3, -4};
    tinfer_tokenizer *t;
    assert_int_equal(load_gguf_tokenizer(TINFER_META_F32, float_types, TINFER_META_F32, scores, &t),
                     TINFER_E_FORMAT);
    assert_non_null(strstr(tinfer_last_error(), "token_type"));
    assert_null(t);
    const double wild[5] = {0, 1e300, NAN, -1e300, 5};
    assert_int_equal(load_gguf_tokenizer(TINFER_META_I32, types, TINFER_META_F64, wild, &t),
                     TINFER_OK);
    int32_t ids[8];
    assert_true(tokenize(t, "a a", ids, 8) > 0);
    tinfer_tokenizer_free(t);
}

/* ---- streaming equals whole detokenization ---- */
typedef struct grow_buf {
    char *data;
    size_t len, cap;
} grow_buf;

static void grow_append(grow_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Streams ids (pushing with a buffer that is sometimes too small, as a caller may) into out. */
static void stream_all(const tinfer_tokenizer *t, uint32_t flags, const int32_t *ids, size_t n,
                       grow_buf *out) {
    tinfer_detok_stream *s;
    assert_int_equal(tinfer_detok_stream_create(t, flags, &s), TINFER_OK);
    char piece[64];
    for (size_t i = 0; i <= n; i++) {
        size_t len, cap = i % 3 == 0 ? 1 : sizeof piece;
        tinfer_status st = i < n ? tinfer_detok_stream_push(s, ids[i], piece, cap, &len)
                                 : tinfer_detok_stream_flush(s, piece, cap, &len);
        if (st == TINFER_E_BUFFER_TOO_SMALL) {
            char *big = malloc(len + 1);
            size_t need = len;
            st = i < n ? tinfer_detok_stream_push(s, ids[i], big, need + 1, &len)
                       : tinfer_detok_stream_flush(s, big, need + 1, &len);
            assert_int_equal(st, TINFER_OK);
            assert_int_equal(len, need);
            grow_append(out, big, len);
            free(big);
            continue;
        }
        assert_int_equal(st, TINFER_OK);
        grow_append(out, piece, len);
    }
    tinfer_detok_stream_free(s);
}

static void whole(const tinfer_tokenizer *t, uint32_t flags, const int32_t *ids, size_t n,
                  grow_buf *out) {
    size_t len;
    tinfer_status st = tinfer_detokenize(t, ids, n, flags, NULL, 0, &len);
    assert_int_equal(st, TINFER_E_BUFFER_TOO_SMALL);
    out->data = malloc(len + 1);
    out->cap = len + 1;
    assert_int_equal(tinfer_detokenize(t, ids, n, flags, out->data, len + 1, &out->len), TINFER_OK);
}

static void expect_same(const tinfer_tokenizer *t, uint32_t flags, const int32_t *ids, size_t n) {
    grow_buf a = {0}, b = {0};
    whole(t, flags, ids, n, &a);
    stream_all(t, flags, ids, n, &b);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
        fprintf(stderr, "ids:");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)ids[i]);
        fprintf(stderr, "\nwhole (%zu):  ", a.len);
        for (size_t i = 0; i < a.len; i++) fprintf(stderr, "%02X ", (unsigned char)a.data[i]);
        fprintf(stderr, "\nstream (%zu): ", b.len);
        for (size_t i = 0; i < b.len; i++) fprintf(stderr, "%02X ", (unsigned char)b.data[i]);
        fprintf(stderr, "\n");
    }
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_true(tf_utf8_valid((const uint8_t *)b.data, b.len));
    free(a.data);
    free(b.data);
}

/* The case the campaign found: <0xFD> <0x12> is one invalid run, so two U+FFFD either way. */
static void test_stream_invalid_byte_run_gemma3(void **state) {
    (void)state;
    tinfer_tokenizer *t = tt_load_tokenizer("gemma3");
    assert_non_null(t);
    static const int32_t cases[][3] = {{491, 256, -1}, {256, 491, -1},  {303, 491, -1},
                                       {464, 368, -1}, {464, 368, 410}, {464, 368, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = cases[c][2] < 0 ? 2 : 3;
        expect_same(t, 0, cases[c], n);
        expect_same(t, TINFER_DETOKENIZE_SKIP_SPECIAL, cases[c], n);
    }
    int32_t ids[] = {491, 256};
    char text[32];
    size_t len;
    assert_int_equal(tinfer_detokenize(t, ids, 2, 0, text, sizeof text, &len), TINFER_OK);
    assert_string_equal(text, "\xEF\xBF\xBD\xEF\xBF\xBD"); /* Hugging Face's decode */
    tinfer_tokenizer_free(t);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

/* Random id sequences, biased towards byte tokens (runs of <0xXX>, valid and not) and the first
 * ids (specials), so the runs and skip rules are exercised as much as whole words. */
static void random_equal(const char *name, int rounds) {
    tinfer_tokenizer *t = tt_load_tokenizer(name);
    assert_non_null(t);
    int32_t n_vocab = (int32_t)tinfer_tokenizer_n_vocab(t), byte_ids[512];
    size_t n_bytes = 0;
    for (int32_t id = 0; id < n_vocab && n_bytes < 512; id++) {
        const tf_tok_entry *e = &t->tokens[id];
        if ((e->flags & TF_TOK_BYTE) || (t->decoder.byte_level && e->piece_len == 1))
            byte_ids[n_bytes++] = id;
    }
    assert_true(n_bytes >= 256);
    for (int r = 0; r < rounds; r++) {
        int32_t ids[40];
        size_t n = rnd() % 40;
        for (size_t i = 0; i < n; i++) {
            uint32_t kind = rnd() % 8;
            if (kind < 4 && n_bytes) ids[i] = byte_ids[rnd() % n_bytes];
            else if (kind == 4) ids[i] = byte_ids[0x20 + rnd() % 0x60]; /* mostly ASCII */
            else if (kind == 5) ids[i] = (int32_t)(rnd() % 16);
            else ids[i] = (int32_t)(rnd() % (uint32_t)n_vocab);
        }
        /* holes in the vocabulary are refused by both: keep only ids that decode */
        size_t kept = 0, len;
        for (size_t i = 0; i < n; i++)
            if (tinfer_token_piece(t, ids[i], NULL, 0, &len) == TINFER_E_BUFFER_TOO_SMALL)
                ids[kept++] = ids[i];
        expect_same(t, rnd() % 2 ? TINFER_DETOKENIZE_SKIP_SPECIAL : 0, ids, kept);
    }
    tinfer_tokenizer_free(t);
}

static void test_stream_equals_whole_gemma3(void **state) {
    (void)state;
    random_equal("gemma3", 3000);
}
static void test_stream_equals_whole_llama2(void **state) {
    (void)state;
    random_equal("llama2", 3000);
}
static void test_stream_equals_whole_llama3(void **state) {
    (void)state;
    random_equal("llama3", 3000);
}
static void test_stream_equals_whole_qwen3(void **state) {
    (void)state;
    random_equal("qwen3", 3000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoder_replace_growth_refused),
        cmocka_unit_test(test_normalizer_replace_growth_refused),
        cmocka_unit_test(test_id_space_backed_by_tokens),
        cmocka_unit_test(test_pipeline_steps_capped),
        cmocka_unit_test(test_word_with_no_tokens),
        cmocka_unit_test(test_empty_token_texts),
        cmocka_unit_test(test_byte_level_unmapped_long_token),
        cmocka_unit_test(test_gguf_number_kinds),
        cmocka_unit_test(test_stream_invalid_byte_run_gemma3),
        cmocka_unit_test(test_stream_equals_whole_gemma3),
        cmocka_unit_test(test_stream_equals_whole_llama2),
        cmocka_unit_test(test_stream_equals_whole_llama3),
        cmocka_unit_test(test_stream_equals_whole_qwen3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
