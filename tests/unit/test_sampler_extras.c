/* The sampler's 0.3 additions: the logit bias (before the penalties, replaced as a whole,
 * checked), log-probabilities of the raw logits (against values known by construction:
 * logits log(w_i) + c have probabilities w_i / Σw), and the operating system's seed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sample/sampler.h"
#include "tinfer/tinfer.h"

static tinfer_sampler *make(float temperature, uint64_t seed, size_t n_vocab) {
    tinfer_sampler_params p;
    tinfer_sampler_params_init(&p, sizeof p);
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    p.repeat_penalty = 2.0f;
    p.penalty_last_n = 8;
    tinfer_sampler *s = NULL;
    assert_int_equal(tinfer_sampler_create(&p, sizeof p, n_vocab, &s), TINFER_OK);
    return s;
}

static int32_t greedy(tinfer_sampler *s, const float *logits, size_t n) {
    int32_t t = -1;
    assert_int_equal(tinfer_sampler_sample(s, logits, n, &t), TINFER_OK);
    return t;
}

static void bias_moves_the_greedy_pick_and_bans(void **state) {
    (void)state;
    const float logits[4] = {1.0f, 3.0f, 2.0f, 0.0f};
    tinfer_sampler *s = make(0.0f, 0, 4);
    assert_int_equal(greedy(s, logits, 4), 1);
    const int32_t tokens[2] = {2, 2};
    const float biases[2] = {0.75f, 0.75f}; /* listed twice: 2 + 1.5 = 3.5 */
    assert_int_equal(tinfer_sampler_set_logit_bias(s, tokens, biases, 2), TINFER_OK);
    assert_int_equal(greedy(s, logits, 4), 2);
    tinfer_sampler_reset(s); /* keeps the bias */
    assert_int_equal(greedy(s, logits, 4), 2);
    /* A new set replaces the old one: ban 1, token 2 is back at 2. */
    const int32_t ban = 1;
    const float minus_inf = -INFINITY;
    assert_int_equal(tinfer_sampler_set_logit_bias(s, &ban, &minus_inf, 1), TINFER_OK);
    assert_int_equal(greedy(s, logits, 4), 2);
    const int32_t zero = 0;
    const float lift = 2.5f; /* 1 + 2.5 = 3.5 beats 2 */
    assert_int_equal(tinfer_sampler_set_logit_bias(s, &zero, &lift, 1), TINFER_OK);
    assert_int_equal(greedy(s, logits, 4), 0);
    assert_int_equal(tinfer_sampler_set_logit_bias(s, NULL, NULL, 0), TINFER_OK);
    assert_int_equal(greedy(s, logits, 4), 1);
    tinfer_sampler_free(s);
}

/* Bias then penalty: token 0's logit -1 + 2 = 1, divided by the repeat penalty 2: 0.5. (Penalty
 * first would give -1 × 2 + 2 = 0.) */
static void bias_comes_before_the_penalties(void **state) {
    (void)state;
    const float logits[2] = {-1.0f, 1.0f};
    tinfer_sampler *s = make(1.0f, 0, 2);
    const int32_t token = 0;
    const float bias = 2.0f;
    assert_int_equal(tinfer_sampler_set_logit_bias(s, &token, &bias, 1), TINFER_OK);
    assert_int_equal(tinfer_sampler_accept(s, 0), TINFER_OK);
    float probs[2];
    assert_int_equal(tf_sampler_probs(s, logits, probs), TINFER_OK);
    const double expect0 = 1.0 / (1.0 + exp(1.0 - 0.5));
    assert_float_equal(probs[0], expect0, 1e-6);
    assert_float_equal(probs[1], 1.0 - expect0, 1e-6);
    tinfer_sampler_free(s);
}

