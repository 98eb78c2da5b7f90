/* One element of a weight row in any GGUF block format, decoded as quant/dequant_*.c decodes it:
 * the CUDA kernels' view of the file's bytes (weights are uploaded in their file dtype and
 * widened inside the kernels, never expanded in device memory).
 *
 * Written in the subset of C that nvcc also compiles for the device (TFC_HD): the host build
 * compiles the same functions, so tests/unit/test_cuda_quant.c holds every decoder, bit for bit,
 * to the reference dequantizers on any machine — with or without a GPU — and only the kernels
 * around them need a device to be tried.
 *
 * Fields are read byte by byte: a tensor's blocks sit wherever the file put them (a Q8_0 block is
 * 34 bytes, so its codes are never 4-byte aligned), and the device copy keeps the file's offsets.
 * Offsets below are ggml's layouts (quant/blocks.h); the test checks each against those structs. */
#ifndef TINFER_BACKEND_CUDA_CUDA_QUANT_H
#define TINFER_BACKEND_CUDA_CUDA_QUANT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tinfer/tinfer.h"

#ifdef __CUDACC__
#define TFC_HD static __host__ __device__ __forceinline__
#else
#define TFC_HD static inline
#endif

/* Block bytes and field offsets, per format (TFC_<FORMAT>_<FIELD>). */
enum {
    TFC_Q4_0_BYTES = 18,
    TFC_Q4_0_QS = 2,
    TFC_Q4_1_BYTES = 20,
    TFC_Q4_1_M = 2,
    TFC_Q4_1_QS = 4,
    TFC_Q5_0_BYTES = 22,
    TFC_Q5_0_QH = 2,
    TFC_Q5_0_QS = 6,
    TFC_Q5_1_BYTES = 24,
    TFC_Q5_1_M = 2,
    TFC_Q5_1_QH = 4,
    TFC_Q5_1_QS = 8,
    TFC_Q8_0_BYTES = 34,
    TFC_Q8_0_QS = 2,
    TFC_Q2_K_BYTES = 84,
    TFC_Q2_K_SCALES = 0,
    TFC_Q2_K_QS = 16,
    TFC_Q2_K_D = 80,
    TFC_Q2_K_DMIN = 82,
    TFC_Q3_K_BYTES = 110,
    TFC_Q3_K_HMASK = 0,
    TFC_Q3_K_QS = 32,
    TFC_Q3_K_SCALES = 96,
    TFC_Q3_K_D = 108,
    TFC_Q4_K_BYTES = 144,
    TFC_Q4_K_DMIN = 2,
    TFC_Q4_K_SCALES = 4,
    TFC_Q4_K_QS = 16,
    TFC_Q5_K_BYTES = 176,
    TFC_Q5_K_DMIN = 2,
    TFC_Q5_K_SCALES = 4,
    TFC_Q5_K_QH = 16,
    TFC_Q5_K_QS = 48,
    TFC_Q6_K_BYTES = 210,
    TFC_Q6_K_QL = 0,
    TFC_Q6_K_QH = 128,
    TFC_Q6_K_SCALES = 192,
    TFC_Q6_K_D = 208
};

TFC_HD uint32_t tfc_u16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

TFC_HD uint32_t tfc_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

TFC_HD float tfc_bits_to_f32(uint32_t bits) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(bits);
#else
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
#endif
}

TFC_HD uint32_t tfc_clz32(uint32_t x) { /* x != 0 */
#ifdef __CUDA_ARCH__
    return (uint32_t)__clz((int)x);
#else
    return (uint32_t)__builtin_clz(x);
#endif
}

