/* Public entry points for the sampler: argument checks, then calls into sampler.c. */
#include <math.h>

#include "core/abi_struct.h"
#include "core/error.h"
#include "sample/logprobs.h"
#include "sample/sampler.h"

/* Every field in order; all of them were in 0.1's struct. */
static const tf_abi_field sampler_params_fields[] = {
    TF_ABI_FIELD(tinfer_sampler_params, temperature),
    TF_ABI_FIELD(tinfer_sampler_params, top_k),
    TF_ABI_FIELD(tinfer_sampler_params, top_p),
    TF_ABI_FIELD(tinfer_sampler_params, min_p),
    TF_ABI_FIELD(tinfer_sampler_params, repeat_penalty),
    TF_ABI_FIELD(tinfer_sampler_params, presence_penalty),
    TF_ABI_FIELD(tinfer_sampler_params, frequency_penalty),
    TF_ABI_FIELD(tinfer_sampler_params, penalty_last_n),
    TF_ABI_FIELD(tinfer_sampler_params, seed),
};
static const tf_abi_layout sampler_params_layout = {
    "tinfer_sampler_params", sizeof(tinfer_sampler_params), sampler_params_fields,
    sizeof sampler_params_fields / sizeof sampler_params_fields[0], 9};

static const tinfer_sampler_params sampler_params_defaults = {.temperature = 0.8f,
                                                              .top_k = 40,
                                                              .top_p = 0.95f,
                                                              .min_p = 0.05f,
                                                              .repeat_penalty = 1.0f,
                                                              .presence_penalty = 0.0f,
                                                              .frequency_penalty = 0.0f,
                                                              .penalty_last_n = 64,
                                                              .seed = 0};

TINFER_API void tinfer_sampler_params_init(tinfer_sampler_params *params, size_t size) {
    tf_abi_params_init(&sampler_params_layout, &sampler_params_defaults, params, size,
                       "tinfer_sampler_params_init");
}

/* Each test is written so that NaN fails it. */
static tinfer_status check_params(const tinfer_sampler_params *p) {
    const char *fn = "tinfer_sampler_create";
    TF_CHECK_ARG(p->temperature >= 0.0f && isfinite(p->temperature),
                 "%s: temperature must be finite and >= 0 (0 = greedy), got %g", fn,
                 p->temperature);
    TF_CHECK_ARG(p->top_k >= 0, "%s: top_k must be >= 0 (0 = off), got %d", fn, (int)p->top_k);
    TF_CHECK_ARG(p->top_p > 0.0f && p->top_p <= 1.0f,
                 "%s: top_p must be in (0, 1] (1 = off), got %g", fn, p->top_p);
    TF_CHECK_ARG(p->min_p >= 0.0f && p->min_p <= 1.0f,
                 "%s: min_p must be in [0, 1] (0 = off), got %g", fn, p->min_p);
    TF_CHECK_ARG(p->repeat_penalty > 0.0f && isfinite(p->repeat_penalty),
                 "%s: repeat_penalty must be finite and > 0 (1 = off), got %g", fn,
                 p->repeat_penalty);
    TF_CHECK_ARG(isfinite(p->presence_penalty), "%s: presence_penalty must be finite, got %g", fn,
                 p->presence_penalty);
    TF_CHECK_ARG(isfinite(p->frequency_penalty), "%s: frequency_penalty must be finite, got %g", fn,
                 p->frequency_penalty);
    TF_CHECK_ARG(p->penalty_last_n >= 0, "%s: penalty_last_n must be >= 0 (0 = off), got %d", fn,
                 (int)p->penalty_last_n);
    return TINFER_OK;
}

TINFER_API tinfer_status tinfer_sampler_create(const tinfer_sampler_params *params,
                                               size_t params_size, size_t n_vocab,
                                               tinfer_sampler **out) {
    tf_error_clear();
    TF_CHECK_ARG(out, "tinfer_sampler_create: out is NULL");
    /* Token ids are int32_t, so a larger vocabulary could not be sampled from. */
    TF_CHECK_ARG(n_vocab >= 1 && n_vocab <= INT32_MAX,
                 "tinfer_sampler_create: n_vocab must be in [1, %d], got %zu", INT32_MAX, n_vocab);
    tinfer_sampler_params p = sampler_params_defaults;
    tinfer_status status = tf_abi_params_read(&sampler_params_layout, params, params_size, &p,
                                              "tinfer_sampler_create");
    if (status == TINFER_OK) status = check_params(&p);
    if (status != TINFER_OK) return status;
    return tf_sampler_create(&p, n_vocab, out);
}

