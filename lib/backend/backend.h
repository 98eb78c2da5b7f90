/* The op interface the forward pass calls: one table of function pointers per device.
 *
 * The forward pass (lib/model/forward.c) never touches numbers itself; it calls these ops on
 * buffers it got from the backend's alloc, so a CUDA backend implements the same table over
 * device memory. Activations are float32 row-major [n_tokens][width]. Weights are used in place,
 * in whatever dtype the file holds. */
#ifndef TINFER_BACKEND_BACKEND_H
#define TINFER_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinfer/tinfer.h"

/* A weight matrix of n_rows rows, each row_elems elements (whole blocks) taking row_bytes. */
typedef struct tf_matrix {
    const uint8_t *data;
    tinfer_dtype dtype;
    uint32_t n_rows;
    uint32_t row_elems;
    size_t row_bytes;
} tf_matrix;

/* Rotary position embedding of one layer. */
typedef struct tf_rope {
    uint32_t n_rot;            /* leading elements of each head that rotate (= head_dim here) */
    float freq_base;           /* theta_i = pos * freq_base^(-2i/n_rot) */
    bool neox;                 /* pairs (i, i + n_rot/2) — NEOX/HF layout — else (2i, 2i+1) */
    const float *freq_factors; /* n_rot/2 divisors of theta_i (Llama 3 scaling), or NULL */
    float freq_scale;          /* multiplies every angle (linear scaling: 1 / factor) */
} tf_rope;

/* One layer of the KV cache as attention reads and writes it: fixed-size blocks of block_tokens
 * token rows each, K rows of k_row_elems and V rows of v_row_elems elements. */
typedef struct tf_kv_layer {
    void *k;
    void *v;
    tinfer_dtype dtype; /* F16 or F32 */
    uint32_t block_tokens;
    uint32_t k_row_elems; /* n_head_kv * head_dim */
    uint32_t v_row_elems; /* n_head_kv * head_dim_v */
} tf_kv_layer;

/* Which cached positions one query token sees: [pos_first, pos_last] of the sequence whose
 * logical block i is physical block block_table[i]. */
typedef struct tf_kv_span {
    const uint32_t *block_table;
    uint32_t pos_first;
    uint32_t pos_last;
} tf_kv_span;

typedef struct tf_attn_shape {
    uint32_t n_head;
    uint32_t n_head_kv; /* divides n_head; query head h reads KV head h / (n_head / n_head_kv) */
    uint32_t head_dim;
    uint32_t head_dim_v;
    float scale; /* multiplies q·k before the softmax */
} tf_attn_shape;

typedef enum tf_ffn_act { TF_FFN_SILU, TF_FFN_GELU_TANH } tf_ffn_act;

typedef struct tf_backend tf_backend;

/* What the next ops compute, which decides how their sums round: a prompt chunk (rounded as
 * llama.cpp rounds a batch of that many tokens), or one token per sequence (rounded as llama.cpp
 * rounds a single token, whatever else is in the batch: a sequence's logits never depend on its
 * batch-mates). */
typedef enum tf_batch_kind { TF_BATCH_PROMPT, TF_BATCH_DECODE } tf_batch_kind;

typedef struct tf_backend_ops {
    const char *name;
    /* Zeroed device memory for activations and the cache; NULL when out of memory. */
    void *(*alloc)(tf_backend *be, size_t bytes);
    void (*free)(tf_backend *be, void *ptr);
    /* Called before each pass's ops. */
    void (*begin_batch)(tf_backend *be, tf_batch_kind kind);
    /* y[t][r] = Σ_j w[r][j] · x[t][j] for t < n_tokens, r < w->n_rows. */
    void (*matmul)(tf_backend *be, const tf_matrix *w, const float *x, size_t n_tokens, float *y);
    /* out[t] = row tokens[t] of w, as float32 (the embedding lookup). */
    void (*embed_rows)(tf_backend *be, const tf_matrix *w, const int32_t *tokens, size_t n_tokens,
                       float *out);
    /* out[r] = x[r] / rms(x[r]) * weight, each of n_rows rows of width elements (in place ok). */
    void (*rmsnorm)(tf_backend *be, const float *x, const float *weight, size_t n_rows,
                    size_t width, float eps, float *out);
    /* Rotates x [n_tokens][n_heads][head_dim] in place, token t at positions[t]. */
    void (*rope)(tf_backend *be, float *x, size_t n_tokens, size_t n_heads, size_t head_dim,
                 const int32_t *positions, const tf_rope *rope);
    /* Writes K and V of token t (rows of k_row_elems/v_row_elems) at its position in its span. */
    void (*kv_store)(tf_backend *be, const tf_kv_layer *layer, const tf_kv_span *spans,
                     const int32_t *positions, size_t n_tokens, const float *k, const float *v);
    /* out[t] = softmax(scale · q[t]·K) · V over spans[t], per head (q: [t][n_head][head_dim],
     * out: [t][n_head][head_dim_v]). */
    void (*attention)(tf_backend *be, const tf_kv_layer *layer, const tf_attn_shape *shape,
                      const tf_kv_span *spans, size_t n_tokens, const float *q, float *out);
    /* gate[i] = act(gate[i]) · up[i] for n elements. */
    void (*ffn_gate)(tf_backend *be, tf_ffn_act act, float *gate, const float *up, size_t n);
    /* y[i] += x[i] for n elements. */
    void (*add)(tf_backend *be, float *y, const float *x, size_t n);
    /* y[t][i] += bias[i], width elements per row. */
    void (*add_bias)(tf_backend *be, float *y, const float *bias, size_t n_rows, size_t width);
    /* y[i] *= factor. */
    void (*scale)(tf_backend *be, float *y, float factor, size_t n);
    /* y[i] = cap · tanh(y[i] / cap) (logit soft-capping). */
    void (*softcap)(tf_backend *be, float *y, float cap, size_t n);
} tf_backend_ops;

struct tf_backend {
    const tf_backend_ops *ops;
    void *state; /* the device's own (scratch for dequantized tiles on the CPU) */
};

/* The CPU backend: max_row_elems bounds the row length of any matrix it will multiply and the
 * width of all query heads (it sizes the scratch), max_ctx the keys one query may see, max_heads
 * the query heads. E_NOMEM. */
tinfer_status tf_backend_cpu_create(size_t max_row_elems, size_t max_ctx, size_t max_heads,
                                    tf_backend *out);
void tf_backend_cpu_destroy(tf_backend *be);

#endif
