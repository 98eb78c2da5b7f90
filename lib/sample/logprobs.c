/* log softmax in double over the raw logits, and the top tokens by insertion into the caller's
 * array (n_top is small: OpenAI allows 20): one pass over the vocabulary, no allocation. */
#include "sample/logprobs.h"

#include <math.h>

#include "core/error.h"

/* NaN counts as -inf. */
static double logit_at(const float *logits, size_t i) {
    return isnan(logits[i]) ? -INFINITY : (double)logits[i];
}

/* The softmax's shift and log-normaliser: logprob(i) = logit(i) - max - log_sum. When some logits
 * are +inf, those share the probability: *n_inf counts them (then logprob = -log n_inf for them,
 * -inf for the others). */
static void normaliser(const float *logits, size_t n_vocab, double *max, double *log_sum,
                       size_t *n_inf) {
    double m = -INFINITY;
    *n_inf = 0;
    for (size_t i = 0; i < n_vocab; i++) {
        const double x = logit_at(logits, i);
        if (x == INFINITY) (*n_inf)++;
        if (x > m) m = x;
    }
    double sum = 0.0;
    if (isfinite(m))
        for (size_t i = 0; i < n_vocab; i++) sum += exp(logit_at(logits, i) - m);
    *max = m;
    *log_sum = log(sum);
}

static float logprob_of(double x, double max, double log_sum, size_t n_inf) {
    if (n_inf) return x == INFINITY ? (float)-log((double)n_inf) : -INFINITY;
    return (float)(x - max - log_sum);
}

/* Whether token a (logit xa) ranks before token b (logit xb): higher logit, then lower id. */
static bool ranks_before(double xa, int32_t a, double xb, int32_t b) {
    return xa > xb || (xa == xb && a < b);
}

/* The n_top highest logits into top[], the logit itself held in .logprob for now (a float
 * widened to double ranks the same). */
static void select_top(const float *logits, size_t n_vocab, size_t n_top,
                       tinfer_token_logprob *top) {
    size_t n = 0;
    for (size_t i = 0; i < n_vocab && n_top > 0; i++) {
        const double x = logit_at(logits, i);
        if (n == n_top && !ranks_before(x, (int32_t)i, top[n - 1].logprob, top[n - 1].token))
            continue;
        size_t j = n < n_top ? n++ : n - 1; /* when full, the last one falls out */
        for (; j > 0 && ranks_before(x, (int32_t)i, top[j - 1].logprob, top[j - 1].token); j--)
            top[j] = top[j - 1];
        top[j] = (tinfer_token_logprob){.token = (int32_t)i, .logprob = (float)x};
    }
}

tinfer_status tf_logprobs(const float *logits, size_t n_vocab, int32_t token, size_t n_top,
                          tinfer_token_logprob *top, float *chosen) {
    double max, log_sum;
    size_t n_inf;
    normaliser(logits, n_vocab, &max, &log_sum, &n_inf);
    if (max == -INFINITY)
        return tf_error(TINFER_E_INVALID_ARG,
                        "tinfer_sampler_logprobs: every logit is NaN or -inf: no distribution");
    select_top(logits, n_vocab, n_top, top);
    for (size_t j = 0; j < n_top; j++)
        top[j].logprob = logprob_of(top[j].logprob, max, log_sum, n_inf);
    if (chosen) *chosen = logprob_of(logit_at(logits, (size_t)token), max, log_sum, n_inf);
    return TINFER_OK;
}
