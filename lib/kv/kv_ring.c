/* Sliding-window ring: its size, and what it still holds after a sequence has run past it. */
#include "kv/kv_ring.h"

/* Position q lives in slot (q/32 mod R)·32 + q mod 32, which depends only on q mod 32R: its row
 * is overwritten by q + 32R and nothing nearer. A forward pass writes up to n_batch consecutive
 * positions [p, p + n_batch) of a sequence into a layer before any of them reads, and its
 * earliest query (at p) reads back to p - window + 1; so the pass keeps every row it reads iff
 * 32R > (p + n_batch - 1) - (p - window + 1), i.e. R ≥ ceil((window + n_batch - 1) / 32). Earlier
 * passes wrote only positions below p, and later ones only read within their own window, so
 * nothing else can clobber a row still needed.
 *
 * (ring_equals_full_storage in tests/unit/test_kv.c fails with a block fewer.)
 *
 * We take two blocks more, R = ceil((window + n_batch + 31) / 32) + 1, because the bookkeeping
 * counts whole blocks (tf_kv_ring_first_kept): 32R ≥ window + n_batch + 63 makes the blocks it
 * calls intact always cover the window of the next token (so a random fill may write just those,
 * and cutting back to the current length is always allowed), and lets a sequence be cut back by
 * up to n_batch + 2 tokens from the furthest point it reached, e.g. to drop a few unwanted ones.
 * The cost is 64 rows per sequence and layer. */
uint32_t tf_kv_ring_blocks(uint32_t window, uint32_t n_batch, uint32_t blocks_per_seq) {
    const uint64_t rows = (uint64_t)window + n_batch + TF_KV_BLOCK_TOKENS - 1;
    const uint64_t ring = (rows + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS + 1;
    return ring < blocks_per_seq ? (uint32_t)ring : 0;
}

/* The ring was last written up to block ceil(reached / 32) - 1; the R blocks ending there are
 * intact, older ones may have been overwritten (block b by b + R) in part or whole. */
uint32_t tf_kv_ring_first_kept(const tf_kv_cache *cache, uint32_t n_tokens_reached) {
    const uint32_t ring = cache->ring_blocks;
    const uint32_t blocks = (n_tokens_reached + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    return ring && blocks > ring ? (blocks - ring) * TF_KV_BLOCK_TOKENS : 0;
}

bool tf_kv_ring_holds(const tf_kv_cache *cache, uint32_t seq, uint32_t n_tokens) {
    if (n_tokens == 0 || cache->ring_blocks == 0) return true;
    /* The query at n_tokens reads back to here (describe_token in context/steps.c); later queries
     * read later positions, and everything from n_tokens on is written afresh. */
    const uint32_t window = cache->window;
    const uint32_t first_read = n_tokens >= window ? n_tokens - window + 1 : 0;
    return first_read >= tf_kv_ring_first_kept(cache, cache->seqs[seq].n_tokens_reached);
}

/* Logical block i of sequence s lives in ring block s·R + i mod R (kv_cache.c), so dst's ring
 * slot j takes what src's slot j holds and every position keeps its slot. */
tf_kv_block_copy tf_kv_ring_fork_copy(const tf_kv_cache *cache, uint32_t src, uint32_t dst) {
    const uint32_t ring = cache->ring_blocks;
    const uint32_t written =
        (cache->seqs[src].n_tokens_reached + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    const uint32_t n_blocks = written < ring ? written : ring;
    return (tf_kv_block_copy){.src_block = src * ring,
                              .dst_block = dst * ring,
                              .n_rows = n_blocks * TF_KV_BLOCK_TOKENS,
                              .ring = true};
}
