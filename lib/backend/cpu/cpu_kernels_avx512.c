/* The AVX-512 build of the CPU kernel table (see cpu_kernels.h): the x86-64-v3 table with the
 * dots of the legacy formats (Q8_0, Q5_0) replaced by AVX-512 VNNI loops that keep sixteen float
 * lanes (two blocks per step, two accumulators) instead of ggml's eight. The integer block sums
 * are still exact; only the order of the float sums differs, so this table is not bit-identical
 * to llama.cpp's x86-64-v3 build and is held to a tolerance (tests/unit/test_cpu_kernels.c per
 * kernel, tests/unit/test_forward_fast.c on the golden logits). The k-quant kernels are the
 * x86-64-v3 ones (exact): their integer work already dominates and their float chains are short.
 * Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni (lib/CMakeLists.txt, only where the
 * compiler takes them: TINFER_AVX512_KERNELS); only called when the CPU and OS support them. */
#if TINFER_AVX512_KERNELS
#include <immintrin.h>
#include <string.h>

#include "backend/cpu/cpu_qdot.h"
#include "quant/blocks.h"

#if !(defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
      defined(__AVX512VNNI__))
#error "cpu_kernels_avx512.c needs -mavx512f -mavx512bw -mavx512vl -mavx512vnni (lib/CMakeLists.txt)"
#endif

/* Two 32-byte halves (two blocks' codes) as one register. */
static inline __m512i z_pair(const void *lo, const void *hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
                              _mm256_loadu_si256((const __m256i *)hi), 1);
}

/* Σ w·x over each 4 bytes, w and x signed: VPDPBUSD takes unsigned times signed, so w + 128 (w
 * with its top bit flipped) times x, started from -128·Σx over the same 4 bytes (z_offset). All
 * integers, exact. */
static inline __m512i z_offset(__m512i x, int8_t bias) {
    const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(bias), x);
    return _mm512_sub_epi32(_mm512_setzero_si512(), sum);
}

static inline __m512i z_dot_i8(__m512i w, __m512i x, __m512i offset) {
    return _mm512_dpbusd_epi32(offset, _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80)), x);
}

/* Σ u·x - 16·Σx over each 4 bytes: the Q5_0 codes as unsigned 0..31, started from z_offset(x, 16). */
static inline __m512i z_dot_q5(__m512i u, __m512i x, __m512i offset) {
    return _mm512_dpbusd_epi32(offset, u, x);
}

/* The unsigned codes (0..31) of Q5_0 blocks b and b+1 in one register: per block its 16 low
 * nibbles, then its 16 high nibbles, each with its fifth bit from qh (bit j of code j). */
static inline __m512i z_q5_0_codes(const tf_block_q5_0 *w) {
    const __m128i a = _mm_loadu_si128((const __m128i *)w[0].qs);
    const __m128i b = _mm_loadu_si128((const __m128i *)w[1].qs);
    const __m512i packed = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_set_m128i(a, a)), _mm256_set_m128i(b, b), 1);
    const __m512i shifts = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    const __m512i nibbles = _mm512_and_si512(_mm512_srlv_epi64(packed, shifts),
                                             _mm512_set1_epi8(0x0F));
    uint32_t qh0, qh1;
    memcpy(&qh0, w[0].qh, sizeof qh0);
    memcpy(&qh1, w[1].qh, sizeof qh1);
    const __mmask64 high = (__mmask64)qh0 | (__mmask64)qh1 << 32;
    return _mm512_mask_add_epi8(nibbles, high, nibbles, _mm512_set1_epi8(0x10));
}

/* One block's codes (the odd last block), as the low half of a register. */
static inline __m512i z_q5_0_codes1(const tf_block_q5_0 *w) {
    const __m128i a = _mm_loadu_si128((const __m128i *)w->qs);
    const __m256i nibbles = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(a, 4), a),
                                             _mm256_set1_epi8(0x0F));
    uint32_t qh;
    memcpy(&qh, w->qh, sizeof qh);
    return _mm512_zextsi256_si512(
        _mm256_mask_add_epi8(nibbles, (__mmask32)qh, nibbles, _mm256_set1_epi8(0x10)));
}

/* Scales of blocks b, b+1 (weight f16 widened by F16C, times the activation's) in lanes 0-7
 * and 8-15. */
static inline __m512 z_scales(uint16_t dw0, uint16_t dw1, __m128 dx) {
    const __m128 dw = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)dw0 | (uint32_t)dw1 << 16)));
    const __m512i spread = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_mul_ps(dw, dx)));
}

static inline __m128 z_dx(const tf_q8_0_act *x) { return _mm_set_ps(0, 0, x[1].d, x[0].d); }

static inline __m512 z_scale1(uint16_t dw, float dx) {
    const float d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(dw))) * dx;
    return _mm512_zextps256_ps512(_mm256_set1_ps(d)); /* upper lanes: zero sums times zero */
}

