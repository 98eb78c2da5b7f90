/* The bodies of the CPU kernel table (cpu_kernels.h), included once per build flavour by
 * cpu_kernels_generic.c and cpu_kernels_x86_v3.c, each defining TF_KERNELS_NAME (the table's
 * variable), TF_KERNELS_LABEL (its name string) and TF_KERNELS_AVX2 (1: the AVX2 loops, 0: the
 * portable ones) first. The flavour is the includer's choice, not the compiler flags': a build
 * with -march=native still compiles the portable table as portable C, so the tests always have a
 * scalar reference to hold the SIMD loops to.
 *
 * Every float operation here mirrors one of llama.cpp's AVX2 kernels (ggml-cpu/arch/x86/quants.c,
 * repack.cpp, vec.cpp, llamafile/sgemm.cpp): the integer part of a block product is exact, so only
 * which elements share a float lane, the fused multiply-adds and the final reduction tree matter,
 * and those are reproduced exactly. Built with -ffp-contract=off: no fma but the written ones.
 *
 * cpu_kernels_avx512.c includes it too (TF_KERNELS_AVX2 1, compiled with AVX-512 VNNI): there
 * the k-quant integer sums come from VPDPBUSD and VPDPWSSD, the same integers by another route,
 * and every float operation is the AVX2 one. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/kquant_scales.h"

#if !defined(TF_KERNELS_AVX2)
#error "define TF_KERNELS_AVX2 (0 or 1) before including cpu_kernels_impl.h"
#elif TF_KERNELS_AVX2 && !(defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#error "the AVX2 kernel flavour needs -mavx2 -mfma -mf16c (lib/CMakeLists.txt)"
#endif

#if TF_KERNELS_AVX2
#include <immintrin.h>
#endif

/* A float16 block scale widened, exactly: F16C in the AVX2 builds. tf_f16_to_f32's dozen scalar
 * operations and branches per block had bound the single-row Q8_0 dot to about 10 GB/s a core on
 * Zen 3 (24 with F16C, in cache). A NaN stays NaN (F16C quiets a signalling one, as ggml's own
 * conversion does). */
static inline float k_half(uint16_t half) {
#if TF_KERNELS_AVX2
    return _cvtsh_ss(half);
#else
    return tf_f16_to_f32(half);
#endif
}

/* The legacy dots a build replaces (TF_KERNEL_Q8_0 below) go unused there. */
#define TF_MAYBE_UNUSED __attribute__((unused))

/* Rows [r0, n_rows) of a row-tile product through row kernels: `four` (NULL: none) for the
 * tokens four at a time, `one` for the rest. The rows past a table's last whole tile take it, and
 * every row where there is no packed copy to read. */
TF_MAYBE_UNUSED static void k_gemm_rows_with(const tf_qgemm_args *a, uint32_t r0, tf_qdot_fn one,
                                             tf_qdot4_fn four) {
    for (uint32_t r = r0; r < a->n_rows; r++) {
        const uint8_t *row = a->w + (size_t)r * a->row_bytes;
        uint32_t t = 0;
        for (; four && t + 4 <= a->n_tokens; t += 4) {
            const void *xs[4];
            float out[4];
            for (int i = 0; i < 4; i++) xs[i] = a->x_quant + (size_t)(t + i) * a->x_stride;
            four(row, xs, a->n_elems, out);
            for (int i = 0; i < 4; i++) a->y[(size_t)(t + i) * a->y_stride + r] = out[i];
        }
        for (; t < a->n_tokens; t++)
            a->y[(size_t)t * a->y_stride + r] =
                one(row, a->x_quant + (size_t)t * a->x_stride, a->n_elems);
    }
}

/* lane[l] = Σ a[j]·b[j] over bytes 4l..4l+3 of a 32-byte block: what _mm256_maddubs_epi16 and
 * _mm256_madd_epi16 leave in 32-bit lane l. */
static inline void lanes_i8(const int8_t *a, const int8_t *b, int32_t lane[8]) {
    for (int l = 0; l < 8; l++) {
        int32_t sum = 0;
        for (int e = 0; e < 4; e++) sum += a[4 * l + e] * b[4 * l + e];
        lane[l] = sum;
    }
}

/* One legacy block (32 signed codes q) into the 8 accumulators: acc = fma(d_w·d_x, lane, acc). */
static inline void legacy_block(const int8_t *q, const tf_q8_0_act *x, float d_w, float acc[8]) {
    int32_t lane[8];
    lanes_i8(q, x->qs, lane);
    const float d = d_w * x->d;
    for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);
}

#if TF_KERNELS_AVX2
/* The x86-64-v3 build: ggml's own AVX2 loops for the two legacy formats that dominate decode
 * (same lanes, same fma, same reduction as the portable code below, only faster). */
#include <immintrin.h>

static inline float avx_hsum8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* Eight int32 lanes of Σ x·y over 4 bytes each, as float (ggml's mul_sum_i8_pairs_float). */
static inline __m256 avx_lanes_i8(__m256i x, __m256i y) {
    const __m256i dot = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(dot, _mm256_set1_epi16(1)));
}

/* The 32 signed codes (-16..15) of a Q5_0 block, as ggml unpacks them. */
static inline __m256i avx_q5_0_codes(const tf_block_q5_0 *w) {
    const __m256i spread = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                             0x0101010101010101, 0x0000000000000000);
    uint32_t qh;
    memcpy(&qh, w->qh, sizeof qh);
    const __m128i packed = _mm_loadu_si128((const __m128i *)w->qs);
    const __m256i nibbles = _mm256_and_si256(_mm256_set1_epi8(0x0F),
                                             _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed));
    __m256i high = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), spread);
    high = _mm256_cmpeq_epi8(_mm256_or_si256(high, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe)),
                             _mm256_set1_epi64x(-1));
    /* a clear fifth bit sets the top nibble: the code minus 16 as a signed byte */
    return _mm256_or_si256(nibbles, _mm256_andnot_si256(high, _mm256_set1_epi8((char)0xF0)));
}

TF_MAYBE_UNUSED static float k_dot_q8_0(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q8_0 *w = (const void *)w_row;
    const tf_q8_0_act *x = xq;
    __m256 acc = _mm256_setzero_ps();
    for (uint32_t b = 0; b < n / TF_QK8_0; b++) {
        const __m256 d = _mm256_set1_ps(k_half(w[b].d) * x[b].d);
        const __m256i qw = _mm256_loadu_si256((const __m256i *)w[b].qs);
        const __m256i qx = _mm256_loadu_si256((const __m256i *)x[b].qs);
        acc = _mm256_fmadd_ps(d, avx_lanes_i8(qw, qx), acc);
    }
    return avx_hsum8(acc);
}

/* k_dot_q8_0 on four rows at once, each row its own chain (the same operations, the same bits).
 * One row's chain of multiply-adds, a block each, had waited on its own latency: the output head
 * of the default model (680-byte rows, one thread, in cache) 1.40 → 1.22 ns a row and block. */