/* IEEE half to float, exactly as tf_f16_to_f32 (NaN payloads kept, not quieted). */
TFC_HD float tfc_f16(uint32_t half) {
    const uint32_t sign = (half & 0x8000u) << 16, exponent = (half >> 10) & 0x1Fu;
    uint32_t mantissa = half & 0x3FFu;
    if (exponent == 0x1Fu) return tfc_bits_to_f32(sign | 0x7F800000u | (mantissa << 13));
    if (exponent != 0) return tfc_bits_to_f32(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    if (mantissa == 0) return tfc_bits_to_f32(sign);
    const uint32_t shift = tfc_clz32(mantissa) - 21u;
    mantissa = (mantissa << shift) & 0x3FFu;
    return tfc_bits_to_f32(sign | ((113u - shift) << 23) | (mantissa << 13));
}

TFC_HD float tfc_bf16(uint32_t bf16) { return tfc_bits_to_f32(bf16 << 16); }

/* a · b + c and a · b − c rounded after each operation, as the reference (compiled without
 * contraction) rounds them: nvcc would otherwise fuse them into one FMA on the device. */
TFC_HD float tfc_mul_add(float a, float b, float c) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(__fmul_rn(a, b), c);
#else
    return a * b + c;
#endif
}

TFC_HD float tfc_mul_sub(float a, float b, float c) {
#ifdef __CUDA_ARCH__
    return __fsub_rn(__fmul_rn(a, b), c);
#else
    return a * b - c;
#endif
}

/* ---- 32-element formats: element j < 16 the low nibble of qs[j], j + 16 its high nibble ---- */

TFC_HD int tfc_nibble(const uint8_t *qs, uint32_t j) {
    return j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
}

TFC_HD float tfc_q4_0(const uint8_t *b, uint32_t j) {
    return (float)(tfc_nibble(b + TFC_Q4_0_QS, j) - 8) * tfc_f16(tfc_u16(b));
}

TFC_HD float tfc_q4_1(const uint8_t *b, uint32_t j) {
    return tfc_mul_add((float)tfc_nibble(b + TFC_Q4_1_QS, j), tfc_f16(tfc_u16(b)),
                       tfc_f16(tfc_u16(b + TFC_Q4_1_M)));
}

/* bit j of the little-endian u32 qh is bit 4 of element j */
TFC_HD int tfc_q5_code(const uint8_t *qs, const uint8_t *qh, uint32_t j) {
    return tfc_nibble(qs, j) | (int)((tfc_u32(qh) >> j) & 1u) << 4;
}

TFC_HD float tfc_q5_0(const uint8_t *b, uint32_t j) {
    return (float)(tfc_q5_code(b + TFC_Q5_0_QS, b + TFC_Q5_0_QH, j) - 16) * tfc_f16(tfc_u16(b));
}

TFC_HD float tfc_q5_1(const uint8_t *b, uint32_t j) {
    return tfc_mul_add((float)tfc_q5_code(b + TFC_Q5_1_QS, b + TFC_Q5_1_QH, j), tfc_f16(tfc_u16(b)),
                       tfc_f16(tfc_u16(b + TFC_Q5_1_M)));
}

TFC_HD float tfc_q8_0(const uint8_t *b, uint32_t j) {
    return (float)(int8_t)b[TFC_Q8_0_QS + j] * tfc_f16(tfc_u16(b));
}

/* ---- 256-element super-blocks (the layouts are spelled out in quant/dequant_kquants.c) ---- */

