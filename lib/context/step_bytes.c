/* The roofline's numerator: the bytes one decode step reads (tinfer_context_step_bytes). */
#define TINFER_EXPERIMENTAL
#include "context/context.h"
#include "core/abi_struct.h"
#include "core/error.h"

static uint64_t matrix_bytes(const tf_matrix *m) { return (uint64_t)m->n_rows * m->row_bytes; }

/* Every matrix a token's pass reads in full, one embedding row, the norm copies. */
static uint64_t weight_bytes(const tf_network *net) {
    const tf_weights *w = &net->weights;
    uint64_t total = w->token_embd.row_bytes + matrix_bytes(&w->output) +
                     (uint64_t)w->vector_floats * sizeof(float);
    for (uint32_t l = 0; l < w->n_layer; l++) {
        const tf_layer_weights *lw = &w->layers[l];
        const tf_matrix *layer[] = {&lw->wq,       &lw->wk,     &lw->wv,      &lw->wo,
                                    &lw->ffn_gate, &lw->ffn_up, &lw->ffn_down};
        for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++) total += matrix_bytes(layer[i]);
    }
    return total;
}

/* The K and V rows attention reads for a token at position, over all layers. */
static uint64_t kv_bytes(const tinfer_context *ctx, size_t position) {
    const tf_hparams *hp = &ctx->model->hparams;
    uint64_t rows = 0;
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const bool local = tf_layer_is_swa(&ctx->net->traits, l, hp->sliding_window);
        rows += local && position + 1 > hp->sliding_window ? hp->sliding_window : position + 1;
    }
    return rows * ctx->kv_row_bytes;
}

TINFER_API tinfer_status tinfer_context_step_bytes(const tinfer_context *ctx, size_t position,
                                                   tinfer_step_bytes *out, size_t out_size) {
    tf_error_clear();
    TF_CHECK_ARG(ctx && out, "tinfer_context_step_bytes: ctx or out is NULL");
    TF_CHECK_ARG(position < ctx->kv.n_ctx,
                 "tinfer_context_step_bytes: position %zu is not below n_ctx = %u", position,
                 ctx->kv.n_ctx);
    const tinfer_step_bytes bytes = {.weights = weight_bytes(ctx->net),
                                     .kv = kv_bytes(ctx, position)};
    return tf_abi_info_write(&bytes, sizeof bytes, out, out_size, "tinfer_context_step_bytes");
}
