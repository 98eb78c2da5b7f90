/* Conformance with Hugging Face `tokenizers`: for every corpus line and each of the four
 * tokenizers, our ids equal the committed reference ids, our detokenization of the reference ids
 * equals the reference decode, and the streaming detokenizer produces the same text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tokenizer_util.h"

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

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "  %s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, n > 40 ? " …\n" : "\n");
}

/* Streams ids through a detok stream and returns the joined text (malloc'd). */
static char *stream_text(const tinfer_tokenizer *t, const int32_t *ids, size_t n, size_t *out_len) {
    tinfer_detok_stream *s;
    assert_int_equal(tinfer_detok_stream_create(t, TINFER_DETOKENIZE_SKIP_SPECIAL, &s), TINFER_OK);
    size_t cap = 1024, len = 0, piece_cap = 1024;
    char *all = malloc(cap), *piece = malloc(piece_cap);
    for (size_t i = 0; i <= n; i++) {
        size_t got;
        tinfer_status st;
        /* a ByteFallback run is held until it ends, so one push may release many bytes */
        while ((st = i < n ? tinfer_detok_stream_push(s, ids[i], piece, piece_cap, &got)
                           : tinfer_detok_stream_flush(s, piece, piece_cap, &got)) ==
               TINFER_E_BUFFER_TOO_SMALL)
            piece = realloc(piece, piece_cap = got + 1);
        assert_int_equal(st, TINFER_OK);
        if (len + got + 1 > cap) {
            while (len + got + 1 > cap) cap *= 2;
            all = realloc(all, cap);
        }
        memcpy(all + len, piece, got);
        len += got;
    }
    tinfer_detok_stream_free(s);
    free(piece);
    *out_len = len;
    return all;
}

static void check_tokenizer(const char *name) {
    tinfer_tokenizer *t = tt_load_tokenizer(name);
    assert_non_null(t);
    tt_reference ref;
    assert_true(tt_load_reference(name, &ref));
    assert_int_equal(ref.n, corpus.n);
    size_t id_ok = 0, text_ok = 0, stream_ok = 0;
    for (size_t i = 0; i < corpus.n; i++) {
        const json_t *jids = json_object_get(ref.lines[i], "ids");
        const json_t *jdec = json_object_get(ref.lines[i], "decode");
        size_t n_ref = json_array_size(jids);
        int32_t *ref_ids = malloc((n_ref + 1) * sizeof *ref_ids);
        for (size_t k = 0; k < n_ref; k++) ref_ids[k] = (int32_t)json_integer_value(json_array_get(jids, k));
        size_t cap = tinfer_tokenize_bound(t, corpus.lens[i]), n = 0;
        int32_t *ids = malloc(cap * sizeof *ids);
        tinfer_status st = tinfer_tokenize(t, corpus.texts[i], corpus.lens[i], TINFER_TOKENIZE_DEFAULT, ids, cap, &n);
        if (st == TINFER_OK && n == n_ref && memcmp(ids, ref_ids, n * sizeof *ids) == 0) {
            id_ok++;
        } else if (i - id_ok < 1000 && getenv("TT_VERBOSE")) {
            fprintf(stderr, "%s line %zu: ids differ (%s) text: %.*s\n", name, i, tinfer_status_str(st),
                    (int)(corpus.lens[i] > 200 ? 200 : corpus.lens[i]), corpus.texts[i]);
            print_ids("ours", ids, n);
            print_ids("reference", ref_ids, n_ref);
        }
        size_t text_cap = json_string_length(jdec) * 2 + 64, text_len = 0;
        char *text = malloc(text_cap);
        st = tinfer_detokenize(t, ref_ids, n_ref, TINFER_DETOKENIZE_SKIP_SPECIAL, text, text_cap, &text_len);
        if (st == TINFER_OK && text_len == json_string_length(jdec) &&
            memcmp(text, json_string_value(jdec), text_len) == 0) {
            text_ok++;
        } else if (getenv("TT_VERBOSE")) {
            fprintf(stderr, "%s line %zu: decode differs (%s)\n  ours: [%.*s]\n  ref:  [%s]\n", name, i,
                    tinfer_status_str(st), (int)text_len, text, json_string_value(jdec));
        }
        size_t stream_len;
        char *streamed = stream_text(t, ref_ids, n_ref, &stream_len);
        if (stream_len == text_len && memcmp(streamed, text, text_len) == 0) stream_ok++;
        else if (getenv("TT_VERBOSE"))
            fprintf(stderr, "%s line %zu: stream differs\n  stream: [%.*s]\n  whole: [%.*s]\n", name, i,
                    (int)stream_len, streamed, (int)text_len, text);
        free(streamed);
        free(text);
        free(ids);
        free(ref_ids);
    }
    printf("conformance %s: ids %zu/%zu, decode %zu/%zu, stream %zu/%zu\n", name, id_ok, corpus.n,
           text_ok, corpus.n, stream_ok, corpus.n);
    tt_free_reference(&ref);
    tinfer_tokenizer_free(t);
    assert_int_equal(id_ok, corpus.n);
    assert_int_equal(text_ok, corpus.n);
    assert_int_equal(stream_ok, corpus.n);
}

static void test_gemma3(void **state) { (void)state; check_tokenizer("gemma3"); }
static void test_llama2(void **state) { (void)state; check_tokenizer("llama2"); }
static void test_llama3(void **state) { (void)state; check_tokenizer("llama3"); }
static void test_qwen3(void **state) { (void)state; check_tokenizer("qwen3"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma3),
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_qwen3),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
