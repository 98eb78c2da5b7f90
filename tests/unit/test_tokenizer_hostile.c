/* Hostile tokenizer files (issue 11): each class of bug the fuzzing campaign found, reproduced
 * through the loading entry and the public calls, and the streaming detokenizer held equal to the
 * whole detokenization over thousands of random id sequences. Run under the sanitizers in the
 * ASan build, where the original bugs were reports (stack overflow, NULL + 0, memcpy from NULL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tokenizer_util.h"
#include "tokenizer/tokenizer.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoder_replace_growth_refused),
        cmocka_unit_test(test_normalizer_replace_growth_refused),
        cmocka_unit_test(test_word_with_no_tokens),
        cmocka_unit_test(test_empty_token_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