/* Σ over n_x activation rows at once (n_x = 1 or 4), each row's arithmetic the same whatever
 * n_x: blocks in pairs into two 16-lane accumulators (pairs alternate), the odd last block into
 * the first, then acc0 + acc1 reduced by _mm512_reduce_add_ps. */
static inline void z_dot_q8_0_n(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n,
                                float *out) {
    const tf_block_q8_0 *w = (const void *)w_row;
    const uint32_t n_blocks = n / TF_QK8_0;
    __m512 acc[4][2];
    for (int t = 0; t < n_x; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    uint32_t b = 0;
    for (int which = 0; b + 2 <= n_blocks; b += 2, which ^= 1) {
        const __m512i qw = z_pair(w[b].qs, w[b + 1].qs);
        for (int t = 0; t < n_x; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)xq[t] + b;
            const __m512 d = z_scales(w[b].d, w[b + 1].d, z_dx(x));
            const __m512i qx = z_pair(x[0].qs, x[1].qs);
            const __m512 lanes = _mm512_cvtepi32_ps(z_dot_i8(qw, qx, z_offset(qx, -128)));
            acc[t][which] = _mm512_fmadd_ps(d, lanes, acc[t][which]);
        }
    }
    if (b < n_blocks) {
        const __m512i qw = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)w[b].qs));
        for (int t = 0; t < n_x; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)xq[t] + b;
            const __m512i qx = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)x->qs));
            const __m512i lanes = _mm512_maskz_mov_epi32(0x00FF, z_dot_i8(qw, qx, z_offset(qx, -128)));
            acc[t][0] = _mm512_fmadd_ps(z_scale1(w[b].d, x->d), _mm512_cvtepi32_ps(lanes),
                                        acc[t][0]);
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
}

static inline void z_dot_q5_0_n(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n,
                                float *out) {
    const tf_block_q5_0 *w = (const void *)w_row;
    const uint32_t n_blocks = n / TF_QK5_0;
    __m512 acc[4][2];
    for (int t = 0; t < n_x; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    uint32_t b = 0;
    for (int which = 0; b + 2 <= n_blocks; b += 2, which ^= 1) {
        const __m512i qw = z_q5_0_codes(&w[b]);
        for (int t = 0; t < n_x; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)xq[t] + b;
            const __m512 d = z_scales(w[b].d, w[b + 1].d, z_dx(x));
            const __m512i qx = z_pair(x[0].qs, x[1].qs);
            const __m512 lanes = _mm512_cvtepi32_ps(z_dot_q5(qw, qx, z_offset(qx, 16)));
            acc[t][which] = _mm512_fmadd_ps(d, lanes, acc[t][which]);
        }
    }
    if (b < n_blocks) {
        const __m512i qw = z_q5_0_codes1(&w[b]);
        for (int t = 0; t < n_x; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)xq[t] + b;
            const __m512i qx = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)x->qs));
            const __m512i lanes = _mm512_maskz_mov_epi32(0x00FF, z_dot_q5(qw, qx, z_offset(qx, 16)));
            acc[t][0] = _mm512_fmadd_ps(z_scale1(w[b].d, x->d), _mm512_cvtepi32_ps(lanes),
                                        acc[t][0]);
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
}

static float z_dot_q8_0(const uint8_t *w_row, const void *xq, uint32_t n) {
    float out;
    z_dot_q8_0_n(w_row, &xq, 1, n, &out);
    return out;
}

static void z_dot4_q8_0(const uint8_t *w_row, const void *const xq[4], uint32_t n, float out[4]) {
    z_dot_q8_0_n(w_row, xq, 4, n, out);
}

static float z_dot_q5_0(const uint8_t *w_row, const void *xq, uint32_t n) {
    float out;
    z_dot_q5_0_n(w_row, &xq, 1, n, &out);
    return out;
}

static void z_dot4_q5_0(const uint8_t *w_row, const void *const xq[4], uint32_t n, float out[4]) {
    z_dot_q5_0_n(w_row, xq, 4, n, out);
}

/* The rest of the table is the x86-64-v3 source, compiled here with these flags. */
#define TF_KERNELS_NAME tf_cpu_kernels_avx512_table
#define TF_KERNELS_LABEL "avx512"
#define TF_KERNELS_AVX2 1
#define TF_KERNEL_Q8_0 z_dot_q8_0
#define TF_KERNEL_Q8_0_X4 z_dot4_q8_0
#define TF_KERNEL_Q5_0 z_dot_q5_0
#define TF_KERNEL_Q5_0_X4 z_dot4_q5_0
#include "backend/cpu/cpu_kernels_impl.h"
#else
typedef int tf_cpu_kernels_avx512_unused; /* not built (TINFER_AVX512_KERNELS=0) */
#endif
