/* The KV cache in device memory: per layer, K and V rows in the CPU backend's block layout and
 * element types (F32, F16, Q8_0), written and read by the kernels of cuda_attention.cu; rows
 * copied to and from the host for the snapshots and within the device for copy-on-write and
 * forks. */
#include <cuda_runtime_api.h>
#include <stdlib.h>

#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_quant.h"
#include "backend/cuda/cuda_state.h"
#include "backend/kv_random.h"
#include "core/error.h"

/* A row's bytes in one of the cache's element types (F32, F16, Q8_0: whole blocks). */
static bool row_bytes_of(tinfer_dtype dtype, uint32_t elems, size_t *bytes) {
    uint32_t block_elems, block_bytes;
    if (dtype != TINFER_DTYPE_F32 && dtype != TINFER_DTYPE_F16 && dtype != TINFER_DTYPE_Q8_0)
        return false;
    if (!tfc_block_shape((int)dtype, &block_elems, &block_bytes) || elems % block_elems)
        return false;
    *bytes = (size_t)elems / block_elems * block_bytes;
    return true;
}

void tf_cuda_kv_free(tf_cuda_kv *kv) {
    for (uint32_t l = 0; kv->k && l < kv->n_layer; l++) cudaFree(kv->k[l]);
    for (uint32_t l = 0; kv->v && l < kv->n_layer; l++) cudaFree(kv->v[l]);
    free(kv->k);
    free(kv->v);
    *kv = (tf_cuda_kv){0};
}

tinfer_status tf_cuda_kv_alloc(tf_backend *be, const tf_kv_geometry *g) {
    tf_cuda_state *s = be->state;
    tf_cuda_kv *kv = &s->kv;
    if (kv->k) return tf_error(TINFER_E_INVALID_ARG, "cuda backend: the KV cache exists already");
    /* the K/V writes take whole blocks of 32 elements (cuda_attention.cu) */
    if (g->k_row_elems % 32 || g->v_row_elems % 32)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "cuda backend: KV rows of %u and %u elements (multiples of 32 only)",
                        g->k_row_elems, g->v_row_elems);
    const tinfer_status device = tf_cuda_check((int)cudaSetDevice(s->device), "cudaSetDevice");
    if (device != TINFER_OK) return device;
    *kv = (tf_cuda_kv){.n_layer = g->n_layer,
                       .k_row_elems = g->k_row_elems,
                       .v_row_elems = g->v_row_elems,
                       .n_head_kv = g->n_head_kv,
                       .dtype = g->dtype};
    if (!row_bytes_of(g->dtype, g->k_row_elems, &kv->k_row_bytes) ||
        !row_bytes_of(g->dtype, g->v_row_elems, &kv->v_row_bytes))
        return tf_error(TINFER_E_UNSUPPORTED, "cuda backend: a KV cache of %s rows of %u and %u",
                        tinfer_dtype_name(g->dtype), g->k_row_elems, g->v_row_elems);
    const size_t n = g->n_layer ? g->n_layer : 1;
    kv->k = calloc(n, sizeof *kv->k);
    kv->v = calloc(n, sizeof *kv->v);
    if (!kv->k || !kv->v) return tf_error(TINFER_E_NOMEM, "cuda backend: out of memory");
    for (uint32_t l = 0; l < g->n_layer; l++) {
        size_t k_bytes, v_bytes;
        const tinfer_status sized =
            tf_kv_layer_bytes(g, l, kv->k_row_bytes, kv->v_row_bytes, 0, &k_bytes, &v_bytes);
        if (sized != TINFER_OK) return sized;
        int err = 0;
        tf_cuda_keep_first(&err, cudaMalloc((void **)&kv->k[l], k_bytes ? k_bytes : 1));
        tf_cuda_keep_first(&err, cudaMalloc((void **)&kv->v[l], v_bytes ? v_bytes : 1));
        /* zeroed: attention multiplies every row of a span, and a never-written row must not be
         * a NaN pattern left by an earlier allocation */
        if (!err) tf_cuda_keep_first(&err, cudaMemsetAsync(kv->k[l], 0, k_bytes, s->stream));
        if (!err) tf_cuda_keep_first(&err, cudaMemsetAsync(kv->v[l], 0, v_bytes, s->stream));
        if (err) return tf_cuda_check(err, "the KV cache");
    }
    return tf_cuda_check((int)cudaStreamSynchronize(s->stream), "the KV cache");
}

/* Slot of position pos through table (backend.h's block layout). */
static size_t slot_of(const uint32_t *table, uint32_t pos) {
    return (size_t)table[pos / TF_KV_BLOCK_TOKENS] * TF_KV_BLOCK_TOKENS + pos % TF_KV_BLOCK_TOKENS;
}

