/* The KV cache in host memory: its storage, the K/V writes of a pass, and the benchmark's random
 * fill — all addressing rows through tf_cpu_kv_row (cpu_ops.h), as attention reads them. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_qdot.h"
#include "backend/kv_random.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/huge_alloc.h"
#include "quant/dtype.h"

/* The Q8_0 cache's split decode (cpu_attention_q8.c) keeps every key range's partial sums of up
 * to TF_CPU_Q8_SPLIT_PAIRS (token, KV head) pairs, fewer than the threads: a span of n_ctx keys
 * crosses at most n_ctx / TF_CPU_Q8_RANGE + 2 ranges. */
static tinfer_status alloc_q8_partials(const tf_cpu_state *state, tf_cpu_kv *kv) {
    if (kv->dtype != TINFER_DTYPE_Q8_0 || state->n_threads < 2 || kv->n_head_kv == 0)
        return TINFER_OK;
    const size_t group = state->config.n_head / kv->n_head_kv;
    const size_t hd_v = kv->v_row_elems / kv->n_head_kv;
    const size_t n_ranges = state->config.n_ctx / TF_CPU_Q8_RANGE + 2;
    kv->q8_pairs =
        state->n_threads - 1 < TF_CPU_Q8_SPLIT_PAIRS ? state->n_threads - 1 : TF_CPU_Q8_SPLIT_PAIRS;
    size_t floats;
    if (!tinfer_mul_size(n_ranges * group, hd_v + 2, &kv->q8_pair_floats) ||
        !tinfer_mul_size(kv->q8_pair_floats, kv->q8_pairs, &floats) ||
        !tinfer_mul_size(floats, sizeof(float), &floats))
        return tf_error(TINFER_E_INVALID_ARG, "kv cache: size overflows");
    if (!(kv->q8_partials = malloc(floats)))
        return tf_error(TINFER_E_NOMEM, "kv cache: out of memory for %zu bytes of partial sums",
                        floats);
    return TINFER_OK;
}

tinfer_status tf_cpu_kv_alloc(tf_backend *be, const tf_kv_geometry *g) {
    tf_cpu_kv *kv = &((tf_cpu_state *)be->state)->kv;
    if (kv->k) return tf_error(TINFER_E_INVALID_ARG, "cpu backend: the KV cache exists already");
    const tf_dtype_traits *stored = tf_dtype_traits_of(g->dtype);
    if (!stored)
        return tf_error(TINFER_E_INVALID_ARG, "cpu backend: unknown KV dtype %d", g->dtype);
    *kv = (tf_cpu_kv){.n_layer = g->n_layer,
                      .k_row_elems = g->k_row_elems,
                      .v_row_elems = g->v_row_elems,
                      .n_head_kv = g->n_head_kv,
                      .dtype = g->dtype,
                      .block_elems = stored->block_elems,
                      .block_bytes = stored->block_bytes};
    kv->k_row_bytes = tf_cpu_kv_bytes(kv, g->k_row_elems);
    kv->v_row_bytes = tf_cpu_kv_bytes(kv, g->v_row_elems);
    const size_t n = g->n_layer ? g->n_layer : 1;
    kv->k = calloc(n, sizeof *kv->k);
    kv->v = calloc(n, sizeof *kv->v);
    if (!kv->k || !kv->v) return tf_error(TINFER_E_NOMEM, "kv cache: out of memory");
    for (uint32_t l = 0; l < g->n_layer; l++) {
        size_t k_bytes, v_bytes;
        const tinfer_status sized = tf_kv_layer_bytes(g, l, kv->k_row_bytes, kv->v_row_bytes,
                                                      TF_CPU_KV_BLOCK_PAD, &k_bytes, &v_bytes);
        if (sized != TINFER_OK) return sized;
        /* A ring layer is every sequence's ring side by side: on huge pages, the first token of
         * a few sequences would commit 2 MiB of them all (measured: a server's 32 sequences of
         * short requests made all 30 ring buffers of the default model resident, 490 MiB). The
         * shared pool's blocks are reused most recent first, and a long span reads them in
         * order: there huge pages save TLB misses. */
        const bool ring = g->layer_in_ring && g->layer_in_ring[l];
        bool (*alloc)(size_t, tf_huge_buf *) = ring ? tf_base_pages_alloc : tf_huge_alloc;
        if (!alloc(k_bytes, &kv->k[l]) || !alloc(v_bytes, &kv->v[l]))
            return tf_error(TINFER_E_NOMEM, "kv cache: out of memory for %zu + %zu bytes per layer",
                            k_bytes, v_bytes);
        if (((const tf_cpu_state *)be->state)->config.prefault) {
            tf_huge_prefault(&kv->k[l], k_bytes);
            tf_huge_prefault(&kv->v[l], v_bytes);
        }
    }
    return alloc_q8_partials((tf_cpu_state *)be->state, kv);
}

void tf_cpu_kv_free(tf_cpu_kv *kv) {
    for (uint32_t l = 0; kv->k && l < kv->n_layer; l++) tf_huge_free(&kv->k[l]);
    for (uint32_t l = 0; kv->v && l < kv->n_layer; l++) tf_huge_free(&kv->v[l]);
    free(kv->k);
    free(kv->v);
    free(kv->q8_partials);
    *kv = (tf_cpu_kv){0};
}

