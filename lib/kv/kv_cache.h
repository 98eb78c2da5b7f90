/* The KV cache's bookkeeping: which blocks of token rows each sequence holds. The rows themselves
 * live in the backend (backend.h: kv_alloc, kv_store, attention, kv_copy_blocks), which alone
 * knows their layout; this module only hands out block numbers, counts references and tracks
 * lengths.
 *
 * Global layers: each layer's storage is one pool of n_blocks blocks; a sequence has a block
 * table mapping its logical block i (positions i·block_tokens …) to a physical block, the same
 * block number in every global layer. Blocks come from one free list, so sequences of different
 * lengths share the pool, which is sized by a token budget (by default n_seq_max × n_ctx).
 *
 * Forks share blocks: tf_kv_fork points the destination's table at the source's blocks and
 * counts one more reference on each. A full block is never written again (positions only grow,
 * and a truncated sequence writes from its new length on), so only a sequence's partly filled
 * last block can need a copy: tf_kv_reserve, about to write into such a block while another
 * sequence still holds it, gives the sequence a fresh block and reports the copy of its rows
 * (copy-on-write). A block returns to the free list when its last reference goes.
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

/* No block (a sequence with no copy-on-write pending). */
#define TF_KV_NO_BLOCK UINT32_MAX

typedef struct tf_kv_seq {
    uint32_t *block_table; /* blocks_per_seq entries, n_blocks of them in use */
    uint32_t *swa_table;   /* blocks_per_seq entries into the ring; NULL when there is no ring */
    uint32_t n_blocks;
    uint32_t n_tokens;
    /* The most tokens the sequence has held since it was last cleared: what the ring was last
     * overwritten with (see tf_kv_truncate). */
    uint32_t n_tokens_reached;
    /* Between a reserve that copied-on-write and the step's end: the shared block the sequence's
     * partial last block was (the step's failure puts it back); TF_KV_NO_BLOCK otherwise. */
    uint32_t cow_from;
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
    uint32_t *block_refs; /* [n_blocks] sequences whose table holds the block (0: free) */
    tf_kv_seq *seqs;
} tf_kv_cache;

typedef struct tf_kv_config {
    uint32_t n_layer;
    uint32_t n_ctx;
    uint32_t n_seq_max;
    /* Tokens the global layers' pool holds, rounded up to whole blocks; 0: n_seq_max × n_ctx
     * (each sequence's n_ctx rounded up to blocks). */
    uint32_t n_pool_tokens;
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

/* Makes room for n_new more tokens in seq (blocks taken from the pool, length unchanged). When
 * the first new token goes into a partly filled block that another sequence also holds, seq gets
 * a fresh block in its place and *copy says what to copy into it before anything is written
 * (rows [0, n_tokens mod 32) of the shared block; n_rows 0 when there is nothing to copy).
 * E_CONTEXT_FULL, with nothing changed, when the sequence would pass n_ctx or the pool has too
 * few free blocks. */
tinfer_status tf_kv_reserve(tf_kv_cache *cache, uint32_t seq, uint32_t n_new,
                            tf_kv_block_copy *copy);
/* Undoes an unused reserve: returns blocks beyond what seq's length needs to the pool and puts a
 * block that was copied-on-write back to the shared one, so the tables and reference counts are
 * as before the reserve. */
void tf_kv_release_unused(tf_kv_cache *cache, uint32_t seq);
/* Sets seq's length to n_tokens (≤ its reserved capacity) and releases blocks it no longer needs
 * (a shared block loses a reference; a block no sequence holds returns to the pool); a reserve's
 * copy-on-write becomes the sequence's own. The rows of [0, n_tokens) must be written (or kept
 * from before); 0 clears the sequence. Cutting a sequence back is only sound where
 * tf_kv_ring_holds (kv_ring.h) says so. */
void tf_kv_set_len(tf_kv_cache *cache, uint32_t seq, uint32_t n_tokens);

/* Makes dst hold what src holds: dst's blocks are released, then dst's table points at src's
 * blocks (one more reference each) and takes src's length and n_tokens_reached. Takes no block,
 * so it cannot fail. The ring of dst is the caller's to fill (tf_kv_ring_fork_copy, kv_ring.h).
 * src == dst does nothing. Not during a step (no copy-on-write pending). */
void tf_kv_fork(tf_kv_cache *cache, uint32_t src, uint32_t dst);

/* Tokens the free blocks of the pool hold (32 per block). */
uint64_t tf_kv_free_tokens(const tf_kv_cache *cache);
/* Blocks of seq's table that no other sequence holds. */
uint32_t tf_kv_seq_own_blocks(const tf_kv_cache *cache, uint32_t seq);

#endif