TINFER_API tinfer_status tinfer_sampler_accept(tinfer_sampler *sampler, int32_t token) {
    tf_error_clear();
    TF_CHECK_ARG(sampler, "tinfer_sampler_accept: sampler is NULL");
    TF_CHECK_ARG(token >= 0 && (size_t)token < sampler->n_vocab,
                 "tinfer_sampler_accept: token %d is outside the vocabulary [0, %zu)", (int)token,
                 sampler->n_vocab);
    tf_sampler_accept(sampler, token);
    return TINFER_OK;
}

TINFER_API tinfer_status tinfer_sampler_sample(tinfer_sampler *sampler, const float *logits,
                                               size_t n_vocab, int32_t *token) {
    tf_error_clear();
    TF_CHECK_ARG(sampler, "tinfer_sampler_sample: sampler is NULL");
    TF_CHECK_ARG(logits, "tinfer_sampler_sample: logits is NULL");
    TF_CHECK_ARG(token, "tinfer_sampler_sample: token is NULL");
    TF_CHECK_ARG(n_vocab == sampler->n_vocab,
                 "tinfer_sampler_sample: n_vocab is %zu but the sampler was created for %zu",
                 n_vocab, sampler->n_vocab);
    return tf_sampler_sample(sampler, logits, token);
}

TINFER_API void tinfer_sampler_reset(tinfer_sampler *sampler) {
    if (sampler) tf_sampler_reset(sampler);
}

TINFER_API void tinfer_sampler_free(tinfer_sampler *sampler) { tf_sampler_free(sampler); }

TINFER_API uint64_t tinfer_sampler_get_seed(const tinfer_sampler *sampler) {
    return sampler ? sampler->params.seed : 0;
}

TINFER_API tinfer_status tinfer_sampler_set_logit_bias(tinfer_sampler *sampler,
                                                       const int32_t *tokens,
                                                       const float *biases, size_t n) {
    tf_error_clear();
    const char *fn = "tinfer_sampler_set_logit_bias";
    TF_CHECK_ARG(sampler, "%s: sampler is NULL", fn);
    TF_CHECK_ARG(n == 0 || (tokens && biases), "%s: tokens or biases is NULL with n = %zu", fn, n);
    TF_CHECK_ARG(n <= SIZE_MAX / sizeof(float), "%s: n = %zu is too large", fn, n);
    for (size_t i = 0; i < n; i++) {
        TF_CHECK_ARG(tokens[i] >= 0 && (size_t)tokens[i] < sampler->n_vocab,
                     "%s: tokens[%zu] = %d is outside the vocabulary [0, %zu)", fn, i,
                     (int)tokens[i], sampler->n_vocab);
        TF_CHECK_ARG(isfinite(biases[i]) || biases[i] == -INFINITY,
                     "%s: biases[%zu] = %g is neither finite nor -inf", fn, i, biases[i]);
    }
    return tf_sampler_set_logit_bias(sampler, tokens, biases, n);
}

TINFER_API tinfer_status tinfer_sampler_logprobs(const float *logits, size_t n_vocab,
                                                 int32_t token, size_t n_top,
                                                 tinfer_token_logprob *top, float *chosen) {
    tf_error_clear();
    const char *fn = "tinfer_sampler_logprobs";
    TF_CHECK_ARG(logits && n_vocab >= 1 && n_vocab <= INT32_MAX,
                 "%s: logits is NULL or n_vocab = %zu is outside [1, %d]", fn, n_vocab, INT32_MAX);
    TF_CHECK_ARG(n_top <= n_vocab, "%s: n_top = %zu exceeds n_vocab = %zu", fn, n_top, n_vocab);
    TF_CHECK_ARG(n_top == 0 || top, "%s: top is NULL with n_top = %zu", fn, n_top);
    TF_CHECK_ARG(!chosen || (token >= 0 && (size_t)token < n_vocab),
                 "%s: token %d is outside the vocabulary [0, %zu)", fn, (int)token, n_vocab);
    return tf_logprobs(logits, n_vocab, token, n_top, top, chosen);
}
