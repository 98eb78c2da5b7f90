/* The CUDA kernels' launchers, callable from C (the backend, the tests). Each enqueues its work
 * on stream (a cudaStream_t; NULL is the default stream) and returns the launch's cudaError_t as
 * an int (0: enqueued), or TFC_E_DTYPE for a weight dtype it has no kernel for. Pointers are
 * device memory. Built only with CUDA (TINFER_HAVE_CUDA). */
#ifndef TINFER_BACKEND_CUDA_CUDA_KERNELS_H
#define TINFER_BACKEND_CUDA_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { TFC_E_DTYPE = -1, TFC_E_SHAPE = -2 /* a shape the kernel does not take */ };

/* y[t][r] = Σ_e w[r][e] · x[t][e] for r < n_rows, t < n_tokens: w has n_rows rows of n_cols
 * elements of dtype (a tinfer_dtype cuda_quant.h decodes), row_bytes apart, in the file's bytes;
 * x is [n_tokens][n_cols] and y [n_tokens][n_rows] float32. One warp a row, float32 sums. */
int tfc_matvec(int dtype, const void *w, size_t row_bytes, uint32_t n_rows, uint32_t n_cols,
               const float *x, uint32_t n_tokens, float *y, void *stream);

/* Each of n_rows rows of width floats: out = x / sqrt(mean(x²) + eps) · weight (in place ok). */
int tfc_rmsnorm(const float *x, const float *weight, float eps, uint32_t n_rows, uint32_t width,
                float *out, void *stream);

/* A layer's rotary embedding (backend.h's tf_rope, by value for the kernel). */
typedef struct tfc_rope_args {
    uint32_t n_rot;
    float freq_base;
    int neox;                  /* pairs (i, i + n_rot/2), else (2i, 2i + 1) */
    const float *freq_factors; /* n_rot/2 divisors in device memory, or NULL */
    float freq_scale;
} tfc_rope_args;

/* Rotates x [n_tokens][n_heads][head_dim] in place, token t at positions[t]. */
int tfc_rope(float *x, const int32_t *positions, uint32_t n_tokens, uint32_t n_heads,
             uint32_t head_dim, const tfc_rope_args *rope, void *stream);

enum { TFC_ACT_SILU = 0, TFC_ACT_GELU_TANH = 1 };

/* gate[i] = act(gate[i]) · up[i] for i < n. */
int tfc_ffn_gate(int act, size_t n, float *gate, const float *up, void *stream);

/* y[i] += x[i]; y[i] += bias[i % width]; y[i] *= factor; y[i] = cap · tanh(y[i] / cap). */
int tfc_add(size_t n, float *y, const float *x, void *stream);
int tfc_add_bias(size_t n, uint32_t width, float *y, const float *bias, void *stream);
int tfc_scale(size_t n, float *y, float factor, void *stream);
int tfc_softcap(size_t n, float *y, float cap, void *stream);

/* out[t] = row tokens[t] of w (n_cols elements of dtype, row_bytes apart) as float32. */
int tfc_embed(int dtype, const void *w, size_t row_bytes, uint32_t n_cols, const int32_t *tokens,
              uint32_t n_tokens, float *out, void *stream);

/* out[i] = x[rows[i]] (width floats each), i < n_rows. */
int tfc_gather_rows(const float *x, uint32_t width, const uint32_t *rows, uint32_t n_rows,
                    float *out, void *stream);

/* ---- the KV cache (cuda_attention.cu) ---- */

enum {
    TFC_KV_BLOCK_TOKENS = 32,   /* backend.h's TF_KV_BLOCK_TOKENS (checked in cuda_backend.c) */
    TFC_ATTN_MAX_HEAD_DIM = 512 /* head dimensions attention takes */
};

/* One layer's storage: K and V rows of dtype (F32, F16 or Q8_0), row_bytes apart. */
typedef struct tfc_kv_layer {
    uint8_t *k, *v;
    size_t k_row_bytes, v_row_bytes;
    int dtype;
} tfc_kv_layer;

typedef struct tfc_span {
    uint32_t pos_first, pos_last;
} tfc_span;

/* The pass as the kernels read it, all in device memory: token t at positions[t] of sequence
 * token_seq[t], whose block table (the local or the global one, as the op asks) is
 * tables[token_seq[t] · blocks_per_seq ...]; spans[t] the positions it sees. */
typedef struct tfc_pass_view {
    uint32_t n_tokens, blocks_per_seq;
    const int32_t *positions;
    const uint32_t *token_seq;
    const uint32_t *tables;
    const tfc_span *spans;
} tfc_pass_view;

/* Writes token t's K row (k_row_elems floats at k + t · k_row_elems) and V row into the layer at
 * its position; rows must be whole blocks of 32 (TFC_E_SHAPE). */
int tfc_kv_store(const tfc_kv_layer *layer, const tfc_pass_view *pass, const float *k,
                 const float *v, uint32_t k_row_elems, uint32_t v_row_elems, void *stream);

typedef struct tfc_attn_args {
    uint32_t n_head, n_head_kv, head_dim, head_dim_v;
    float scale;
} tfc_attn_args;

/* out[t][h] = softmax(scale · q[t][h] · K) · V over token t's span, query head h reading KV head
 * h / (n_head / n_head_kv); head dimensions up to TFC_ATTN_MAX_HEAD_DIM (TFC_E_SHAPE). */
int tfc_attention(const tfc_kv_layer *layer, const tfc_pass_view *pass, const tfc_attn_args *args,
                  const float *q, float *out, void *stream);

#ifdef __cplusplus
}
#endif
#endif
