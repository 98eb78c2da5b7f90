/* The sampler chain: penalties → top-k → top-p → min-p → temperature → draw. */
#include "sample/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/error.h"

tinfer_status tf_sampler_create(const tinfer_sampler_params *params, size_t n_vocab,
                                tinfer_sampler **out) {
    tinfer_sampler *s = calloc(1, sizeof *s);
    if (!s) return tf_error(TINFER_E_NOMEM, "sampler: out of memory");
    s->params = *params;
    s->n_vocab = n_vocab;
    /* calloc checks count × size for overflow itself. */
    s->adjusted_logits = calloc(n_vocab, sizeof *s->adjusted_logits);
    s->weights = calloc(n_vocab, sizeof *s->weights);
    s->cands.items = calloc(n_vocab, sizeof *s->cands.items);
    bool history_ok = tf_history_init(&s->history, (size_t)params->penalty_last_n, n_vocab);
    if (!s->adjusted_logits || !s->weights || !s->cands.items || !history_ok) {
        tf_sampler_free(s);
        return tf_error(TINFER_E_NOMEM,
                        "sampler: out of memory for %zu tokens of scratch and a "
                        "%d-token penalty window",
                        n_vocab, (int)params->penalty_last_n);
    }
    if (s->params.seed == TINFER_SEED_RANDOM) s->params.seed = tf_rng_os_seed();
    tf_rng_seed(&s->rng, s->params.seed);
    *out = s;
    return TINFER_OK;
}

void tf_sampler_free(tinfer_sampler *s) {
    if (!s) return;
    free(s->adjusted_logits);
    free(s->weights);
    free(s->cands.items);
    tf_history_free(&s->history);
    free(s->bias_tokens);
    free(s->bias_values);
    free(s);
}

void tf_sampler_reset(tinfer_sampler *s) {
    tf_history_clear(&s->history);
    tf_rng_seed(&s->rng, s->params.seed);
}

tinfer_status tf_sampler_set_logit_bias(tinfer_sampler *s, const int32_t *tokens,
                                        const float *biases, size_t n) {
    int32_t *new_tokens = NULL;
    float *new_values = NULL;
    if (n > 0) {
        new_tokens = malloc(n * sizeof *new_tokens); /* n ≤ SIZE_MAX / 4: checked by the caller */
        new_values = malloc(n * sizeof *new_values);
        if (!new_tokens || !new_values) {
            free(new_tokens);
            free(new_values);
            return tf_error(TINFER_E_NOMEM, "sampler: out of memory for %zu logit biases", n);
        }
        memcpy(new_tokens, tokens, n * sizeof *new_tokens);
        memcpy(new_values, biases, n * sizeof *new_values);
    }
    free(s->bias_tokens);
    free(s->bias_values);
    s->bias_tokens = new_tokens;
    s->bias_values = new_values;
    s->n_bias = n;
    return TINFER_OK;
}

void tf_sampler_accept(tinfer_sampler *s, int32_t token) { tf_history_push(&s->history, token); }

/* Copies logits into adjusted_logits and applies the logit bias and the penalties; then NaN
 * becomes -inf, and when some logits are +inf those become 0 and every other -inf (the limit of
 * the softmax: the +inf tokens share all the probability). Returns the highest adjusted logit: -inf
 * when no token is left to pick. */
static float adjust_logits(tinfer_sampler *s, const float *logits) {
    float *adjusted = s->adjusted_logits;
    memcpy(adjusted, logits, s->n_vocab * sizeof *adjusted);
    /* The bias first, as llama.cpp's chain does (its logit_bias sampler precedes penalties). */
    for (size_t i = 0; i < s->n_bias; i++) adjusted[s->bias_tokens[i]] += s->bias_values[i];
    tf_penalties penalties = {.repeat = s->params.repeat_penalty,
                              .presence = s->params.presence_penalty,
                              .frequency = s->params.frequency_penalty};
    tf_penalties_apply(&s->history, &penalties, adjusted);
    /* One pass over the whole vocabulary, which this runs for every token generated. */
    float max_logit = -INFINITY;
    for (size_t i = 0; i < s->n_vocab; i++) {
        float x = adjusted[i];
        x = isnan(x) ? -INFINITY : x;
        adjusted[i] = x;
        max_logit = x > max_logit ? x : max_logit;
    }
    if (max_logit == INFINITY) {
        for (size_t i = 0; i < s->n_vocab; i++) {
            adjusted[i] = adjusted[i] == INFINITY ? 0.0f : -INFINITY;
        }
        max_logit = 0.0f;
    }
    return max_logit;
}

/* The first token whose adjusted logit is max_logit: the argmax, lowest id on ties. */
static tf_candidate argmax(const tinfer_sampler *s, float max_logit) {
    size_t i = 0;
    while (s->adjusted_logits[i] != max_logit) i++;
    return (tf_candidate){max_logit, (int32_t)i};
}

/* Runs penalties and the filters, leaving the kept tokens in s->cands. */
static tinfer_status select_candidates(tinfer_sampler *s, const float *logits) {
    float max_logit = adjust_logits(s, logits);
    if (max_logit == -INFINITY) {
        return tf_error(TINFER_E_INVALID_ARG,
                        "sampler: every logit is NaN or -inf (after penalties): nothing to pick");
    }
    const tinfer_sampler_params *p = &s->params;
    tf_cand_set *set = &s->cands;
    if (p->temperature == 0.0f) {
        /* Greedy: every filter keeps the argmax, so it alone is the answer. */
        set->items[0] = argmax(s, max_logit);
        set->n = 1;
        set->sorted = true;
        return TINFER_OK;
    }
    if (p->top_k > 0 && (size_t)p->top_k < s->n_vocab) {
        tf_cands_top_k(set, s->adjusted_logits, s->n_vocab, (size_t)p->top_k);
    } else {
        tf_cands_gather(set, s->adjusted_logits, s->n_vocab);
    }
    tf_cands_top_p(set, p->top_p);
    tf_cands_min_p(set, p->min_p);
    return TINFER_OK;
}

