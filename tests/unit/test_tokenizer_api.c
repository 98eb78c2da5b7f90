/* The public tokenizer API: flags, special ids, buffers, pieces, streaming, argument checks,
 * malformed tokenizer.json files, and random input (run under the sanitizers in the ASan build). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tokenizer_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

static size_t tokenize(const tinfer_tokenizer *t, const char *text, uint32_t flags, int32_t *ids, size_t cap) {
    size_t n = 0;
    assert_int_equal(tinfer_tokenize(t, text, strlen(text), flags, ids, cap, &n), TINFER_OK);
    return n;
}

static void test_flags_and_specials_gemma3(void **state) {
    (void)state;
    tinfer_tokenizer *t = tt_load_tokenizer("gemma3");
    assert_non_null(t);
    assert_int_equal(tinfer_tokenizer_n_vocab(t), 262145);
    int32_t ids[64], id;
    /* reference: Tokenizer.encode("Hello <bos>") = [2, 9259, 236743, 2] */
    size_t n = tokenize(t, "Hello <bos>", TINFER_TOKENIZE_DEFAULT, ids, 64);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[3], 2);
    n = tokenize(t, "Hello <bos>", TINFER_TOKENIZE_PARSE_SPECIAL, ids, 64);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 9259);
    n = tokenize(t, "<bos>", 0, ids, 64); /* text, not the token */
    assert_true(n > 1);
    for (size_t i = 0; i < n; i++) assert_int_not_equal(ids[i], 2);
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_BOS, &id), TINFER_OK);
    assert_int_equal(id, 2);
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_EOS, &id), TINFER_OK);
    assert_int_equal(id, 106); /* tokenizer_config.json: eos_token = <end_of_turn> */
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_PAD, &id), TINFER_OK);
    assert_int_equal(id, 0);
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_UNK, &id), TINFER_OK);
    assert_int_equal(id, 3);
    assert_true(tinfer_tokenizer_is_eog(t, 106));
    assert_true(tinfer_tokenizer_is_eog(t, 1)); /* <eos> */
    assert_false(tinfer_tokenizer_is_eog(t, 2));
    assert_non_null(tf_tokenizer_chat_template(t));
    assert_string_equal(tf_tokenizer_bos_text(t), "<bos>");
    assert_string_equal(tf_tokenizer_eos_text(t), "<end_of_turn>");
    /* pieces: ▁ becomes a space, a byte token one byte */
    char buf[32];
    size_t len;
    assert_int_equal(tinfer_token_piece(t, 236743, buf, sizeof buf, &len), TINFER_OK); /* ▁ */
    assert_string_equal(buf, " ");
    assert_int_equal(tinfer_token_piece(t, 238 + 0xE2, buf, sizeof buf, &len), TINFER_OK); /* <0xE2> */
    assert_int_equal(len, 1);
    assert_int_equal((unsigned char)buf[0], 0xE2);
    assert_int_equal(tinfer_token_piece(t, -1, buf, sizeof buf, &len), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_token_piece(t, 262145, buf, sizeof buf, &len), TINFER_E_INVALID_ARG);
    tinfer_tokenizer_free(t);
}

