/* The 256-element "K-quant" super-blocks Q2_K Q3_K Q4_K Q5_K Q6_K decoded to float32.
 *
 * A super-block holds 16 sub-blocks of 16 (Q2_K, Q3_K, Q6_K) or 8 of 32 (Q4_K, Q5_K), each with
 * its own small integer scale (and min) that multiplies the super-block's f16 d (and dmin).
 * Byte layouts (ggml-common.h; f16 fields little-endian, any alignment):
 *   Q2_K  (84 B): u8 scales[16] (lo nibble scale, hi nibble min), u8 qs[64], f16 d, f16 dmin
 *   Q3_K (110 B): u8 hmask[32], u8 qs[64], u8 scales[12] (16 x 6 bits), f16 d
 *   Q4_K (144 B): f16 d, f16 dmin, u8 scales[12] (8 scales + 8 mins, 6 bits), u8 qs[128]
 *   Q5_K (176 B): f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
 *   Q6_K (210 B): u8 ql[128], u8 qh[64], i8 scales[16], f16 d
 *
 * Arithmetic follows ggml's dequantize_row_*_K: the sub-block factors d * scale and dmin * min
 * first, then factor * code - min. All the products are exact in float32 (see dequant.h); the
 * subtraction of the min is the only rounding step. */
#include "quant/dequant.h"
#include "quant/fp16.h"
#include "quant/kquant_scales.h"

enum { QK_K = 256 };
enum { Q2_K_BYTES = 84, Q3_K_BYTES = 110, Q4_K_BYTES = 144, Q5_K_BYTES = 176, Q6_K_BYTES = 210 };

static void store_scaled(float *dst, int q, float scale) { *dst = (float)q * scale; }

static void store_scaled_minus_min(float *dst, int q, float scale, float min) {
    *dst = (float)q * scale - min;
}

/* Q2_K: element e is 2 bits of qs[32 * (e / 128) + e % 32] at bit 2 * ((e % 128) / 32). */
static void decode_q2_k_block(const uint8_t *block, float *dst) {
    const uint8_t *scales = block, *qs = block + 16;
    const float d = tf_f16_load(block + 80), dmin = tf_f16_load(block + 82);
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
static void decode_q3_k_block(const uint8_t *block, float *dst) {
    const uint8_t *hmask = block, *qs = block + 32, *scales = block + 96;
    const float d = tf_f16_load(block + 108);
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
static void decode_q4_k_block(const uint8_t *block, float *dst) {
    const float d = tf_f16_load(block), dmin = tf_f16_load(block + 2);
    const uint8_t *scales = block + 4, *qs = block + 16;
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
static void decode_q5_k_block(const uint8_t *block, float *dst) {
    const float d = tf_f16_load(block), dmin = tf_f16_load(block + 2);
    const uint8_t *scales = block + 4, *qh = block + 16, *qs = block + 48;
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
static void decode_q6_k_block(const uint8_t *block, float *dst) {
    const uint8_t *ql = block, *qh = block + 128, *scales = block + 192;
    const float d = tf_f16_load(block + 208);
    for (int sub = 0; sub < 16; sub++) {
        const float scale = d * (float)(int8_t)scales[sub];
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

static void decode_blocks(const void *src, float *dst, uint64_t n_elems, uint32_t block_bytes,
                          void (*decode_block)(const uint8_t *, float *)) {
    const uint8_t *block = src;
    for (uint64_t done = 0; done < n_elems; done += QK_K) {
        decode_block(block, dst + done);
        block += block_bytes;
    }
}

void tf_dequant_row_q2_k(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q2_K_BYTES, decode_q2_k_block);
}
void tf_dequant_row_q3_k(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q3_K_BYTES, decode_q3_k_block);
}
void tf_dequant_row_q4_k(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q4_K_BYTES, decode_q4_k_block);
}
void tf_dequant_row_q5_k(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q5_K_BYTES, decode_q5_k_block);
}
void tf_dequant_row_q6_k(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q6_K_BYTES, decode_q6_k_block);
}