TF_MAYBE_UNUSED static void k_dot_q8_0_rows4(const uint8_t *const w_rows[4], const void *xq,
                                             uint32_t n, float out[4]) {
    const tf_q8_0_act *x = xq;
    const tf_block_q8_0 *w[4];
    __m256 acc[4];
    for (int r = 0; r < 4; r++) {
        w[r] = (const void *)w_rows[r];
        acc[r] = _mm256_setzero_ps();
    }
    for (uint32_t b = 0; b < n / TF_QK8_0; b++) {
        const __m256i qx = _mm256_loadu_si256((const __m256i *)x[b].qs);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const __m256 d = _mm256_set1_ps(k_half(w[r][b].d) * x[b].d);
            const __m256i qw = _mm256_loadu_si256((const __m256i *)w[r][b].qs);
            acc[r] = _mm256_fmadd_ps(d, avx_lanes_i8(qw, qx), acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) out[r] = avx_hsum8(acc[r]);
}

TF_MAYBE_UNUSED static float k_dot_q5_0(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q5_0 *w = (const void *)w_row;
    const tf_q8_0_act *x = xq;
    __m256 acc = _mm256_setzero_ps();
    for (uint32_t b = 0; b < n / TF_QK5_0; b++) {
        const __m256i qw = avx_q5_0_codes(&w[b]);
        const __m256i qx = _mm256_loadu_si256((const __m256i *)x[b].qs);
        const __m256 d = _mm256_set1_ps(k_half(w[b].d) * x[b].d);
        acc = _mm256_fmadd_ps(d, avx_lanes_i8(qw, qx), acc);
    }
    return avx_hsum8(acc);
}

#ifndef TF_KERNEL_Q5_0_GEMM /* the avx512 table brings its own row tiles */
#include "backend/cpu/cpu_kernels_gemm_avx2.h"
#define TF_KERNEL_Q5_0_GEMM avx2_gemm_q5_0
#define TF_KERNEL_Q8_0_GEMM avx2_gemm_q8_0
#define TF_KERNEL_Q5_0_GEMM_FAST avx2_gemm_q5_0_fast
#define TF_KERNEL_Q8_0_GEMM_FAST avx2_gemm_q8_0_fast
#define TF_KERNEL_PACKS (TF_PACKS_Q5_0_AVX2 | TF_PACKS_Q4_K)
/* its Q4_K row tiles: cpu_kernels_k4_avx2.h, included after the row kernels they fall back on */
#define TF_KERNEL_Q4_K_AVX2 1
#endif
#else
TF_MAYBE_UNUSED static float k_dot_q8_0(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q8_0 *w = (const void *)w_row;
    const tf_q8_0_act *x = xq;
    float acc[8] = {0};
    for (uint32_t b = 0; b < n / TF_QK8_0; b++) legacy_block(w[b].qs, &x[b], k_half(w[b].d), acc);
    return tf_hsum8(acc);
}
#endif

/* ggml_gemv/gemm_q4_0_8x8_q8_0 (AVX2, repacked rows): per block one exact integer sum,
 * accumulated with fma(sum, d_w·d_x). */
static float k_dot_q4_0_rows(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q4_0 *w = (const void *)w_row;
    const tf_q8_0_act *x = xq;
    float acc = 0;
    for (uint32_t b = 0; b < n / TF_QK4_0; b++) {
        const uint8_t *qs = w[b].qs;
        int32_t sum = 0;
        for (int j = 0; j < TF_QK4_0 / 2; j++)
            sum +=
                ((qs[j] & 0x0F) - 8) * x[b].qs[j] + ((qs[j] >> 4) - 8) * x[b].qs[j + TF_QK4_0 / 2];
        acc = fmaf((float)sum, k_half(w[b].d) * x[b].d, acc);
    }
    return acc;
}

static float k_dot_q4_0(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q4_0 *w = (const void *)w_row;
    const tf_q8_0_act *x = xq;
    float acc[8] = {0};
    for (uint32_t b = 0; b < n / TF_QK4_0; b++) {
        const uint8_t *qs = w[b].qs;
        int8_t q[TF_QK4_0];
        for (int j = 0; j < TF_QK4_0 / 2; j++) {
            q[j] = (int8_t)((qs[j] & 0x0F) - 8);
            q[j + TF_QK4_0 / 2] = (int8_t)((qs[j] >> 4) - 8);
        }
        legacy_block(q, &x[b], k_half(w[b].d), acc);
    }
    return tf_hsum8(acc);
}

#if !TF_KERNELS_AVX2
TF_MAYBE_UNUSED static float k_dot_q5_0(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q5_0 *w = (const void *)w_row;
    const tf_q8_0_act *x = xq;
    float acc[8] = {0};
    for (uint32_t b = 0; b < n / TF_QK5_0; b++) {
        enum { HALF = TF_QK5_0 / 2 };
        uint32_t qh;
        memcpy(&qh, w[b].qh, sizeof qh);
        const uint8_t *qs = w[b].qs;
        int8_t q[TF_QK5_0];
        for (int j = 0; j < HALF; j++) {
            const int hi_lo = (int)((qh >> j) & 1u) << 4;
            const int hi_hi = (int)((qh >> (j + HALF)) & 1u) << 4;
            q[j] = (int8_t)(((qs[j] & 0x0F) | hi_lo) - 16);
            q[j + HALF] = (int8_t)(((qs[j] >> 4) | hi_hi) - 16);
        }
        legacy_block(q, &x[b], k_half(w[b].d), acc);
    }
    return tf_hsum8(acc);
}
#endif

/* Exact integer sums of unsigned codes (< 128) times signed activations: over 32 elements, and
 * over two groups of 16. Integer results are exact, so any summation order gives the same. */
#if TF_KERNELS_AVX2
static inline __m256i avx_u8i8_lanes(const uint8_t *u, const int8_t *x) {
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)u),
                                               _mm256_loadu_si256((const __m256i *)x));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

static inline int32_t dot32_u8(const uint8_t *u, const int8_t *x) {
    const __m256i lanes = avx_u8i8_lanes(u, x);
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
    sum = _mm_add_epi32(sum, _mm_unpackhi_epi64(sum, sum));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 1));
    return _mm_cvtsi128_si32(sum);
}

static inline void dot16x2_u8(const uint8_t *u, const int8_t *x, int32_t out[2]) {
    const __m256i lanes = avx_u8i8_lanes(u, x);
    for (int h = 0; h < 2; h++) {
        __m128i sum = h ? _mm256_extracti128_si256(lanes, 1) : _mm256_castsi256_si128(lanes);
        sum = _mm_add_epi32(sum, _mm_unpackhi_epi64(sum, sum));
        sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 1));
        out[h] = _mm_cvtsi128_si32(sum);
    }
}
#else
static inline int32_t dot32_u8(const uint8_t *u, const int8_t *x) {
    int32_t sum = 0;
    for (int j = 0; j < 32; j++) sum += u[j] * x[j];
    return sum;
}

static inline void dot16x2_u8(const uint8_t *u, const int8_t *x, int32_t out[2]) {
    out[0] = out[1] = 0;
    for (int j = 0; j < 16; j++) {
        out[0] += u[j] * x[j];
        out[1] += u[16 + j] * x[16 + j];
    }
}
#endif

/* ---- k-quants ---- */

/* The 256 unsigned 4-bit codes of a Q4_K / Q5_K super-block in element order. */
static void k4_codes(const uint8_t *qs, const uint8_t *qh, uint8_t q[TF_QK_K]) {
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++) {
            q[64 * g + l] = qs[32 * g + l] & 0x0F;
            q[64 * g + 32 + l] = qs[32 * g + l] >> 4;
            if (qh) {
                q[64 * g + l] |= (uint8_t)(((qh[l] >> (2 * g)) & 1) << 4);
                q[64 * g + 32 + l] |= (uint8_t)(((qh[l] >> (2 * g + 1)) & 1) << 4);
            }
        }
}

/* ggml_vec_dot_q4_K_q8_K (AVX2): eight lanes of scale-weighted code sums scaled by d, plus four
 * lanes of min corrections scaled by -dmin, reduced separately. Q5_K is summed the same way. */
/* The eight lanes of scale-weighted code sums of one Q4_K/Q5_K super-block (lane l: bytes
 * 4l..4l+3 of each 32-code sub-block), and the exact sum of its mins times the sub-block sums. */
static void k4_block_sums(const uint8_t scales[TF_K_SCALE_SIZE], const uint8_t *q,
                          const tf_q8_k_act *xb, int32_t lane[8], int32_t min_sum[8]) {
    for (int l = 0; l < 8; l++) lane[l] = 0;
    for (int s = 0; s < 8; s++) {
        int scale, min;
        tf_k4_scale_min(scales, s, &scale, &min);
        for (int l = 0; l < 8; l++) {
            int32_t sum = 0;
            for (int e = 0; e < 4; e++) sum += q[32 * s + 4 * l + e] * xb->qs[32 * s + 4 * l + e];
            lane[l] += scale * sum;
        }
        min_sum[s] = min * (xb->bsums[2 * s] + xb->bsums[2 * s + 1]);
    }
}

/* ggml_vec_dot_q4_K_q8_K (AVX2): the lanes scaled by d, plus four lanes of min corrections (pairs
 * of sub-blocks) scaled by -dmin, reduced separately. */
