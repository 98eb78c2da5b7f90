/* Log-probabilities of a row of logits: the model's own distribution, before any sampling
 * transform (see tinfer_sampler_logprobs). */
#ifndef TINFER_SAMPLE_LOGPROBS_H
#define TINFER_SAMPLE_LOGPROBS_H

#include "tinfer/tinfer.h"

/* log softmax(logits) of token (when chosen is not NULL) and of the n_top most probable tokens,
 * most probable first, equal logits by lowest id; arguments checked by the caller. E_INVALID_ARG
 * when every logit is -inf or NaN. */
tinfer_status tf_logprobs(const float *logits, size_t n_vocab, int32_t token, size_t n_top,
                          tinfer_token_logprob *top, float *chosen);

#endif
