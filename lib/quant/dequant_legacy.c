/* The 32-element block formats Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 decoded to float32.
 *
 * Layouts: quant/blocks.h (tf_block_q4_0 …). Element j < 16 takes the low nibble of qs[j], element
 * j + 16 its high nibble; in the 5-bit formats bit j of the little-endian u32 qh is bit 4 of
 * element j.
 *
 * Arithmetic is ggml's: one float32 multiply (always exact, see dequant.h), then for Q4_1 and Q5_1
 * one float32 add, the only rounding step. */
#include <string.h>

#include "quant/blocks.h"
#include "quant/dequant.h"
#include "quant/fp16.h"

enum { LEGACY_HALF = 16 };

/* q is the integer code with its format's offset already removed. */
static void store_scaled(float *dst, int q, float d) { *dst = (float)q * d; }

static void store_scaled_plus_min(float *dst, int q, float d, float m) { *dst = (float)q * d + m; }

static uint32_t load_qh(const uint8_t qh[4]) {
    uint32_t bits;
    memcpy(&bits, qh, sizeof bits);
    return bits;
}

/* The 5-bit code of elements j and j + 16 from the low/high nibble and the qh bitmap. */
static int q5_low(const uint8_t *qs, uint32_t qh, int j) {
    return (qs[j] & 0x0F) | (int)((qh >> j) & 1u) << 4;
}
static int q5_high(const uint8_t *qs, uint32_t qh, int j) {
    return (qs[j] >> 4) | (int)((qh >> (j + LEGACY_HALF)) & 1u) << 4;
}

void tf_dequant_row_q4_0(const void *src, float *dst, uint64_t n_elems) {
    const tf_block_q4_0 *block = src;
    for (uint64_t b = 0; b < n_elems / TF_QK4_0; b++, dst += TF_QK4_0) {
        const float d = tf_f16_to_f32(block[b].d);
        const uint8_t *qs = block[b].qs;
        for (int j = 0; j < LEGACY_HALF; j++) {
            store_scaled(&dst[j], (qs[j] & 0x0F) - 8, d);
            store_scaled(&dst[j + LEGACY_HALF], (qs[j] >> 4) - 8, d);
        }
    }
}

void tf_dequant_row_q4_1(const void *src, float *dst, uint64_t n_elems) {
    const tf_block_q4_1 *block = src;
    for (uint64_t b = 0; b < n_elems / TF_QK4_1; b++, dst += TF_QK4_1) {
        const float d = tf_f16_to_f32(block[b].d), m = tf_f16_to_f32(block[b].m);
        const uint8_t *qs = block[b].qs;
        for (int j = 0; j < LEGACY_HALF; j++) {
            store_scaled_plus_min(&dst[j], qs[j] & 0x0F, d, m);
            store_scaled_plus_min(&dst[j + LEGACY_HALF], qs[j] >> 4, d, m);
        }
    }
}

void tf_dequant_row_q5_0(const void *src, float *dst, uint64_t n_elems) {
    const tf_block_q5_0 *block = src;
    for (uint64_t b = 0; b < n_elems / TF_QK5_0; b++, dst += TF_QK5_0) {
        const float d = tf_f16_to_f32(block[b].d);
        const uint32_t qh = load_qh(block[b].qh);
        const uint8_t *qs = block[b].qs;
        for (int j = 0; j < LEGACY_HALF; j++) {
            store_scaled(&dst[j], q5_low(qs, qh, j) - 16, d);
            store_scaled(&dst[j + LEGACY_HALF], q5_high(qs, qh, j) - 16, d);
        }
    }
}

void tf_dequant_row_q5_1(const void *src, float *dst, uint64_t n_elems) {
    const tf_block_q5_1 *block = src;
    for (uint64_t b = 0; b < n_elems / TF_QK5_1; b++, dst += TF_QK5_1) {
        const float d = tf_f16_to_f32(block[b].d), m = tf_f16_to_f32(block[b].m);
        const uint32_t qh = load_qh(block[b].qh);
        const uint8_t *qs = block[b].qs;
        for (int j = 0; j < LEGACY_HALF; j++) {
            store_scaled_plus_min(&dst[j], q5_low(qs, qh, j), d, m);
            store_scaled_plus_min(&dst[j + LEGACY_HALF], q5_high(qs, qh, j), d, m);
        }
    }
}

void tf_dequant_row_q8_0(const void *src, float *dst, uint64_t n_elems) {
    const tf_block_q8_0 *block = src;
    for (uint64_t b = 0; b < n_elems / TF_QK8_0; b++, dst += TF_QK8_0) {
        const float d = tf_f16_to_f32(block[b].d);
        for (int j = 0; j < TF_QK8_0; j++) store_scaled(&dst[j], block[b].qs[j], d);
    }
}
