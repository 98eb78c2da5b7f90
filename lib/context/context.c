/* Context creation: take the model's network, start the backend the params ask for (pointed at the
 * model's copy of the weights on its device), size the cache, the activations and the step
 * descriptor's arrays. */
#include "context/context.h"

#include <stdlib.h>

#include "core/checked.h"
#include "core/error.h"
#include "model/device_weights.h"

static tinfer_status alloc_step_arrays(tinfer_context *ctx, uint32_t n_seq_max) {
    const uint32_t n_batch = ctx->n_batch;
    size_t logit_floats;
    if (!tinfer_mul_size(n_seq_max, ctx->n_vocab, &logit_floats))
        return tf_error(TINFER_E_INVALID_ARG, "n_seq_max × n_vocab overflows");
    ctx->logits = calloc(logit_floats, sizeof(float));
    ctx->has_logits = calloc(n_seq_max, sizeof(bool));
    ctx->positions = calloc(n_batch, sizeof *ctx->positions);
    ctx->token_seq = calloc(n_batch, sizeof *ctx->token_seq);
    ctx->out_tokens = calloc(n_batch, sizeof *ctx->out_tokens);
    ctx->spans_global = calloc(n_batch, sizeof *ctx->spans_global);
    ctx->spans_local = calloc(n_batch, sizeof *ctx->spans_local);
    ctx->tables = calloc(n_seq_max, sizeof *ctx->tables);
    ctx->local_tables = calloc(n_seq_max, sizeof *ctx->local_tables);
    ctx->out_rows = calloc(n_seq_max, sizeof *ctx->out_rows);
    if (!ctx->logits || !ctx->has_logits || !ctx->positions || !ctx->token_seq ||
        !ctx->out_tokens || !ctx->spans_global || !ctx->spans_local || !ctx->tables ||
        !ctx->local_tables || !ctx->out_rows)
        return tf_error(TINFER_E_NOMEM, "out of memory for logits of %u sequences", n_seq_max);
    return TINFER_OK;
}

/* The cache's bookkeeping, told which layers attend through the sliding window (the same test
 * forward.c makes) so that those keep only a ring of the last positions; then its storage in the
 * backend. */
static tinfer_status init_kv(tinfer_context *ctx, const tinfer_context_params *p, bool swa_full) {
    const tf_hparams *hp = &ctx->model->hparams;
    bool *layer_is_swa = calloc(hp->n_layer, sizeof *layer_is_swa);
    uint32_t *layer_blocks = calloc(hp->n_layer, sizeof *layer_blocks);
    tinfer_status s = TINFER_OK;
    if (!layer_is_swa || !layer_blocks)
        s = tf_error(TINFER_E_NOMEM, "out of memory for the layer list");
    for (uint32_t il = 0; s == TINFER_OK && il < hp->n_layer; il++)
        layer_is_swa[il] = tf_layer_is_swa(&ctx->net->traits, il, hp->sliding_window);
    const tf_kv_config kv_config = {.n_layer = hp->n_layer,
                                    .n_ctx = p->n_ctx,
                                    .n_seq_max = p->n_seq_max,
                                    .layer_is_swa = layer_is_swa,
                                    .window = hp->sliding_window,
                                    .n_batch = ctx->n_batch,
                                    .swa_full = swa_full};
    if (s == TINFER_OK) s = tf_kv_init(&ctx->kv, &kv_config);
    for (uint32_t il = 0; s == TINFER_OK && il < hp->n_layer; il++)
        layer_blocks[il] = tf_kv_layer_blocks(&ctx->kv, il);
    const tf_kv_geometry geometry = {.n_layer = hp->n_layer,
                                     .layer_blocks = layer_blocks,
                                     .k_row_elems = hp->n_head_kv * hp->head_dim,
                                     .v_row_elems = hp->n_head_kv * hp->head_dim_v,
                                     .dtype = p->kv_dtype == TINFER_KV_F32 ? TINFER_DTYPE_F32
                                                                           : TINFER_DTYPE_F16};
    ctx->kv_row_bytes = ((size_t)geometry.k_row_elems + geometry.v_row_elems) *
                        (geometry.dtype == TINFER_DTYPE_F32 ? 4 : 2);
    if (s == TINFER_OK) s = ctx->backend->ops->kv_alloc(ctx->backend, &geometry);
    free(layer_is_swa);
    free(layer_blocks);
    return s;
}

static tinfer_status start_backend(tinfer_context *ctx, const tinfer_context_params *p) {
    const tf_hparams *hp = &ctx->model->hparams;
    size_t max_row = ctx->net->weights.max_row_elems;
    const size_t q_width =
        (size_t)hp->n_head * (hp->head_dim > hp->head_dim_v ? hp->head_dim : hp->head_dim_v);
    if (max_row < q_width) max_row = q_width;
    const tf_backend_config config = {.device = p->device,
                                      .device_index = p->device_index,
                                      .max_row_elems = max_row,
                                      .n_ctx = p->n_ctx,
                                      .n_head = hp->n_head,
                                      .n_batch = ctx->n_batch,
                                      .n_seq_max = p->n_seq_max,
                                      .n_threads = p->n_threads};
    return tf_backend_create(&config, &ctx->backend);
}

static tinfer_status build(tinfer_context *ctx, const tinfer_context_params *p, bool swa_full) {
    tinfer_status s = tf_model_network(ctx->model, &ctx->net);
    if (s != TINFER_OK) return s;
    const tf_hparams *hp = &ctx->model->hparams;
    ctx->n_vocab = hp->n_vocab; /* the embedding's row count, checked by the binding */
    /* A decode pass holds one token per sequence, so the batch must fit all of them. */
    ctx->n_batch = p->n_batch > p->n_seq_max ? p->n_batch : p->n_seq_max;
    if ((s = start_backend(ctx, p)) || (s = tf_model_bind_device(ctx->model, ctx->backend)) ||
        (s = init_kv(ctx, p, swa_full)) ||
        (s = tf_activations_alloc(&ctx->act, ctx->backend, hp, ctx->n_batch, p->n_seq_max)) ||
        (s = alloc_step_arrays(ctx, p->n_seq_max)))
        return s;
    return TINFER_OK;
}

tinfer_status tf_context_create(const tinfer_model *model, const tinfer_context_params *params,
                                const tf_context_options *options, tinfer_context **out) {
    tinfer_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return tf_error(TINFER_E_NOMEM, "out of memory for the context");
    ctx->model = model;
    tinfer_status status = build(ctx, params, options && options->kv_swa_full);
    if (status != TINFER_OK) {
        tf_context_free(ctx);
        return status;
    }
    *out = ctx;
    return TINFER_OK;
}

void tf_context_free(tinfer_context *ctx) {
    if (!ctx) return;
    if (ctx->backend) tf_activations_free(&ctx->act, ctx->backend);
    tf_backend_destroy(ctx->backend);
    tf_kv_free(&ctx->kv);
    free(ctx->logits);
    free(ctx->has_logits);
    free(ctx->positions);
    free(ctx->token_seq);
    free(ctx->out_tokens);
    free(ctx->spans_global);
    free(ctx->spans_local);
    free(ctx->tables);
    free(ctx->local_tables);
    free(ctx->out_rows);
    tf_trace_free(&ctx->trace);
    free(ctx);
}
