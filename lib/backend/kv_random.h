/* The benchmarks' random KV rows (tinfer_kv_seq_fill_random): each row's numbers depend on (seed,
 * seq, layer, position) only, made on the host in the cache's dtype, so every backend's fill holds
 * the same rows (the CPU's writes them in place, the CUDA one uploads them). */
#ifndef TINFER_BACKEND_KV_RANDOM_H
#define TINFER_BACKEND_KV_RANDOM_H

#include <stdint.h>

#include "tinfer/tinfer.h"

/* The generator state of one position's K row then V row. */
uint64_t tf_kv_random_seed(uint64_t seed, uint32_t seq, uint32_t layer, uint32_t pos);

/* n_elems numbers of mean 0 and standard deviation 1 (roughly normal) into row, stored as dtype
 * (F32, F16, or Q8_0 quantized as the cache's writes are), advancing state. */
void tf_kv_random_row(tinfer_dtype dtype, uint8_t *row, uint32_t n_elems, uint64_t *state);

#endif
