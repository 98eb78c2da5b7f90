/* The KV cache: keys and values of every sequence, in fixed-size blocks of token rows.
 *
 * Each layer's storage is one array of n_blocks blocks; a sequence owns a block table mapping its
 * logical block i (positions i·block_tokens …) to a physical block, the same block number in
 * every layer. Blocks come from one free list, so sequences of different lengths share the pool,
 * and forking a shared prefix (a later step) is a matter of sharing table entries.
 *
 * Sliding-window layers keep every position for now (the window is applied when reading); the
 * pool is sized so each of n_seq_max sequences can reach n_ctx tokens. */
#ifndef TINFER_KV_KV_CACHE_H
#define TINFER_KV_KV_CACHE_H

#include <stdint.h>

#include "backend/backend.h"

enum { TF_KV_BLOCK_TOKENS = 32 };

typedef struct tf_kv_seq {
    uint32_t *block_table; /* blocks_per_seq entries, n_blocks of them in use */
    uint32_t n_blocks;
    uint32_t n_tokens;
} tf_kv_seq;

typedef struct tf_kv_cache {
    tf_backend *backend;
    tf_kv_layer *layers; /* n_layer views: storage pointers and row geometry */
    uint32_t n_layer;
    uint32_t n_ctx;
    uint32_t n_seq_max;
    uint32_t blocks_per_seq;
    uint32_t n_blocks;
    uint32_t *free_blocks; /* stack of unused block numbers */
    uint32_t n_free;
    tf_kv_seq *seqs;
} tf_kv_cache;

typedef struct tf_kv_config {
    uint32_t n_layer;
    uint32_t n_ctx;
    uint32_t n_seq_max;
    uint32_t k_row_elems; /* n_head_kv · head_dim */
    uint32_t v_row_elems;
    tinfer_dtype dtype; /* F16 or F32 */
} tf_kv_config;

/* Allocates the whole pool through the backend. E_NOMEM (or E_INVALID_ARG for sizes that
 * overflow). On failure *cache is left freeable. */
tinfer_status tf_kv_init(tf_kv_cache *cache, tf_backend *backend, const tf_kv_config *config);
void tf_kv_free(tf_kv_cache *cache);

/* Makes room for n_new more tokens in seq (blocks taken from the pool, length unchanged).
 * E_CONTEXT_FULL, with nothing changed, when the sequence would pass n_ctx or the pool is empty. */
tinfer_status tf_kv_reserve(tf_kv_cache *cache, uint32_t seq, uint32_t n_new);
/* Returns blocks beyond what seq's length needs to the pool (undoes an unused reserve). */
void tf_kv_release_unused(tf_kv_cache *cache, uint32_t seq);
/* Sets seq's length to n_tokens (≤ its reserved capacity) and releases blocks it no longer needs.
 */
void tf_kv_set_len(tf_kv_cache *cache, uint32_t seq, uint32_t n_tokens);

#endif