static float k_dot_q4_k(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q4_k *w = (const void *)w_row;
    const tf_q8_k_act *x = xq;
    float acc[8] = {0}, acc_m[4] = {0};
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const tf_q8_k_act *xb = &x[b];
        uint8_t q[TF_QK_K];
        k4_codes(w[b].qs, NULL, q);
        int32_t lane[8], min_sum[8];
        k4_block_sums(w[b].scales, q, xb, lane, min_sum);
        const float d = xb->d * k_half(w[b].d), dmin = -xb->d * k_half(w[b].dmin);
        for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);
        for (int k = 0; k < 4; k++)
            acc_m[k] = fmaf(dmin, (float)(min_sum[2 * k] + min_sum[2 * k + 1]), acc_m[k]);
    }
    return tf_hsum8(acc) + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]));
}

/* ggml_vec_dot_q5_K_q8_K (AVX2): the Q4_K lanes for the codes, but the mins go into one float,
 * summs = fma(int, dmin, summs) per super-block (its compiler fuses summs += dmin·int), added
 * after the lane reduction. */
static float k_dot_q5_k(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q5_k *w = (const void *)w_row;
    const tf_q8_k_act *x = xq;
    float acc[8] = {0}, summs = 0;
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const tf_q8_k_act *xb = &x[b];
        uint8_t q[TF_QK_K];
        k4_codes(w[b].qs, w[b].qh, q);
        int32_t lane[8], min_sum[8], mins = 0;
        k4_block_sums(w[b].scales, q, xb, lane, min_sum);
        for (int s = 0; s < 8; s++) mins += min_sum[s];
        const float d = xb->d * k_half(w[b].d), dmin = -xb->d * k_half(w[b].dmin);
        summs = fmaf((float)mins, dmin, summs);
        for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);
    }
    return tf_hsum8(acc) + summs;
}

/* ggml_gemv_q4_K_8x8_q8_K and ggml_gemm_q4_K_8x8_q8_K (AVX2, repacked rows): exact integer sums
 * over `span` sub-blocks (8: gemv, one per super-block; 2: gemm, four per super-block), each
 * accumulated with fma(sum, d_w·d_x), the mins likewise, subtracted at the end. */
/* The portable q4_k_rows takes n_x activation rows at once (each row's arithmetic exactly the
 * single-row one: codes and scales are unpacked once per super-block and shared); the AVX2 build
 * has a four-token and a one-token version. */
#if TF_KERNELS_AVX2
/* Σ of the eight int32 lanes (exact). */
static inline int32_t avx_hsum_i32(__m256i v) {
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    sum = _mm_add_epi32(sum, _mm_unpackhi_epi64(sum, sum));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 1));
    return _mm_cvtsi128_si32(sum);
}

/* The four-token dots (prompts: span 2; decode of 4+ sequences: span 8) compute the same
 * integers with the reductions shared: the four tokens' lanes summed by one transposing hadd tree
 * into one vector (lane t: token t), and the float chains run side by side in the lanes of one
 * __m128 (lane t is token t's own fma chain, in its own order: the same bits as fmaf). */

/* The super-block's eight scales (bytes 0-7) and eight mins (bytes 8-15), as tf_k4_scale_min
 * reads them (ggml's utmp shuffle, on the four 32-bit words at once). The 16-byte load stays
 * inside the block: the codes follow the 12 scale bytes. */
static inline __m128i avx_k4_scales_mins(const uint8_t packed[TF_K_SCALE_SIZE]) {
    const __m128i u = _mm_loadu_si128((const __m128i *)packed); /* words u0, u1, u2 */
    /* [u0 & 3f, u2 & 0f, u1 & 3f, (u2 >> 4) & 0f] | [0, (u0 >> 6) & 3, 0, (u1 >> 6) & 3] << 4 */
    const __m128i low = _mm_and_si128(
        _mm_srlv_epi32(_mm_shuffle_epi32(u, _MM_SHUFFLE(2, 1, 2, 0)), _mm_set_epi32(4, 0, 0, 0)),
        _mm_set_epi32(0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F));
    const __m128i high =
        _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(u, _MM_SHUFFLE(1, 1, 0, 0)), 2),
                      _mm_set_epi32(0x30303030, 0, 0x30303030, 0));
    return _mm_or_si128(low, high);
}

/* One Q4_K super-block unpacked for all tokens: the 8 sub-blocks' codes, each sub-block's scale
 * in all sixteen 16-bit lanes, and the mins as [m0, m0, m1, m1, ... m7, m7] (one per bsum). */
typedef struct avx_k4_block {
    __m256i code[8], scale[8], mins;
} avx_k4_block;

static inline void avx_k4_unpack(const tf_block_q4_k *w, avx_k4_block *k) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int g = 0; g < 4; g++) {
        const __m256i packed = _mm256_loadu_si256((const __m256i *)(w->qs + 32 * g));
        k->code[2 * g] = _mm256_and_si256(packed, low4);
        k->code[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
    }
    const __m128i scales_mins = avx_k4_scales_mins(w->scales);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_mins));
    for (int s = 0; s < 8; s++)
        k->scale[s] = _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)(0x0100 + 0x0202 * s)));
    k->mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_mins, scales_mins));
}

/* [Σ v[0], Σ v[1], Σ v[2], Σ v[3]] over the eight int32 lanes of each (exact). */
static inline __m128i avx_hsum4_i32(const __m256i v[4]) {
    const __m256i h =
        _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Lane s of token t's vector: min_s · (bsums[2s] + bsums[2s + 1]), the mins' integer part. */
static inline __m256i avx_k4_min_lanes(const tf_q8_k_act *xb, __m256i mins) {
    return _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), mins);
}

/* Each token's d·d_w and dmin·d_w in lane t (the products of the scalar code, same order; d and
 * dmin widened by F16C, exactly as tf_f16_to_f32 and ggml's FP16_TO_FP32 do). */
static inline void avx_k4_d4(const tf_block_q4_k *w, const tf_q8_k_act *const xb[4], __m128 *d,
                             __m128 *dmin) {
    uint32_t d_dmin;
    memcpy(&d_dmin, &w->d, sizeof d_dmin);
    _Static_assert(offsetof(tf_block_q4_k, dmin) == offsetof(tf_block_q4_k, d) + 2, "d, dmin");
    const __m128 w_d = _mm_cvtph_ps(_mm_cvtsi32_si128((int)d_dmin));
    const __m128 xd = _mm_set_ps(xb[3]->d, xb[2]->d, xb[1]->d, xb[0]->d);
    *d = _mm_mul_ps(_mm_shuffle_ps(w_d, w_d, 0x00), xd);
    *dmin = _mm_mul_ps(_mm_shuffle_ps(w_d, w_d, 0x55), xd);
}

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
/* The AVX-512 table's integer part: VPDPBUSD gives each 4-byte lane's Σ code·x (|lane| ≤
 * 4·15·128, an int16), two tokens' lanes are packed into one register of int16 and VPDPWSSD
 * multiplies them by the sub-block scale and adds them in: lanes [t, t, t', t' | t, t, t', t'] of
 * the pair's scale-weighted sums, in 2 instructions per token and sub-block where AVX2 needs 3. */
static inline __m256i z_k4_pair(__m256i acc, __m256i code, __m256i scale, const int8_t *x0,
                                const int8_t *x1) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i d0 = _mm256_dpbusd_epi32(zero, code, _mm256_loadu_si256((const __m256i *)x0));
    const __m256i d1 = _mm256_dpbusd_epi32(zero, code, _mm256_loadu_si256((const __m256i *)x1));
    return _mm256_dpwssd_epi32(acc, _mm256_packs_epi32(d0, d1), scale);
}

/* [Σ code·scale·x of sub-blocks s0 .. s0 + span - 1] for the four tokens. */
static inline __m128i k4_sums4(const avx_k4_block *k, const tf_q8_k_act *const xb[4], int s0,
                               int span) {
    __m256i pair[2];
    for (int p = 0; p < 2; p++) {
        __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int s = s0; s < s0 + span; s++)
            acc[s & 1] = z_k4_pair(acc[s & 1], k->code[s], k->scale[s], xb[2 * p]->qs + 32 * s,
                                   xb[2 * p + 1]->qs + 32 * s);
        pair[p] = _mm256_add_epi32(acc[0], acc[1]);
    }
    const __m256i h = _mm256_hadd_epi32(pair[0], pair[1]);
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
#else
static inline __m128i k4_sums4(const avx_k4_block *k, const tf_q8_k_act *const xb[4], int s0,
                               int span) {
    __m256i lanes[4];
    for (int t = 0; t < 4; t++) {
        __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int s = s0; s < s0 + span; s++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(xb[t]->qs + 32 * s));
            acc[s & 1] = _mm256_add_epi32(
                acc[s & 1], _mm256_madd_epi16(_mm256_maddubs_epi16(k->code[s], x), k->scale[s]));
        }
        lanes[t] = _mm256_add_epi32(acc[0], acc[1]);
    }
    return avx_hsum4_i32(lanes);
}
#endif

