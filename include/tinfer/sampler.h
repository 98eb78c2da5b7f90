/* libtinfer sampler API: included by tinfer/tinfer.h; do not include it alone. */
#ifndef TINFER_SAMPLER_H
#define TINFER_SAMPLER_H
#ifndef TINFER_TINFER_H
#error "include tinfer/tinfer.h, not tinfer/sampler.h"
#endif

/* ---------------------------------------------------------------------------------------------
 * Sampler: picks the next token from a row of logits. Since 0.1.
 *
 * The chain runs in llama.cpp's order (its common sampler):
 *   logit bias → penalties → top-k → top-p → min-p → temperature → draw from the softmax.
 *  - The logit bias (tinfer_sampler_set_logit_bias; none by default) adds a fixed amount to the
 *    logits of chosen tokens; -inf bans a token. Since 0.3.
 *  - Penalties look at the last penalty_last_n tokens given to tinfer_sampler_accept. For each
 *    distinct token seen c times there: a logit ≤ 0 is multiplied by repeat_penalty, a positive
 *    one divided by it; then c × frequency_penalty + presence_penalty is subtracted.
 *  - top-k keeps the k highest logits; top-p keeps the smallest prefix (highest probability first,
 *    probabilities taken over what top-k kept) whose probabilities sum to ≥ top_p; min-p keeps the
 *    tokens whose probability is ≥ min_p × the highest one. Each keeps at least one token. Equal
 *    logits are ordered by token id, lowest first, so results never depend on sort stability.
 *  - temperature 0 is greedy: the highest logit after penalties, the lowest id on ties; no
 *    random number is used. Otherwise the kept logits are divided by the temperature and one
 *    token is drawn with probability softmax(kept / temperature).
 *  - Odd logits: NaN counts as -inf (never chosen). When some logits are +inf, only those tokens
 *    can be chosen, with equal probability. When every logit is -inf or NaN, sampling fails with
 *    TINFER_E_INVALID_ARG.
 *  - Random numbers come from xoshiro256** seeded through splitmix64 with `seed` (both by
 *    Vigna, public domain), so a seed gives the same tokens on every platform. Every value of
 *    seed but TINFER_SEED_RANDOM, 0 included, is a fixed seed; TINFER_SEED_RANDOM asks for one
 *    drawn from the operating system at creation (tinfer_sampler_get_seed says which, so the
 *    run can be repeated). Before 0.3 UINT64_MAX was a fixed seed like the others.
 * A sampler is used by one thread at a time; it allocates everything at creation, never while
 * sampling.
 * ------------------------------------------------------------------------------------------- */
typedef struct tinfer_sampler tinfer_sampler;

/* Options of tinfer_sampler_create; fill with tinfer_sampler_params_init. Since 0.1. */
typedef struct tinfer_sampler_params {
    float temperature;       /* 0 = greedy; otherwise > 0 (default 0.8) */
    int32_t top_k;           /* 0 = off (default 40) */
    float top_p;             /* in (0, 1]; 1 = off (default 0.95) */
    float min_p;             /* in [0, 1]; 0 = off (default 0.05) */
    float repeat_penalty;    /* > 0; 1 = off (default 1) */
    float presence_penalty;  /* subtracted once from tokens in the history; 0 = off (default) */
    float frequency_penalty; /* subtracted per occurrence in the history; 0 = off (default) */
    int32_t penalty_last_n;  /* tokens of history the penalties look at; 0 = off (default 64) */
    uint64_t seed;           /* random-number seed (default 0); TINFER_SEED_RANDOM: one from the
                                operating system */
} tinfer_sampler_params;

/* The seed value that asks for a seed drawn from the operating system. Since 0.3. */
#define TINFER_SEED_RANDOM UINT64_MAX

/* Writes the defaults into the first size bytes of *params (pass sizeof *params): llama.cpp's
 * common defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, penalties off with a
 * 64-token window), seed 0; every field that fits whole, zero elsewhere; nothing past size. NULL
 * is a no-op. Since 0.2. */
