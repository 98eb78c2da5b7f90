/* Scalar reference dequantization: a row of weight blocks in any supported dtype -> float32.
 *
 * These are the definitions every faster kernel (SIMD, CUDA, fused matvec) is tested against.
 * They follow ggml's dequantize_row_* (ggml-quants.c) in float32, and are bit-identical to ggml's C
 * reference and to the PyPI `gguf` package's numpy dequantizers (tests/unit/test_dequant.c checks
 * this on golden data). Bit-identity is robust, not luck: every product here is EXACT in float32
 * (an f16 significand has 11 bits; times a sub-block scale and a code it stays below 2^24, e.g.
 * Q6_K: 2047 * 128 * 32 < 2^23), so the only rounding is the final add/subtract of the min. Any
 * operation order, and FMA contraction, give the same bits; a SIMD variant can be held to equality
 * as long as it widens f16 exactly and does not replace a multiply by something inexact.
 *
 * Supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K.
 * Blocks are read through the packed structs of quant/blocks.h, so `src` may have any alignment
 * (GGUF tensor data is only as aligned as the file says); `dst` must be a normally aligned float
 * array. */
#ifndef TINFER_QUANT_DEQUANT_H
#define TINFER_QUANT_DEQUANT_H

#include <stdint.h>

#include "tinfer/tinfer.h"

/* Decodes n_elems elements (a whole number of blocks, unchecked) from src into dst. */
typedef void (*tf_dequant_fn)(const void *src, float *dst, uint64_t n_elems);

/* Checked entry point: E_UNSUPPORTED for a dtype with no dequantizer, E_INVALID_ARG when n_elems is
 * not a multiple of the dtype's block size or a pointer is NULL with n_elems > 0. */
tinfer_status tf_dequantize_row(tinfer_dtype dtype, const void *src, float *dst, uint64_t n_elems);

/* The block decoder of a dtype, or NULL when it has none (never index a table with a file's id
 * yourself). */
tf_dequant_fn tf_dequant_fn_of(tinfer_dtype dtype);

/* Per-dtype decoders (n_elems must be a multiple of the block size; not checked here). */
void tf_dequant_row_f32(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_f16(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_bf16(const void *src, float *dst, uint64_t n_elems);

void tf_dequant_row_q4_0(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_q4_1(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_q5_0(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_q5_1(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_q8_0(const void *src, float *dst, uint64_t n_elems);

void tf_dequant_row_q2_k(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_q3_k(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_q4_k(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_q5_k(const void *src, float *dst, uint64_t n_elems);
void tf_dequant_row_q6_k(const void *src, float *dst, uint64_t n_elems);

#endif