static void test_buffers(void **state) {
    (void)state;
    tinfer_tokenizer *t = tt_load_tokenizer("qwen3");
    assert_non_null(t);
    const char *text = "The quick brown fox jumps over the lazy dog.";
    int32_t ids[64];
    size_t n = 0, need = 0;
    assert_int_equal(tinfer_tokenize(t, text, strlen(text), TINFER_TOKENIZE_DEFAULT, ids, 64, &n), TINFER_OK);
    assert_int_equal(n, 10);
    assert_true(tinfer_tokenize_bound(t, strlen(text)) >= n);
    assert_int_equal(tinfer_tokenize(t, text, strlen(text), TINFER_TOKENIZE_DEFAULT, ids, 3, &need),
                     TINFER_E_BUFFER_TOO_SMALL);
    assert_int_equal(need, n);
    assert_int_equal(tinfer_tokenize(t, text, strlen(text), TINFER_TOKENIZE_DEFAULT, NULL, 0, &need),
                     TINFER_E_BUFFER_TOO_SMALL);
    assert_int_equal(need, n);
    char buf[128];
    size_t len = 0;
    assert_int_equal(tinfer_detokenize(t, ids, n, 0, buf, 5, &len), TINFER_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, strlen(text));
    assert_int_equal(tinfer_detokenize(t, ids, n, 0, buf, len, &len), TINFER_E_BUFFER_TOO_SMALL);
    assert_int_equal(tinfer_detokenize(t, ids, n, 0, buf, len + 1, &len), TINFER_OK);
    assert_string_equal(buf, text);
    int32_t bad = 999999;
    assert_int_equal(tinfer_detokenize(t, &bad, 1, 0, buf, sizeof buf, &len), TINFER_E_INVALID_ARG);
    /* empty input */
    assert_int_equal(tinfer_tokenize(t, "", 0, TINFER_TOKENIZE_DEFAULT, ids, 64, &n), TINFER_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tinfer_detokenize(t, ids, 0, 0, buf, 1, &len), TINFER_OK);
    assert_int_equal(len, 0);
    /* qwen3 has no BOS; <|im_end|> ends a turn */
    int32_t id;
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_BOS, &id), TINFER_E_NOT_FOUND);
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_EOS, &id), TINFER_OK);
    assert_int_equal(id, 151645);
    assert_true(tinfer_tokenizer_is_eog(t, 151645));
    assert_true(tinfer_tokenizer_is_eog(t, 151643));
    /* bad arguments */
    assert_int_equal(tinfer_tokenize(NULL, text, 1, 0, ids, 64, &n), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_tokenize(t, NULL, 1, 0, ids, 64, &n), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_tokenize(t, text, 1, 0x80, ids, 64, &n), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_tokenizer_load(NULL, &t), TINFER_E_INVALID_ARG);
    tinfer_tokenizer *none = NULL;
    assert_int_equal(tinfer_tokenizer_load("/nonexistent/tokenizer.json", &none), TINFER_E_IO);
    assert_null(none);
    tinfer_tokenizer_free(NULL);
    tinfer_detok_stream_free(NULL);
    tinfer_tokenizer_free(t);
}

/* A character split over byte tokens comes out of the stream only once complete. */
static void test_stream_holds_partial_characters(void **state) {
    (void)state;
    tinfer_tokenizer *t = tt_load_tokenizer("llama3");
    assert_non_null(t);
    const char *text = "한국어 😀!";
    int32_t ids[64];
    size_t n = tokenize(t, text, 0, ids, 64);
    tinfer_detok_stream *s;
    assert_int_equal(tinfer_detok_stream_create(t, 0, &s), TINFER_OK);
    char all[256] = "", piece[64];
    size_t len, total = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tinfer_detok_stream_push(s, ids[i], piece, sizeof piece, &len), TINFER_OK);
        assert_true(tf_utf8_valid((const uint8_t *)piece, len));
        memcpy(all + total, piece, len);
        total += len;
    }
    assert_int_equal(tinfer_detok_stream_flush(s, piece, sizeof piece, &len), TINFER_OK);
    assert_int_equal(len, 0);
    all[total] = '\0';
    assert_string_equal(all, text);
    tinfer_detok_stream_free(s);
    tinfer_tokenizer_free(t);
}

