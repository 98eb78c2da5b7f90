/* Prefix cache: the KV of finished requests, kept in sequences of their own so that a new prompt
 * that begins the same way forks it instead of prefilling.
 *
 * An entry is a context sequence (ids first_seq .. first_seq + n_entries - 1) holding a finished
 * request's tokens (prompt and output, as far as they reached the cache), with the chained hash
 * of each of its full 32-token blocks: block i's hash is FNV-1a over tokens [0, 32(i+1)), so
 * equal hashes at i mean (barring a collision, ruled out by comparing the tokens) equal prefixes
 * through block i. Entries are made with tinfer_kv_seq_copy, which shares the pool's blocks, so
 * keeping one costs a sequence slot, not pool space, until the request's own sequence is
 * reused; then the entry alone holds them. Eviction is least recently used (stored or hit). */
#ifndef TINFER_SERVER_PREFIX_CACHE_H
#define TINFER_SERVER_PREFIX_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinfer/tinfer.h"

#define PREFIX_BLOCK_TOKENS 32 /* the library's KV block (tinfer/context.h) */

typedef struct prefix_cache prefix_cache;

/* One sequence a prompt could fork: how many leading tokens (whole blocks) it shares with the
 * prompt, and up to where its rows are the bits a fresh prefill in aligned chunks computes. */
typedef struct prefix_match {
    int32_t seq;
    size_t n_shared; /* a multiple of PREFIX_BLOCK_TOKENS */
    size_t n_exact;
} prefix_match;

/* hashes[i] = the chained hash of tokens [0, 32(i+1)), for the n / 32 full blocks. */
void prefix_hash(const int32_t *tokens, size_t n, uint64_t *hashes);

/* Whole blocks two token histories share, by their hashes, confirmed on the tokens. */
size_t prefix_shared(const int32_t *a, const uint64_t *a_hashes, size_t n_a, const int32_t *b,
                     const uint64_t *b_hashes, size_t n_b);

/* n_entries sequences from first_seq, each of up to n_ctx tokens. NULL when memory ran out. */
prefix_cache *prefix_cache_create(int32_t first_seq, size_t n_entries, size_t n_ctx);
void prefix_cache_free(prefix_cache *pc);

/* Keeps what sequence src holds — its first n_tokens tokens are head[0..n_head) then
 * tail[0..) — as an entry: a free one, else the least recently used one is evicted. n_exact is
 * carried to matches. False (nothing kept) when there is no entry to use or the copy failed. */
bool prefix_cache_store(prefix_cache *pc, tinfer_context *ctx, int32_t src, const int32_t *head,
                        size_t n_head, const int32_t *tail, size_t n_tokens, size_t n_exact);

/* Clears the least recently used entry; false when none is held. */
bool prefix_cache_evict(prefix_cache *pc, tinfer_context *ctx);

/* Appends to out (room for every entry) each entry sharing at least one whole block with
 * prompt (hashes: prefix_hash of it); returns how many. */
size_t prefix_cache_matches(const prefix_cache *pc, const int32_t *prompt,
                            const uint64_t *hashes, size_t n_prompt, prefix_match *out);

/* The entry in seq was just used: it becomes the most recently used. */
void prefix_cache_touch(prefix_cache *pc, int32_t seq);

/* Entries held. */
size_t prefix_cache_count(const prefix_cache *pc);

#endif