/* Super-block b of four tokens (xb[t]), w's block unpacked and the four tokens' d and dmin: what
 * both spans start each super-block with. */
static inline void avx_k4_x4_block(const tf_block_q4_k *w, const void *const xq[4], uint32_t b,
                                   const tf_q8_k_act *xb[4], avx_k4_block *k, __m128 *d,
                                   __m128 *dmin) {
    for (int t = 0; t < 4; t++) xb[t] = (const tf_q8_k_act *)xq[t] + b;
    avx_k4_unpack(w, k);
    avx_k4_d4(w, xb, d, dmin);
}

/* Span 2 (ggml_gemm_q4_K_8x8_q8_K): four sums per super-block and token, in order. */
static void q4_k_x4_span2(const uint8_t *w_row, const void *const xq[4], uint32_t n, float out[4]) {
    const tf_block_q4_k *w = (const void *)w_row;
    __m128 acc = _mm_setzero_ps(), acc_min = _mm_setzero_ps();
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const tf_q8_k_act *xb[4];
        avx_k4_block k;
        __m128 d, dmin;
        avx_k4_x4_block(&w[b], xq, b, xb, &k, &d, &dmin);
        /* mins: the tokens' lanes paired (sub-blocks 2g, 2g + 1), then transposed to [g][t] */
        const __m256i pairs01 =
            _mm256_hadd_epi32(avx_k4_min_lanes(xb[0], k.mins), avx_k4_min_lanes(xb[1], k.mins));
        const __m256i pairs23 =
            _mm256_hadd_epi32(avx_k4_min_lanes(xb[2], k.mins), avx_k4_min_lanes(xb[3], k.mins));
        const __m256i lo = _mm256_unpacklo_epi32(pairs01, pairs23);
        const __m256i hi = _mm256_unpackhi_epi32(pairs01, pairs23);
        const __m256i min02 = _mm256_unpacklo_epi32(lo, hi), min13 = _mm256_unpackhi_epi32(lo, hi);
        const __m128i sum_min[4] = {_mm256_castsi256_si128(min02), _mm256_castsi256_si128(min13),
                                    _mm256_extracti128_si256(min02, 1),
                                    _mm256_extracti128_si256(min13, 1)};
        for (int g = 0; g < 4; g++) {
            acc = _mm_fmadd_ps(_mm_cvtepi32_ps(k4_sums4(&k, xb, 2 * g, 2)), d, acc);
            acc_min = _mm_fmadd_ps(_mm_cvtepi32_ps(sum_min[g]), dmin, acc_min);
        }
    }
    _mm_storeu_ps(out, _mm_sub_ps(acc, acc_min));
}

/* Span 8 (ggml_gemv_q4_K_8x8_q8_K for each token): one sum per super-block and token. */
static void q4_k_x4_span8(const uint8_t *w_row, const void *const xq[4], uint32_t n, float out[4]) {
    const tf_block_q4_k *w = (const void *)w_row;
    __m128 acc = _mm_setzero_ps(), acc_min = _mm_setzero_ps();
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const tf_q8_k_act *xb[4];
        avx_k4_block k;
        __m128 d, dmin;
        avx_k4_x4_block(&w[b], xq, b, xb, &k, &d, &dmin);
        __m256i min_lanes[4];
        for (int t = 0; t < 4; t++) min_lanes[t] = avx_k4_min_lanes(xb[t], k.mins);
        acc = _mm_fmadd_ps(_mm_cvtepi32_ps(k4_sums4(&k, xb, 0, 8)), d, acc);
        acc_min = _mm_fmadd_ps(_mm_cvtepi32_ps(avx_hsum4_i32(min_lanes)), dmin, acc_min);
    }
    _mm_storeu_ps(out, _mm_sub_ps(acc, acc_min));
}

/* One token (decode of one sequence; a prompt's last n % 4 tokens): the same integers, with
 * maddubs and madd (at most 2·15·128 per 16-bit lane, then times the sub-block scale), one
 * horizontal sum per span, and the mins of each span from one madd of the bsums. */
static float q4_k_x1(const uint8_t *w_row, const void *xq, uint32_t n, int span) {
    const tf_block_q4_k *w = (const void *)w_row;
    float acc = 0, acc_min = 0;
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const tf_q8_k_act *xb = (const tf_q8_k_act *)xq + b;
        avx_k4_block k;
        avx_k4_unpack(&w[b], &k);
        uint32_t d_dmin;
        memcpy(&d_dmin, &w[b].d, sizeof d_dmin);
        float w_d[4];
        _mm_storeu_ps(w_d, _mm_cvtph_ps(_mm_cvtsi32_si128((int)d_dmin)));
        const float d = w_d[0] * xb->d, dmin = w_d[1] * xb->d;
        int32_t min_lane[8];
        _mm256_storeu_si256((__m256i *)min_lane, avx_k4_min_lanes(xb, k.mins));
        for (int s0 = 0; s0 < 8; s0 += span) {
            __m256i lanes = _mm256_setzero_si256();
            int32_t sum_min = 0;
            for (int s = s0; s < s0 + span; s++) {
                const __m256i x = _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * s));
                lanes = _mm256_add_epi32(
                    lanes, _mm256_madd_epi16(_mm256_maddubs_epi16(k.code[s], x), k.scale[s]));
                sum_min += min_lane[s];
            }
            acc = fmaf((float)avx_hsum_i32(lanes), d, acc);
            acc_min = fmaf((float)sum_min, dmin, acc_min);
        }
    }
    return acc - acc_min;
}
#else
static void q4_k_rows(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n, int span,
                      float *out) {
    const tf_block_q4_k *w = (const void *)w_row;
    float acc[4] = {0}, acc_min[4] = {0};
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        uint8_t q[TF_QK_K];
        k4_codes(w[b].qs, NULL, q);
        int scale[8], min[8];
        for (int s = 0; s < 8; s++) tf_k4_scale_min(w[b].scales, s, &scale[s], &min[s]);
        for (int t = 0; t < n_x; t++) {
            const tf_q8_k_act *xb = (const tf_q8_k_act *)xq[t] + b;
            const float d = k_half(w[b].d) * xb->d, dmin = k_half(w[b].dmin) * xb->d;
            for (int s0 = 0; s0 < 8; s0 += span) {
                int32_t sum_q = 0, sum_min = 0;
                for (int s = s0; s < s0 + span; s++) {
                    sum_q += scale[s] * dot32_u8(q + 32 * s, xb->qs + 32 * s);
                    sum_min += min[s] * (xb->bsums[2 * s] + xb->bsums[2 * s + 1]);
                }
                acc[t] = fmaf((float)sum_q, d, acc[t]);
                acc_min[t] = fmaf((float)sum_min, dmin, acc_min[t]);
            }
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = acc[t] - acc_min[t];
}

#endif

static float k_dot_q4_k_rows(const uint8_t *w, const void *xq, uint32_t n) {
#if TF_KERNELS_AVX2
    return q4_k_x1(w, xq, n, 8);
#else
    float out;
    q4_k_rows(w, &xq, 1, n, 8, &out);
    return out;
#endif
}

static float k_dot_q4_k_rows4(const uint8_t *w, const void *xq, uint32_t n) {
#if TF_KERNELS_AVX2
    return q4_k_x1(w, xq, n, 2);
#else
    float out;
    q4_k_rows(w, &xq, 1, n, 2, &out);
    return out;
#endif
}

static void k_dot4_q4_k_rows4(const uint8_t *w, const void *const xq[4], uint32_t n, float out[4]) {
#if TF_KERNELS_AVX2
    q4_k_x4_span2(w, xq, n, out);
#else
    q4_k_rows(w, xq, 4, n, 2, out);
#endif
}

/* Decode of four or more sequences: four single-token gemv dots (span 8) sharing the unpacking. */
static void k_dot4_q4_k_rows(const uint8_t *w, const void *const xq[4], uint32_t n, float out[4]) {
#if TF_KERNELS_AVX2
    q4_k_x4_span8(w, xq, n, out);
#else
    q4_k_rows(w, xq, 4, n, 8, out);
#endif
}

#ifdef TF_KERNEL_Q4_K_AVX2
#include "backend/cpu/cpu_kernels_k4_avx2.h"
#define TF_KERNEL_Q4_K_ROWS4_GEMM avx2_gemm_q4_k_rows4
#define TF_KERNEL_Q4_K_ROWS_GEMM avx2_gemm_q4_k_rows
#endif

/* ggml's tiled K-quant matmul (ggml-cpu/tiled, batches of 8+ tokens, weights not repacked): per
 * super-block an exact integer sum s1 (and mins sum s2), res = d_w·s1 (− dmin_w·s2, fused), then
 * fma(res, d_x, acc). */
/* One super-block's res, from its codes q (k4_codes), scales, d and dmin. */
static float tiled_k4_res(const uint8_t *q, const uint8_t scales[TF_K_SCALE_SIZE], uint16_t d_bits,
                          uint16_t dmin_bits, const tf_q8_k_act *xb) {
    int32_t s1 = 0, s2 = 0;
    for (int s = 0; s < 8; s++) {
        int scale, min;
        tf_k4_scale_min(scales, s, &scale, &min);
        const int32_t dot = dot32_u8(q + 32 * s, xb->qs + 32 * s);
        s1 += scale * dot;
        s2 += min * (xb->bsums[2 * s] + xb->bsums[2 * s + 1]);
    }
    return fmaf(-k_half(dmin_bits), (float)s2, k_half(d_bits) * (float)s1);
}

static float k_dot_q4_k_tiled(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q4_k *w = (const void *)w_row;
    const tf_q8_k_act *x = xq;
    float acc = 0;
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        uint8_t q[TF_QK_K];
        k4_codes(w[b].qs, NULL, q);
        acc = fmaf(tiled_k4_res(q, w[b].scales, w[b].d, w[b].dmin, &x[b]), x[b].d, acc);
    }
    return acc;
}

