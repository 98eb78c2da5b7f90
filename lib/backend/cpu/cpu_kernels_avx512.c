/* The AVX-512 build of the CPU kernel table (see cpu_kernels.h): the x86-64-v3 table with the
 * dots of the legacy formats (Q8_0, Q5_0 — the output head and most layer matrices of the default
 * model) replaced by AVX-512 VNNI loops. Their integer block sums come from one VPDPBUSD per pair
 * of blocks (ggml's AVX2 loop needs sign, sign, maddubs and madd per block) and the codes of two
 * Q5_0 blocks are unpacked at once with a mask register; the float part stays exactly ggml's —
 * eight lanes, one fused multiply-add per block in block order, its horizontal-add tree — so this
 * table is bit-identical to the x86-64-v3 one and to llama.cpp (tests/unit/test_cpu_kernels.c,
 * test_forward_golden.c, test_forward_fast.c).
 *
 * A sixteen-lane float order (one accumulator per pair of blocks) was tried first: it was slower
 * (the per-pair scale spread and the 16-lane reduction cost more than the shorter chain saves)
 * and, through the activations' re-quantization in every layer, moved the default model's logits
 * by up to 3.1 against the exact path (mean NLL +0.07 %). The exact order is kept.
 *
 * Compiled with -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512vnni
 * (lib/CMakeLists.txt, only where the compiler takes them: TINFER_AVX512_KERNELS); only called
 * when the CPU and OS support them (cpu_kernels.c). */
#if TINFER_AVX512_KERNELS
#include <immintrin.h>
#include <string.h>

#include "backend/cpu/cpu_qdot.h"
#include "quant/blocks.h"

#if !(defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
      defined(__AVX512VNNI__))
#error \
    "cpu_kernels_avx512.c needs -mavx512f -mavx512bw -mavx512vl -mavx512vnni (lib/CMakeLists.txt)"
#endif

/* Two 32-byte halves (two blocks' codes) as one register. */
static inline __m512i z_pair(const void *lo, const void *hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
                              _mm256_loadu_si256((const __m256i *)hi), 1);
}

/* One 32-byte block in the low half, zeros above. */
static inline __m512i z_one(const void *lo) {
    return _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)lo));
}

/* -bias·Σx over each 4 bytes of x: where VPDPBUSD starts, so that an offset code (w + 128, or the
 * Q5_0 code 0..31 for w + 16) comes out as Σ w·x. All integers, exact. */
static inline __m512i z_offset(__m512i x, int8_t bias) {
    const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(bias), x);
    return _mm512_sub_epi32(_mm512_setzero_si512(), sum);
}

/* Σ w·x over each 4 bytes, w and x signed: VPDPBUSD takes unsigned times signed, so w + 128 (w
 * with its top bit flipped) times x, started from -128·Σx. */
static inline __m512i z_lanes_q8_0(__m512i w, __m512i x) {
    return _mm512_dpbusd_epi32(z_offset(x, (int8_t)-128),
                               _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80)), x);
}

/* Σ (u - 16)·x over each 4 bytes, u the Q5_0 codes as unsigned 0..31. */
static inline __m512i z_lanes_q5_0(__m512i u, __m512i x) {
    return _mm512_dpbusd_epi32(z_offset(x, 16), u, x);
}

/* The unsigned codes (0..31) of Q5_0 blocks w[0] and w[1] in one register: per block its 16 low
 * nibbles, then its 16 high nibbles, each plus 16 where qh has bit j set (code j). */
static inline __m512i z_q5_0_codes2(const tf_block_q5_0 *w) {
    const __m128i a = _mm_loadu_si128((const __m128i *)w[0].qs);
    const __m128i b = _mm_loadu_si128((const __m128i *)w[1].qs);
    const __m512i packed = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(a, a)),
                                              _mm256_set_m128i(b, b), 1);
    const __m512i shifts = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    const __m512i nibbles =
        _mm512_and_si512(_mm512_srlv_epi64(packed, shifts), _mm512_set1_epi8(0x0F));
    uint32_t qh0, qh1;
    memcpy(&qh0, w[0].qh, sizeof qh0);
    memcpy(&qh1, w[1].qh, sizeof qh1);
    const __mmask64 high = (__mmask64)qh0 | (__mmask64)qh1 << 32;
    return _mm512_mask_add_epi8(nibbles, high, nibbles, _mm512_set1_epi8(0x10));
}

