/* The sampler object behind the public tinfer_sampler_* functions (see tinfer/sampler.h for the
 * semantics). Arguments are checked by the public wrappers in sampler_api.c, not here. */
#ifndef TINFER_SAMPLE_SAMPLER_H
#define TINFER_SAMPLE_SAMPLER_H

#include "sample/candidates.h"
#include "sample/penalties.h"
#include "sample/rng.h"
#include "tinfer/tinfer.h"

struct tinfer_sampler {
    tinfer_sampler_params params; /* as validated at creation; seed: the one in use (drawn from
                                     the OS for TINFER_SEED_RANDOM) */
    size_t n_vocab;
    float *adjusted_logits;   /* n_vocab: the input after penalties, NaN → -inf */
    float *weights;           /* n_vocab: exp((logit − max) / temperature) of the kept set */
    tf_cand_set cands;        /* items: n_vocab entries of scratch */
    tf_token_history history; /* window of accepted tokens for the penalties */
    tf_rng rng;
    int32_t *bias_tokens; /* n_bias: the logit bias (tinfer_sampler_set_logit_bias) */
    float *bias_values;
    size_t n_bias;
};

/* Allocates a sampler for valid params (all scratch is allocated here); E_NOMEM on failure. */
tinfer_status tf_sampler_create(const tinfer_sampler_params *params, size_t n_vocab,
                                tinfer_sampler **out);
void tf_sampler_free(tinfer_sampler *s);
void tf_sampler_reset(tinfer_sampler *s);
/* Adds a token (0 ≤ token < n_vocab) to the penalty window. */
void tf_sampler_accept(tinfer_sampler *s, int32_t token);
/* Replaces the logit bias (arguments checked by the caller); E_NOMEM keeps the previous one. */
tinfer_status tf_sampler_set_logit_bias(tinfer_sampler *s, const int32_t *tokens,
                                        const float *biases, size_t n);
/* Draws a token from s->n_vocab logits. E_INVALID_ARG when every logit is -inf or NaN. */
tinfer_status tf_sampler_sample(tinfer_sampler *s, const float *logits, int32_t *token);
/* The distribution tf_sampler_sample would draw from, as n_vocab probabilities indexed by token
 * id (0 for every excluded token; one-hot when greedy). Draws no random number. Exposed so tests
 * can hold the whole chain against independently computed reference vectors. */
tinfer_status tf_sampler_probs(tinfer_sampler *s, const float *logits, float *probs);

#endif
