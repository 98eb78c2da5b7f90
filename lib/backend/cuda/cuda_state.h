/* The CUDA backend's state and the ops of its table, one file per concern: cuda_backend.c (the
 * table, creation, the pass), cuda_weights.c (the model's device copy and the host-pointer
 * translation), cuda_kv.c (the cache: storage, writes, attention, snapshots' rows), cuda_ops.c
 * (the products and the element-wise ops). Built only with CUDA (TINFER_HAVE_CUDA). */
#ifndef TINFER_BACKEND_CUDA_CUDA_STATE_H
#define TINFER_BACKEND_CUDA_CUDA_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

/* A model's weights on one device: each host region copied whole, so a host pointer inside region
 * r is found at device[r] + (p − host[r]). Made by upload_weights, shared by every context on the
 * device, freed by release_weights (which needs nothing of the backend that made it). */
typedef struct tf_cuda_weights {
    int device;
    size_t n;
    const uint8_t **host; /* [n] the regions' host starts */
    size_t *bytes;        /* [n] */
    uint8_t **dev;        /* [n] their copies */
} tf_cuda_weights;

/* The pass: its counts on the host, its arrays on the device (the kernels read them there). */
typedef struct tf_cuda_pass {
    tf_batch_kind kind;
    const char *name;
    uint32_t n_tokens, n_out, out_first, out_count, n_vocab_out;
    float **out_logits; /* [n_batch] host rows of the step's output tokens */
    int32_t *d_tokens, *d_positions;
    uint32_t *d_token_seq, *d_out_tokens;
    tf_span *d_spans_global, *d_spans_local;
    uint32_t *d_tables, *d_local_tables; /* [n_seq_max][blocks_per_seq] */
    uint32_t *h_tables, *h_local_tables; /* their staging on the host */
    uint64_t start_ns;
} tf_cuda_pass;

typedef struct tf_cuda_kv {
    uint32_t n_layer, k_row_elems, v_row_elems, n_head_kv;
    tinfer_dtype dtype;
    size_t k_row_bytes, v_row_bytes;
    uint8_t **k, **v; /* [n_layer] device storage */
} tf_cuda_kv;

typedef struct tf_cuda_state {
    tf_backend_config config;
    int device;
    void *stream; /* cudaStream_t */
    uint32_t blocks_per_seq;
    tf_cuda_pass pass;
    tf_cuda_kv kv;
    const tf_cuda_weights *weights;
    uint64_t op_start_ns;
} tf_cuda_state;

/* The library's status for a CUDA runtime error or a launcher's TFC_E_* (0: TINFER_OK). */
tinfer_status tf_cuda_check(int err, const char *what);

/* *err = e unless an earlier error is already kept there. */
static inline void tf_cuda_keep_first(int *err, int e) {
    if (*err == 0 && e != 0) *err = e;
}

/* cuda_weights.c */
tinfer_status tf_cuda_upload_weights(tf_backend *be, const tf_weight_regions *regions, void **copy);
void tf_cuda_release_weights(void *copy);
void tf_cuda_use_weights(tf_backend *be, void *copy);
/* The device address of host pointer p inside the uploaded weights, or NULL (with the error set)
 * when no region holds it. */
const void *tf_cuda_weight(const tf_cuda_state *s, const void *p, const char *what);

/* cuda_kv.c */
tinfer_status tf_cuda_kv_alloc(tf_backend *be, const tf_kv_geometry *geometry);
void tf_cuda_kv_free(tf_cuda_kv *kv);
tinfer_status tf_cuda_kv_read(tf_backend *be, const tf_kv_rows *rows, void *host);
tinfer_status tf_cuda_kv_write(tf_backend *be, const tf_kv_rows *rows, const void *host);
tinfer_status tf_cuda_kv_fill_random(tf_backend *be, const tf_kv_fill *fill);
tinfer_status tf_cuda_kv_copy_blocks(tf_backend *be, const tf_kv_block_copy *copies, size_t n,
                                     const bool *layer_in_ring);
tinfer_status tf_cuda_kv_store(tf_backend *be, uint32_t il, bool local, const float *k,
                               const float *v);
tinfer_status tf_cuda_attention(tf_backend *be, uint32_t il, bool local, const tf_attn_shape *shape,
                                const float *q, float *out);

/* cuda_ops.c */
tinfer_status tf_cuda_matmul(tf_backend *be, const tf_matrix *w, tf_rows rows, const float *x,
                             float *y);
tinfer_status tf_cuda_matmul_multi(tf_backend *be, size_t n, const tf_matrix *const *w,
                                   tf_rows rows, const float *x, float *const *y);
tinfer_status tf_cuda_embed(tf_backend *be, const tf_matrix *w, float *out);
tinfer_status tf_cuda_gather_out(tf_backend *be, const float *x, size_t width, float *out);
tinfer_status tf_cuda_rmsnorm(tf_backend *be, tf_rows rows, size_t heads, size_t width,
                              const float *x, const float *weight, float eps, float *out);
tinfer_status tf_cuda_rope(tf_backend *be, float *x, size_t n_heads, size_t head_dim,
                           const tf_rope *rope);
tinfer_status tf_cuda_ffn_gate(tf_backend *be, tf_ffn_act act, size_t width, float *gate,
                               const float *up);
tinfer_status tf_cuda_add(tf_backend *be, size_t width, float *y, const float *x);
tinfer_status tf_cuda_add_bias(tf_backend *be, size_t width, float *y, const float *bias);
tinfer_status tf_cuda_scale(tf_backend *be, tf_rows rows, size_t width, float *y, float factor);
tinfer_status tf_cuda_softcap(tf_backend *be, size_t width, float *y, float cap);

#endif
