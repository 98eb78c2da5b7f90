/* The CPU backend's op table, its state and its memory. */
#include <stdlib.h>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_qdot.h"
#include "core/checked.h"
#include "core/error.h"

static void *cpu_alloc(tf_backend *be, size_t bytes) {
    (void)be;
    return calloc(1, bytes ? bytes : 1);
}

static void cpu_free(tf_backend *be, void *ptr) {
    (void)be;
    free(ptr);
}

static void cpu_begin_batch(tf_backend *be, tf_batch_kind kind) {
    tf_cpu_state *state = be->state;
    state->batch_kind = kind;
}

static const tf_backend_ops CPU_OPS = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .begin_batch = cpu_begin_batch,
    .matmul = tf_cpu_matmul,
    .embed_rows = tf_cpu_embed_rows,
    .rmsnorm = tf_cpu_rmsnorm,
    .rope = tf_cpu_rope,
    .kv_store = tf_cpu_kv_store,
    .attention = tf_cpu_attention,
    .ffn_gate = tf_cpu_ffn_gate,
    .add = tf_cpu_add,
    .add_bias = tf_cpu_add_bias,
    .scale = tf_cpu_scale,
    .softcap = tf_cpu_softcap,
};

tinfer_status tf_backend_cpu_create(size_t max_row_elems, size_t max_ctx, size_t max_heads,
                                    tf_backend *out) {
    tf_cpu_state *state = calloc(1, sizeof *state);
    size_t tile_floats;
    if (!state || !tinfer_mul_size(max_row_elems, TF_CPU_TILE_ROWS, &tile_floats)) {
        free(state);
        return tf_error(TINFER_E_NOMEM, "cpu backend: out of memory");
    }
    state->kernels = tf_cpu_kernels_select();
    state->max_row_elems = max_row_elems;
    state->tile = calloc(tile_floats, sizeof(float));
    state->attn_query = calloc(max_row_elems, sizeof(float));
    state->attn_row = calloc(max_row_elems, sizeof(float));
    size_t n_lanes;
    if (tinfer_mul_size(max_row_elems, TF_LANES_VECDOT, &n_lanes))
        state->attn_lanes = calloc(n_lanes, sizeof(float));
    size_t n_scores;
    /* + 8: score rows start at the 8-aligned cell below the first key (cpu_attention.c). */
    if (tinfer_mul_size(max_ctx + 8, max_heads ? max_heads : 1, &n_scores))
        state->attn_scores = calloc(n_scores, sizeof(float));
    /* Room for either activation format, rows rounded up to whole 256-element blocks. */
    const uint32_t padded = (uint32_t)((max_row_elems + 255) / 256 * 256);
    const size_t q8_0 = tf_cpu_act_row_bytes(TF_ACT_Q8_0, padded);
    const size_t q8_k = tf_cpu_act_row_bytes(TF_ACT_Q8_K, padded);
    state->act_quant_row_bytes = q8_0 > q8_k ? q8_0 : q8_k;
    state->act_quant = calloc(TF_CPU_QDOT_TOKENS, state->act_quant_row_bytes);
    out->ops = &CPU_OPS;
    out->state = state;
    if (!state->tile || !state->attn_query || !state->attn_row || !state->attn_scores ||
        !state->attn_lanes ||
        !state->act_quant) {
        tf_backend_cpu_destroy(out);
        return tf_error(TINFER_E_NOMEM, "cpu backend: out of memory for %zu-element rows",
                        max_row_elems);
    }
    return TINFER_OK;
}

void tf_backend_cpu_destroy(tf_backend *be) {
    if (!be || !be->state) return;
    tf_cpu_state *state = be->state;
    free(state->tile);
    free(state->attn_query);
    free(state->attn_row);
    free(state->attn_scores);
    free(state->attn_lanes);
    free(state->act_quant);
    free(state);
    be->state = NULL;
}
