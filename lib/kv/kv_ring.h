/* The ring of the sliding-window layers: how many blocks it takes, and which positions of a
 * sequence it still holds (see kv_cache.h for the layout). */
#ifndef TINFER_KV_KV_RING_H
#define TINFER_KV_KV_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "kv/kv_cache.h"

/* Blocks per sequence for a window and the most tokens of a sequence one pass writes; 0 (keep
 * every position) when the ring would not be shorter than blocks_per_seq. */
uint32_t tf_kv_ring_blocks(uint32_t window, uint32_t n_batch, uint32_t blocks_per_seq);

/* The first position whose rows every layer still holds, for a sequence that has held at most
 * n_tokens_reached tokens since it was cleared (0 when there is no ring). */
uint32_t tf_kv_ring_first_kept(const tf_kv_cache *cache, uint32_t n_tokens_reached);

/* Whether seq, cut back to n_tokens (≤ its length), still holds every row that the next token
 * (at position n_tokens) and those after it would read. Always true for 0 and without a ring. */
bool tf_kv_ring_holds(const tf_kv_cache *cache, uint32_t seq, uint32_t n_tokens);

/* What gives dst's ring the rows src's holds, when dst forks from src: the run of src's ring
 * blocks written so far (all ring_blocks of them once the ring has wrapped), whole, to the same
 * slots of dst's ring, in the ring's layers. n_rows 0 when there is no ring or nothing to copy. */
tf_kv_block_copy tf_kv_ring_fork_copy(const tf_kv_cache *cache, uint32_t src, uint32_t dst);

#endif