/* One block's codes (an odd last block), zeros above. */
static inline __m512i z_q5_0_codes1(const tf_block_q5_0 *w) {
    const __m128i a = _mm_loadu_si128((const __m128i *)w->qs);
    const __m256i nibbles =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(a, 4), a), _mm256_set1_epi8(0x0F));
    uint32_t qh;
    memcpy(&qh, w->qh, sizeof qh);
    return _mm512_zextsi256_si512(
        _mm256_mask_add_epi8(nibbles, (__mmask32)qh, nibbles, _mm256_set1_epi8(0x10)));
}

/* d_w·d_x of two blocks (lanes 0, 1) as ggml forms it: the weight's f16 widened (F16C, exact),
 * times the activation's scale, one rounding. */
static inline __m128 z_scales2(uint16_t dw0, uint16_t dw1, const tf_q8_0_act *x, int n_blocks) {
    const __m128 dw = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)dw0 | (uint32_t)dw1 << 16)));
    const __m128 dx = _mm_set_ps(0, 0, n_blocks > 1 ? x[1].d : 0.0f, x[0].d);
    return _mm_mul_ps(dw, dx);
}

/* ggml's per-block step, acc = fma(d, lanes, acc) in eight lanes, for the blocks in the low and
 * (n_blocks 2) high halves of lanes, in block order. */
static inline __m256 z_accumulate(__m512i lanes_i, __m128 d, int n_blocks, __m256 acc) {
    const __m512 lanes = _mm512_cvtepi32_ps(lanes_i);
    acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(d), _mm512_castps512_ps256(lanes), acc);
    if (n_blocks > 1)
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(d)),
                              _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(lanes), 1)),
                              acc);
    return acc;
}

/* ggml's hsum_float_8, as the x86-64-v3 table's. */
static inline float z_hsum8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* Σ over n_x activation rows at once (1 or 4: each weight pair unpacked once), each row's
 * arithmetic the same whatever n_x. */
static inline void z_dot_q8_0_n(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n,
                                float *out) {
    const tf_block_q8_0 *w = (const void *)w_row;
    const uint32_t n_blocks = n / TF_QK8_0;
    __m256 acc[4];
    for (int t = 0; t < n_x; t++) acc[t] = _mm256_setzero_ps();
    for (uint32_t b = 0; b < n_blocks; b += 2) {
        const int pair = b + 1 < n_blocks ? 2 : 1;
        const __m512i qw = pair == 2 ? z_pair(w[b].qs, w[b + 1].qs) : z_one(w[b].qs);
        const uint16_t dw1 = pair == 2 ? w[b + 1].d : 0;
        for (int t = 0; t < n_x; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)xq[t] + b;
            const __m512i qx = pair == 2 ? z_pair(x[0].qs, x[1].qs) : z_one(x[0].qs);
            acc[t] =
                z_accumulate(z_lanes_q8_0(qw, qx), z_scales2(w[b].d, dw1, x, pair), pair, acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = z_hsum8(acc[t]);
}

static inline void z_dot_q5_0_n(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n,
                                float *out) {
    const tf_block_q5_0 *w = (const void *)w_row;
    const uint32_t n_blocks = n / TF_QK5_0;
    __m256 acc[4];
    for (int t = 0; t < n_x; t++) acc[t] = _mm256_setzero_ps();
    for (uint32_t b = 0; b < n_blocks; b += 2) {
        const int pair = b + 1 < n_blocks ? 2 : 1;
        const __m512i qw = pair == 2 ? z_q5_0_codes2(&w[b]) : z_q5_0_codes1(&w[b]);
        const uint16_t dw1 = pair == 2 ? w[b + 1].d : 0;
        for (int t = 0; t < n_x; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)xq[t] + b;
            const __m512i qx = pair == 2 ? z_pair(x[0].qs, x[1].qs) : z_one(x[0].qs);
            acc[t] =
                z_accumulate(z_lanes_q5_0(qw, qx), z_scales2(w[b].d, dw1, x, pair), pair, acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = z_hsum8(acc[t]);
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
