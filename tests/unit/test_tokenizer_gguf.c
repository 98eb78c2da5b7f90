/* The Gemma 3 GGUF's built-in vocabulary (TINFER_DEFAULT_MODEL, else
 * /tmp/models/gemma-3-270m-q4_k_m.gguf; skipped when absent) gives the same ids as the gemma3
 * tokenizer.json reference on the whole corpus, and the same decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tokenizer_util.h"

static const char *model_path(void) {
    const char *env = getenv("TINFER_DEFAULT_MODEL");
    return env && *env ? env : "/tmp/models/gemma-3-270m-q4_k_m.gguf";
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_gemma3_gguf_matches_reference(void **state) {
    (void)state;
    if (access(model_path(), R_OK) != 0) skip();
    double t0 = now_ms();
    tinfer_tokenizer *t = NULL;
    tinfer_status st = tinfer_tokenizer_load(model_path(), &t);
    if (st != TINFER_OK) fprintf(stderr, "load: %s\n", tinfer_last_error());
    assert_int_equal(st, TINFER_OK);
    printf("gguf vocabulary loaded in %.1f ms\n", now_ms() - t0);
    assert_int_equal(tinfer_tokenizer_n_vocab(t), 262144);
    int32_t bos, eos;
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_BOS, &bos), TINFER_OK);
    assert_int_equal(bos, 2);
    assert_int_equal(tinfer_tokenizer_special(t, TINFER_TOKEN_EOS, &eos), TINFER_OK);
    assert_true(tinfer_tokenizer_is_eog(t, eos));
    assert_true(tinfer_tokenizer_is_eog(t, 106)); /* <end_of_turn> */

    tt_corpus corpus;
    tt_reference ref;
    assert_true(tt_load_corpus(&corpus));
    assert_true(tt_load_reference("gemma3", &ref));
    size_t id_ok = 0, text_ok = 0;
    for (size_t i = 0; i < corpus.n; i++) {
        const json_t *jids = json_object_get(ref.lines[i], "ids");
        size_t n_ref = json_array_size(jids), cap = tinfer_tokenize_bound(t, corpus.lens[i]), n = 0;
        int32_t *ids = malloc(cap * sizeof *ids);
        int32_t *ref_ids = malloc((n_ref + 1) * sizeof *ref_ids);
        for (size_t k = 0; k < n_ref; k++) ref_ids[k] = (int32_t)json_integer_value(json_array_get(jids, k));
        st = tinfer_tokenize(t, corpus.texts[i], corpus.lens[i], TINFER_TOKENIZE_DEFAULT, ids, cap, &n);
        if (st == TINFER_OK && n == n_ref && memcmp(ids, ref_ids, n * sizeof *ids) == 0) id_ok++;
        else if (getenv("TT_VERBOSE"))
            fprintf(stderr, "line %zu differs: %.*s\n", i, (int)(corpus.lens[i] > 120 ? 120 : corpus.lens[i]), corpus.texts[i]);
        /* decode without skipping: GGUF does not say which added tokens HF calls special */
        const char *dec = json_string_value(json_object_get(ref.lines[i], "decode"));
        size_t text_cap = corpus.lens[i] * 4 + 64, text_len;
        char *text = malloc(text_cap);
        st = tinfer_detokenize(t, ref_ids, n_ref, TINFER_DETOKENIZE_SKIP_SPECIAL, text, text_cap, &text_len);
        if (st == TINFER_OK && text_len == strlen(dec) && memcmp(text, dec, text_len) == 0) text_ok++;
        free(text);
        free(ids);
        free(ref_ids);
    }
    printf("gguf gemma3 vs tokenizer.json reference: ids %zu/%zu, decode %zu/%zu\n", id_ok, corpus.n, text_ok, corpus.n);
    assert_int_equal(id_ok, corpus.n);
    tt_free_reference(&ref);
    tt_free_corpus(&corpus);
    tinfer_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma3_gguf_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
