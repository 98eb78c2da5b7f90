/* The KV cache's bookkeeping: which blocks of token rows each sequence owns. The rows themselves
 * live in the backend (backend.h: kv_alloc, kv_store, attention), which alone knows their layout;
 * this module only hands out block numbers and tracks lengths.
 *
 * Global layers: each layer's storage is one array of n_blocks blocks; a sequence owns a block
 * table mapping its logical block i (positions i·block_tokens …) to a physical block, the same
 * block number in every global layer. Blocks come from one free list, so sequences of different
 * lengths share the pool, and forking a shared prefix (a later step) is a matter of sharing table
 * entries. The pool is sized so each of n_seq_max sequences can reach n_ctx tokens.
 *
 * Sliding-window layers only ever read the last `window` positions, so (when the model has them
 * and the ring is shorter than a sequence) they keep a ring of ring_blocks blocks per sequence:
 * a fixed table, swa_table[i] = seq·ring_blocks + i mod ring_blocks, that the attention kernels
 * read like any block table. A position p therefore shares its row with p ± ring_blocks·32, and
 * once a sequence has run far its old positions are gone: tf_kv_truncate refuses to go back past
 * what the ring still holds. */
#ifndef TINFER_KV_KV_CACHE_H
#define TINFER_KV_KV_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"

typedef struct tf_kv_seq {
    uint32_t *block_table; /* blocks_per_seq entries, n_blocks of them in use */
    uint32_t *swa_table;   /* blocks_per_seq entries into the ring; NULL when there is no ring */
    uint32_t n_blocks;
    uint32_t n_tokens;
    /* The most tokens the sequence has held since it was last cleared: what the ring was last
     * overwritten with (see tf_kv_truncate). */
    uint32_t n_tokens_reached;
} tf_kv_seq;

typedef struct tf_kv_cache {
    bool *layer_in_ring; /* [n_layer]: the layer keeps the ring (all false when there is none) */
    uint32_t n_layer;
    uint32_t n_ctx;
    uint32_t n_seq_max;
    uint32_t blocks_per_seq;
    uint32_t n_blocks;
    uint32_t window;       /* positions a sliding-window query sees (itself included) */
    uint32_t ring_blocks;  /* blocks per sequence in the ring; 0: no ring */
    uint32_t *free_blocks; /* stack of unused block numbers */
    uint32_t n_free;
    tf_kv_seq *seqs;
} tf_kv_cache;

typedef struct tf_kv_config {
    uint32_t n_layer;
    uint32_t n_ctx;
    uint32_t n_seq_max;
    /* Sliding-window layers: [n_layer] flags (NULL: none), the window, and the most tokens of
     * one sequence that one forward pass writes (what sizes the ring). */
    const bool *layer_is_swa;
    uint32_t window;
    uint32_t n_batch;
    bool swa_full; /* keep every position in sliding-window layers too (tests compare) */
} tf_kv_config;

/* Sets up the tables and the free list. E_NOMEM (or E_INVALID_ARG for sizes that overflow). On
 * failure *cache is left freeable. */
tinfer_status tf_kv_init(tf_kv_cache *cache, const tf_kv_config *config);
void tf_kv_free(tf_kv_cache *cache);

/* Blocks of row storage layer l needs: the ring of every sequence, or the shared pool. */
uint32_t tf_kv_layer_blocks(const tf_kv_cache *cache, uint32_t l);

/* The block table of seq's sliding-window layers: the ring's when the cache keeps one, the
 * sequence's own otherwise. */
const uint32_t *tf_kv_swa_table(const tf_kv_cache *cache, uint32_t seq);

/* Makes room for n_new more tokens in seq (blocks taken from the pool, length unchanged).
 * E_CONTEXT_FULL, with nothing changed, when the sequence would pass n_ctx or the pool is empty. */
tinfer_status tf_kv_reserve(tf_kv_cache *cache, uint32_t seq, uint32_t n_new);
/* Returns blocks beyond what seq's length needs to the pool (undoes an unused reserve). */
void tf_kv_release_unused(tf_kv_cache *cache, uint32_t seq);
/* Sets seq's length to n_tokens (≤ its reserved capacity) and releases blocks it no longer needs.
 * The rows of [0, n_tokens) must be written (or kept from before); 0 clears the sequence. Cutting
 * a sequence back is only sound where tf_kv_ring_holds (kv_ring.h) says so. */
void tf_kv_set_len(tf_kv_cache *cache, uint32_t seq, uint32_t n_tokens);

#endif
