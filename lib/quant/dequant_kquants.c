/* The 256-element "K-quant" super-blocks Q2_K Q3_K Q4_K Q5_K Q6_K decoded to float32.
 *
 * A super-block holds 16 sub-blocks of 16 (Q2_K, Q3_K, Q6_K) or 8 of 32 (Q4_K, Q5_K), each with
 * its own small integer scale (and min) that multiplies the super-block's f16 d (and dmin).
 * Layouts: quant/blocks.h (tf_block_q2_k …).
 *
 * Arithmetic follows ggml's dequantize_row_*_K: the sub-block factors d * scale and dmin * min
 * first, then factor * code - min. All the products are exact in float32 (see dequant.h); the
 * subtraction of the min is the only rounding step. */
#include "quant/blocks.h"
#include "quant/dequant.h"
#include "quant/fp16.h"
#include "quant/kquant_scales.h"

static void store_scaled(float *dst, int q, float scale) { *dst = (float)q * scale; }

static void store_scaled_minus_min(float *dst, int q, float scale, float min) {
    *dst = (float)q * scale - min;
}

/* Q2_K: element e is 2 bits of qs[32 * (e / 128) + e % 32] at bit 2 * ((e % 128) / 32). */
static void decode_q2_k_block(const tf_block_q2_k *block, float *dst) {
    const uint8_t *scales = block->scales, *qs = block->qs;
    const float d = tf_f16_to_f32(block->d), dmin = tf_f16_to_f32(block->dmin);
    for (int sub = 0; sub < 16; sub++) {
        const float scale = d * (float)(scales[sub] & 0x0F);
        const float min = dmin * (float)(scales[sub] >> 4);
        const int first = 16 * sub;
        const uint8_t *q = qs + 32 * (first / 128) + first % 32;
        const int shift = 2 * ((first % 128) / 32);
        for (int i = 0; i < 16; i++)
            store_scaled_minus_min(&dst[first + i], (q[i] >> shift) & 3, scale, min);
    }
}

/* Q3_K's 16 signed 6-bit scales: low 4 bits in scales[0..7] (lo nibbles, then hi nibbles), the
 * top 2 bits in scales[8..11], 2 bits per sub-block, stored with an offset of 32. */
static int q3_k_scale(const uint8_t *scales, int sub) {
    const int low = sub < 8 ? scales[sub] & 0x0F : scales[sub - 8] >> 4;
    const int high = (scales[8 + sub % 4] >> (2 * (sub / 4))) & 3;
    return (low | high << 4) - 32;
}

/* Q3_K: 2 low bits laid out as in Q2_K; bit (e / 32) of hmask[e % 32] CLEAR means subtract 4. */
static void decode_q3_k_block(const tf_block_q3_k *block, float *dst) {
    const uint8_t *hmask = block->hmask, *qs = block->qs, *scales = block->scales;
    const float d = tf_f16_to_f32(block->d);
    for (int sub = 0; sub < 16; sub++) {
        const float scale = d * (float)q3_k_scale(scales, sub);
        const int first = 16 * sub;
        const uint8_t *q = qs + 32 * (first / 128) + first % 32;
        const uint8_t *hm = hmask + first % 32;
        const int shift = 2 * ((first % 128) / 32);
        const uint8_t high_bit = (uint8_t)(1u << (first / 32));
        for (int i = 0; i < 16; i++) {
            const int code = ((q[i] >> shift) & 3) - ((hm[i] & high_bit) ? 0 : 4);
            store_scaled(&dst[first + i], code, scale);
        }
    }
}

/* Q4_K: sub-blocks 2c and 2c + 1 are the low and high nibbles of qs[32c .. 32c + 31]. */
static void decode_q4_k_block(const tf_block_q4_k *block, float *dst) {
    const float d = tf_f16_to_f32(block->d), dmin = tf_f16_to_f32(block->dmin);
    const uint8_t *scales = block->scales, *qs = block->qs;
    for (int sub = 0; sub < 8; sub++) {
        int sc, m;
        tf_k4_scale_min(scales, sub, &sc, &m);
        const float scale = d * (float)sc, min = dmin * (float)m;
        const uint8_t *q = qs + 32 * (sub / 2);
        const int shift = 4 * (sub % 2);
        for (int i = 0; i < 32; i++)
            store_scaled_minus_min(&dst[32 * sub + i], (q[i] >> shift) & 0x0F, scale, min);
    }
}

/* Q5_K: Q4_K's nibbles plus bit `sub` of qh[i] as bit 4. */
static void decode_q5_k_block(const tf_block_q5_k *block, float *dst) {
    const float d = tf_f16_to_f32(block->d), dmin = tf_f16_to_f32(block->dmin);
    const uint8_t *scales = block->scales, *qh = block->qh, *qs = block->qs;
    for (int sub = 0; sub < 8; sub++) {
        int sc, m;
        tf_k4_scale_min(scales, sub, &sc, &m);
        const float scale = d * (float)sc, min = dmin * (float)m;
        const uint8_t *q = qs + 32 * (sub / 2);
        const int shift = 4 * (sub % 2);
        for (int i = 0; i < 32; i++) {
            const int code = ((q[i] >> shift) & 0x0F) | (((qh[i] >> sub) & 1) << 4);
            store_scaled_minus_min(&dst[32 * sub + i], code, scale, min);
        }
    }
}

/* Q6_K: each 128-element half n uses ql[64n .. 64n + 63] and qh[32n .. 32n + 31]; its quarter k
 * (32 elements) takes the low (k < 2) or high nibble of ql[64n + 32(k % 2) + l] and bits 2k, 2k+1
 * of qh[32n + l] as bits 4-5; codes are stored with an offset of 32. */
static void decode_q6_k_block(const tf_block_q6_k *block, float *dst) {
    const uint8_t *ql = block->ql, *qh = block->qh;
    const int8_t *scales = block->scales;
    const float d = tf_f16_to_f32(block->d);
    for (int sub = 0; sub < 16; sub++) {
        const float scale = d * (float)scales[sub];
        const int first = 16 * sub, half = first / 128, quarter = (first % 128) / 32;
        const uint8_t *low = ql + 64 * half + 32 * (quarter % 2) + first % 32;
        const uint8_t *high = qh + 32 * half + first % 32;
        const int low_shift = 4 * (quarter / 2), high_shift = 2 * quarter;
        for (int i = 0; i < 16; i++) {
            const int code = ((low[i] >> low_shift) & 0x0F) | ((high[i] >> high_shift) & 3) << 4;
            store_scaled(&dst[first + i], code - 32, scale);
        }
    }
}

/* Each row function walks its row one super-block at a time. */
#define DEQUANT_ROW(fn, type, decode_block)                  \
    void fn(const void *src, float *dst, uint64_t n_elems) { \
        const type *block = src;                             \
        for (uint64_t b = 0; b < n_elems / TF_QK_K; b++)     \
            decode_block(&block[b], dst + b * TF_QK_K);      \
    }

DEQUANT_ROW(tf_dequant_row_q2_k, tf_block_q2_k, decode_q2_k_block)
DEQUANT_ROW(tf_dequant_row_q3_k, tf_block_q3_k, decode_q3_k_block)
DEQUANT_ROW(tf_dequant_row_q4_k, tf_block_q4_k, decode_q4_k_block)
DEQUANT_ROW(tf_dequant_row_q5_k, tf_block_q5_k, decode_q5_k_block)
DEQUANT_ROW(tf_dequant_row_q6_k, tf_block_q6_k, decode_q6_k_block)
