/* Half-precision (IEEE binary16) and bfloat16 to and from float32, exactly, in portable C.
 *
 * Integer bit manipulation only (no F16C, no _Float16), so every compiler and CPU gives the same
 * bits. Widening (f16/bf16 -> f32) is exact for every input, subnormals included; NaNs keep their
 * sign and payload and are NOT quieted (hardware converters such as vcvtph2ps quiet signalling
 * NaNs; ggml's portable C path quiets them too). Narrowing (f32 -> f16/bf16) rounds to nearest,
 * ties to even, overflows to infinity, and turns every NaN into a quiet NaN with the same sign and
 * the top payload bits — the same results as ggml's GGML_FP32_TO_FP16 / GGML_FP32_TO_BF16. */
#ifndef TINFER_QUANT_FP16_H
#define TINFER_QUANT_FP16_H

#include <stdint.h>
#include <string.h>

static inline float tf_f32_from_bits(uint32_t bits) {
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static inline uint32_t tf_f32_to_bits(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static inline float tf_f16_to_f32(uint16_t half) {
    const uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
    const uint32_t exponent = (half >> 10) & 0x1Fu;
    uint32_t mantissa = half & 0x3FFu;
    if (exponent == 0x1Fu) return tf_f32_from_bits(sign | 0x7F800000u | (mantissa << 13));
    /* Rebias 15 -> 127: add 112 to the exponent field. */
    if (exponent != 0) return tf_f32_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    if (mantissa == 0) return tf_f32_from_bits(sign);
    /* Subnormal half mantissa * 2^-24: every one is a normal float. Shift the leading 1 up to bit
     * 10 (the implicit bit) and lower the exponent of 2^-14 (field 113) by the same amount. */
    const uint32_t shift = (uint32_t)__builtin_clz(mantissa) - 21u;
    mantissa = (mantissa << shift) & 0x3FFu;
    return tf_f32_from_bits(sign | ((113u - shift) << 23) | (mantissa << 13));
}

static inline uint16_t tf_f32_to_f16(float value) {
    const uint32_t bits = tf_f32_to_bits(value);
    const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) /* NaN: force the quiet bit so a payload never becomes inf */
        return (uint16_t)(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
    /* 65520 lies halfway between 65504 (largest half, odd mantissa) and 2^16: ties-to-even rounds
     * up */
    if (magnitude >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);
    if (magnitude >= 0x38800000u) { /* normal half (>= 2^-14): round the 13 dropped bits */
        const uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
        return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13)); /* rebias 127 -> 15 */
    }
    /* Subnormal half, in units of 2^-24; 2^-25 itself is a tie that goes to even (zero). */
    if (magnitude <= 0x33000000u) return sign;
    const uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126u - (magnitude >> 23); /* 14..24 here */
    uint32_t units = significand >> shift;
    const uint32_t remainder = significand & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (units & 1u))) units++;
    return (uint16_t)(sign | units); /* rounding up to 0x400 yields the smallest normal: correct */
}

static inline float tf_bf16_to_f32(uint16_t bf16) { return tf_f32_from_bits((uint32_t)bf16 << 16); }

static inline uint16_t tf_f32_to_bf16(float value) {
    const uint32_t bits = tf_f32_to_bits(value);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((bits >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

/* A little-endian half stored at any address (block fields in a mapped file are unaligned). */
static inline float tf_f16_load(const uint8_t *bytes) {
    return tf_f16_to_f32((uint16_t)(bytes[0] | (bytes[1] << 8)));
}

#endif
