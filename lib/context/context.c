/* Context creation: bind the weights, start the backend, size the cache and the scratch. */
#include "context/context.h"

#include <stdlib.h>

#include "core/checked.h"
#include "core/error.h"
#include "model/arch_traits.h"
#include "model/model.h"

static tinfer_status alloc_pass_arrays(tinfer_context *ctx, uint32_t n_batch, uint32_t n_seq_max) {
    size_t logit_floats;
    if (!tinfer_mul_size(n_seq_max, ctx->n_vocab, &logit_floats))
        return tf_error(TINFER_E_INVALID_ARG, "n_seq_max × n_vocab overflows");
    ctx->logits = calloc(logit_floats, sizeof(float));
    ctx->pass_logits = calloc(logit_floats, sizeof(float));
    ctx->has_logits = calloc(n_seq_max, sizeof(bool));
    ctx->positions = calloc(n_batch, sizeof(int32_t));
    ctx->token_seqs = calloc(n_batch, sizeof(uint32_t));
    ctx->out_tokens = calloc(n_batch, sizeof(uint32_t));
    if (!ctx->logits || !ctx->pass_logits || !ctx->has_logits || !ctx->positions ||
        !ctx->token_seqs || !ctx->out_tokens)
        return tf_error(TINFER_E_NOMEM, "out of memory for logits of %u sequences", n_seq_max);
    return TINFER_OK;
}

/* The cache, told which layers attend through the sliding window (the same test forward.c
 * makes) so that those keep only a ring of the last positions. */
static tinfer_status init_kv(tinfer_context *ctx, const tinfer_context_params *p, uint32_t n_batch,
                             bool swa_full) {
    const tf_hparams *hp = &ctx->model->hparams;
    bool *layer_is_swa = calloc(hp->n_layer ? hp->n_layer : 1, sizeof *layer_is_swa);
    if (!layer_is_swa) return tf_error(TINFER_E_NOMEM, "out of memory for the layer list");
    for (uint32_t il = 0; il < hp->n_layer; il++)
        layer_is_swa[il] = tf_layer_is_swa(&ctx->traits, il, hp->sliding_window);
    const tf_kv_config kv_config = {.n_layer = hp->n_layer,
                                    .n_ctx = p->n_ctx,
                                    .n_seq_max = p->n_seq_max,
                                    .k_row_elems = hp->n_head_kv * hp->head_dim,
                                    .v_row_elems = hp->n_head_kv * hp->head_dim_v,
                                    .dtype = p->kv_dtype == TINFER_KV_F32 ? TINFER_DTYPE_F32
                                                                          : TINFER_DTYPE_F16,
                                    .layer_is_swa = layer_is_swa,
                                    .window = hp->sliding_window,
                                    .n_batch = n_batch,
                                    .swa_full = swa_full};
    const tinfer_status s = tf_kv_init(&ctx->kv, &ctx->backend, &kv_config);
    free(layer_is_swa);
    return s;
}

static tinfer_status build(tinfer_context *ctx, const tinfer_context_params *p, bool swa_full) {
    const tinfer_model *model = ctx->model;
    const tf_hparams *hp = &model->hparams;
    tinfer_status s;
    if ((s = tf_arch_traits_of(model, &ctx->traits)) ||
        (s = tf_weights_bind(model, &ctx->traits, &ctx->weights)) ||
        (s = tf_rope_scaling_read(model, ctx->weights.rope_freqs == NULL, &ctx->rope_scaling)))
        return s;
    ctx->n_vocab = hp->n_vocab; /* the embedding's row count, checked by the binding */
    if (ctx->n_vocab == 0) return tf_error(TINFER_E_FORMAT, "the vocabulary is empty");
    /* A decode pass holds one token per sequence, so the batch must fit all of them. */
    const uint32_t n_batch = p->n_batch > p->n_seq_max ? p->n_batch : p->n_seq_max;
    size_t max_row = ctx->weights.max_row_elems;
    const size_t q_width =
        (size_t)hp->n_head * (hp->head_dim > hp->head_dim_v ? hp->head_dim : hp->head_dim_v);
    if (max_row < q_width) max_row = q_width;
    if ((s = tf_backend_cpu_create(max_row, p->n_ctx, hp->n_head, &ctx->backend))) return s;
    if ((s = init_kv(ctx, p, n_batch, swa_full)) ||
        (s = tf_run_state_init(&ctx->rs, &ctx->backend, hp, n_batch, p->n_seq_max)) ||
        (s = alloc_pass_arrays(ctx, n_batch, p->n_seq_max)))
        return s;
    ctx->engine = (tf_engine){.hp = hp,
                              .traits = &ctx->traits,
                              .weights = &ctx->weights,
                              .rope_scaling = &ctx->rope_scaling,
                              .backend = &ctx->backend,
                              .kv = &ctx->kv,
                              .rs = &ctx->rs};
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
    if (ctx->backend.ops) {
        if (ctx->kv.layers) tf_kv_free(&ctx->kv);
        tf_run_state_free(&ctx->rs, &ctx->backend);
        tf_backend_cpu_destroy(&ctx->backend);
    }
    tf_weights_free(&ctx->weights);
    tf_rope_scaling_free(&ctx->rope_scaling);
    free(ctx->logits);
    free(ctx->pass_logits);
    free(ctx->has_logits);
    free(ctx->positions);
    free(ctx->token_seqs);
    free(ctx->out_tokens);
    tf_trace_free(&ctx->trace);
    free(ctx);
}