static void test_stream_buffer_too_small(void **state) {
    (void)state;
    tinfer_tokenizer *t = tt_load_tokenizer("llama2");
    assert_non_null(t);
    int32_t ids[16];
    size_t n = tokenize(t, "Hello world", 0, ids, 16); /* ▁Hello ▁world: the first space stripped */
    tinfer_detok_stream *s;
    assert_int_equal(tinfer_detok_stream_create(t, 0, &s), TINFER_OK);
    char piece[64];
    size_t len;
    assert_int_equal(tinfer_detok_stream_push(s, ids[0], piece, 2, &len), TINFER_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, 5);
    assert_int_equal(tinfer_detok_stream_push(s, ids[0], piece, sizeof piece, &len), TINFER_OK);
    assert_string_equal(piece, "Hello");
    for (size_t i = 1; i < n; i++) assert_int_equal(tinfer_detok_stream_push(s, ids[i], piece, sizeof piece, &len), TINFER_OK);
    assert_string_equal(piece, " world");
    tinfer_detok_stream_free(s);
    tinfer_tokenizer_free(t);
}

/* ---- malformed tokenizer.json ---- */
static const char *const VALID =
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"<unk>\":0,\"a\":1,\"b\":2,\"ab\":3},\"merges\":[\"a b\"],"
    "\"unk_token\":\"<unk>\",\"fuse_unk\":true},"
    "\"added_tokens\":[{\"id\":4,\"content\":\"<s>\",\"special\":true}]}";

static tinfer_status load_text(const char *json, tinfer_tokenizer **out) {
    *out = NULL;
    return tf_tokenizer_from_hf_json(json, strlen(json), NULL, 0, out);
}

static void test_tiny_tokenizer(void **state) {
    (void)state;
    tinfer_tokenizer *t;
    assert_int_equal(load_text(VALID, &t), TINFER_OK);
    int32_t ids[16];
    size_t n = tokenize(t, "abab<s>ccc", TINFER_TOKENIZE_DEFAULT, ids, 16);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 4);
    assert_int_equal(ids[3], 0); /* three unknown characters fused into one <unk> */
    tinfer_tokenizer_free(t);
}

static void expect_error(const char *json, tinfer_status want, const char *in_message) {
    tinfer_tokenizer *t;
    tinfer_status st = load_text(json, &t);
    if (st != want || !strstr(tinfer_last_error(), in_message))
        fprintf(stderr, "json: %s\n  got %s: %s\n", json, tinfer_status_str(st), tinfer_last_error());
    assert_int_equal(st, want);
    assert_null(t);
    assert_non_null(strstr(tinfer_last_error(), in_message));
}

static void test_malformed_json(void **state) {
    (void)state;
    expect_error("{", TINFER_E_FORMAT, "tokenizer.json");
    expect_error("[]", TINFER_E_FORMAT, "not a JSON object");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"},\"merges\":[]}}", TINFER_E_FORMAT, "model.vocab['a']");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}", TINFER_E_FORMAT, "model.vocab['a']");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":2000000000},\"merges\":[]}}", TINFER_E_FORMAT, "model.vocab['a']");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":[],\"merges\":[]}}", TINFER_E_FORMAT, "model.vocab");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":{}}}", TINFER_E_FORMAT, "model.merges");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a x\"]}}", TINFER_E_FORMAT, "unknown token 'x'");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}", TINFER_E_FORMAT, "not in the vocabulary");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[1,2]]}}", TINFER_E_FORMAT, "merges[0]");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}", TINFER_E_FORMAT, "two different texts");
    expect_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0},\"merges\":[]}}", TINFER_E_UNSUPPORTED, "WordPiece");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"added_tokens\":[{\"id\":99999999,\"content\":\"x\"}]}",
                 TINFER_E_FORMAT, "added_tokens[0].id");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"added_tokens\":[{\"id\":1,\"content\":5}]}",
                 TINFER_E_FORMAT, "added_tokens[0].content");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"unk_token\":\"<unk>\"}}", TINFER_E_FORMAT, "unk_token");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"normalizer\":{\"type\":\"Lowercase\"}}", TINFER_E_UNSUPPORTED, "Lowercase");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"}}",
                 TINFER_E_FORMAT, "regex");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}}",
                 TINFER_E_FORMAT, "behavior");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}}],\"special_tokens\":{\"<s>\":{\"ids\":[7]}}}}",
                 TINFER_E_FORMAT, "out of range");
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":false}}",
                 TINFER_E_FORMAT, "byte-level vocabulary lacks");
}