TINFER_API void tinfer_sampler_params_init(tinfer_sampler_params *params, size_t size);

/* Creates a sampler for rows of n_vocab logits. params may be NULL (defaults; params_size is then
 * ignored), else params_size is sizeof *params (see the struct rules in tinfer.h). Every field is
 * checked: a NaN, infinite or out-of-range value gives TINFER_E_INVALID_ARG naming the field.
 * On success *out owns the sampler; free it with tinfer_sampler_free. Since 0.1 (params_size
 * since 0.2). */
TINFER_API tinfer_status tinfer_sampler_create(const tinfer_sampler_params *params,
                                               size_t params_size, size_t n_vocab,
                                               tinfer_sampler **out);

/* Appends token (0 ≤ token < n_vocab) to the history the penalties look at. Sampling does not
 * do this by itself: accept each token you keep, and the prompt's tokens too if the penalties
 * should see them (llama.cpp's programs do both). Since 0.1. */
TINFER_API tinfer_status tinfer_sampler_accept(tinfer_sampler *sampler, int32_t token);

/* Picks a token from logits (n_vocab floats, the count given at creation; not modified) into
 * *token. Advances the random-number state unless the sampler is greedy. Since 0.1. */
TINFER_API tinfer_status tinfer_sampler_sample(tinfer_sampler *sampler, const float *logits,
                                               size_t n_vocab, int32_t *token);

/* Forgets the history and restarts the random numbers from the seed, so the sampler repeats
 * what it did after creation. NULL is a no-op. Since 0.1. */
TINFER_API void tinfer_sampler_reset(tinfer_sampler *sampler);

/* The seed the sampler's random numbers start from: the params' seed, or the one drawn from the
 * operating system for TINFER_SEED_RANDOM (never TINFER_SEED_RANDOM itself, so passing it back
 * as the seed repeats the run). 0 for NULL. Since 0.3. */
TINFER_API uint64_t tinfer_sampler_get_seed(const tinfer_sampler *sampler);

/* Replaces the sampler's logit bias with n entries: biases[i] is added to the logit of
 * tokens[i] before the penalties (llama.cpp's order), for sampling and greedy picks alike; a
 * token listed twice gets the sum. Each token in [0, n_vocab), each bias finite or -inf (the
 * token is never picked); E_INVALID_ARG otherwise, E_NOMEM, and on any failure the previous
 * bias stays. n = 0 (tokens and biases may then be NULL) removes it. Allocates here, never while
 * sampling; tinfer_sampler_reset keeps the bias. Since 0.3. */
TINFER_API tinfer_status tinfer_sampler_set_logit_bias(tinfer_sampler *sampler,
                                                       const int32_t *tokens,
                                                       const float *biases, size_t n);

/* One token and its log-probability. Since 0.3. */
typedef struct tinfer_token_logprob {
    int32_t token;
    float logprob;
} tinfer_token_logprob;

/* Log-probabilities of the model's distribution: log softmax(logits) of the raw row as given
 * (n_vocab floats, e.g. tinfer_logits), before any bias, penalty, filter or temperature — what
 * OpenAI's logprobs and llama-cpp-python report. Computed in double and rounded to float.
 * Writes the n_top most probable tokens into top[0 .. n_top), most probable first, equal logits
 * by lowest id (n_top ≤ n_vocab; top may be NULL when n_top = 0), and, when chosen is not NULL,
 * the log-probability of token (0 ≤ token < n_vocab) into *chosen. NaN counts as -inf; when some
 * logits are +inf those tokens share the probability. E_INVALID_ARG for bad arguments or when
 * every logit is -inf or NaN. Needs no sampler and allocates nothing. Since 0.3. */
TINFER_API tinfer_status tinfer_sampler_logprobs(const float *logits, size_t n_vocab,
                                                 int32_t token, size_t n_top,
                                                 tinfer_token_logprob *top, float *chosen);

/* Releases a sampler; NULL is a no-op. Since 0.1. */
TINFER_API void tinfer_sampler_free(tinfer_sampler *sampler);

#endif