static float k_dot_q5_k_tiled(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q5_k *w = (const void *)w_row;
    const tf_q8_k_act *x = xq;
    float acc = 0;
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        uint8_t q[TF_QK_K];
        k4_codes(w[b].qs, w[b].qh, q);
        acc = fmaf(tiled_k4_res(q, w[b].scales, w[b].d, w[b].dmin, &x[b]), x[b].d, acc);
    }
    return acc;
}

/* The 256 unsigned 6-bit codes of a Q6_K super-block in element order. */
#if !TF_KERNELS_AVX2
static void q6_codes(const tf_block_q6_k *w, uint8_t u[TF_QK_K]) {
    const uint8_t *ql = w->ql, *qh = w->qh;
    for (int half = 0; half < 2; half++) {
        const uint8_t *l_ql = ql + 64 * half, *l_qh = qh + 32 * half;
        uint8_t *out = u + 128 * half;
        for (int l = 0; l < 32; l++) {
            out[l] = (uint8_t)((l_ql[l] & 0x0F) | ((l_qh[l] >> 0) & 3) << 4);
            out[l + 32] = (uint8_t)((l_ql[l + 32] & 0x0F) | ((l_qh[l] >> 2) & 3) << 4);
            out[l + 64] = (uint8_t)((l_ql[l] >> 4) | ((l_qh[l] >> 4) & 3) << 4);
            out[l + 96] = (uint8_t)((l_ql[l + 32] >> 4) | ((l_qh[l] >> 6) & 3) << 4);
        }
    }
}
#else
/* The four 32-code chunks of one 128-element half (ql: 64 bytes, qh: 32 bytes). */
static inline void avx_q6_half(const uint8_t *ql, const uint8_t *qh, __m256i c[4]) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), top2 = _mm256_set1_epi8(0x30);
    const __m256i a = _mm256_loadu_si256((const __m256i *)ql);
    const __m256i b = _mm256_loadu_si256((const __m256i *)(ql + 32));
    const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    c[0] = _mm256_or_si256(_mm256_and_si256(a, low4),
                           _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(0x03)), 4));
    c[1] = _mm256_or_si256(_mm256_and_si256(b, low4),
                           _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(0x0C)), 2));
    c[2] =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), low4), _mm256_and_si256(h, top2));
    c[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), low4),
                           _mm256_and_si256(_mm256_srli_epi16(h, 2), top2));
}

/* Each 32-element chunk's two group scales as int16, [scales[2c] ×8 | scales[2c + 1] ×8], by one
 * byte shuffle each from the widened scales; with zero_high, each scale in the low half of a
 * 32-bit lane and 0 above (for VPDPWSSD on 32-bit lanes). */
static inline void avx_q6_chunk_scales(const int8_t *scales, int zero_high, __m256i sc[8]) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales));
    const __m256i lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);
    const __m256i hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);
    const int above = zero_high ? (int)0x80800000u : 0;
    for (int c = 0; c < 8; c++) {
        const int j = 4 * (c % 4); /* scale 2c's first byte within its 128-bit half */
        const int first = 0x0100 * (j + 1) + j, second = 0x0100 * (j + 3) + (j + 2);
        const __m256i pattern =
            _mm256_set_m128i(_mm_set1_epi32(zero_high ? above | second : second << 16 | second),
                             _mm_set1_epi32(zero_high ? above | first : first << 16 | first));
        sc[c] = _mm256_shuffle_epi8(c < 4 ? lo : hi, pattern);
    }
}
#endif

#if TF_KERNELS_AVX2
/* The same exact s1 from registers: the eight lanes of k_dot_q6_k's integer part (scale-weighted
 * code sums minus the offset's lanes) summed; codes unpacked once per super-block for all rows. */
static void q6_k_tiled(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n,
                       float *out) {
    const tf_block_q6_k *w = (const void *)w_row;
    float acc[4] = {0};
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const int8_t *scales = w[b].scales;
        const float d_w = k_half(w[b].d);
        __m256i c[8], sc[8];
        avx_q6_half(w[b].ql, w[b].qh, c);
        avx_q6_half(w[b].ql + 64, w[b].qh + 32, c + 4);
        avx_q6_chunk_scales(scales, 0, sc);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales));
        for (int t = 0; t < n_x; t++) {
            const tf_q8_k_act *xb = (const tf_q8_k_act *)xq[t] + b;
            __m256i lanes = _mm256_setzero_si256();
            for (int chunk = 0; chunk < 8; chunk++) {
                const __m256i xv = _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * chunk));
                lanes = _mm256_add_epi32(
                    lanes, _mm256_madd_epi16(_mm256_maddubs_epi16(c[chunk], xv), sc[chunk]));
            }
            const __m256i bsums = _mm256_loadu_si256((const __m256i *)xb->bsums);
            lanes = _mm256_sub_epi32(lanes, _mm256_slli_epi32(_mm256_madd_epi16(bsums, sc16), 5));
            const int32_t s1 = avx_hsum_i32(lanes);
            acc[t] = fmaf(d_w * (float)s1, xb->d, acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = acc[t];
}

/* Four tokens: the same s1 per token, the four summed by one hadd tree into lane t of a vector,
 * and the four float chains side by side in one __m128 (fma(d_w·s1, d_x, acc) per lane, the
 * scalar code's rounding steps). */
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
/* VPDPBUSD gives each 4-byte lane's Σ code·x (|lane| ≤ 4·63·128, an int16), two tokens' lanes are
 * packed into int16 (per 128-bit half [t ×4, t' ×4]: a half is one 16-element group) and VPDPWSSD
 * applies the group scales: lanes [t, t, t', t' | t, t, t', t'], as the hadd of the pair's
 * offset lanes lies. */