/* ---- random input ---- */
static uint64_t rng_state = 0x243F6A8885A308D3ULL;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static void fuzz_tokenizer(const char *name, int rounds) {
    tinfer_tokenizer *t = tt_load_tokenizer(name);
    assert_non_null(t);
    const char *alphabet[] = {"a", " ", "\n", "\xE2\x96\x81", "<", ">", "<bos>", "<|im_start|>", "<s>", "\xF0\x9F",
                              "\x98\x80", "\xED\xA0\x80", "\xFF", "\xC3", "\xA9", "\t", "1", "\xEA\xB0\x80", "'s", "\x00"};
    size_t n_vocab = tinfer_tokenizer_n_vocab(t);
    for (int r = 0; r < rounds; r++) {
        char text[512];
        size_t len = 0, target = rnd() % 200;
        while (len < target) {
            if (rnd() % 2) {
                text[len++] = (char)(rnd() & 0xFF);
            } else {
                const char *piece = alphabet[rnd() % (sizeof alphabet / sizeof alphabet[0])];
                size_t plen = piece[0] ? strlen(piece) : 1;
                if (len + plen > sizeof text) break;
                memcpy(text + len, piece, plen);
                len += plen;
            }
        }
        uint32_t flags = rnd() % 4;
        size_t cap = tinfer_tokenize_bound(t, len), n = 0;
        int32_t *ids = malloc(cap * sizeof *ids);
        assert_int_equal(tinfer_tokenize(t, text, len, flags, ids, cap, &n), TINFER_OK);
        assert_true(n <= cap);
        for (size_t i = 0; i < n; i++) assert_true(ids[i] >= 0 && (size_t)ids[i] < n_vocab);
        size_t out_len;
        char *out = malloc(len * 4 + 64);
        assert_int_equal(tinfer_detokenize(t, ids, n, rnd() % 2, out, len * 4 + 64, &out_len), TINFER_OK);
        assert_true(tf_utf8_valid((const uint8_t *)out, out_len));
        /* random ids through the stream: every piece is valid UTF-8 */
        tinfer_detok_stream *s;
        assert_int_equal(tinfer_detok_stream_create(t, rnd() % 2, &s), TINFER_OK);
        for (int k = 0; k < 20; k++) {
            char piece[256];
            size_t plen;
            tinfer_status st = tinfer_detok_stream_push(s, (int32_t)(rnd() % n_vocab), piece, sizeof piece, &plen);
            if (st == TINFER_E_INVALID_ARG) continue; /* an id that is a hole in the vocabulary */
            assert_int_equal(st, TINFER_OK);
            assert_true(tf_utf8_valid((const uint8_t *)piece, plen));
        }
        tinfer_detok_stream_free(s);
        free(out);
        free(ids);
    }
    tinfer_tokenizer_free(t);
}

static void test_fuzz_gemma3(void **state) { (void)state; fuzz_tokenizer("gemma3", 400); }
static void test_fuzz_llama3(void **state) { (void)state; fuzz_tokenizer("llama3", 400); }
static void test_fuzz_llama2(void **state) { (void)state; fuzz_tokenizer("llama2", 400); }
static void test_fuzz_qwen3(void **state) { (void)state; fuzz_tokenizer("qwen3", 400); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_and_specials_gemma3),
        cmocka_unit_test(test_buffers),
        cmocka_unit_test(test_stream_holds_partial_characters),
        cmocka_unit_test(test_stream_buffer_too_small),
        cmocka_unit_test(test_tiny_tokenizer),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_fuzz_gemma3),
        cmocka_unit_test(test_fuzz_llama3),
        cmocka_unit_test(test_fuzz_llama2),
        cmocka_unit_test(test_fuzz_qwen3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
