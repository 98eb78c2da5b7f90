/* splitmix64 (Vigna, public domain, https://prng.di.unimi.it/): one 64-bit step of a counter
 * through a mixing function. Seeds the sampler's xoshiro256** and the benchmark's KV rows. */
#ifndef TINFER_CORE_SPLITMIX64_H
#define TINFER_CORE_SPLITMIX64_H

#include <stdint.h>

static inline uint64_t tf_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

#endif
