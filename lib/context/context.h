/* The context behind the public handle: the model's bound weights, a backend, the KV cache, the
 * scratch of the forward pass and the logits of each sequence. */
#ifndef TINFER_CONTEXT_CONTEXT_H
#define TINFER_CONTEXT_CONTEXT_H

#include "tinfer/tinfer.h"

#include "backend/backend.h"
#include "core/trace.h"
#include "kv/kv_cache.h"
#include "model/forward.h"
#include "model/weights.h"

struct tinfer_context {
    const tinfer_model *model;
    tf_arch_traits traits;
    tf_weights weights;
    tf_rope_scaling rope_scaling;
    tf_backend backend;
    tf_kv_cache kv;
    tf_run_state rs;
    tf_engine engine;
    uint32_t n_vocab;
    float *logits;      /* [n_seq_max][n_vocab], a row per sequence */
    bool *has_logits;   /* [n_seq_max] */
    float *pass_logits; /* [n_seq_max][n_vocab] written by a pass, then copied to rows */
    /* One pass's description, [n_batch] each. */
    int32_t *positions;
    uint32_t *token_seqs;
    uint32_t *out_tokens;
    /* The op profiler (tinfer_profile_begin/end): active around this context's passes only. */
    tf_trace trace;
    bool profiling;
};

/* Settings the public params do not carry, for tests inside the library's reach. */
typedef struct tf_context_options {
    bool kv_swa_full; /* sliding-window layers keep every position, not a ring */
} tf_context_options;

/* Creates the context (arguments already checked); options may be NULL (all off). */
tinfer_status tf_context_create(const tinfer_model *model, const tinfer_context_params *params,
                                const tf_context_options *options, tinfer_context **out);
void tf_context_free(tinfer_context *ctx);

/* The steps (arguments checked here: seq ids, token ids, lengths). */
tinfer_status tf_context_prefill(tinfer_context *ctx, uint32_t seq, const int32_t *tokens,
                                 size_t n);
tinfer_status tf_context_decode(tinfer_context *ctx, const int32_t *seqs, const int32_t *tokens,
                                size_t n_seq);

/* KV operations (arguments checked by the caller: seq < n_seq_max, n ≤ the sequence's length
 * for truncate, n ≤ n_ctx for the fill). */
tinfer_status tf_context_kv_truncate(tinfer_context *ctx, uint32_t seq, uint32_t n);
tinfer_status tf_context_kv_fill_random(tinfer_context *ctx, uint32_t seq, uint32_t n,
                                        uint64_t seed);

#endif
