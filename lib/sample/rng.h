/* The sampler's random numbers: xoshiro256** seeded through splitmix64 (Vigna, public domain),
 * chosen so one seed gives the same stream on every platform and compiler. */
#ifndef TINFER_SAMPLE_RNG_H
#define TINFER_SAMPLE_RNG_H

#include <stdint.h>

typedef struct tf_rng {
    uint64_t state[4];
} tf_rng;

/* Fills the four state words with successive splitmix64 outputs of seed (never all zero). */
void tf_rng_seed(tf_rng *rng, uint64_t seed);
/* The next 64 random bits. */
uint64_t tf_rng_next(tf_rng *rng);
/* 64 bits from the operating system's entropy source (getrandom, else /dev/urandom, else the
 * clock mixed with an address), never UINT64_MAX (TINFER_SEED_RANDOM). */
uint64_t tf_rng_os_seed(void);
/* A uniform double in [0, 1): the top 53 bits of tf_rng_next scaled by 2^-53. */
double tf_rng_uniform(tf_rng *rng);

#endif
