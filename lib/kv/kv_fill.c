/* Synthetic cache contents for benchmarks: random keys and values at positions [0, n) of one
 * sequence, so a decode step can be timed at position n without running n tokens of prefill. */
#include "kv/kv_fill.h"

#include <string.h>

#include "core/error.h"
#include "kv/kv_ring.h"
#include "quant/fp16.h"

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Mean 0, standard deviation 1, roughly normal: the sum of four 16-bit uniforms (Irwin–Hall),
 * centred and scaled. Cheap enough to fill 10^8 elements in well under a second. */
static float unit_random(uint64_t *state) {
    const uint64_t r = splitmix64(state);
    const uint32_t sum = (uint32_t)(r & 0xFFFF) + (uint32_t)((r >> 16) & 0xFFFF) +
                         (uint32_t)((r >> 32) & 0xFFFF) + (uint32_t)(r >> 48);
    /* sum / 65536 has mean 2 and variance 4/12; × sqrt(3) gives variance 1. */
    return ((float)sum * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

static void fill_row(void *row, tinfer_dtype dtype, uint32_t n_elems, uint64_t *state) {
    if (dtype == TINFER_DTYPE_F16) {
        uint16_t *half = row;
        for (uint32_t i = 0; i < n_elems; i++) half[i] = tf_f32_to_f16(unit_random(state));
    } else {
        float *full = row;
        for (uint32_t i = 0; i < n_elems; i++) full[i] = unit_random(state);
    }
}

/* Address of the row of position pos in storage base (the layout cpu_attention.c reads). */
static void *row_at(const tf_kv_layer *layer, void *base, uint32_t row_elems,
                    const uint32_t *block_table, uint32_t pos) {
    const size_t elem_bytes = layer->dtype == TINFER_DTYPE_F16 ? 2 : 4;
    const size_t slot = (size_t)block_table[pos / layer->block_tokens] * layer->block_tokens +
                        pos % layer->block_tokens;
    return (uint8_t *)base + slot * row_elems * elem_bytes;
}

/* Each row's numbers depend on (seed, seq, layer, position) only, so a position holds the same
 * row whichever positions around it are written (the sliding-window ring writes fewer). */
static uint64_t row_seed(uint64_t seed, uint32_t seq, uint32_t layer, uint32_t pos) {
    uint64_t state = seed ^ ((uint64_t)seq << 32);
    state = splitmix64(&state) ^ layer;
    state = splitmix64(&state) ^ pos;
    return splitmix64(&state);
}

tinfer_status tf_kv_fill_random(tf_kv_cache *cache, uint32_t seq, uint32_t n, uint64_t seed) {
    tf_kv_seq *s = &cache->seqs[seq];
    if (n > cache->n_ctx)
        return tf_error(TINFER_E_CONTEXT_FULL, "kv fill: %u positions exceed n_ctx = %u", n,
                        cache->n_ctx);
    if (n > s->n_tokens) {
        tinfer_status status = tf_kv_reserve(cache, seq, n - s->n_tokens);
        if (status != TINFER_OK) return status;
    }
    /* A ring keeps only its last blocks of [0, n); writing the rest would be overwritten. */
    const uint32_t ring_first = tf_kv_ring_first_kept(cache, n);
    for (uint32_t l = 0; l < cache->n_layer; l++) {
        const tf_kv_layer *layer = &cache->layers[l];
        const uint32_t *table = tf_kv_layer_table(cache, l, seq);
        for (uint32_t pos = cache->layer_in_ring[l] ? ring_first : 0; pos < n; pos++) {
            uint64_t state = row_seed(seed, seq, l, pos);
            fill_row(row_at(layer, layer->k, layer->k_row_elems, table, pos), layer->dtype,
                     layer->k_row_elems, &state);
            fill_row(row_at(layer, layer->v, layer->v_row_elems, table, pos), layer->dtype,
                     layer->v_row_elems, &state);
        }
    }
    tf_kv_set_len(cache, seq, n);
    /* The ring now holds [ring_first, n) as if the sequence had run straight to n. */
    s->n_tokens_reached = n;
    return TINFER_OK;
}
