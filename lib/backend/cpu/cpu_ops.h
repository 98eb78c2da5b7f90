/* The CPU backend's kernels (scalar reference; OpenBLAS for matrix-matrix work) and its state. */
#ifndef TINFER_BACKEND_CPU_CPU_OPS_H
#define TINFER_BACKEND_CPU_CPU_OPS_H

#include "backend/backend.h"
#include "backend/cpu/cpu_kernels.h"

enum {
    TF_CPU_TILE_ROWS = 64,  /* weight rows dequantized together for one sgemm */
    TF_CPU_QDOT_TOKENS = 32 /* activation rows quantized at a time for the integer dots */
};

typedef struct tf_cpu_state {
    const tf_cpu_kernels *kernels; /* chosen for this CPU when the backend was created */
    tf_batch_kind batch_kind;      /* of the pass running now (begin_batch) */
    size_t max_row_elems;
    float *tile;        /* TF_CPU_TILE_ROWS × max_row_elems dequantized weights */
    float *attn_query;  /* max_row_elems: the query heads of one KV head, rounded for the cache */
    float *attn_row;    /* max_row_elems: one cached K or V row as float32 */
    float *attn_scores; /* max_heads × (max_ctx + 8): scores, then probabilities */
    float *attn_lanes;  /* max_row_elems × TF_LANES_VECDOT: per-lane partial sums of V */
    uint8_t *act_quant; /* TF_CPU_QDOT_TOKENS quantized activation rows */
    size_t act_quant_row_bytes;
} tf_cpu_state;

float tf_cpu_dot(const float *a, const float *b, size_t n);

void tf_cpu_matmul(tf_backend *be, const tf_matrix *w, const float *x, size_t n_tokens, float *y);
void tf_cpu_embed_rows(tf_backend *be, const tf_matrix *w, const int32_t *tokens, size_t n_tokens,
                       float *out);
void tf_cpu_rmsnorm(tf_backend *be, const float *x, const float *weight, size_t n_rows,
                    size_t width, float eps, float *out);
void tf_cpu_rope(tf_backend *be, float *x, size_t n_tokens, size_t n_heads, size_t head_dim,
                 const int32_t *positions, const tf_rope *rope);
void tf_cpu_kv_store(tf_backend *be, const tf_kv_layer *layer, const tf_kv_span *spans,
                     const int32_t *positions, size_t n_tokens, const float *k, const float *v);
void tf_cpu_attention(tf_backend *be, const tf_kv_layer *layer, const tf_attn_shape *shape,
                      const tf_kv_span *spans, size_t n_tokens, const float *q, float *out);
void tf_cpu_ffn_gate(tf_backend *be, tf_ffn_act act, float *gate, const float *up, size_t n);
void tf_cpu_add(tf_backend *be, float *y, const float *x, size_t n);
void tf_cpu_add_bias(tf_backend *be, float *y, const float *bias, size_t n_rows, size_t width);
void tf_cpu_scale(tf_backend *be, float *y, float factor, size_t n);
void tf_cpu_softcap(tf_backend *be, float *y, float cap, size_t n);

#endif
