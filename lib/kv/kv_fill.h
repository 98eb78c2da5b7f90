/* Random cache contents for benchmarking decode at a given position. */
#ifndef TINFER_KV_KV_FILL_H
#define TINFER_KV_KV_FILL_H

#include "kv/kv_cache.h"

/* Writes random keys and values (mean 0, standard deviation 1, roughly normal; F16 or F32 as the
 * cache holds) at positions [0, n) of seq and sets its length to n, taking or returning blocks;
 * layers in the sliding-window ring get only the positions it keeps. A row depends on (seed, seq,
 * layer, position) alone, so a ring and full storage hold the same rows where both hold one.
 * Writes the storage directly, so it needs a backend whose memory the host can address (the CPU
 * one). E_CONTEXT_FULL, with nothing changed, when n passes n_ctx or the pool runs out. */
tinfer_status tf_kv_fill_random(tf_kv_cache *cache, uint32_t seq, uint32_t n, uint64_t seed);

#endif