static inline __m128i q6_k_s1_x4(const __m256i c[8], const __m256i sc[8], __m256i sc16,
                                 const tf_q8_k_act *const xb[4]) {
    const __m256i zero = _mm256_setzero_si256();
    __m256i pair[2];
    for (int p = 0; p < 2; p++) {
        const tf_q8_k_act *x0 = xb[2 * p], *x1 = xb[2 * p + 1];
        __m256i acc[2] = {zero, zero};
        for (int chunk = 0; chunk < 8; chunk++) {
            const __m256i d0 = _mm256_dpbusd_epi32(
                zero, c[chunk], _mm256_loadu_si256((const __m256i *)(x0->qs + 32 * chunk)));
            const __m256i d1 = _mm256_dpbusd_epi32(
                zero, c[chunk], _mm256_loadu_si256((const __m256i *)(x1->qs + 32 * chunk)));
            acc[chunk & 1] =
                _mm256_dpwssd_epi32(acc[chunk & 1], _mm256_packs_epi32(d0, d1), sc[chunk]);
        }
        const __m256i offset = _mm256_hadd_epi32(
            _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x0->bsums), sc16),
            _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x1->bsums), sc16));
        pair[p] = _mm256_sub_epi32(_mm256_add_epi32(acc[0], acc[1]), _mm256_slli_epi32(offset, 5));
    }
    const __m256i h = _mm256_hadd_epi32(pair[0], pair[1]);
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
#else
static inline __m128i q6_k_s1_x4(const __m256i c[8], const __m256i sc[8], __m256i sc16,
                                 const tf_q8_k_act *const xb[4]) {
    __m256i lanes[4];
    for (int t = 0; t < 4; t++) {
        __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int chunk = 0; chunk < 8; chunk++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(xb[t]->qs + 32 * chunk));
            acc[chunk & 1] = _mm256_add_epi32(
                acc[chunk & 1], _mm256_madd_epi16(_mm256_maddubs_epi16(c[chunk], xv), sc[chunk]));
        }
        const __m256i bsums = _mm256_loadu_si256((const __m256i *)xb[t]->bsums);
        lanes[t] = _mm256_sub_epi32(_mm256_add_epi32(acc[0], acc[1]),
                                    _mm256_slli_epi32(_mm256_madd_epi16(bsums, sc16), 5));
    }
    return avx_hsum4_i32(lanes);
}
#endif

static void q6_k_tiled_x4(const uint8_t *w_row, const void *const xq[4], uint32_t n, float out[4]) {
    const tf_block_q6_k *w = (const void *)w_row;
    __m128 acc = _mm_setzero_ps();
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const int8_t *scales = w[b].scales;
        const tf_q8_k_act *xb[4];
        for (int t = 0; t < 4; t++) xb[t] = (const tf_q8_k_act *)xq[t] + b;
        __m256i c[8], sc[8];
        avx_q6_half(w[b].ql, w[b].qh, c);
        avx_q6_half(w[b].ql + 64, w[b].qh + 32, c + 4);
        avx_q6_chunk_scales(scales, 0, sc);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales));
        const __m128 s1 = _mm_cvtepi32_ps(q6_k_s1_x4(c, sc, sc16, xb));
        const __m128 xd = _mm_set_ps(xb[3]->d, xb[2]->d, xb[1]->d, xb[0]->d);
        acc = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(k_half(w[b].d)), s1), xd, acc);
    }
    _mm_storeu_ps(out, acc);
}
#else
static void q6_k_tiled(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n,
                       float *out) {
    const tf_block_q6_k *w = (const void *)w_row;
    float acc[4] = {0};
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const int8_t *scales = w[b].scales;
        const float d_w = k_half(w[b].d);
        uint8_t u[TF_QK_K];
        q6_codes(&w[b], u);
        for (int t = 0; t < n_x; t++) {
            const tf_q8_k_act *xb = (const tf_q8_k_act *)xq[t] + b;
            int32_t s1 = 0;
            for (int g = 0; g < 16; g += 2) { /* Σ (u - 32)·x = Σ u·x - 32·bsum, per 16 */
                int32_t dot[2];
                dot16x2_u8(u + 16 * g, xb->qs + 16 * g, dot);
                s1 += scales[g] * (dot[0] - 32 * xb->bsums[g]);
                s1 += scales[g + 1] * (dot[1] - 32 * xb->bsums[g + 1]);
            }
            acc[t] = fmaf(d_w * (float)s1, xb->d, acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = acc[t];
}

#endif

static float k_dot_q6_k_tiled(const uint8_t *w, const void *xq, uint32_t n) {
    float out;
    q6_k_tiled(w, &xq, 1, n, &out);
    return out;
}

static void k_dot4_q6_k_tiled(const uint8_t *w, const void *const xq[4], uint32_t n, float out[4]) {
#if TF_KERNELS_AVX2
    q6_k_tiled_x4(w, xq, n, out);
#else
    q6_k_tiled(w, xq, 4, n, out);
#endif
}

/* ggml_vec_dot_q6_K_q8_K (AVX2): unsigned 6-bit codes times the group scale in eight lanes, then
 * the -32 offset taken out per lane as 32·(scale·bsum) of the lane's own two 16-element groups. */
#if TF_KERNELS_AVX2
/* The same lanes in registers: maddubs of codes and activations (at most 2·63·128 per 16-bit
 * lane), madd with the group scale (lanes 0-3 of a chunk take its first group's, 4-7 its
 * second's, as element 4l+e of chunk c lies in group 2c + l/4), and the offset's lanes as one
 * madd of the bsums with the scales. */
static float k_dot_q6_k(const uint8_t *w_row, const void *xq, uint32_t n) {
    const tf_block_q6_k *w = (const void *)w_row;
    const tf_q8_k_act *x = xq;
    __m256 acc = _mm256_setzero_ps();
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const tf_q8_k_act *xb = &x[b];
        const int8_t *scales = w[b].scales;
        __m256i lanes = _mm256_setzero_si256(), sc[8];
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
        avx_q6_chunk_scales(scales, 1, sc); /* as in k_dot4_q6_k */
#else
        avx_q6_chunk_scales(scales, 0, sc);
#endif
        for (int half = 0; half < 2; half++) {
            __m256i c[4];
            avx_q6_half(w[b].ql + 64 * half, w[b].qh + 32 * half, c);
            for (int j = 0; j < 4; j++) {
                const int chunk = 4 * half + j;
                const __m256i xv = _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * chunk));
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
                lanes = _mm256_dpwssd_epi32(
                    lanes, _mm256_dpbusd_epi32(_mm256_setzero_si256(), c[j], xv), sc[chunk]);
#else
                lanes = _mm256_add_epi32(
                    lanes, _mm256_madd_epi16(_mm256_maddubs_epi16(c[j], xv), sc[chunk]));
#endif
            }
        }
        const __m256i bsums = _mm256_loadu_si256((const __m256i *)xb->bsums);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales));
        lanes = _mm256_sub_epi32(lanes, _mm256_slli_epi32(_mm256_madd_epi16(bsums, sc16), 5));
        const __m256 d = _mm256_set1_ps(xb->d * k_half(w[b].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(lanes), acc);
    }
    return avx_hsum8(acc);
}

/* k_dot_q6_k for four activation rows (decode of four or more sequences): each half's codes are
 * unpacked once and used by all four rows; every row's integer lanes, its fused multiply-add per
 * super-block and its final reduction are exactly the single-row kernel's. */
static void k_dot4_q6_k(const uint8_t *w_row, const void *const xq[4], uint32_t n, float out[4]) {
    const tf_block_q6_k *w = (const void *)w_row;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const int8_t *scales = w[b].scales;
        const tf_q8_k_act *xb[4];
        for (int t = 0; t < 4; t++) xb[t] = (const tf_q8_k_act *)xq[t] + b;
        __m256i lanes[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                            _mm256_setzero_si256()};
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
        __m256i chunk_sc[8];
        avx_q6_chunk_scales(scales, 1, chunk_sc);
#else
        __m256i chunk_sc[8];
        avx_q6_chunk_scales(scales, 0, chunk_sc);
#endif
        for (int half = 0; half < 2; half++) {
            __m256i c[4];
            avx_q6_half(w[b].ql + 64 * half, w[b].qh + 32 * half, c);
            for (int j = 0; j < 4; j++) {
                const int chunk = 4 * half + j;
                const __m256i sc = chunk_sc[chunk];
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
                /* VPDPBUSD: each lane's Σ code·x (|lane| ≤ 4·63·128, so its low 16 bits are the
                 * int16 of it); VPDPWSSD with the scale in the low 16 bits of each 32-bit lane
                 * and 0 above multiplies it by the group scale and adds it in, lane for lane. */
                for (int t = 0; t < 4; t++) {
                    const __m256i xv =
                        _mm256_loadu_si256((const __m256i *)(xb[t]->qs + 32 * chunk));
                    lanes[t] = _mm256_dpwssd_epi32(
                        lanes[t], _mm256_dpbusd_epi32(_mm256_setzero_si256(), c[j], xv), sc);
                }
#else
                for (int t = 0; t < 4; t++) {
                    const __m256i xv =
                        _mm256_loadu_si256((const __m256i *)(xb[t]->qs + 32 * chunk));
                    lanes[t] = _mm256_add_epi32(
                        lanes[t], _mm256_madd_epi16(_mm256_maddubs_epi16(c[j], xv), sc));
                }
#endif
            }
        }
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales));
        const float d_w = k_half(w[b].d);
        for (int t = 0; t < 4; t++) {
            const __m256i bsums = _mm256_loadu_si256((const __m256i *)xb[t]->bsums);
            const __m256i l =
                _mm256_sub_epi32(lanes[t], _mm256_slli_epi32(_mm256_madd_epi16(bsums, sc16), 5));
            const __m256 d = _mm256_set1_ps(xb[t]->d * d_w);
            acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(l), acc[t]);
        }
    }
    for (int t = 0; t < 4; t++) out[t] = avx_hsum8(acc[t]);
}
#else
/* For n_x activation rows at once (each row's arithmetic exactly the single-row one: the codes
 * are unpacked once per super-block and shared). */
