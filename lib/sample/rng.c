/* xoshiro256** and its splitmix64 seeding, as published at https://prng.di.unimi.it/. */
#include "sample/rng.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include "core/splitmix64.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void tf_rng_seed(tf_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->state[i] = tf_splitmix64(&x);
}

uint64_t tf_rng_next(tf_rng *rng) {
    uint64_t *s = rng->state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double tf_rng_uniform(tf_rng *rng) { return (double)(tf_rng_next(rng) >> 11) * 0x1.0p-53; }

static bool os_bytes(uint64_t *out) {
#if defined(__linux__)
    if (getrandom(out, sizeof *out, 0) == (ssize_t)sizeof *out) return true;
#endif
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f) return false;
    const bool ok = fread(out, sizeof *out, 1, f) == 1;
    fclose(f);
    return ok;
}

uint64_t tf_rng_os_seed(void) {
    uint64_t seed = 0;
    if (!os_bytes(&seed)) {
        /* No entropy source: the clock and an address, mixed (varied, not unpredictable). */
        struct timespec ts;
        timespec_get(&ts, TIME_UTC);
        uint64_t x = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                     (uint64_t)(uintptr_t)&seed;
        seed = tf_splitmix64(&x);
    }
    return seed == UINT64_MAX ? seed - 1 : seed;
}
