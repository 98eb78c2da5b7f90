/* KV cache pool: storage per layer, a free list of blocks, block tables per sequence. */
#include "kv/kv_cache.h"

#include <stdlib.h>

#include "core/checked.h"
#include "core/error.h"

static tinfer_status alloc_layer_storage(tf_kv_cache *cache, tf_kv_layer *layer,
                                         size_t elem_bytes) {
    size_t slots, k_bytes, v_bytes;
    if (!tinfer_mul_size(cache->n_blocks, TF_KV_BLOCK_TOKENS, &slots) ||
        !tinfer_mul_size(slots, (size_t)layer->k_row_elems * elem_bytes, &k_bytes) ||
        !tinfer_mul_size(slots, (size_t)layer->v_row_elems * elem_bytes, &v_bytes))
        return tf_error(TINFER_E_INVALID_ARG, "kv cache: size overflows");
    layer->k = cache->backend->ops->alloc(cache->backend, k_bytes);
    layer->v = cache->backend->ops->alloc(cache->backend, v_bytes);
    if (!layer->k || !layer->v)
        return tf_error(TINFER_E_NOMEM, "kv cache: out of memory for %zu + %zu bytes per layer",
                        k_bytes, v_bytes);
    return TINFER_OK;
}

static tinfer_status init_tables(tf_kv_cache *cache) {
    cache->free_blocks = calloc(cache->n_blocks, sizeof *cache->free_blocks);
    cache->seqs = calloc(cache->n_seq_max, sizeof *cache->seqs);
    if (!cache->free_blocks || !cache->seqs)
        return tf_error(TINFER_E_NOMEM, "kv cache: out of memory for block tables");
    for (uint32_t s = 0; s < cache->n_seq_max; s++) {
        cache->seqs[s].block_table = calloc(cache->blocks_per_seq, sizeof(uint32_t));
        if (!cache->seqs[s].block_table)
            return tf_error(TINFER_E_NOMEM, "kv cache: out of memory for block tables");
    }
    /* Highest first, so blocks are handed out in increasing order. */
    for (uint32_t b = 0; b < cache->n_blocks; b++) cache->free_blocks[b] = cache->n_blocks - 1 - b;
    cache->n_free = cache->n_blocks;
    return TINFER_OK;
}

tinfer_status tf_kv_init(tf_kv_cache *cache, tf_backend *backend, const tf_kv_config *config) {
    *cache = (tf_kv_cache){.backend = backend,
                           .n_layer = config->n_layer,
                           .n_ctx = config->n_ctx,
                           .n_seq_max = config->n_seq_max};
    cache->blocks_per_seq = (config->n_ctx + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    uint64_t n_blocks;
    if (!tinfer_mul_u64(cache->blocks_per_seq, config->n_seq_max, &n_blocks) ||
        n_blocks > UINT32_MAX / TF_KV_BLOCK_TOKENS)
        return tf_error(TINFER_E_INVALID_ARG, "kv cache: n_ctx × n_seq_max is too large");
    cache->n_blocks = (uint32_t)n_blocks;
    cache->layers = calloc(config->n_layer, sizeof *cache->layers);
    if (!cache->layers) return tf_error(TINFER_E_NOMEM, "kv cache: out of memory");
    const size_t elem_bytes = config->dtype == TINFER_DTYPE_F16 ? 2 : 4;
    for (uint32_t l = 0; l < config->n_layer; l++) {
        tf_kv_layer *layer = &cache->layers[l];
        *layer = (tf_kv_layer){.dtype = config->dtype,
                               .block_tokens = TF_KV_BLOCK_TOKENS,
                               .k_row_elems = config->k_row_elems,
                               .v_row_elems = config->v_row_elems};
        tinfer_status status = alloc_layer_storage(cache, layer, elem_bytes);
        if (status != TINFER_OK) return status;
    }
    return init_tables(cache);
}

void tf_kv_free(tf_kv_cache *cache) {
    if (cache->layers)
        for (uint32_t l = 0; l < cache->n_layer; l++) {
            cache->backend->ops->free(cache->backend, cache->layers[l].k);
            cache->backend->ops->free(cache->backend, cache->layers[l].v);
        }
    free(cache->layers);
    if (cache->seqs)
        for (uint32_t s = 0; s < cache->n_seq_max; s++) free(cache->seqs[s].block_table);
    free(cache->seqs);
    free(cache->free_blocks);
    *cache = (tf_kv_cache){0};
}

tinfer_status tf_kv_reserve(tf_kv_cache *cache, uint32_t seq, uint32_t n_new) {
    tf_kv_seq *s = &cache->seqs[seq];
    if (n_new > cache->n_ctx - s->n_tokens)
        return tf_error(TINFER_E_CONTEXT_FULL,
                        "sequence %u holds %u tokens; %u more exceed n_ctx = %u", seq, s->n_tokens,
                        n_new, cache->n_ctx);
    const uint32_t need = (s->n_tokens + n_new + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    if (need > s->n_blocks && need - s->n_blocks > cache->n_free)
        return tf_error(TINFER_E_CONTEXT_FULL, "kv cache: no free blocks for sequence %u", seq);
    while (s->n_blocks < need) s->block_table[s->n_blocks++] = cache->free_blocks[--cache->n_free];
    return TINFER_OK;
}

void tf_kv_release_unused(tf_kv_cache *cache, uint32_t seq) {
    tf_kv_seq *s = &cache->seqs[seq];
    const uint32_t need = (s->n_tokens + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    while (s->n_blocks > need) cache->free_blocks[cache->n_free++] = s->block_table[--s->n_blocks];
}

void tf_kv_set_len(tf_kv_cache *cache, uint32_t seq, uint32_t n_tokens) {
    cache->seqs[seq].n_tokens = n_tokens;
    tf_kv_release_unused(cache, seq);
}
