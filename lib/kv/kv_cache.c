/* KV cache bookkeeping: a free list of blocks with reference counts, block tables per sequence
 * (shared between forks, copied on write), the ring's tables. */
#include "kv/kv_cache.h"

#include <inttypes.h>
#include <stdlib.h>

#include "core/checked.h"
#include "core/error.h"
#include "kv/kv_ring.h"

/* Blocks of storage layer l holds: the ring of every sequence, or the shared pool. */
uint32_t tf_kv_layer_blocks(const tf_kv_cache *cache, uint32_t l) {
    return cache->layer_in_ring[l] ? cache->n_seq_max * cache->ring_blocks : cache->n_blocks;
}

static tinfer_status init_tables(tf_kv_cache *cache) {
    cache->free_blocks = calloc(cache->n_blocks, sizeof *cache->free_blocks);
    cache->block_refs = calloc(cache->n_blocks, sizeof *cache->block_refs);
    cache->seqs = calloc(cache->n_seq_max, sizeof *cache->seqs);
    if (!cache->free_blocks || !cache->block_refs || !cache->seqs)
        return tf_error(TINFER_E_NOMEM, "kv cache: out of memory for block tables");
    const uint32_t ring = cache->ring_blocks;
    for (uint32_t s = 0; s < cache->n_seq_max; s++) {
        tf_kv_seq *seq = &cache->seqs[s];
        seq->cow_from = TF_KV_NO_BLOCK;
        seq->block_table = calloc(cache->blocks_per_seq, sizeof(uint32_t));
        if (ring) seq->swa_table = calloc(cache->blocks_per_seq, sizeof(uint32_t));
        if (!seq->block_table || (ring && !seq->swa_table))
            return tf_error(TINFER_E_NOMEM, "kv cache: out of memory for block tables");
        /* Fixed for the cache's life: logical block i of s always lands in the same ring slot. */
        for (uint32_t i = 0; ring && i < cache->blocks_per_seq; i++)
            seq->swa_table[i] = s * ring + i % ring;
    }
    /* Highest first, so blocks are handed out in increasing order. */
    for (uint32_t b = 0; b < cache->n_blocks; b++) cache->free_blocks[b] = cache->n_blocks - 1 - b;
    cache->n_free = cache->n_blocks;
    return TINFER_OK;
}

/* Decides the ring and which layers keep it. */
static tinfer_status plan_ring(tf_kv_cache *cache, const tf_kv_config *config) {
    cache->layer_in_ring = calloc(config->n_layer, sizeof *cache->layer_in_ring);
    if (!cache->layer_in_ring) return tf_error(TINFER_E_NOMEM, "kv cache: out of memory");
    bool any_swa = false;
    for (uint32_t l = 0; config->layer_is_swa && l < config->n_layer; l++)
        any_swa = any_swa || config->layer_is_swa[l];
    if (!any_swa || config->window == 0 || config->swa_full) return TINFER_OK;
    cache->ring_blocks = tf_kv_ring_blocks(config->window, config->n_batch, cache->blocks_per_seq);
    for (uint32_t l = 0; cache->ring_blocks && l < config->n_layer; l++)
        cache->layer_in_ring[l] = config->layer_is_swa[l];
    return TINFER_OK;
}

