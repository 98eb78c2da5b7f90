/* Activations quantized to Q8_0 / Q8_K blocks as llama.cpp quantizes them (see cpu_qdot.h); the
 * dot products with weight rows are in the kernel table (cpu_kernels_impl.h). */
#include "backend/cpu/cpu_qdot.h"

#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "quant/fp16.h"

/* ---- activations ---- */

/* nearbyintf, then int8: defined for every input, since a hostile file's NaN or infinite scale
 * reaches the activations (a float → int conversion of NaN or of an out-of-range value is
 * undefined behaviour in C). NaN gives 0, values beyond the range its nearest end; finite
 * activations quantize exactly as ggml's do. Non-finite weights are not rejected at load —
 * scanning every block scale would cost a pass over the file — so such a model gives NaN
 * logits, not a crash. */
#if !defined(__SSE2__) /* the SSE2 path below does the same four lanes at a time */
static inline int q8_round(float v) {
    if (!(v == v)) return 0;
    if (v >= 127.0f) return 127;
    if (v <= -128.0f) return -128;
    return (int)nearbyintf(v);
}
#endif

/* The block's largest magnitude (NaN ignored, as fmaxf does) and q8_round(x[j] · id) of its
 * n (a multiple of 16) elements. In SSE2 (x86-64's baseline) four lanes a step with the same
 * values: the largest magnitude is the same in any order, the product is one rounding either
 * way, CVTPS2DQ rounds to nearest even as nearbyintf does in the default rounding mode, and NaN
 * is zeroed and the rest clamped to [-128, 127] first, as q8_round does. The scalar loops they
 * replace called libm's fmaxf and nearbyintf per element: 6 % of a batched server step. */
#if defined(__SSE2__)
static float block_amax(const float *x, int n) {
    const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7FFFFFFF));
    __m128 m = _mm_setzero_ps();
    for (int j = 0; j < n; j += 4) /* MAXPS(a, m) keeps m where a is NaN */
        m = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + j), abs_mask), m);
    float lanes[4], amax = 0;
    _mm_storeu_ps(lanes, m);
    for (int l = 0; l < 4; l++) amax = lanes[l] > amax ? lanes[l] : amax; /* no NaN left */
    return amax;
}

static void block_round(const float *x, int n, float id, int8_t *qs) {
    const __m128 scale = _mm_set1_ps(id), lo = _mm_set1_ps(-128.0f), hi = _mm_set1_ps(127.0f);
    for (int j = 0; j < n; j += 16) {
        __m128i q[4];
        for (int k = 0; k < 4; k++) {
            __m128 v = _mm_mul_ps(_mm_loadu_ps(x + j + 4 * k), scale);
            v = _mm_and_ps(v, _mm_cmpord_ps(v, v)); /* NaN → 0 */
            q[k] = _mm_cvtps_epi32(_mm_max_ps(_mm_min_ps(v, hi), lo));
        }
        const __m128i w = _mm_packs_epi16(_mm_packs_epi32(q[0], q[1]), _mm_packs_epi32(q[2], q[3]));
        _mm_storeu_si128((__m128i *)(qs + j), w);
    }
}
#else
static float block_amax(const float *x, int n) {
    float amax = 0;
    for (int j = 0; j < n; j++) amax = fmaxf(amax, fabsf(x[j]));
    return amax;
}

static void block_round(const float *x, int n, float id, int8_t *qs) {
    for (int j = 0; j < n; j++) qs[j] = (int8_t)q8_round(x[j] * id);
}
#endif

/* ggml's AVX2 quantize_row_q8_0: scale 127/amax, round to nearest even, d stored as f16. */
static void quantize_q8_0(const float *x, uint32_t n, tf_q8_0_act *out) {
    for (uint32_t b = 0; b < n / TF_QK8_0; b++, x += TF_QK8_0) {
        const float amax = block_amax(x, TF_QK8_0);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        out[b].d = tf_f16_to_f32(tf_f32_to_f16(d));
        block_round(x, TF_QK8_0, id, out[b].qs);
    }
}

void tf_cpu_quantize_q8_0_blocks(const float *x, uint32_t n, void *out) {
    tf_block_q8_0 *blocks = out;
    for (uint32_t b = 0; b < n / TF_QK8_0; b++) {
        tf_q8_0_act act;
        quantize_q8_0(x + (size_t)b * TF_QK8_0, TF_QK8_0, &act);
        blocks[b].d = tf_f32_to_f16(act.d); /* act.d came through float16: exact */
        memcpy(blocks[b].qs, act.qs, TF_QK8_0);
    }
}

/* ggml's quantize_row_q8_K_ref: the signed element of largest magnitude maps to -127. */
static void quantize_q8_k(const float *x, uint32_t n, tf_q8_k_act *out) {
    for (uint32_t b = 0; b < n / TF_QK_K; b++, x += TF_QK_K) {
        /* the first element of the largest magnitude gives the sign */
        const float amax = block_amax(x, TF_QK_K);
        float max = 0;
        for (int j = 0; amax > 0 && j < TF_QK_K; j++)
            if (fabsf(x[j]) == amax) {
                max = x[j];
                break;
            }
        tf_q8_k_act *y = &out[b];
        if (amax == 0) {
            memset(y, 0, sizeof *y);
            continue;
        }
        const float iscale = -127.0f / max;
        block_round(x, TF_QK_K, iscale, y->qs); /* within [-128, 127] already */
        for (int g = 0; g < TF_QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += y->qs[g * 16 + j];
            y->bsums[g] = (int16_t)sum;
        }
        y->d = 1.0f / iscale;
    }
}

/* ---- tables ---- */

tf_act_quant tf_cpu_act_quant_of(tinfer_dtype dtype) {
    switch (dtype) {
    case TINFER_DTYPE_Q4_0:
    case TINFER_DTYPE_Q5_0:
    case TINFER_DTYPE_Q8_0:
        return TF_ACT_Q8_0;
    case TINFER_DTYPE_Q4_K:
    case TINFER_DTYPE_Q5_K:
    case TINFER_DTYPE_Q6_K:
        return TF_ACT_Q8_K;
    default:
        return TF_ACT_NONE;
    }
}

size_t tf_cpu_act_row_bytes(tf_act_quant kind, uint32_t n_elems) {
    if (kind == TF_ACT_Q8_0) return (size_t)(n_elems / TF_QK8_0) * sizeof(tf_q8_0_act);
    if (kind == TF_ACT_Q8_K) return (size_t)(n_elems / TF_QK_K) * sizeof(tf_q8_k_act);
    return 0;
}

void tf_cpu_quantize_act(tf_act_quant kind, const float *x, uint32_t n_elems, void *out) {
    if (kind == TF_ACT_Q8_0) quantize_q8_0(x, n_elems, out);
    else if (kind == TF_ACT_Q8_K) quantize_q8_k(x, n_elems, out);
}
