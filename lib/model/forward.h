/* The forward pass: tokens in, logits out, written once for every architecture we run. */
#ifndef TINFER_MODEL_FORWARD_H
#define TINFER_MODEL_FORWARD_H

#include "backend/backend.h"
#include "kv/kv_cache.h"
#include "model/arch_traits.h"
#include "model/rope_scaling.h"
#include "model/weights.h"

/* Activations for up to n_batch tokens, allocated once through the backend. */
typedef struct tf_run_state {
    uint32_t n_batch;
    uint32_t n_out_max;       /* tokens per pass that may ask for logits */
    float *x;                 /* [n_batch][n_embd] the residual stream */
    float *xb;                /* [n_batch][n_embd] normed input / branch output */
    float *q, *k, *v;         /* [n_batch][heads × head_dim] */
    float *att;               /* [n_batch][n_head × head_dim_v] */
    float *ffn_gate, *ffn_up; /* [n_batch][n_ff] */
    float *out_hidden;        /* [n_out_max][n_embd] final-normed rows that need logits */
    tf_kv_span *spans_global, *spans_local; /* [n_batch] what each token attends to */
} tf_run_state;

/* Everything one pass reads or writes. */
typedef struct tf_engine {
    const tf_hparams *hp;
    const tf_arch_traits *traits;
    const tf_weights *weights;
    const tf_rope_scaling *rope_scaling;
    tf_backend *backend;
    tf_kv_cache *kv;
    tf_run_state *rs;
} tf_engine;

/* A pass over n_tokens (≤ n_batch) tokens; token t of sequence seqs[t] sits at positions[t], its
 * KV blocks already reserved. Logits of tokens out_tokens[0 .. n_out) go to
 * logits + i × n_vocab. */
typedef struct tf_batch {
    size_t n_tokens;
    const int32_t *tokens;
    const int32_t *positions;
    const uint32_t *seqs;
    const uint32_t *out_tokens;
    size_t n_out;
    bool decode; /* one token per sequence (tinfer_decode), else a prompt chunk of one sequence */
} tf_batch;

tinfer_status tf_run_state_init(tf_run_state *rs, tf_backend *be, const tf_hparams *hp,
                                uint32_t n_batch, uint32_t n_out_max);
void tf_run_state_free(tf_run_state *rs, tf_backend *be);

void tf_forward(const tf_engine *engine, const tf_batch *batch, float *logits);

#endif
