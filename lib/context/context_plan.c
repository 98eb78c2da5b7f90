/* What a context's params amount to before the cache is allocated: the batch, the KV bookkeeping
 * (which decides the sliding-window ring and so the storage), and the bytes of storage and
 * scratch — used by context creation and by tinfer_context_estimate alike. */
#include <stdlib.h>
#include <string.h>

#include "context/context.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/dtype.h"

uint32_t tf_context_plan_batch(const tinfer_context_params *p) {
    /* A decode pass holds one token per sequence, so the batch must fit all of them. */
    return p->n_batch > p->n_seq_max ? p->n_batch : p->n_seq_max;
}

tinfer_dtype tf_context_kv_storage(tinfer_kv_dtype dtype) {
    return dtype == TINFER_KV_F32    ? TINFER_DTYPE_F32
           : dtype == TINFER_KV_Q8_0 ? TINFER_DTYPE_Q8_0
                                     : TINFER_DTYPE_F16;
}

const char *tf_kv_dtype_name(uint32_t dtype) {
    if (dtype != TINFER_KV_F16 && dtype != TINFER_KV_F32 && dtype != TINFER_KV_Q8_0)
        return "unknown";
    return tinfer_dtype_name(tf_context_kv_storage((tinfer_kv_dtype)dtype));
}

size_t tf_context_plan_kv_elems_bytes(tinfer_kv_dtype dtype, size_t elems) {
    const tf_dtype_traits *traits = tf_dtype_traits_of(tf_context_kv_storage(dtype));
    return elems / traits->block_elems * traits->block_bytes;
}

size_t tf_context_plan_kv_row_bytes(const tf_hparams *hp, tinfer_kv_dtype dtype) {
    return tf_context_plan_kv_elems_bytes(dtype, (size_t)hp->n_head_kv * hp->head_dim) +
           tf_context_plan_kv_elems_bytes(dtype, (size_t)hp->n_head_kv * hp->head_dim_v);
}

/* The cache's bookkeeping, told which layers attend through the sliding window (the same test
 * forward.c makes) so that those keep only a ring of the last positions. */
tinfer_status tf_context_plan_kv(const tinfer_model *model, const tf_network *net,
                                 const tinfer_context_params *p, bool swa_full, tf_kv_cache *kv) {
    const tf_hparams *hp = &model->hparams;
    bool *layer_is_swa = calloc(hp->n_layer, sizeof *layer_is_swa);
    if (!layer_is_swa) return tf_error(TINFER_E_NOMEM, "out of memory for the layer list");
    for (uint32_t il = 0; il < hp->n_layer; il++)
        layer_is_swa[il] = tf_layer_is_swa(&net->traits, il, hp->sliding_window);
    const tf_kv_config config = {.n_layer = hp->n_layer,
                                 .n_ctx = p->n_ctx,
                                 .n_seq_max = p->n_seq_max,
                                 .n_pool_tokens = p->n_kv_tokens,
                                 .layer_is_swa = layer_is_swa,
                                 .window = hp->sliding_window,
                                 .n_batch = tf_context_plan_batch(p),
                                 .swa_full = swa_full};
    const tinfer_status status = tf_kv_init(kv, &config);
    free(layer_is_swa);
    return status;
}

uint64_t tf_context_plan_kv_bytes(const tf_kv_cache *kv, size_t row_bytes) {
    uint64_t total = 0;
    for (uint32_t l = 0; l < kv->n_layer; l++)
        total += (uint64_t)tf_kv_layer_blocks(kv, l) * TF_KV_BLOCK_TOKENS * row_bytes;
    return total;
}

/* As the CPU backend resolves it (0: one per online core). */
uint32_t tf_context_plan_threads(const tinfer_context_params *p) {
    if (p->device != TINFER_DEVICE_CPU) return 0;
    return p->n_threads ? p->n_threads : tf_pool_default_threads();
}

uint32_t tf_context_plan_logits_rows(const tinfer_context_params *p) {
    const uint32_t rows = p->n_logits_max > p->n_seq_max ? p->n_logits_max : p->n_seq_max;
    const uint32_t n_batch = tf_context_plan_batch(p);
    return rows < n_batch ? rows : n_batch;
}

static tinfer_status info_of(const tinfer_model *model, const tinfer_context_params *p,
                             const tf_kv_cache *kv, tinfer_context_info *info) {
    const tf_hparams *hp = &model->hparams;
    uint64_t activations;
    if (!tf_activations_bytes(hp, tf_context_plan_batch(p), tf_context_plan_logits_rows(p),
                              &activations))
        return tf_error(TINFER_E_INVALID_ARG, "the activations' size overflows");
    /* Field by field over zeros: the struct ends in padding, and callers compare whole structs. */
    memset(info, 0, sizeof *info);
    info->n_ctx = p->n_ctx;
    info->n_seq_max = p->n_seq_max;
    info->n_batch = tf_context_plan_batch(p);
    info->n_threads = tf_context_plan_threads(p);
    info->device = p->device;
    info->device_index = p->device_index;
    info->kv_bytes = tf_context_plan_kv_bytes(kv, tf_context_plan_kv_row_bytes(hp, p->kv_dtype));
    info->scratch_bytes = activations + (uint64_t)p->n_seq_max * hp->n_vocab * sizeof(float);
    info->n_kv_tokens = kv->n_blocks * TF_KV_BLOCK_TOKENS;
    return TINFER_OK;
}

tinfer_status tf_context_estimate(const tinfer_model *model, const tinfer_context_params *p,
                                  tinfer_context_info *info) {
    const tf_network *net;
    tinfer_status status = tf_model_network(model, &net);
    if (status != TINFER_OK) return status;
    if (p->device != TINFER_DEVICE_CPU || p->device_index != 0) {
        /* Whether the device exists is the factory's to say: ask it for a backend sized for
         * nothing (the CPU needs no such check). */
        tf_backend *be = NULL;
        const tf_backend_config config = {.device = p->device, .device_index = p->device_index};
        if ((status = tf_backend_create(&config, &be)) != TINFER_OK) return status;
        tf_backend_destroy(be);
    }
    tf_kv_cache kv;
    status = tf_context_plan_kv(model, net, p, false, &kv);
    if (status == TINFER_OK) status = info_of(model, p, &kv, info);
    tf_kv_free(&kv);
    return status;
}

tinfer_status tf_context_info_of(const tinfer_context *ctx, tinfer_context_info *info) {
    tinfer_status status = info_of(ctx->model, &ctx->params, &ctx->kv, info);
    info->n_threads = ctx->n_threads;
    return status;
}