static void bad_bias_keeps_the_previous(void **state) {
    (void)state;
    const float logits[4] = {1.0f, 3.0f, 2.0f, 0.0f};
    tinfer_sampler *s = make(0.0f, 0, 4);
    const int32_t two = 2;
    const float up = 5.0f;
    assert_int_equal(tinfer_sampler_set_logit_bias(s, &two, &up, 1), TINFER_OK);
    const int32_t bad_tokens[2] = {0, 4}, neg = -1;
    const float ok[2] = {1.0f, 1.0f}, nan_bias = NAN, plus_inf = INFINITY;
    assert_int_equal(tinfer_sampler_set_logit_bias(s, bad_tokens, ok, 2), TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "tokens[1] = 4"));
    assert_int_equal(tinfer_sampler_set_logit_bias(s, &neg, ok, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_set_logit_bias(s, &two, &nan_bias, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_set_logit_bias(s, &two, &plus_inf, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_set_logit_bias(s, NULL, ok, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_set_logit_bias(NULL, &two, ok, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(greedy(s, logits, 4), 2); /* the bias of +5 still holds */
    tinfer_sampler_free(s);
}

/* logits log(i + 1) + 7: probabilities (i + 1) / Σ, Σ = n(n + 1)/2. */
static void logprobs_match_a_known_distribution(void **state) {
    (void)state;
    enum { N = 1000 };
    float *logits = malloc(N * sizeof *logits);
    for (size_t i = 0; i < N; i++) logits[i] = (float)(log((double)(i + 1)) + 7.0);
    const double total = N * (N + 1) / 2.0;
    tinfer_token_logprob top[5];
    float chosen = 0;
    assert_int_equal(tinfer_sampler_logprobs(logits, N, 41, 5, top, &chosen), TINFER_OK);
    /* The float logits are rounded: allow their rounding (|x| ~ 14, ulp 1e-6) and no more. */
    assert_float_equal(chosen, log(42.0 / total), 4e-6);
    for (int j = 0; j < 5; j++) {
        assert_int_equal(top[j].token, N - 1 - j);
        assert_float_equal(top[j].logprob, log((double)(N - j) / total), 4e-6);
    }
    /* Σ exp(logprob) over the vocabulary is 1. */
    double sum = 0;
    for (int32_t i = 0; i < N; i++) {
        float lp;
        assert_int_equal(tinfer_sampler_logprobs(logits, N, i, 0, NULL, &lp), TINFER_OK);
        sum += exp((double)lp);
    }
    assert_float_equal(sum, 1.0, 1e-5);
    free(logits);
}

static void logprobs_ties_nan_and_inf(void **state) {
    (void)state;
    /* p = {0.1, 0.2, 0.3, 0.4} ordered; ties by lowest id. */
    const float logits[6] = {(float)log(0.2), (float)log(0.1), (float)log(0.3), NAN,
                             (float)log(0.2), (float)log(0.2)};
    tinfer_token_logprob top[6];
    assert_int_equal(tinfer_sampler_logprobs(logits, 6, 0, 6, top, NULL), TINFER_OK);
    const int32_t order[6] = {2, 0, 4, 5, 1, 3};
    for (int j = 0; j < 6; j++) assert_int_equal(top[j].token, order[j]);
    /* Σ of the finite probabilities is 0.3 + 3 × 0.2 + 0.1 = 1.0 */
    assert_float_equal(top[0].logprob, log(0.3), 1e-6);
    assert_float_equal(top[1].logprob, log(0.2), 1e-6);
    assert_true(top[5].logprob == -INFINITY); /* NaN counts as -inf */
    /* Two +inf logits share everything. */
    const float inf[3] = {INFINITY, 1.0f, INFINITY};
    float chosen;
    assert_int_equal(tinfer_sampler_logprobs(inf, 3, 2, 1, top, &chosen), TINFER_OK);
    assert_int_equal(top[0].token, 0);
    assert_float_equal(top[0].logprob, -log(2.0), 1e-7);
    assert_float_equal(chosen, -log(2.0), 1e-7);
    assert_int_equal(tinfer_sampler_logprobs(inf, 3, 1, 0, NULL, &chosen), TINFER_OK);
    assert_true(chosen == -INFINITY);
    /* Bad calls. */
    const float dead[2] = {-INFINITY, NAN};
    assert_int_equal(tinfer_sampler_logprobs(dead, 2, 0, 1, top, &chosen), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_logprobs(NULL, 2, 0, 1, top, &chosen), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_logprobs(logits, 6, 0, 7, top, NULL), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_logprobs(logits, 6, 0, 1, NULL, NULL), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_logprobs(logits, 6, 6, 0, NULL, &chosen), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_logprobs(logits, 6, -1, 0, NULL, &chosen),
                     TINFER_E_INVALID_ARG);
}

static void draw(tinfer_sampler *s, int32_t *out, size_t n) {
    float logits[64];
    for (int i = 0; i < 64; i++) logits[i] = (float)(i % 7) * 0.3f;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tinfer_sampler_sample(s, logits, 64, &out[i]), TINFER_OK);
}

static void random_seed_is_reported_and_repeats(void **state) {
    (void)state;
    tinfer_sampler *fixed = make(1.0f, 12345, 64);
    assert_true(tinfer_sampler_get_seed(fixed) == 12345);
    assert_true(tinfer_sampler_get_seed(NULL) == 0);
    tinfer_sampler *a = make(1.0f, TINFER_SEED_RANDOM, 64);
    tinfer_sampler *b = make(1.0f, TINFER_SEED_RANDOM, 64);
    const uint64_t seed_a = tinfer_sampler_get_seed(a);
    assert_true(seed_a != TINFER_SEED_RANDOM);
    assert_true(seed_a != tinfer_sampler_get_seed(b)); /* equal with probability 2^-64 */
    tinfer_sampler *again = make(1.0f, seed_a, 64);
    int32_t xs[32], ys[32];
    draw(a, xs, 32);
    draw(again, ys, 32);
    assert_memory_equal(xs, ys, sizeof xs);
    tinfer_sampler_reset(a); /* restarts from the drawn seed, not a new one */
    assert_true(tinfer_sampler_get_seed(a) == seed_a);
    draw(a, ys, 32);
    assert_memory_equal(xs, ys, sizeof xs);
    tinfer_sampler_free(again);
    tinfer_sampler_free(b);
    tinfer_sampler_free(a);
    tinfer_sampler_free(fixed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bias_moves_the_greedy_pick_and_bans),
        cmocka_unit_test(bias_comes_before_the_penalties),
        cmocka_unit_test(bad_bias_keeps_the_previous),
        cmocka_unit_test(logprobs_match_a_known_distribution),
        cmocka_unit_test(logprobs_ties_nan_and_inf),
        cmocka_unit_test(random_seed_is_reported_and_repeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
