/* The default model (Gemma 3 270M Q4_K_M) against llama.cpp: the golden file holds, for 12
 * prompts, llama.cpp's greedy continuation of 32 tokens and each step's top-10 logits
 * (tests/conformance/llamacpp/make_golden.py). Skipped when TINFER_DEFAULT_MODEL is unset.
 *
 * We run the same calls llama.cpp ran (the prompt as one prefill, then one decode per token),
 * feeding llama.cpp's tokens back in (teacher forcing) so that every step compares the same
 * context, and require at each step:
 *  - every logit of llama.cpp's top 10 within LOGIT_TOLERANCE of ours;
 *  - our greedy token equal to llama.cpp's, unless llama.cpp's own top two are closer than
 *    TIE_MARGIN (a near tie that rounding may break either way).
 *
 * Tolerances (every logit within 3.0, 98% within 1.0, mean |diff| ≤ 0.3, near tie 1.0) and why
 * they are not 1e-2: this model amplifies rounding. Against an exact float64 forward pass over the
 * same dequantized weights (tests/conformance/llamacpp/float64_reference.py, 10 positions), the
 * largest top-10 error per position averages 0.31 for llama.cpp (prompt as one batch), 0.34 for
 * llama.cpp (token by token) and 0.31 for tinfer: both engines are equally far from the exact
 * result, in different directions, because the order of float additions differs from llama.cpp's
 * SIMD kernels and those last-bit differences grow through 18 layers of a residual stream that
 * reaches 1e4 (an F32 instead of F16 KV cache alone moves logits by 0.3; merely changing the
 * summation order of our attention dot product moved the worst logit from 1.55 to 1.86, while the
 * mean stayed at 0.22). We do round where it rounds (activations quantized to Q8_0/Q8_K for the
 * integer dot products, the query and the attention probabilities to float16 against the F16
 * cache, GELU through float16; without the float16 steps: max 2.17, mean 0.24, 368 of 384 greedy
 * tokens equal). Observed on 12 prompts × 32 steps (printed by the test): max |diff| 1.86, mean
 * 0.22; greedy tokens equal at 372 of 384 steps, the other 12 where llama.cpp's own top two were
 * within 0.26. A real bug shows: swapping the local and global RoPE bases fails (first prompt, step
 * 22, a logit off by 4.2). */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "fixtures/test_env.h"
#include "tinfer/tinfer.h"

#define LOGIT_TOLERANCE 3.0
#define CLOSE_DIFF 1.0 /* and at least CLOSE_FRACTION of the logits this close */
#define CLOSE_FRACTION 0.98
#define TIE_MARGIN 1.0
#define MEAN_TOLERANCE 0.3

typedef struct stats {
    double max_diff;
    double sum_diff;
    size_t n_compared;
    size_t n_close;
    size_t n_steps;
    size_t n_greedy_equal;
    size_t n_near_tie_flips;
    double max_flip_margin; /* llama.cpp's top-2 margin at the flips */
} stats;

static int argmax(const float *logits, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return (int)best;
}

static void compare_step(const float *logits, size_t n_vocab, json_t *step, stats *st,
                         const char *prompt, size_t s) {
    json_t *top = json_object_get(step, "top");
    const int ref_token = (int)json_integer_value(json_object_get(step, "token"));
    for (size_t i = 0; i < json_array_size(top); i++) {
        json_t *pair = json_array_get(top, i);
        const json_int_t id = json_integer_value(json_array_get(pair, 0));
        const double ref = json_number_value(json_array_get(pair, 1));
        assert_true(id >= 0 && (size_t)id < n_vocab);
        const double diff = fabs((double)logits[id] - ref);
        if (diff > st->max_diff) st->max_diff = diff;
        st->sum_diff += diff;
        st->n_compared++;
        if (diff <= CLOSE_DIFF) st->n_close++;
        if (diff > LOGIT_TOLERANCE)
            fail_msg("%s step %zu: logit of token %lld is %.4f, llama.cpp %.4f", prompt, s,
                     (long long)id, logits[id], ref);
    }
    const int ours = argmax(logits, n_vocab);
    const double margin = json_number_value(json_array_get(json_array_get(top, 0), 1)) -
                          json_number_value(json_array_get(json_array_get(top, 1), 1));
    st->n_steps++;
    if (ours == ref_token) {
        st->n_greedy_equal++;
    } else if (margin < TIE_MARGIN) {
        st->n_near_tie_flips++;
        if (margin > st->max_flip_margin) st->max_flip_margin = margin;
    } else {
        fail_msg("%s step %zu: greedy token %d, llama.cpp %d (its margin %.3f)", prompt, s, ours,
                 ref_token, margin);
    }
}

