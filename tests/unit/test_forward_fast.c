/* The default AVX-512 kernel path (TINFER_CPU=avx512) against the x86-64-v3 one (TINFER_CPU=avx2,
 * bit-identical to llama.cpp) on the default model and the golden prompts of
 * tests/data/golden/gemma3_270m_q4km.json: two contexts, one per path, make the same calls — each
 * prompt as one prefill (the four-token kernels), then 32 decode steps fed the x86-64-v3 path's
 * greedy token, then the prompt again one token per decode — and every logit of every step must
 * be the same float, bit for bit. So greedy continuations, and the likelihood of any text (the
 * issue's perplexity bound), are the same on both paths; the test prints the mean negative
 * log-likelihood of the next tokens as the figure a perplexity run would give.
 *
 * (The AVX-512 table changes only how the integer block sums are formed, never the float order:
 * cpu_kernels_avx512.c says why a sixteen-lane float order was dropped.)
 *
 * Skipped, with a message, where the CPU (or build) has no AVX-512 table or TINFER_DEFAULT_MODEL is
 * unset. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "backend/cpu/cpu_kernels.h"
#include "fixtures/logits_util.h"
#include "fixtures/test_env.h"
#include "tinfer/tinfer.h"

typedef struct stats {
    double nll;
    size_t n_steps, n_logits;
} stats;

/* The two paths' current logits, compared bit for bit; returns the greedy token. */
static int32_t compare(tinfer_context *exact, tinfer_context *fast, stats *st, const char *name,
                       size_t step, int32_t next_for_nll) {
    const size_t n_vocab = tinfer_context_n_vocab(exact);
    const float *a = tinfer_logits(exact, 0), *b = tinfer_logits(fast, 0);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < n_vocab; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            fail_msg("%s step %zu: logit %zu is %.9g on avx512, %.9g on x86-64-v3", name, step, i,
                     b[i], a[i]);
    const int32_t greedy = (int32_t)logits_argmax(a, n_vocab);
    st->nll += logits_nll(a, n_vocab, next_for_nll >= 0 ? next_for_nll : greedy);
    st->n_logits += n_vocab;
    st->n_steps++;
    return greedy;
}

static void run_prompt(tinfer_context *exact, tinfer_context *fast, json_t *prompt, stats *st) {
    const char *name = json_string_value(json_object_get(prompt, "name"));
    int32_t tokens[256];
    const size_t n_ids = golden_prompt_ids(prompt, tokens, 256);
    assert_true(n_ids > 1);
    tinfer_context *ctx[2] = {exact, fast};
    const int32_t seq = 0;

    /* The prompt as one prefill, then 32 steps fed the exact path's greedy token. */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tinfer_kv_seq_clear(ctx[k], 0), TINFER_OK);
        assert_int_equal(tinfer_prefill(ctx[k], 0, tokens, n_ids), TINFER_OK);
    }
    for (size_t s = 0; s < 32; s++) {
        const int32_t next = compare(exact, fast, st, name, s, -1);
        for (int k = 0; k < 2; k++)
            assert_int_equal(tinfer_decode(ctx[k], &seq, &next, 1), TINFER_OK);
    }

    /* The prompt one token per step: the likelihood of its own next token. */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tinfer_kv_seq_clear(ctx[k], 0), TINFER_OK);
        assert_int_equal(tinfer_prefill(ctx[k], 0, tokens, 1), TINFER_OK);
    }
    for (size_t i = 1; i < n_ids; i++) {
        compare(exact, fast, st, name, 100 + i, tokens[i]);
        for (int k = 0; k < 2; k++)
            assert_int_equal(tinfer_decode(ctx[k], &seq, &tokens[i], 1), TINFER_OK);
    }
}

static tinfer_context *context_on(tinfer_model *model, const char *path) {
    setenv("TINFER_CPU", path, 1); /* read when the context is created */
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 256;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &params, sizeof params, &ctx), TINFER_OK);
    return ctx;
}

static void avx512_path_equals_x86_v3(void **state) {
    (void)state;
    if (!tf_cpu_kernels_avx512()) {
        printf("skipped: no AVX-512 kernel table on this CPU or in this build (needs AVX-512 "
               "F/BW/VL and VNNI)\n");
        skip();
    }
    const char *model_path = test_default_model();
    json_t *golden = model_path ? golden_load() : NULL;
    if (!golden) {
        printf("skipped: TINFER_DEFAULT_MODEL or TINFER_SOURCE_DIR is not set\n");
        skip();
    }
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(model_path, NULL, 0, &model), TINFER_OK);
    unsetenv("TINFER_FORCE_GENERIC");
    tinfer_context *exact = context_on(model, "avx2"), *fast = context_on(model, "avx512");
    unsetenv("TINFER_CPU");

    stats st = {0};
    json_t *prompts = json_object_get(golden, "prompts");
    assert_true(json_array_size(prompts) >= 10);
    for (size_t p = 0; p < json_array_size(prompts); p++)
        run_prompt(exact, fast, json_array_get(prompts, p), &st);
    printf("avx512 vs x86-64-v3: %zu prompts, %zu steps, %zu logits, all bit-identical; mean NLL "
           "of the next tokens %.6f on both\n",
           json_array_size(prompts), st.n_steps, st.n_logits, st.nll / (double)st.n_steps);

    tinfer_context_free(exact);
    tinfer_context_free(fast);
    tinfer_model_free(model);
    json_decref(golden);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(avx512_path_equals_x86_v3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
