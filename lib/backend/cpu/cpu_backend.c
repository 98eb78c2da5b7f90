/* The CPU backend's op table, its creation and its scratch memory. */
#include "backend/cpu/cpu_backend.h"

#include <cblas.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_packed.h"
#include "core/checked.h"
#include "core/error.h"

/* n × size zeroed bytes (the product known not to overflow size_t), written through when the
 * context asked for its memory resident from the start: calloc's large blocks are fresh mappings,
 * committed only as they are first written. */
static void *scratch_calloc(const tf_cpu_state *state, size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p && state->config.prefault) memset(p, 0, n * size);
    return p;
}

/* The same for aligned blocks of bytes (a multiple of 64): zeroed only with prefault. */
static void *scratch_aligned(const tf_cpu_state *state, size_t bytes) {
    void *p = aligned_alloc(64, bytes);
    if (p && state->config.prefault) memset(p, 0, bytes);
    return p;
}

static void *cpu_alloc(tf_backend *be, size_t bytes) { return scratch_calloc(be->state, 1, bytes); }

static void cpu_free(tf_backend *be, void *ptr) {
    (void)be;
    free(ptr);
}

static void free_scratch(tf_cpu_scratch *s) {
    free(s->tile);
    free(s->attn_query);
    free(s->attn_row);
    free(s->attn_scores);
    free(s->attn_lanes);
    free(s->attn_rows);
    free(s->attn_work);
    free(s->qgemm);
}

static void cpu_destroy(tf_backend *be) {
    tf_cpu_state *state = be->state;
    if (state) {
        tf_pool_destroy(state->pool);
        tf_cpu_pass_free(&state->pass);
        tf_cpu_kv_free(&state->kv);
        for (uint32_t i = 0; state->scratch && i < state->n_threads; i++)
            free_scratch(&state->scratch[i]);
        free(state->scratch);
        free(state->act_quant);
        for (size_t i = 0; i < TF_CPU_ROPE_TABLES; i++) free(state->rope_tables[i].cos_sin);
        free(state);
    }
    free(be);
}

static const tf_backend_ops CPU_OPS = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload_weights = tf_cpu_pack_weights,
    .release_weights = tf_cpu_packed_free,
    .use_weights = tf_cpu_use_packed,
    .kv_alloc = tf_cpu_kv_alloc,
    .kv_read = tf_cpu_kv_read,
    .kv_write = tf_cpu_kv_write,
    .kv_fill_random = tf_cpu_kv_fill_random,
    .kv_copy_blocks = tf_cpu_kv_copy_blocks,
    .begin_pass = tf_cpu_begin_pass,
    .end_pass = tf_cpu_end_pass,
    .out_select = tf_cpu_out_select,
    .logits_out = tf_cpu_logits_out,
    .matmul = tf_cpu_matmul,
    .matmul_multi = tf_cpu_matmul_multi,
    .embed = tf_cpu_embed,
    .gather_out = tf_cpu_gather_out,
    .rmsnorm = tf_cpu_rmsnorm,
    .rope = tf_cpu_rope,
    .kv_store = tf_cpu_kv_store,
    .attention = tf_cpu_attention,
    .ffn_gate = tf_cpu_ffn_gate,
    .add = tf_cpu_add,
    .add_bias = tf_cpu_add_bias,
    .scale = tf_cpu_scale,
    .softcap = tf_cpu_softcap,
    .op_begin = tf_cpu_op_begin,
    .op_end = tf_cpu_op_end,
};

/* A row-tile product's scratch (cpu_kernels.h) for rows of up to max_row_elems, or NULL (no error)
 * where the table has none; *ok turns false when it has one and memory runs out. */
static void *alloc_qgemm_scratch(const tf_cpu_state *state, bool *ok) {
    const tf_cpu_kernels *k = state->kernels;
    if (!tf_cpu_kernels_have_gemm(k)) return NULL;
    /* 50 bytes per element: alloc_scratch has checked 64 floats per element first. */
    const size_t bytes = tf_qgemm_scratch_bytes(state->config.max_row_elems);
    void *p = scratch_aligned(state, (bytes + 63) / 64 * 64);
    *ok = *ok && p;
    return p;
}

/* The kernels' scratch, one set per thread, sized by the longest row, the query heads and the
 * context; and the shared quantized activations. */
