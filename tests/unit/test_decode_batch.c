/* Decode of several sequences in one pass against each sequence decoded alone, bit for bit
 * (memcmp of whole logit rows). Decode rows round as single tokens (tf_batch_kind), so a token's
 * logits must not depend on which other sequences share its pass; with four or more sequences the
 * matrix products take the four-row kernels (q4_k_rows_x4, q6_k_x4, q5_0_x4, q8_0_x4 in
 * lib/backend/cpu/cpu_kernels.h), which must give the bits of four single-row calls.
 *
 * Models: the committed synthetic k-quant llamas (tests/data/synthetic/llama_kq_q4_k.gguf, whose
 * matrices are repacked Q4_K rows, and llama_kq_q6_k.gguf) on every kernel table this CPU has,
 * and the default model (Gemma 3 270M Q4_K_M: Q4_K, Q6_K, Q5_0 and Q8_0 matrices; skipped when
 * TINFER_DEFAULT_MODEL is unset) on the table selected by default and on x86-64-v3. Pass sizes
 * 4, 5 and 8 (a group of four with single rows left over, and two groups), prompts of different
 * lengths, the sequences listed in a shuffled order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "fixtures/test_env.h"
#include "tinfer/tinfer.h"

enum { MAX_SEQ = 8, N_STEPS = 3, MAX_PROMPT = 48 };

static tinfer_context *new_context(tinfer_model *model, uint32_t n_seq_max, tinfer_kv_dtype kv) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 64;
    params.n_seq_max = n_seq_max;
    params.n_threads = 2;
    params.kv_dtype = kv;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &params, sizeof params, &ctx), TINFER_OK);
    return ctx;
}

static void make_tokens(int32_t *out, size_t n, uint32_t seed, size_t n_vocab) {
    uint32_t state = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out[i] = (int32_t)(state % n_vocab);
    }
}

/* n_seq sequences with prompts of different lengths, decoded N_STEPS times together in a shuffled
 * order, against each alone (prefill, then N_STEPS single decodes) in a one-sequence context. */
static void check_together(tinfer_model *model, size_t n_seq, const char *label,
                           tinfer_kv_dtype kv) {
    tinfer_context *together = new_context(model, MAX_SEQ, kv);
    tinfer_context *alone = new_context(model, 1, kv);
    const size_t n_vocab = tinfer_context_n_vocab(alone);
    int32_t prompts[MAX_SEQ][MAX_PROMPT + N_STEPS];
    size_t prompt_len[MAX_SEQ];
    for (size_t s = 0; s < n_seq; s++) {
        prompt_len[s] = 3 + (7 * s + 5) % (MAX_PROMPT - 3);
        make_tokens(prompts[s], MAX_PROMPT + N_STEPS, 100 + (uint32_t)s, n_vocab);
    }
    for (size_t s = 0; s < n_seq; s++)
        assert_int_equal(tinfer_prefill(together, (int32_t)s, prompts[s], prompt_len[s]),
                         TINFER_OK);
    int32_t seqs[MAX_SEQ];
    for (size_t i = 0; i < n_seq; i++) seqs[i] = (int32_t)((3 * i + 1) % n_seq);
    if (n_seq % 3 == 0) /* 3i+1 is not a permutation then */
        for (size_t i = 0; i < n_seq; i++) seqs[i] = (int32_t)(n_seq - 1 - i);
    for (int step = 0; step < N_STEPS; step++) {
        int32_t next[MAX_SEQ];
        for (size_t i = 0; i < n_seq; i++) next[i] = prompts[seqs[i]][prompt_len[seqs[i]] + step];
        assert_int_equal(tinfer_decode(together, seqs, next, n_seq), TINFER_OK);
    }
    for (size_t s = 0; s < n_seq; s++) {
        assert_int_equal(tinfer_kv_seq_clear(alone, 0), TINFER_OK);
        assert_int_equal(tinfer_prefill(alone, 0, prompts[s], prompt_len[s]), TINFER_OK);
        for (int step = 0; step < N_STEPS; step++) {
            const int32_t seq = 0;
            assert_int_equal(tinfer_decode(alone, &seq, &prompts[s][prompt_len[s] + step], 1),
                             TINFER_OK);
        }
        const float *a = tinfer_logits(alone, 0), *b = tinfer_logits(together, (int32_t)s);
        assert_non_null(a);
        assert_non_null(b);
        if (memcmp(a, b, n_vocab * sizeof *a) != 0) {
            size_t first = 0;
            while (first < n_vocab && memcmp(&a[first], &b[first], sizeof *a) == 0) first++;
            fail_msg("%s (%s kernels, KV %s), %zu sequences: sequence %zu's logit %zu is %.9g "
                     "decoded together, %.9g alone",
                     label, tinfer_cpu_kernels(), kv == TINFER_KV_Q8_0 ? "Q8_0" : "F16", n_seq, s,
                     first, b[first], a[first]);
        }
    }
    tinfer_context_free(together);
    tinfer_context_free(alone);
}

static void check_model(const char *path, const char *label, const char *const *paths,
                        size_t n_paths) {
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    for (size_t p = 0; p < n_paths; p++) {
        assert_int_equal(setenv("TINFER_CPU", paths[p], 1), 0); /* read at context creation */
        const size_t sizes[] = {4, 5, 8};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            check_together(model, sizes[i], label, TINFER_KV_F16);
        /* The Q8_0 cache, where the model's head dimensions allow it */
        tinfer_context_params q8;
        tinfer_context_params_init(&q8, sizeof q8);
        q8.n_ctx = 64;
        q8.kv_dtype = TINFER_KV_Q8_0;
        tinfer_context *probe = NULL;
        const bool q8_ok = tinfer_context_create(model, &q8, sizeof q8, &probe) == TINFER_OK;
        tinfer_context_free(probe);
        for (size_t i = 0; q8_ok && i < sizeof sizes / sizeof sizes[0]; i++)
            check_together(model, sizes[i], label, TINFER_KV_Q8_0);
        printf("%s: %s kernels, 4, 5 and 8 sequences decoded together equal each alone (F16%s)\n",
               label, tinfer_cpu_kernels(), q8_ok ? " and Q8_0 caches" : " cache");
    }
    assert_int_equal(unsetenv("TINFER_CPU"), 0);
    tinfer_model_free(model);
}

static void synthetic_kquant_models(void **state) {
    (void)state;
    static const char *const paths[] = {"generic", "avx2", "avx512"};
    static const char *const files[] = {"tests/data/synthetic/llama_kq_q4_k.gguf",
                                        "tests/data/synthetic/llama_kq_q6_k.gguf"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[4096];
        if (!test_source_path(path, sizeof path, files[f])) skip();
        check_model(path, files[f] + strlen("tests/data/synthetic/"), paths, 3);
    }
}

static void default_model(void **state) {
    (void)state;
    const char *path = test_default_model();
    if (!path) skip();
    static const char *const paths[] = {"auto", "avx2"};
    check_model(path, "default model", paths, 2);
}

int main(void) {
    unsetenv("TINFER_FORCE_GENERIC"); /* it would override TINFER_CPU */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(synthetic_kquant_models),
        cmocka_unit_test(default_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
