/* The 32-element block formats Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 decoded to float32.
 *
 * Byte layouts (ggml-common.h; f16 fields little-endian, any alignment):
 *   Q4_0 (18 B): f16 d, u8 qs[16]                    x = d * (q - 8)
 *   Q4_1 (20 B): f16 d, f16 m, u8 qs[16]             x = d * q + m
 *   Q5_0 (22 B): f16 d, u8 qh[4], u8 qs[16]          x = d * (q - 16)
 *   Q5_1 (24 B): f16 d, f16 m, u8 qh[4], u8 qs[16]   x = d * q + m
 *   Q8_0 (34 B): f16 d, i8 qs[32]                    x = d * q
 * Element j < 16 takes the low nibble of qs[j], element j + 16 its high nibble; in the 5-bit
 * formats bit j of the little-endian u32 qh is bit 4 of element j.
 *
 * Arithmetic is ggml's: one float32 multiply (always exact, see dequant.h), then for Q4_1 and Q5_1
 * one float32 add, the only rounding step. */

#include "quant/dequant.h"
#include "quant/fp16.h"

enum { LEGACY_BLOCK_ELEMS = 32, LEGACY_HALF = 16 };
enum { Q4_0_BYTES = 18, Q4_1_BYTES = 20, Q5_0_BYTES = 22, Q5_1_BYTES = 24, Q8_0_BYTES = 34 };

static uint32_t load_u32_le(const uint8_t *bytes) {
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
           (uint32_t)bytes[3] << 24;
}

/* q is the integer code with its format's offset already removed. */
static void store_scaled(float *dst, int q, float d) { *dst = (float)q * d; }

static void store_scaled_plus_min(float *dst, int q, float d, float m) { *dst = (float)q * d + m; }

static void decode_q4_0_block(const uint8_t *block, float *dst) {
    const float d = tf_f16_load(block);
    const uint8_t *qs = block + 2;
    for (int j = 0; j < LEGACY_HALF; j++) {
        store_scaled(&dst[j], (qs[j] & 0x0F) - 8, d);
        store_scaled(&dst[j + LEGACY_HALF], (qs[j] >> 4) - 8, d);
    }
}

static void decode_q4_1_block(const uint8_t *block, float *dst) {
    const float d = tf_f16_load(block);
    const float m = tf_f16_load(block + 2);
    const uint8_t *qs = block + 4;
    for (int j = 0; j < LEGACY_HALF; j++) {
        store_scaled_plus_min(&dst[j], qs[j] & 0x0F, d, m);
        store_scaled_plus_min(&dst[j + LEGACY_HALF], qs[j] >> 4, d, m);
    }
}

/* The 5-bit code of elements j and j + 16 from the low/high nibble and the qh bitmap. */
static int q5_low(const uint8_t *qs, uint32_t qh, int j) {
    return (qs[j] & 0x0F) | (int)((qh >> j) & 1u) << 4;
}
static int q5_high(const uint8_t *qs, uint32_t qh, int j) {
    return (qs[j] >> 4) | (int)((qh >> (j + LEGACY_HALF)) & 1u) << 4;
}

static void decode_q5_0_block(const uint8_t *block, float *dst) {
    const float d = tf_f16_load(block);
    const uint32_t qh = load_u32_le(block + 2);
    const uint8_t *qs = block + 6;
    for (int j = 0; j < LEGACY_HALF; j++) {
        store_scaled(&dst[j], q5_low(qs, qh, j) - 16, d);
        store_scaled(&dst[j + LEGACY_HALF], q5_high(qs, qh, j) - 16, d);
    }
}

static void decode_q5_1_block(const uint8_t *block, float *dst) {
    const float d = tf_f16_load(block);
    const float m = tf_f16_load(block + 2);
    const uint32_t qh = load_u32_le(block + 4);
    const uint8_t *qs = block + 8;
    for (int j = 0; j < LEGACY_HALF; j++) {
        store_scaled_plus_min(&dst[j], q5_low(qs, qh, j), d, m);
        store_scaled_plus_min(&dst[j + LEGACY_HALF], q5_high(qs, qh, j), d, m);
    }
}

static void decode_q8_0_block(const uint8_t *block, float *dst) {
    const float d = tf_f16_load(block);
    const uint8_t *qs = block + 2;
    for (int j = 0; j < LEGACY_BLOCK_ELEMS; j++) store_scaled(&dst[j], (int8_t)qs[j], d);
}

/* Walks a row block by block; block_bytes is ggml's sizeof(block_*), as in dtype.c's table. */
static void decode_blocks(const void *src, float *dst, uint64_t n_elems, uint32_t block_bytes,
                          void (*decode_block)(const uint8_t *, float *)) {
    const uint8_t *block = src;
    for (uint64_t done = 0; done < n_elems; done += LEGACY_BLOCK_ELEMS) {
        decode_block(block, dst + done);
        block += block_bytes;
    }
}

void tf_dequant_row_q4_0(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q4_0_BYTES, decode_q4_0_block);
}
void tf_dequant_row_q4_1(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q4_1_BYTES, decode_q4_1_block);
}
void tf_dequant_row_q5_0(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q5_0_BYTES, decode_q5_0_block);
}
void tf_dequant_row_q5_1(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q5_1_BYTES, decode_q5_1_block);
}
void tf_dequant_row_q8_0(const void *src, float *dst, uint64_t n_elems) {
    decode_blocks(src, dst, n_elems, Q8_0_BYTES, decode_q8_0_block);
}