static tinfer_status alloc_scratch(tf_cpu_state *state) {
    const tf_backend_config *c = &state->config;
    size_t tile_floats, n_lanes, n_scores, n_query;
    /* + 8: score rows start at the 8-aligned cell below the first key (cpu_attention.c). */
    if (!tinfer_mul_size(c->max_row_elems, TF_CPU_TILE_ROWS, &tile_floats) ||
        !tinfer_mul_size(c->max_row_elems, TF_LANES_VECDOT, &n_lanes) ||
        !tinfer_mul_size(c->max_row_elems, TF_CPU_ATTN_TOKENS, &n_query) ||
        !tinfer_mul_size((size_t)c->n_ctx + 8, c->n_head ? c->n_head : 1, &n_scores))
        return tf_error(TINFER_E_INVALID_ARG, "cpu backend: scratch size overflows");
    /* Room for a block of prompt tokens' scores where one token's take under 64 MiB in all. */
    enum { ATTN_SCORES_CAP = 1 << 24 };
    const size_t score_tokens = ATTN_SCORES_CAP / n_scores;
    n_scores *= score_tokens < 1                    ? 1
                : score_tokens > TF_CPU_ATTN_TOKENS ? TF_CPU_ATTN_TOKENS
                                                    : score_tokens;
    state->scratch = calloc(state->n_threads, sizeof *state->scratch);
    if (!state->scratch) return tf_error(TINFER_E_NOMEM, "cpu backend: out of memory");
    bool ok = true;
    for (uint32_t i = 0; i < state->n_threads; i++) {
        tf_cpu_scratch *s = &state->scratch[i];
        s->tile = scratch_calloc(state, tile_floats, sizeof(float));
        s->attn_query = scratch_calloc(state, n_query, sizeof(float));
        s->attn_row = scratch_calloc(state, c->max_row_elems, sizeof(float));
        s->attn_lanes = scratch_calloc(state, n_lanes, sizeof(float));
        s->attn_scores = scratch_calloc(state, n_scores, sizeof(float));
        s->attn_scores_len = n_scores;
        s->attn_rows = scratch_calloc(state, 2 * ((size_t)c->n_ctx + 1), sizeof *s->attn_rows);
        s->qgemm = alloc_qgemm_scratch(state, &ok);
        /* under the 128 bytes per element of attn_lanes, whose size was checked */
        const size_t work = tf_attn_q8_work_bytes(c->max_row_elems);
        s->attn_work = scratch_aligned(state, (work + 63) / 64 * 64 + 64);
        ok = ok && s->tile && s->attn_query && s->attn_row && s->attn_scores && s->attn_lanes &&
             s->attn_rows && s->attn_work;
    }
    /* Room for either activation format, rows rounded up to whole 256-element blocks. */
    const uint32_t padded = (uint32_t)((c->max_row_elems + 255) / 256 * 256);
    const size_t q8_0 = tf_cpu_act_row_bytes(TF_ACT_Q8_0, padded);
    const size_t q8_k = tf_cpu_act_row_bytes(TF_ACT_Q8_K, padded);
    state->act_quant_row_bytes = q8_0 > q8_k ? q8_0 : q8_k;
    state->act_quant = scratch_calloc(state, TF_CPU_QDOT_TOKENS, state->act_quant_row_bytes);
    size_t rope_floats;
    if (!tinfer_mul_size(c->n_batch, c->rope_dim, &rope_floats))
        return tf_error(TINFER_E_INVALID_ARG, "cpu backend: RoPE table size overflows");
    for (size_t i = 0; i < TF_CPU_ROPE_TABLES && rope_floats; i++) {
        state->rope_tables[i].cos_sin = scratch_calloc(state, rope_floats, sizeof(float));
        ok = ok && state->rope_tables[i].cos_sin;
    }
    if (!ok || !state->act_quant)
        return tf_error(TINFER_E_NOMEM,
                        "cpu backend: out of memory for %zu-element rows on %u threads",
                        c->max_row_elems, state->n_threads);
    return TINFER_OK;
}

/* OpenBLAS (float-weight prompts, cpu_matmul.c) runs on one thread: the pool already splits its
 * tiles over every core, and OpenBLAS's own threads would fight the pool's for them (and on one
 * thread, n_threads = 1 means one core). The setting is process-wide, made once. */
static pthread_once_t blas_threads_once = PTHREAD_ONCE_INIT;

static void blas_single_thread(void) { openblas_set_num_threads(1); }

tinfer_status tf_backend_cpu_create(const tf_backend_config *config, tf_backend **out) {
    if (config->n_threads > TF_POOL_MAX_THREADS)
        return tf_error(TINFER_E_INVALID_ARG, "cpu backend: %u threads (at most %d)",
                        config->n_threads, TF_POOL_MAX_THREADS);
    tf_backend *be = calloc(1, sizeof *be);
    tf_cpu_state *state = calloc(1, sizeof *state);
    if (!be || !state) {
        free(be);
        free(state);
        return tf_error(TINFER_E_NOMEM, "cpu backend: out of memory");
    }
    state->kernels = tf_cpu_kernels_select();
    state->config = *config;
    state->blocks_per_seq = (config->n_ctx + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    state->n_threads = config->n_threads ? config->n_threads : tf_pool_default_threads();
    *be = (tf_backend){.ops = &CPU_OPS,
                       .device = TINFER_DEVICE_CPU,
                       .state = state,
                       .n_threads = state->n_threads};
    pthread_once(&blas_threads_once, blas_single_thread);
    tinfer_status status = alloc_scratch(state);
    if (status == TINFER_OK) status = tf_cpu_pass_alloc(state);
    if (status == TINFER_OK && state->n_threads > 1)
        status = tf_pool_create(state->n_threads, &state->pool);
    if (status != TINFER_OK) {
        cpu_destroy(be);
        return status;
    }
    *out = be;
    return TINFER_OK;
}