static void run_prompt(tinfer_context *ctx, json_t *prompt, stats *st) {
    const char *name = json_string_value(json_object_get(prompt, "name"));
    json_t *ids = json_object_get(prompt, "ids");
    json_t *steps = json_object_get(prompt, "steps");
    int32_t tokens[256];
    const size_t n_ids = json_array_size(ids);
    assert_true(n_ids > 0 && n_ids <= 256);
    for (size_t i = 0; i < n_ids; i++)
        tokens[i] = (int32_t)json_integer_value(json_array_get(ids, i));
    assert_int_equal(tinfer_kv_seq_clear(ctx, 0), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, n_ids), TINFER_OK);
    const size_t n_vocab = tinfer_context_n_vocab(ctx);
    for (size_t s = 0; s < json_array_size(steps); s++) {
        json_t *step = json_array_get(steps, s);
        const float *logits = tinfer_logits(ctx, 0);
        assert_non_null(logits);
        compare_step(logits, n_vocab, step, st, name, s);
        const int32_t seq = 0, next = (int32_t)json_integer_value(json_object_get(step, "token"));
        assert_int_equal(tinfer_decode(ctx, &seq, &next, 1), TINFER_OK);
    }
}

static void default_model_matches_llamacpp(void **state) {
    (void)state;
    const char *model_path = test_default_model();
    char golden_path[4096];
    if (!model_path || !test_source_path(golden_path, sizeof golden_path,
                                         "tests/data/golden/gemma3_270m_q4km.json"))
        skip();
    json_error_t error;
    json_t *golden = json_load_file(golden_path, 0, &error);
    assert_non_null(golden);
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(model_path, NULL, &model), TINFER_OK);
    tinfer_context_params params = tinfer_context_default_params();
    params.n_ctx = 256;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &params, &ctx), TINFER_OK);

    stats st = {0};
    json_t *prompts = json_object_get(golden, "prompts");
    assert_true(json_array_size(prompts) >= 10);
    for (size_t p = 0; p < json_array_size(prompts); p++)
        run_prompt(ctx, json_array_get(prompts, p), &st);
    const double mean_diff = st.sum_diff / (double)st.n_compared;
    const double close = (double)st.n_close / (double)st.n_compared;
    printf("golden: %zu prompts, %zu steps: greedy equal %zu, near-tie flips %zu (largest "
           "llama.cpp margin among them %.3f); top-10 logits max |diff| %.4f (tolerance %.2f), "
           "mean %.4f (tolerance %.2f), within %.1f: %.2f%% (required %.0f%%)\n",
           json_array_size(prompts), st.n_steps, st.n_greedy_equal, st.n_near_tie_flips,
           st.max_flip_margin, st.max_diff, LOGIT_TOLERANCE, mean_diff, MEAN_TOLERANCE, CLOSE_DIFF,
           100 * close, 100 * CLOSE_FRACTION);
    assert_true(mean_diff <= MEAN_TOLERANCE);
    assert_true(close >= CLOSE_FRACTION);
    assert_true(st.n_greedy_equal + st.n_near_tie_flips == st.n_steps);

    tinfer_context_free(ctx);
    tinfer_model_free(model);
    json_decref(golden);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_model_matches_llamacpp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
