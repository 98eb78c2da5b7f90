/* Context creation: take the model's network, start the backend the params ask for (pointed at the
 * model's copy of the weights on its device), size the cache, the activations and the step
 * descriptor's arrays. */
#include "context/context.h"

#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "model/device_weights.h"
#include "quant/dtype.h"

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
    ctx->out_rows = calloc(n_batch, sizeof *ctx->out_rows);
    if (!ctx->logits || !ctx->has_logits || !ctx->positions || !ctx->token_seq ||
        !ctx->out_tokens || !ctx->spans_global || !ctx->spans_local || !ctx->tables ||
        !ctx->local_tables || !ctx->out_rows)
        return tf_error(TINFER_E_NOMEM, "out of memory for logits of %u sequences", n_seq_max);
    /* the rows a sequence's logits land in are the one per-sequence buffer besides the cache */
    if (ctx->params.prefault) memset(ctx->logits, 0, logit_floats * sizeof(float));
    return TINFER_OK;
}

/* The cache's bookkeeping (context_plan.c), then its storage in the backend. */
static tinfer_status init_kv(tinfer_context *ctx, const tinfer_context_params *p, bool swa_full) {
    const tf_hparams *hp = &ctx->model->hparams;
    /* a head's slice of a cached row must be whole blocks */
    const tf_dtype_traits *stored = tf_dtype_traits_of(tf_context_kv_storage(p->kv_dtype));
    if (hp->head_dim % stored->block_elems || hp->head_dim_v % stored->block_elems)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "kv_dtype %s needs head dimensions that are multiples of %u (its block); "
                        "this model's are %u (keys) and %u (values)",
                        stored->name, stored->block_elems, hp->head_dim, hp->head_dim_v);
    if (p->kv_dtype == TINFER_KV_Q8_0 && p->device != TINFER_DEVICE_CPU)
        return tf_error(TINFER_E_UNSUPPORTED, "kv_dtype TINFER_KV_Q8_0 is CPU only");
    tinfer_status s = tf_context_plan_kv(ctx->model, ctx->net, p, swa_full, &ctx->kv);
    if (s != TINFER_OK) return s;
    uint32_t *layer_blocks = calloc(hp->n_layer, sizeof *layer_blocks);
    if (!layer_blocks) return tf_error(TINFER_E_NOMEM, "out of memory for the layer list");
    for (uint32_t il = 0; il < hp->n_layer; il++)
        layer_blocks[il] = tf_kv_layer_blocks(&ctx->kv, il);
    const tf_kv_geometry geometry = {.n_layer = hp->n_layer,
                                     .layer_blocks = layer_blocks,
                                     .layer_in_ring = ctx->kv.layer_in_ring,
                                     .k_row_elems = hp->n_head_kv * hp->head_dim,
                                     .v_row_elems = hp->n_head_kv * hp->head_dim_v,
                                     .n_head_kv = hp->n_head_kv,
                                     .dtype = tf_context_kv_storage(p->kv_dtype)};
    ctx->kv_row_bytes = tf_context_plan_kv_row_bytes(hp, p->kv_dtype);
    s = ctx->backend->ops->kv_alloc(ctx->backend, &geometry);
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
                                      .rope_dim = hp->head_dim,
                                      .n_batch = ctx->n_batch,
                                      .n_seq_max = p->n_seq_max,
                                      .n_threads = tf_context_plan_threads(p),
                                      .fast_head = p->head_sum == TINFER_HEAD_SUM_FAST,
                                      .fast_prompt = p->prompt_sum == TINFER_PROMPT_SUM_FAST,
                                      .prefault = p->prefault};
    return tf_backend_create(&config, &ctx->backend);
}

static tinfer_status build(tinfer_context *ctx, const tinfer_context_params *p, bool swa_full) {
    tinfer_status s = tf_model_network(ctx->model, &ctx->net);
    if (s != TINFER_OK) return s;
    const tf_hparams *hp = &ctx->model->hparams;
    ctx->n_vocab = hp->n_vocab; /* the embedding's row count, checked by the binding */
    ctx->n_batch = tf_context_plan_batch(p);
    if ((s = start_backend(ctx, p))) return s;
    ctx->n_threads = ctx->backend->n_threads;
    if ((s = tf_model_bind_device(ctx->model, ctx->backend)) || (s = init_kv(ctx, p, swa_full)) ||
        (s = tf_activations_alloc(&ctx->act, ctx->backend, hp, ctx->n_batch,
                                  tf_context_plan_logits_rows(p))) ||
        (s = alloc_step_arrays(ctx, p->n_seq_max)))
        return s;
    return TINFER_OK;
}

tinfer_status tf_context_create(const tinfer_model *model, const tinfer_context_params *params,
                                const tf_context_options *options, tinfer_context **out) {
    tinfer_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return tf_error(TINFER_E_NOMEM, "out of memory for the context");
    ctx->model = model;
    ctx->params = *params;
    ctx->abort =
        (tf_abort_check){.fn = params->abort_callback, .user_data = params->abort_user_data};
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
