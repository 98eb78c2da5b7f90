/* The forward pass: tokens in, logits out, written once for every architecture we run, as a
 * recipe of backend ops over the pass the backend was given (backend.h: begin_pass). */
#ifndef TINFER_MODEL_FORWARD_H
#define TINFER_MODEL_FORWARD_H

#include "backend/backend.h"
#include "model/network.h"

/* The pass's activations, in backend memory, sized for n_batch tokens by the context. */
typedef struct tf_activations {
    float *x;                 /* [n_batch][n_embd] the residual stream */
    float *xb;                /* [n_batch][n_embd] normed input / branch output */
    float *q, *k, *v;         /* [n_batch][heads × head_dim] */
    float *att;               /* [n_batch][n_head × head_dim_v] */
    float *ffn_gate, *ffn_up; /* [n_batch][n_ff] */
    float *out_hidden;        /* [n_logits_rows][n_embd] final-normed rows that need logits */
    float *logits;            /* [n_logits_rows][n_vocab] */
    uint32_t n_logits_rows;   /* output rows the head computes at once (≥ 1) */
} tf_activations;

/* The caller's way to stop a pass: fn(user_data) is asked before each layer (NULL fn: never). */
typedef struct tf_abort_check {
    bool (*fn)(void *user_data);
    void *user_data;
} tf_abort_check;

/* Runs the network over the backend's current pass; the output head runs over its n_out output
 * tokens in groups of act->n_logits_rows and hands each group's logits to the backend's
 * logits_out, which copies them to the host rows the step named. The first failing op's status is returned, or E_ABORTED when
 * abort says stop. */
tinfer_status tf_forward(const tinfer_model *model, const tf_network *net, tf_backend *be,
                         const tf_activations *act, size_t n_tokens, size_t n_out,
                         const tf_abort_check *abort);

#endif