static tinfer_status check_rows(const tf_cuda_kv *kv, const tf_kv_rows *rows) {
    if (rows->layer >= kv->n_layer)
        return tf_error(TINFER_E_INVALID_ARG, "cuda backend: layer %u of %u", rows->layer,
                        kv->n_layer);
    return TINFER_OK;
}

/* n K rows then n V rows between the host buffer and the cache; to_host says which way. */
static tinfer_status copy_rows(tf_cuda_state *s, const tf_kv_rows *rows, uint8_t *host,
                               bool to_host) {
    const tf_cuda_kv *kv = &s->kv;
    tinfer_status status = check_rows(kv, rows);
    if (status == TINFER_OK) status = tf_cuda_check((int)cudaSetDevice(s->device), "cudaSetDevice");
    if (status != TINFER_OK) return status;
    for (int value = 0; value < 2; value++) {
        uint8_t *storage = value ? kv->v[rows->layer] : kv->k[rows->layer];
        const size_t row_bytes = value ? kv->v_row_bytes : kv->k_row_bytes;
        for (uint32_t i = 0; i < rows->n; i++) {
            uint8_t *dev = storage + slot_of(rows->table, rows->first + i) * row_bytes;
            /* on the context's stream: after the kernels that wrote the rows, before those
             * that read them */
            const cudaError_t err =
                to_host ? cudaMemcpyAsync(host, dev, row_bytes, cudaMemcpyDeviceToHost, s->stream)
                        : cudaMemcpyAsync(dev, host, row_bytes, cudaMemcpyHostToDevice, s->stream);
            if (err != cudaSuccess) return tf_cuda_check((int)err, "KV rows");
            host += row_bytes;
        }
    }
    return tf_cuda_check((int)cudaStreamSynchronize(s->stream), "KV rows");
}

tinfer_status tf_cuda_kv_read(tf_backend *be, const tf_kv_rows *rows, void *host) {
    return copy_rows(be->state, rows, host, true);
}

tinfer_status tf_cuda_kv_write(tf_backend *be, const tf_kv_rows *rows, const void *host) {
    return copy_rows(be->state, rows, (uint8_t *)host, false);
}

/* Positions [first, n) of layer l through table: each run of positions inside one block (its
 * slots are consecutive) made on the host into k_rows and v_rows, then uploaded with one copy
 * each. cudaMemcpyAsync from pageable memory returns once the bytes are staged, so the buffers can
 * be refilled at once. */
static tinfer_status fill_layer(tf_cuda_state *s, const tf_kv_fill *fill, uint32_t l,
                                const uint32_t *table, uint32_t first, uint8_t *k_rows,
                                uint8_t *v_rows) {
    const tf_cuda_kv *kv = &s->kv;
    for (uint32_t pos = first; pos < fill->n;) {
        const uint32_t block_end = (pos / TF_KV_BLOCK_TOKENS + 1) * TF_KV_BLOCK_TOKENS;
        const uint32_t end = block_end < fill->n ? block_end : fill->n;
        for (uint32_t p = pos; p < end; p++) {
            uint64_t state = tf_kv_random_seed(fill->seed, fill->seq, l, p);
            tf_kv_random_row(kv->dtype, k_rows + (size_t)(p - pos) * kv->k_row_bytes,
                             kv->k_row_elems, &state);
            tf_kv_random_row(kv->dtype, v_rows + (size_t)(p - pos) * kv->v_row_bytes,
                             kv->v_row_elems, &state);
        }
        const size_t slot = slot_of(table, pos);
        int err = 0;
        tf_cuda_keep_first(&err, cudaMemcpyAsync(kv->k[l] + slot * kv->k_row_bytes, k_rows,
                                                 (size_t)(end - pos) * kv->k_row_bytes,
                                                 cudaMemcpyHostToDevice, s->stream));
        tf_cuda_keep_first(&err, cudaMemcpyAsync(kv->v[l] + slot * kv->v_row_bytes, v_rows,
                                                 (size_t)(end - pos) * kv->v_row_bytes,
                                                 cudaMemcpyHostToDevice, s->stream));
        if (err) return tf_cuda_check(err, "KV fill");
        pos = end;
    }
    return TINFER_OK;
}