/* Q2_K and Q3_K: element j's 2 low bits, qs[32(j / 128) + j % 32] at bit 2((j % 128) / 32). */
TFC_HD int tfc_k_low2(const uint8_t *qs, uint32_t j) {
    return (qs[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3;
}

TFC_HD float tfc_q2_k(const uint8_t *b, uint32_t j) {
    const uint32_t scales = b[TFC_Q2_K_SCALES + j / 16];
    const float scale = tfc_f16(tfc_u16(b + TFC_Q2_K_D)) * (float)(scales & 0x0F);
    const float min = tfc_f16(tfc_u16(b + TFC_Q2_K_DMIN)) * (float)(scales >> 4);
    return tfc_mul_sub((float)tfc_k_low2(b + TFC_Q2_K_QS, j), scale, min);
}

TFC_HD float tfc_q3_k(const uint8_t *b, uint32_t j) {
    const uint8_t *scales = b + TFC_Q3_K_SCALES;
    const uint32_t sub = j / 16;
    const int low = sub < 8 ? scales[sub] & 0x0F : scales[sub - 8] >> 4;
    const int high = (scales[8 + sub % 4] >> (2 * (sub / 4))) & 3;
    const float scale = tfc_f16(tfc_u16(b + TFC_Q3_K_D)) * (float)((low | high << 4) - 32);
    const bool keep = (b[TFC_Q3_K_HMASK + j % 32] >> (j / 32)) & 1;
    return (float)(tfc_k_low2(b + TFC_Q3_K_QS, j) - (keep ? 0 : 4)) * scale;
}

/* Q4_K/Q5_K's 6-bit scale and min of sub-block sub (quant/kquant_scales.h). */
TFC_HD void tfc_k4_scale_min(const uint8_t *scales, uint32_t sub, int *scale, int *min) {
    if (sub < 4) {
        *scale = scales[sub] & 63;
        *min = scales[sub + 4] & 63;
    } else {
        *scale = (scales[sub + 4] & 0x0F) | ((scales[sub - 4] >> 6) << 4);
        *min = (scales[sub + 4] >> 4) | ((scales[sub] >> 6) << 4);
    }
}

/* Q4_K and Q5_K: sub-blocks 2c and 2c + 1 are the low and high nibbles of qs[32c .. 32c + 31]. */
TFC_HD float tfc_k4_element(const uint8_t *b, uint32_t j, int code) {
    int sc, m;
    tfc_k4_scale_min(b + TFC_Q4_K_SCALES, j / 32, &sc, &m);
    const float scale = tfc_f16(tfc_u16(b)) * (float)sc;
    const float min = tfc_f16(tfc_u16(b + TFC_Q4_K_DMIN)) * (float)m;
    return tfc_mul_sub((float)code, scale, min);
}

TFC_HD float tfc_q4_k(const uint8_t *b, uint32_t j) {
    const int code = (b[TFC_Q4_K_QS + 32 * (j / 64) + j % 32] >> (4 * ((j / 32) % 2))) & 0x0F;
    return tfc_k4_element(b, j, code);
}

TFC_HD float tfc_q5_k(const uint8_t *b, uint32_t j) {
    const int low = (b[TFC_Q5_K_QS + 32 * (j / 64) + j % 32] >> (4 * ((j / 32) % 2))) & 0x0F;
    const int code = low | ((b[TFC_Q5_K_QH + j % 32] >> (j / 32)) & 1) << 4;
    return tfc_k4_element(b, j, code);
}

TFC_HD float tfc_q6_k(const uint8_t *b, uint32_t j) {
    const uint32_t half = j / 128, quarter = (j % 128) / 32, l = j % 32;
    const int low =
        (b[TFC_Q6_K_QL + 64 * half + 32 * (quarter % 2) + l] >> (4 * (quarter / 2))) & 0x0F;
    const int high = (b[TFC_Q6_K_QH + 32 * half + l] >> (2 * quarter)) & 3;
    const float scale =
        tfc_f16(tfc_u16(b + TFC_Q6_K_D)) * (float)(int8_t)b[TFC_Q6_K_SCALES + j / 16];
    return (float)((low | high << 4) - 32) * scale;
}

/* ---- a row ---- */

/* X(dtype) for every dtype tfc_decode knows: the kernels' launchers instantiate one kernel each. */
#define TFC_DECODED_DTYPES(X)                                                               \
    X(TINFER_DTYPE_F32)                                                                     \
    X(TINFER_DTYPE_F16) X(TINFER_DTYPE_BF16) X(TINFER_DTYPE_Q4_0) X(TINFER_DTYPE_Q4_1)      \
        X(TINFER_DTYPE_Q5_0) X(TINFER_DTYPE_Q5_1) X(TINFER_DTYPE_Q8_0) X(TINFER_DTYPE_Q2_K) \
            X(TINFER_DTYPE_Q3_K) X(TINFER_DTYPE_Q4_K) X(TINFER_DTYPE_Q5_K) X(TINFER_DTYPE_Q6_K)

/* Elements and bytes of dtype's block (1 element for the float types); false for a dtype with
 * no decoder here. */
TFC_HD bool tfc_block_shape(int dtype, uint32_t *elems, uint32_t *bytes) {
    switch (dtype) {
    case TINFER_DTYPE_F32:
        *elems = 1;
        *bytes = 4;
        return true;
    case TINFER_DTYPE_F16:
        *elems = 1;
        *bytes = 2;
        return true;
    case TINFER_DTYPE_BF16:
        *elems = 1;
        *bytes = 2;
        return true;
    case TINFER_DTYPE_Q4_0:
        *elems = 32;
        *bytes = TFC_Q4_0_BYTES;
        return true;
    case TINFER_DTYPE_Q4_1:
        *elems = 32;
        *bytes = TFC_Q4_1_BYTES;
        return true;
    case TINFER_DTYPE_Q5_0:
        *elems = 32;
        *bytes = TFC_Q5_0_BYTES;
        return true;
    case TINFER_DTYPE_Q5_1:
        *elems = 32;
        *bytes = TFC_Q5_1_BYTES;
        return true;
    case TINFER_DTYPE_Q8_0:
        *elems = 32;
        *bytes = TFC_Q8_0_BYTES;
        return true;
    case TINFER_DTYPE_Q2_K:
        *elems = 256;
        *bytes = TFC_Q2_K_BYTES;
        return true;
    case TINFER_DTYPE_Q3_K:
        *elems = 256;
        *bytes = TFC_Q3_K_BYTES;
        return true;
    case TINFER_DTYPE_Q4_K:
        *elems = 256;
        *bytes = TFC_Q4_K_BYTES;
        return true;
    case TINFER_DTYPE_Q5_K:
        *elems = 256;
        *bytes = TFC_Q5_K_BYTES;
        return true;
    case TINFER_DTYPE_Q6_K:
        *elems = 256;
        *bytes = TFC_Q6_K_BYTES;
        return true;
    default:
        return false;
    }
}

/* Element e of a row of dtype (one tfc_block_shape knows). With dtype a constant (the kernels
 * are instantiated per dtype) the switch folds away. */
TFC_HD float tfc_decode(int dtype, const uint8_t *row, uint32_t e) {
    switch (dtype) {
    case TINFER_DTYPE_F32:
        return tfc_bits_to_f32(tfc_u32(row + 4 * (size_t)e));
    case TINFER_DTYPE_F16:
        return tfc_f16(tfc_u16(row + 2 * (size_t)e));
    case TINFER_DTYPE_BF16:
        return tfc_bf16(tfc_u16(row + 2 * (size_t)e));
    case TINFER_DTYPE_Q4_0:
        return tfc_q4_0(row + (size_t)(e / 32) * TFC_Q4_0_BYTES, e % 32);
    case TINFER_DTYPE_Q4_1:
        return tfc_q4_1(row + (size_t)(e / 32) * TFC_Q4_1_BYTES, e % 32);
    case TINFER_DTYPE_Q5_0:
        return tfc_q5_0(row + (size_t)(e / 32) * TFC_Q5_0_BYTES, e % 32);
    case TINFER_DTYPE_Q5_1:
        return tfc_q5_1(row + (size_t)(e / 32) * TFC_Q5_1_BYTES, e % 32);
    case TINFER_DTYPE_Q8_0:
        return tfc_q8_0(row + (size_t)(e / 32) * TFC_Q8_0_BYTES, e % 32);
    case TINFER_DTYPE_Q2_K:
        return tfc_q2_k(row + (size_t)(e / 256) * TFC_Q2_K_BYTES, e % 256);
    case TINFER_DTYPE_Q3_K:
        return tfc_q3_k(row + (size_t)(e / 256) * TFC_Q3_K_BYTES, e % 256);
    case TINFER_DTYPE_Q4_K:
        return tfc_q4_k(row + (size_t)(e / 256) * TFC_Q4_K_BYTES, e % 256);
    case TINFER_DTYPE_Q5_K:
        return tfc_q5_k(row + (size_t)(e / 256) * TFC_Q5_K_BYTES, e % 256);
    case TINFER_DTYPE_Q6_K:
        return tfc_q6_k(row + (size_t)(e / 256) * TFC_Q6_K_BYTES, e % 256);
    default:
        return 0.0f;
    }
}

#endif