tinfer_status tf_kv_init(tf_kv_cache *cache, const tf_kv_config *config) {
    *cache = (tf_kv_cache){.n_layer = config->n_layer,
                           .n_ctx = config->n_ctx,
                           .n_seq_max = config->n_seq_max,
                           .window = config->window};
    cache->blocks_per_seq = (config->n_ctx + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    uint64_t n_blocks;
    if (!tinfer_mul_u64(cache->blocks_per_seq, config->n_seq_max, &n_blocks) ||
        n_blocks > UINT32_MAX / TF_KV_BLOCK_TOKENS)
        return tf_error(TINFER_E_INVALID_ARG, "kv cache: n_ctx × n_seq_max is too large");
    /* A budget never needs more: every sequence full, nothing shared. */
    if (config->n_pool_tokens) {
        const uint64_t budget =
            ((uint64_t)config->n_pool_tokens + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
        if (budget > n_blocks)
            return tf_error(TINFER_E_INVALID_ARG,
                            "kv cache: a pool of %u tokens exceeds n_seq_max × n_ctx = %" PRIu64,
                            config->n_pool_tokens, n_blocks * TF_KV_BLOCK_TOKENS);
        n_blocks = budget;
    }
    cache->n_blocks = (uint32_t)n_blocks;
    tinfer_status status = plan_ring(cache, config);
    if (status != TINFER_OK) return status;
    return init_tables(cache);
}

void tf_kv_free(tf_kv_cache *cache) {
    free(cache->layer_in_ring);
    if (cache->seqs)
        for (uint32_t s = 0; s < cache->n_seq_max; s++) {
            free(cache->seqs[s].block_table);
            free(cache->seqs[s].swa_table);
        }
    free(cache->seqs);
    free(cache->free_blocks);
    free(cache->block_refs);
    *cache = (tf_kv_cache){0};
}

const uint32_t *tf_kv_swa_table(const tf_kv_cache *cache, uint32_t seq) {
    const tf_kv_seq *s = &cache->seqs[seq];
    return s->swa_table ? s->swa_table : s->block_table;
}

/* A free block, now held by one sequence. */
static uint32_t take_block(tf_kv_cache *cache) {
    const uint32_t b = cache->free_blocks[--cache->n_free];
    cache->block_refs[b] = 1;
    return b;
}

/* One reference fewer; the block is free when none is left. */
static void drop_block(tf_kv_cache *cache, uint32_t b) {
    if (--cache->block_refs[b] == 0) cache->free_blocks[cache->n_free++] = b;
}

tinfer_status tf_kv_reserve(tf_kv_cache *cache, uint32_t seq, uint32_t n_new,
                            tf_kv_block_copy *copy) {
    tf_kv_seq *s = &cache->seqs[seq];
    *copy = (tf_kv_block_copy){.src_block = TF_KV_NO_BLOCK, .dst_block = TF_KV_NO_BLOCK};
    if (n_new > cache->n_ctx - s->n_tokens)
        return tf_error(TINFER_E_CONTEXT_FULL,
                        "sequence %u holds %u tokens; %u more exceed n_ctx = %u", seq, s->n_tokens,
                        n_new, cache->n_ctx);
    const uint32_t need = (s->n_tokens + n_new + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    /* Full blocks are never written again; a partly filled last block is written from row
     * n_tokens mod 32 on, which another holder of it may still read. */
    const uint32_t partial = s->n_tokens % TF_KV_BLOCK_TOKENS;
    const uint32_t last = s->n_tokens / TF_KV_BLOCK_TOKENS;
    const bool cow = n_new > 0 && partial > 0 && cache->block_refs[s->block_table[last]] > 1;
    const uint32_t fresh = (need > s->n_blocks ? need - s->n_blocks : 0) + (cow ? 1 : 0);
    if (fresh > cache->n_free)
        return tf_error(TINFER_E_CONTEXT_FULL,
                        "kv cache: sequence %u needs %u more blocks of %d tokens but %u of the "
                        "pool's %u are free",
                        seq, fresh, TF_KV_BLOCK_TOKENS, cache->n_free, cache->n_blocks);
    if (cow) {
        const uint32_t shared = s->block_table[last];
        s->block_table[last] = take_block(cache);
        cache->block_refs[shared]--; /* was > 1: still held by another sequence */
        s->cow_from = shared;
        *copy = (tf_kv_block_copy){
            .src_block = shared, .dst_block = s->block_table[last], .n_rows = partial};
    }
    while (s->n_blocks < need) s->block_table[s->n_blocks++] = take_block(cache);
    return TINFER_OK;
}

/* Drops the blocks past what seq's length needs. */
static void release_past_length(tf_kv_cache *cache, tf_kv_seq *s) {
    const uint32_t need = (s->n_tokens + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    while (s->n_blocks > need) drop_block(cache, s->block_table[--s->n_blocks]);
}

void tf_kv_release_unused(tf_kv_cache *cache, uint32_t seq) {
    tf_kv_seq *s = &cache->seqs[seq];
    if (s->cow_from != TF_KV_NO_BLOCK) {
        /* The fresh block was the sequence's alone; the rows written into it are dropped. */
        uint32_t *entry = &s->block_table[s->n_tokens / TF_KV_BLOCK_TOKENS];
        drop_block(cache, *entry);
        *entry = s->cow_from;
        cache->block_refs[s->cow_from]++;
        s->cow_from = TF_KV_NO_BLOCK;
    }
    release_past_length(cache, s);
}

void tf_kv_set_len(tf_kv_cache *cache, uint32_t seq, uint32_t n_tokens) {
    tf_kv_seq *s = &cache->seqs[seq];
    s->cow_from = TF_KV_NO_BLOCK;
    s->n_tokens = n_tokens;
    /* Every length is set after its rows are written, so the most ever set is how far the ring
     * was written; clearing starts it afresh. */
    if (n_tokens == 0) s->n_tokens_reached = 0;
    else if (n_tokens > s->n_tokens_reached) s->n_tokens_reached = n_tokens;
    release_past_length(cache, s);
}

void tf_kv_fork(tf_kv_cache *cache, uint32_t src, uint32_t dst) {
    if (src == dst) return;
    tf_kv_set_len(cache, dst, 0);
    const tf_kv_seq *from = &cache->seqs[src];
    tf_kv_seq *to = &cache->seqs[dst];
    for (uint32_t i = 0; i < from->n_blocks; i++) {
        to->block_table[i] = from->block_table[i];
        cache->block_refs[from->block_table[i]]++;
    }
    to->n_blocks = from->n_blocks;
    to->n_tokens = from->n_tokens;
    to->n_tokens_reached = from->n_tokens_reached;
}

uint64_t tf_kv_free_tokens(const tf_kv_cache *cache) {
    return (uint64_t)cache->n_free * TF_KV_BLOCK_TOKENS;
}

uint32_t tf_kv_seq_own_blocks(const tf_kv_cache *cache, uint32_t seq) {
    const tf_kv_seq *s = &cache->seqs[seq];
    uint32_t own = 0;
    for (uint32_t i = 0; i < s->n_blocks; i++) own += cache->block_refs[s->block_table[i]] == 1;
    return own;
}