static void store_row(const tf_cpu_state *state, uint8_t *dst, const float *src, uint32_t n) {
    const tf_cpu_kv *kv = &state->kv;
    if (kv->dtype == TINFER_DTYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    if (kv->dtype == TINFER_DTYPE_Q8_0) { /* every head's slice is whole blocks */
        tf_cpu_quantize_q8_0_blocks(src, n, dst);
        return;
    }
    state->kernels->f32_to_f16(src, (uint16_t *)dst, n); /* rows are 2-byte aligned */
}

/* One op's arguments. */
typedef struct kv_job {
    const tf_cpu_state *state;
    uint32_t il;
    bool local;
    const float *k, *v;
    const tf_kv_fill *fill;
} kv_job;

static void store_range(void *arg, size_t t0, size_t t1, uint32_t thread) {
    (void)thread;
    const kv_job *job = arg;
    const tf_cpu_state *state = job->state;
    const tf_cpu_kv *kv = &state->kv;
    for (size_t t = t0; t < t1; t++) {
        const uint32_t pos = (uint32_t)state->pass.positions[t];
        const uint32_t *table = tf_cpu_token_table(state, t, job->local);
        store_row(state, tf_cpu_kv_row(kv, job->il, false, table, pos),
                  job->k + t * kv->k_row_elems, kv->k_row_elems);
        store_row(state, tf_cpu_kv_row(kv, job->il, true, table, pos), job->v + t * kv->v_row_elems,
                  kv->v_row_elems);
    }
}

tinfer_status tf_cpu_kv_store(tf_backend *be, uint32_t il, bool local, const float *k,
                              const float *v) {
    const tf_cpu_state *state = be->state;
    kv_job job = {.state = state, .il = il, .local = local, .k = k, .v = v};
    /* Tokens of a pass have distinct positions (or sequences), so their rows never overlap. */
    tf_cpu_for(state, state->pass.n_tokens, 16, store_range, &job);
    return TINFER_OK;
}

/* Layers [l0, l1) of the fill. */
static void fill_range(void *arg, size_t l0, size_t l1, uint32_t thread) {
    (void)thread;
    const kv_job *job = arg;
    const tf_cpu_kv *kv = &job->state->kv;
    const tf_kv_fill *fill = job->fill;
    for (uint32_t l = (uint32_t)l0; l < l1; l++) {
        const bool ring = fill->layer_in_ring[l];
        const uint32_t *table = ring ? fill->local_table : fill->table;
        for (uint32_t pos = ring ? fill->ring_first : 0; pos < fill->n; pos++) {
            uint64_t state = tf_kv_random_seed(fill->seed, fill->seq, l, pos);
            tf_kv_random_row(kv->dtype, tf_cpu_kv_row(kv, l, false, table, pos), kv->k_row_elems,
                             &state);
            tf_kv_random_row(kv->dtype, tf_cpu_kv_row(kv, l, true, table, pos), kv->v_row_elems,
                             &state);
        }
    }
}

tinfer_status tf_cpu_kv_fill_random(tf_backend *be, const tf_kv_fill *fill) {
    const tf_cpu_state *state = be->state;
    kv_job job = {.state = state, .fill = fill};
    tf_cpu_for(state, state->kv.n_layer, 1, fill_range, &job);
    return TINFER_OK;
}

/* Copy-on-write and ring forks: rows moved whole, never converted, so a copy has the same bits. */
typedef struct copy_job {
    const tf_cpu_kv *kv;
    const tf_kv_block_copy *copies;
    size_t n;
    const bool *layer_in_ring;
} copy_job;

/* Rows [0, n_rows) of the run from src_block to dst_block in layer l's K or V storage, block by
 * block through tf_cpu_kv_row (a one-entry table per block). */
static void copy_run(const tf_cpu_kv *kv, uint32_t l, bool value, const tf_kv_block_copy *c) {
    const size_t row_bytes = value ? kv->v_row_bytes : kv->k_row_bytes;
    for (uint32_t r = 0; r < c->n_rows; r += TF_KV_BLOCK_TOKENS) {
        const uint32_t src = c->src_block + r / TF_KV_BLOCK_TOKENS;
        const uint32_t dst = c->dst_block + r / TF_KV_BLOCK_TOKENS;
        const uint32_t rows =
            c->n_rows - r < TF_KV_BLOCK_TOKENS ? c->n_rows - r : (uint32_t)TF_KV_BLOCK_TOKENS;
        memcpy(tf_cpu_kv_row(kv, l, value, &dst, 0), tf_cpu_kv_row(kv, l, value, &src, 0),
               rows * row_bytes);
    }
}

/* Layers [l0, l1): each copy in order, in the layers of its kind. */
static void copy_range(void *arg, size_t l0, size_t l1, uint32_t thread) {
    (void)thread;
    const copy_job *job = arg;
    for (uint32_t l = (uint32_t)l0; l < l1; l++)
        for (size_t i = 0; i < job->n; i++) {
            if (job->copies[i].ring != job->layer_in_ring[l]) continue;
            copy_run(job->kv, l, false, &job->copies[i]);
            copy_run(job->kv, l, true, &job->copies[i]);
        }
}

tinfer_status tf_cpu_kv_copy_blocks(tf_backend *be, const tf_kv_block_copy *copies, size_t n,
                                    const bool *layer_in_ring) {
    const tf_cpu_state *state = be->state;
    copy_job job = {.kv = &state->kv, .copies = copies, .n = n, .layer_in_ring = layer_in_ring};
    tf_cpu_for(state, state->kv.n_layer, 1, copy_range, &job);
    return TINFER_OK;
}
