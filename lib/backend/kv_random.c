/* The benchmarks' random KV rows, shared by the backends' fills (kv_random.h). */
#include "backend/kv_random.h"

#include <string.h>

#include "backend/cpu/cpu_qdot.h"
#include "core/splitmix64.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

/* Mean 0, standard deviation 1, roughly normal: the sum of four 16-bit uniforms (Irwin–Hall),
 * centred and scaled. Cheap enough to fill 10^8 elements in well under a second. */
static float unit_random(uint64_t *state) {
    const uint64_t r = tf_splitmix64(state);
    const uint32_t sum = (uint32_t)(r & 0xFFFF) + (uint32_t)((r >> 16) & 0xFFFF) +
                         (uint32_t)((r >> 32) & 0xFFFF) + (uint32_t)(r >> 48);
    /* sum / 65536 has mean 2 and variance 4/12; × sqrt(3) gives variance 1. */
    return ((float)sum * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

/* Each row's numbers depend on (seed, seq, layer, position) only, so a position holds the same
 * row whichever positions around it are written (the sliding-window ring writes fewer). */
uint64_t tf_kv_random_seed(uint64_t seed, uint32_t seq, uint32_t layer, uint32_t pos) {
    uint64_t state = seed ^ ((uint64_t)seq << 32);
    state = tf_splitmix64(&state) ^ layer;
    state = tf_splitmix64(&state) ^ pos;
    return tf_splitmix64(&state);
}

void tf_kv_random_row(tinfer_dtype dtype, uint8_t *row, uint32_t n_elems, uint64_t *state) {
    if (dtype == TINFER_DTYPE_Q8_0) {
        /* the quantizer of the CPU cache's writes (ggml's), block by block */
        for (uint32_t b = 0; b < n_elems / TF_QK8_0; b++) {
            float x[TF_QK8_0];
            for (int i = 0; i < TF_QK8_0; i++) x[i] = unit_random(state);
            tf_cpu_quantize_q8_0_blocks(x, TF_QK8_0, row + b * sizeof(tf_block_q8_0));
        }
        return;
    }
    for (uint32_t i = 0; i < n_elems; i++) {
        const float x = unit_random(state);
        if (dtype == TINFER_DTYPE_F16) {
            const uint16_t half = tf_f32_to_f16(x);
            memcpy(row + 2 * (size_t)i, &half, sizeof half);
        } else {
            memcpy(row + 4 * (size_t)i, &x, sizeof x);
        }
    }
}