static void q6_k_vec(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n, float *out) {
    const tf_block_q6_k *w = (const void *)w_row;
    float acc[4][8] = {{0}};
    for (uint32_t b = 0; b < n / TF_QK_K; b++) {
        const int8_t *scales = w[b].scales;
        uint8_t u[TF_QK_K];
        q6_codes(&w[b], u);
        for (int t = 0; t < n_x; t++) {
            const tf_q8_k_act *xb = (const tf_q8_k_act *)xq[t] + b;
            int32_t lane[8] = {0};
            for (int c = 0; c < 8; c++)
                for (int l = 0; l < 8; l++)
                    for (int e = 0; e < 4; e++) {
                        const int i = 32 * c + 4 * l + e;
                        lane[l] += scales[i / 16] * (u[i] * xb->qs[i]);
                    }
            for (int l = 0; l < 8; l++)
                lane[l] -= 32 * (scales[2 * l] * xb->bsums[2 * l] +
                                 scales[2 * l + 1] * xb->bsums[2 * l + 1]);
            const float d = xb->d * k_half(w[b].d);
            for (int l = 0; l < 8; l++) acc[t][l] = fmaf(d, (float)lane[l], acc[t][l]);
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = tf_hsum8(acc[t]);
}

static float k_dot_q6_k(const uint8_t *w_row, const void *xq, uint32_t n) {
    float out;
    q6_k_vec(w_row, &xq, 1, n, &out);
    return out;
}

static void k_dot4_q6_k(const uint8_t *w_row, const void *const xq[4], uint32_t n, float out[4]) {
    q6_k_vec(w_row, xq, 4, n, out);
}
#endif

/* ---- float dots and attention helpers ---- */

#if TF_KERNELS_AVX2
/* The 4 × 8-lane part of ggml_vec_dot_f16/f32 over the first n & ~31 elements. */
static float vecdot_body(const float *a, const float *b, size_t n) {
    __m256 sum[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    const size_t whole = n & ~(size_t)31;
    for (size_t i = 0; i < whole; i += 32)
        for (int j = 0; j < 4; j++)
            sum[j] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * j), _mm256_loadu_ps(b + i + 8 * j),
                                     sum[j]);
    const __m256 x = _mm256_add_ps(_mm256_add_ps(sum[0], sum[2]), _mm256_add_ps(sum[1], sum[3]));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

static float k_dot_tiled(const float *a, const float *b, size_t n) {
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    return avx_hsum8(acc);
}

static void k_axpy(float *acc, const float *v, float p, size_t n) {
    const __m256 pv = _mm256_set1_ps(p);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(acc + i,
                         _mm256_fmadd_ps(_mm256_loadu_ps(v + i), pv, _mm256_loadu_ps(acc + i)));
    for (; i < n; i++) acc[i] = fmaf(v[i], p, acc[i]);
}

static void k_f16_to_f32(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = tf_f16_to_f32(x[i]);
}

/* F16C rounds as tf_f32_to_f16 does (to nearest even; a NaN quieted, its payload's top bits
 * kept), which is also ggml's conversion on x86. */
static void k_f32_to_f16(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = tf_f32_to_f16(x[i]);
}
#else
static float vecdot_body(const float *a, const float *b, size_t n) {
    float sum[4][8] = {{0}};
    const size_t whole = n & ~(size_t)31;
    for (size_t i = 0; i < whole; i += 32)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 8; l++)
                sum[j][l] = fmaf(a[i + 8 * j + l], b[i + 8 * j + l], sum[j][l]);
    return tf_reduce4x8(sum);
}

static float k_dot_tiled(const float *a, const float *b, size_t n) {
    float acc[8] = {0};
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] = fmaf(a[i + l], b[i + l], acc[l]);
    return tf_hsum8(acc);
}

static void k_axpy(float *acc, const float *v, float p, size_t n) {
    for (size_t i = 0; i < n; i++) acc[i] = fmaf(v[i], p, acc[i]);
}

static void k_f16_to_f32(const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = tf_f16_to_f32(x[i]);
}

static void k_f32_to_f16(const float *x, uint16_t *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = tf_f32_to_f16(x[i]);
}
#endif

/* ggml_vec_dot_f16: the tail (n % 32 elements) added in double. */
static float k_dot_vecdot(const float *a, const float *b, size_t n) {
    const size_t whole = n & ~(size_t)31;
    double total = vecdot_body(a, b, n);
    for (size_t i = whole; i < n; i++) total += (double)(a[i] * b[i]);
    return (float)total;
}

/* ggml_vec_dot_f32: the tail (n % 32) added into a float, in the order GCC compiled its loop
 * `sumf += x[i]*y[i]` to (read off the x86-64-v3 binary): blocks of 8 and then one of 4 as
 * rounded products added one by one, the last 0–3 elements fused. */
static float k_dot_vecdot_f32(const float *a, const float *b, size_t n) {
    size_t i = n & ~(size_t)31;
    float total = vecdot_body(a, b, n);
    while (n - i >= 8)
        for (const size_t end = i + 8; i < end; i++) total += a[i] * b[i];
    if (n - i >= 4)
        for (const size_t end = i + 4; i < end; i++) total += a[i] * b[i];
    for (; i < n; i++) total = fmaf(a[i], b[i], total);
    return total;
}

/* ggml_v_expf (AVX2), one lane at a time: exp(x) = 2^n · (1 + j) with a degree-5 polynomial j,
 * and the same special cases for |n| > 126. */
static float k_expf1(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const uint32_t e = tf_f32_to_bits(z) << 23;
    const float k = tf_f32_from_bits(e + tf_f32_to_bits(1.0f));
    const int c = fabsf(n) > 126.0f;
    const float u = b * b;
    const float j = fmaf(
        fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
        u, 0x1.ffffecp-1f * b);
    if (!c) return fmaf(j, k, k);
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = tf_f32_from_bits(g + 0x7f000000u);
    const float s2 = tf_f32_from_bits(e - g);
    if (fabsf(n) > 192.0f) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

#if TF_KERNELS_AVX2
/* Eight lanes at a time, each lane k_expf1's operations (ggml_v_expf is itself this AVX2 code);
 * a group with a lane past |n| > 126 (inputs below about -87 or above 88: a softmax's far tail)
 * goes through k_expf1 lane by lane. Scalar, the branches kept the loop from vectorizing: 4 % of
 * a SmolLM2-shaped decode step. */
static void k_expf_n(const float *x, float *y, size_t n) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f),
                 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
        const __m256 z = _mm256_fmadd_ps(xv, _mm256_set1_ps(0x1.715476p+0f), r);
        const __m256 nn = _mm256_sub_ps(z, r);
        const __m256 large =
            _mm256_cmp_ps(_mm256_and_ps(nn, abs_mask), _mm256_set1_ps(126.0f), _CMP_GT_OQ);
        if (_mm256_movemask_ps(large)) {
            for (int l = 0; l < 8; l++) y[i + l] = k_expf1(x[i + l]);
            continue;
        }
        const __m256 b = _mm256_fnmadd_ps(nn, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                          _mm256_fnmadd_ps(nn, _mm256_set1_ps(0x1.62e4p-1f), xv));
        const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
        const __m256 k =
            _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
        const __m256 u = _mm256_mul_ps(b, b);
        const __m256 j = _mm256_fmadd_ps(
            _mm256_fmadd_ps(
                _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)),
                u,
                _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
            u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(j, k, k));
    }
    for (; i < n; i++) y[i] = k_expf1(x[i]);
}
#else
static void k_expf_n(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = k_expf1(x[i]);
}
#endif