/* weights[i] = exp((logit_i − max) / temperature) over the kept set; returns their sum, and in
 * *last_positive the last index with a weight above 0 (the draw's fallback against rounding). */
static double temperature_weights(tinfer_sampler *s, size_t *last_positive) {
    const tf_cand_set *set = &s->cands;
    float max_logit = tf_cands_max_logit(set);
    /* Greedy leaves one candidate, whose weight is 1 whatever the divisor. */
    float temperature = s->params.temperature > 0.0f ? s->params.temperature : 1.0f;
    double sum = 0.0;
    *last_positive = 0;
    for (size_t i = 0; i < set->n; i++) {
        s->weights[i] = expf((set->items[i].logit - max_logit) / temperature);
        sum += s->weights[i];
        if (s->weights[i] > 0.0f) *last_positive = i;
    }
    return sum;
}

/* Whether the chain is plain greedy: no bias and no penalty to apply, so the adjusted logits are
 * the logits with NaN as -inf, and their argmax can be read without copying them. */
static bool plain_greedy(const tinfer_sampler *s) {
    const tinfer_sampler_params *p = &s->params;
    return p->temperature == 0.0f && s->n_bias == 0 &&
           (s->history.size == 0 || (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f &&
                                     p->frequency_penalty == 0.0f));
}

/* The largest of x[0 .. n), NaN counting as -inf, -inf for none; and the first i with x[i] ==
 * value, which is there. One compare-and-select chain in element order took about 200 µs over a
 * 262k vocabulary — per sequence per step on a server's scheduler thread, with the other cores
 * waiting. Sixteen running maxima side by side give the same answer: NaN never wins a compare
 * (MAXPS(x, m) keeps m when either is NaN, as x > m ? x : m does), and where +0 and -0 tie for
 * the largest, the first id equal to either is the same id. SSE2 is x86-64's baseline. */
#if defined(__SSE2__)
static float max_of(const float *x, size_t n) {
    __m128 m[4];
    for (int k = 0; k < 4; k++) m[k] = _mm_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 4; k++) m[k] = _mm_max_ps(_mm_loadu_ps(x + i + 4 * k), m[k]);
    float lanes[16], most = -INFINITY;
    for (int k = 0; k < 4; k++) _mm_storeu_ps(lanes + 4 * k, m[k]);
    for (int l = 0; l < 16; l++) most = lanes[l] > most ? lanes[l] : most;
    for (; i < n; i++) most = x[i] > most ? x[i] : most;
    return most;
}

static size_t first_equal(const float *x, size_t n, float value) {
    const __m128 v = _mm_set1_ps(value);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128 hit = _mm_cmpeq_ps(_mm_loadu_ps(x + i), v);
        for (int k = 1; k < 4; k++)
            hit = _mm_or_ps(hit, _mm_cmpeq_ps(_mm_loadu_ps(x + i + 4 * k), v));
        if (_mm_movemask_ps(hit)) break;
    }
    while (x[i] != value) i++;
    return i;
}
#else
static float max_of(const float *x, size_t n) {
    float most = -INFINITY;
    for (size_t i = 0; i < n; i++) most = x[i] > most ? x[i] : most;
    return most;
}

static size_t first_equal(const float *x, size_t n, float value) {
    (void)n;
    size_t i = 0;
    while (x[i] != value) i++;
    return i;
}
#endif

/* select_candidates' greedy answer for plain greedy, in one pass over logits (and a second up to
 * the argmax): what a server decoding many sequences runs once per token of each. */
static tinfer_status plain_greedy_token(const tinfer_sampler *s, const float *logits,
                                        int32_t *token) {
    const float max_logit = max_of(logits, s->n_vocab);
    if (max_logit == -INFINITY)
        return tf_error(TINFER_E_INVALID_ARG,
                        "sampler: every logit is NaN or -inf (after penalties): nothing to pick");
    /* +inf: the first +inf, as adjust_logits' 0 among -inf */
    *token = (int32_t)first_equal(logits, s->n_vocab, max_logit);
    return TINFER_OK;
}

tinfer_status tf_sampler_sample(tinfer_sampler *s, const float *logits, int32_t *token) {
    if (plain_greedy(s)) return plain_greedy_token(s, logits, token);
    tinfer_status status = select_candidates(s, logits);
    if (status != TINFER_OK) return status;
    if (s->params.temperature == 0.0f) {
        *token = s->cands.items[0].id;
        return TINFER_OK;
    }
    size_t chosen;
    double total = temperature_weights(s, &chosen);
    /* Inverse CDF. The strict '>' means a token whose weight underflowed to 0 is never picked. */
    double target = tf_rng_uniform(&s->rng) * total, cumulative = 0.0;
    for (size_t i = 0; i < s->cands.n; i++) {
        cumulative += s->weights[i];
        if (cumulative > target) {
            chosen = i;
            break;
        }
    }
    *token = s->cands.items[chosen].id;
    return TINFER_OK;
}

tinfer_status tf_sampler_probs(tinfer_sampler *s, const float *logits, float *probs) {
    tinfer_status status = select_candidates(s, logits);
    if (status != TINFER_OK) return status;
    size_t last_positive;
    double total = temperature_weights(s, &last_positive);
    memset(probs, 0, s->n_vocab * sizeof *probs);
    for (size_t i = 0; i < s->cands.n; i++) {
        probs[s->cands.items[i].id] = (float)(s->weights[i] / total);
    }
    return TINFER_OK;
}