/* The CPU fill's rows (kv_random.h), so that both backends time a step over the same cache. */
tinfer_status tf_cuda_kv_fill_random(tf_backend *be, const tf_kv_fill *fill) {
    tf_cuda_state *s = be->state;
    const tf_cuda_kv *kv = &s->kv;
    tinfer_status status = tf_cuda_check((int)cudaSetDevice(s->device), "cudaSetDevice");
    if (status != TINFER_OK) return status;
    uint8_t *k_rows = malloc((size_t)TF_KV_BLOCK_TOKENS * kv->k_row_bytes);
    uint8_t *v_rows = malloc((size_t)TF_KV_BLOCK_TOKENS * kv->v_row_bytes);
    if (!k_rows || !v_rows) status = tf_error(TINFER_E_NOMEM, "cuda backend: out of memory");
    for (uint32_t l = 0; status == TINFER_OK && l < kv->n_layer; l++) {
        const bool ring = fill->layer_in_ring[l];
        status = fill_layer(s, fill, l, ring ? fill->local_table : fill->table,
                            ring ? fill->ring_first : 0, k_rows, v_rows);
    }
    if (status == TINFER_OK)
        status = tf_cuda_check((int)cudaStreamSynchronize(s->stream), "KV fill");
    free(k_rows);
    free(v_rows);
    return status;
}

tinfer_status tf_cuda_kv_copy_blocks(tf_backend *be, const tf_kv_block_copy *copies, size_t n,
                                     const bool *layer_in_ring) {
    tf_cuda_state *s = be->state;
    const tf_cuda_kv *kv = &s->kv;
    if (cudaSetDevice(s->device) != cudaSuccess)
        return tf_cuda_check((int)cudaGetLastError(), "cudaSetDevice");
    for (size_t c = 0; c < n; c++)
        for (uint32_t l = 0; l < kv->n_layer; l++) {
            const bool ring = layer_in_ring && layer_in_ring[l];
            if (ring != copies[c].ring) continue;
            for (int value = 0; value < 2; value++) {
                uint8_t *storage = value ? kv->v[l] : kv->k[l];
                const size_t row_bytes = value ? kv->v_row_bytes : kv->k_row_bytes;
                const cudaError_t err = cudaMemcpyAsync(
                    storage + (size_t)copies[c].dst_block * TF_KV_BLOCK_TOKENS * row_bytes,
                    storage + (size_t)copies[c].src_block * TF_KV_BLOCK_TOKENS * row_bytes,
                    (size_t)copies[c].n_rows * row_bytes, cudaMemcpyDeviceToDevice, s->stream);
                if (err != cudaSuccess) return tf_cuda_check((int)err, "KV block copy");
            }
        }
    return tf_cuda_check((int)cudaStreamSynchronize(s->stream), "KV block copy");
}

static tfc_kv_layer layer_of(const tf_cuda_kv *kv, uint32_t il) {
    return (tfc_kv_layer){.k = kv->k[il],
                          .v = kv->v[il],
                          .k_row_bytes = kv->k_row_bytes,
                          .v_row_bytes = kv->v_row_bytes,
                          .dtype = kv->dtype};
}

static tfc_pass_view view_of(const tf_cuda_state *s, bool local) {
    const tf_cuda_pass *p = &s->pass;
    return (tfc_pass_view){.n_tokens = p->n_tokens,
                           .blocks_per_seq = s->blocks_per_seq,
                           .positions = p->d_positions,
                           .token_seq = p->d_token_seq,
                           .tables = local ? p->d_local_tables : p->d_tables,
                           .spans =
                               (const tfc_span *)(local ? p->d_spans_local : p->d_spans_global)};
}

tinfer_status tf_cuda_kv_store(tf_backend *be, uint32_t il, bool local, const float *k,
                               const float *v) {
    tf_cuda_state *s = be->state;
    if (il >= s->kv.n_layer)
        return tf_error(TINFER_E_INVALID_ARG, "cuda backend: layer %u of %u", il, s->kv.n_layer);
    const tfc_kv_layer layer = layer_of(&s->kv, il);
    const tfc_pass_view view = view_of(s, local);
    return tf_cuda_check(
        tfc_kv_store(&layer, &view, k, v, s->kv.k_row_elems, s->kv.v_row_elems, s->stream),
        "kv_store");
}

tinfer_status tf_cuda_attention(tf_backend *be, uint32_t il, bool local, const tf_attn_shape *shape,
                                const float *q, float *out) {
    tf_cuda_state *s = be->state;
    if (il >= s->kv.n_layer)
        return tf_error(TINFER_E_INVALID_ARG, "cuda backend: layer %u of %u", il, s->kv.n_layer);
    const tfc_kv_layer layer = layer_of(&s->kv, il);
    const tfc_pass_view view = view_of(s, local);
    const tfc_attn_args args = {.n_head = shape->n_head,
                                .n_head_kv = shape->n_head_kv,
                                .head_dim = shape->head_dim,
                                .head_dim_v = shape->head_dim_v,
                                .scale = shape->scale};
    return tf_cuda_check(tfc_attention(&layer, &view, &args, q, out, s->stream), "attention");
}