/* ggml's GELU through its float16 table, times the up projection (see tf_cpu_kernels). */
static inline float k_gelu_table1(const uint16_t *table, float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return tf_f16_to_f32(table[tf_f32_to_f16(x)]);
}

#if TF_KERNELS_AVX2
/* Eight at a time: F16C's round to nearest even is tf_f32_to_f16's (NaN included), the table read
 * as 32-bit words (2 bytes of padding past its end) and cut to their low halves. */
static void k_gelu_table_mul(const uint16_t *table, float *gate, const float *up, size_t n) {
    const __m256 low = _mm256_set1_ps(-10.0f), high = _mm256_set1_ps(10.0f);
    const __m256i half = _mm256_set1_epi32(0xFFFF);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(gate + i);
        const __m256i index = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
        const __m256i words =
            _mm256_and_si256(_mm256_i32gather_epi32((const int *)table, index, 2), half);
        const __m128i halves =
            _mm_packus_epi32(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
        __m256 g = _mm256_cvtph_ps(halves);
        g = _mm256_blendv_ps(g, _mm256_setzero_ps(), _mm256_cmp_ps(x, low, _CMP_LE_OQ));
        g = _mm256_blendv_ps(g, x, _mm256_cmp_ps(x, high, _CMP_GE_OQ));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(g, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) gate[i] = k_gelu_table1(table, gate[i]) * up[i];
}
#else
static void k_gelu_table_mul(const uint16_t *table, float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) gate[i] = k_gelu_table1(table, gate[i]) * up[i];
}
#endif

#if TF_KERNELS_AVX2
/* Eight pairs at a time: fmsub(x0, c, x1·s) is fmaf(x0, c, -(x1·s)) (negating is exact). */
static void k_rope_neox(float *x0, float *x1, size_t n, const float *c, const float *s) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 a = _mm256_loadu_ps(x0 + i), b = _mm256_loadu_ps(x1 + i);
        const __m256 cv = _mm256_loadu_ps(c + i), sv = _mm256_loadu_ps(s + i);
        _mm256_storeu_ps(x0 + i, _mm256_fmsub_ps(a, cv, _mm256_mul_ps(b, sv)));
        _mm256_storeu_ps(x1 + i, _mm256_fmadd_ps(a, sv, _mm256_mul_ps(b, cv)));
    }
    for (; i < n; i++) {
        const float a = x0[i], b = x1[i];
        x0[i] = fmaf(a, c[i], -(b * s[i]));
        x1[i] = fmaf(a, s[i], b * c[i]);
    }
}
#else
static void k_rope_neox(float *x0, float *x1, size_t n, const float *c, const float *s) {
    for (size_t i = 0; i < n; i++) {
        const float a = x0[i], b = x1[i];
        x0[i] = fmaf(a, c[i], -(b * s[i]));
        x1[i] = fmaf(a, s[i], b * c[i]);
    }
}
#endif

/* A build may replace these four with its own (cpu_kernels_avx512.c, defined before including
 * this file). */
#ifndef TF_KERNEL_Q8_0
#define TF_KERNEL_Q8_0 k_dot_q8_0
/* no four-token legacy dots: the x86-64-v3 table's prompts and batched decode take its
 * row-by-token products (cpu_kernels_gemm_avx2.h), the generic table's its single-row dots */
#define TF_KERNEL_Q8_0_X4 NULL
#if TF_KERNELS_AVX2
#define TF_KERNEL_Q8_0_ROWS4 k_dot_q8_0_rows4
#endif
#define TF_KERNEL_Q5_0 k_dot_q5_0
#define TF_KERNEL_Q5_0_X4 NULL
#endif
#ifndef TF_KERNEL_Q8_0_ROWS4 /* four weight rows: none but where a build brings them */
#define TF_KERNEL_Q8_0_ROWS4 NULL
#endif
#ifndef TF_KERNEL_Q5_0_GEMM /* row tiles: none but where a build brings its own */
#define TF_KERNEL_Q5_0_GEMM NULL
#define TF_KERNEL_Q8_0_GEMM NULL
#endif
#ifndef TF_KERNEL_PACKS /* packed rows: none but where a build reads them */
#define TF_KERNEL_PACKS 0u
#endif
#ifndef TF_KERNEL_Q8_0_GEMM_FAST
#define TF_KERNEL_Q8_0_GEMM_FAST NULL
#endif
#ifndef TF_KERNEL_Q5_0_GEMM_FAST
#define TF_KERNEL_Q5_0_GEMM_FAST NULL
#endif
#ifndef TF_KERNEL_Q4_K_ROWS4_GEMM /* k-quant row tiles: each none but where a build brings it */
#define TF_KERNEL_Q4_K_ROWS4_GEMM NULL
#endif
#ifndef TF_KERNEL_Q4_K_ROWS_GEMM
#define TF_KERNEL_Q4_K_ROWS_GEMM NULL
#endif
#ifndef TF_KERNEL_Q6_K_TILED_GEMM
#define TF_KERNEL_Q6_K_TILED_GEMM NULL
#endif

#include "backend/cpu/cpu_kernels_attn_impl.h"
const tf_cpu_kernels TF_KERNELS_NAME = {
    .name = TF_KERNELS_LABEL,
    .packs = TF_KERNEL_PACKS,
    .q4_0 = k_dot_q4_0,
    .q5_0 = TF_KERNEL_Q5_0,
    .q8_0 = TF_KERNEL_Q8_0,
    .q5_0_x4 = TF_KERNEL_Q5_0_X4,
    .q8_0_x4 = TF_KERNEL_Q8_0_X4,
    .q8_0_rows4 = TF_KERNEL_Q8_0_ROWS4,
    .q5_0_gemm = TF_KERNEL_Q5_0_GEMM,
    .q8_0_gemm = TF_KERNEL_Q8_0_GEMM,
    .q4_k_rows4_gemm = TF_KERNEL_Q4_K_ROWS4_GEMM,
    .q4_k_rows_gemm = TF_KERNEL_Q4_K_ROWS_GEMM,
    .q6_k_tiled_gemm = TF_KERNEL_Q6_K_TILED_GEMM,
    .q8_0_gemm_fast = TF_KERNEL_Q8_0_GEMM_FAST,
    .q5_0_gemm_fast = TF_KERNEL_Q5_0_GEMM_FAST,
    .q4_k_rows4_x4 = k_dot4_q4_k_rows4,
    .q6_k_tiled_x4 = k_dot4_q6_k_tiled,
    .q4_k_rows_x4 = k_dot4_q4_k_rows,
    .q6_k_x4 = k_dot4_q6_k,
    .q4_k = k_dot_q4_k,
    .q4_0_rows = k_dot_q4_0_rows,
    .q4_k_rows = k_dot_q4_k_rows,
    .q4_k_rows4 = k_dot_q4_k_rows4,
    .q5_k = k_dot_q5_k,
    .q4_k_tiled = k_dot_q4_k_tiled,
    .q5_k_tiled = k_dot_q5_k_tiled,
    .q6_k_tiled = k_dot_q6_k_tiled,
    .q6_k = k_dot_q6_k,
    .dot_vecdot = k_dot_vecdot,
    .dot_vecdot_f32 = k_dot_vecdot_f32,
    .dot_tiled = k_dot_tiled,
    .axpy = k_axpy,
    .f16_to_f32 = k_f16_to_f32,
    .f32_to_f16 = k_f32_to_f16,
    .expf_n = k_expf_n,
    .gelu_table_mul = k_gelu_table_mul,
    .rope_neox = k_rope_neox,
    .attn_scores_tiled = K_ATTN_SCORES_TILED,
    .attn_scores_vecdot = K_ATTN_SCORES_VECDOT,
    .attn_values = K_ATTN_VALUES,
    .attn_round_f16 = K_ATTN_ROUND_F16,
    .attn_q8_scores = K_ATTN_Q8_SCORES,
    .attn_q8_values = K_ATTN_Q8_VALUES,
};
