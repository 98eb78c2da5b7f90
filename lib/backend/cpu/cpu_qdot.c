/* Integer dot products of weight blocks with Q8_0 / Q8_K activation blocks (see cpu_qdot.h).
 * Each follows ggml's reference vec_dot (ggml-cpu/quants.c) in what it sums and scales; only the
 * order of the final float additions differs from its SIMD versions. */
#include "backend/cpu/cpu_qdot.h"

#include <math.h>
#include <string.h>

#include "quant/fp16.h"
#include "quant/kquant_scales.h"

enum { QK = 32, QK_K = 256 };
enum {
    Q4_0_BYTES = 18,
    Q5_0_BYTES = 22,
    Q8_0_BYTES = 34,
    Q4_K_BYTES = 144,
    Q5_K_BYTES = 176,
    Q6_K_BYTES = 210
};

/* ---- activations ---- */

/* ggml's AVX2 quantize_row_q8_0: scale 127/amax, round to nearest even, d stored as f16. */
static void quantize_q8_0(const float *x, uint32_t n, tf_q8_0_act *out) {
    for (uint32_t b = 0; b < n / QK; b++, x += QK) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        out[b].d = tf_f16_to_f32(tf_f32_to_f16(d));
        for (int j = 0; j < QK; j++) out[b].qs[j] = (int8_t)nearbyintf(x[j] * id);
    }
}

/* ggml's quantize_row_q8_K_ref: the signed element of largest magnitude maps to -127. */
static void quantize_q8_k(const float *x, uint32_t n, tf_q8_k_act *out) {
    for (uint32_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        tf_q8_k_act *y = &out[b];
        if (amax == 0) {
            memset(y, 0, sizeof *y);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            const int v = (int)nearbyintf(iscale * x[j]);
            y->qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += y->qs[g * 16 + j];
            y->bsums[g] = (int16_t)sum;
        }
        y->d = 1.0f / iscale;
    }
}

/* ---- legacy formats × Q8_0 ---- */

static int dot32(const int8_t *a, const int8_t *b) {
    int sum = 0;
    for (int j = 0; j < QK; j++) sum += a[j] * b[j];
    return sum;
}

static float dot_q8_0(const uint8_t *w, const void *xq, uint32_t n) {
    const tf_q8_0_act *x = xq;
    float sum = 0;
    for (uint32_t b = 0; b < n / QK; b++, w += Q8_0_BYTES) {
        int8_t q[QK];
        memcpy(q, w + 2, QK);
        sum += (float)dot32(q, x[b].qs) * (tf_f16_load(w) * x[b].d);
    }
    return sum;
}

static float dot_q4_0(const uint8_t *w, const void *xq, uint32_t n) {
    const tf_q8_0_act *x = xq;
    float sum = 0;
    for (uint32_t b = 0; b < n / QK; b++, w += Q4_0_BYTES) {
        int8_t q[QK];
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((w[2 + j] & 0x0F) - 8);
            q[j + 16] = (int8_t)((w[2 + j] >> 4) - 8);
        }
        sum += (float)dot32(q, x[b].qs) * (tf_f16_load(w) * x[b].d);
    }
    return sum;
}

/* Bit k of qh_byte as 0x10 in byte k of the result: the fifth bit of 8 Q5 codes at once
 * (spread the byte to all 8 lanes, keep lane k's bit, turn non-zero lanes into 0x10). */
static uint64_t spread_high_bits(uint32_t qh_byte) {
    const uint64_t picked = (qh_byte * 0x0101010101010101ull) & 0x8040201008040201ull;
    return (((picked + 0x7F7F7F7F7F7F7F7Full) >> 7) & 0x0101010101010101ull) << 4;
}

static float dot_q5_0(const uint8_t *w, const void *xq, uint32_t n) {
    const tf_q8_0_act *x = xq;
    float sum = 0;
    for (uint32_t b = 0; b < n / QK; b++, w += Q5_0_BYTES) {
        const uint8_t *qs = w + 6;
        uint8_t high[QK];
        for (int k = 0; k < 4; k++) {
            const uint64_t lanes = spread_high_bits(w[2 + k]);
            memcpy(high + 8 * k, &lanes, sizeof lanes);
        }
        int8_t q[QK];
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)(((qs[j] & 0x0F) | high[j]) - 16);
            q[j + 16] = (int8_t)(((qs[j] >> 4) | high[j + 16]) - 16);
        }
        sum += (float)dot32(q, x[b].qs) * (tf_f16_load(w) * x[b].d);
    }
    return sum;
}

/* ---- k-quants × Q8_K ---- */

/* Σ over 8 sub-blocks of 32: scale_j · (q · x), and Σ min_j · (sum of x in sub-block j). */
static float finish_k4(const uint8_t *w, const int8_t *q, const tf_q8_k_act *x,
                       const uint8_t *scales) {
    int sum_q = 0, sum_min = 0;
    for (int j = 0; j < 8; j++) {
        int scale, min;
        tf_k4_scale_min(scales, j, &scale, &min);
        sum_q += scale * dot32(q + 32 * j, x->qs + 32 * j);
        sum_min += min * (x->bsums[2 * j] + x->bsums[2 * j + 1]);
    }
    const float d = tf_f16_load(w) * x->d, dmin = tf_f16_load(w + 2) * x->d;
    return d * (float)sum_q - dmin * (float)sum_min;
}

static float dot_q4_k(const uint8_t *w, const void *xq, uint32_t n) {
    const tf_q8_k_act *x = xq;
    float sum = 0;
    for (uint32_t b = 0; b < n / QK_K; b++, w += Q4_K_BYTES) {
        const uint8_t *qs = w + 16;
        int8_t q[QK_K];
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++) {
                q[64 * g + l] = (int8_t)(qs[32 * g + l] & 0x0F);
                q[64 * g + 32 + l] = (int8_t)(qs[32 * g + l] >> 4);
            }
        sum += finish_k4(w, q, &x[b], w + 4);
    }
    return sum;
}

static float dot_q5_k(const uint8_t *w, const void *xq, uint32_t n) {
    const tf_q8_k_act *x = xq;
    float sum = 0;
    for (uint32_t b = 0; b < n / QK_K; b++, w += Q5_K_BYTES) {
        const uint8_t *qh = w + 16, *qs = w + 48;
        int8_t q[QK_K];
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++) {
                q[64 * g + l] = (int8_t)((qs[32 * g + l] & 0x0F) | ((qh[l] >> (2 * g)) & 1) << 4);
                q[64 * g + 32 + l] =
                    (int8_t)((qs[32 * g + l] >> 4) | ((qh[l] >> (2 * g + 1)) & 1) << 4);
            }
        sum += finish_k4(w, q, &x[b], w + 4);
    }
    return sum;
}

static float dot_q6_k(const uint8_t *w, const void *xq, uint32_t n) {
    const tf_q8_k_act *x = xq;
    float sum = 0;
    for (uint32_t b = 0; b < n / QK_K; b++, w += Q6_K_BYTES) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *scales = (const int8_t *)(w + 192);
        int8_t q[QK_K];
        for (int half = 0; half < 2; half++) {
            const uint8_t *l_ql = ql + 64 * half, *l_qh = qh + 32 * half;
            int8_t *out = q + 128 * half;
            for (int l = 0; l < 32; l++) {
                out[l] = (int8_t)(((l_ql[l] & 0x0F) | ((l_qh[l] >> 0) & 3) << 4) - 32);
                out[l + 32] = (int8_t)(((l_ql[l + 32] & 0x0F) | ((l_qh[l] >> 2) & 3) << 4) - 32);
                out[l + 64] = (int8_t)(((l_ql[l] >> 4) | ((l_qh[l] >> 4) & 3) << 4) - 32);
                out[l + 96] = (int8_t)(((l_ql[l + 32] >> 4) | ((l_qh[l] >> 6) & 3) << 4) - 32);
            }
        }
        int sum_q = 0;
        for (int g = 0; g < 16; g++) {
            int group = 0;
            for (int j = 0; j < 16; j++) group += q[16 * g + j] * x[b].qs[16 * g + j];
            sum_q += scales[g] * group;
        }
        sum += tf_f16_load(w + 208) * x[b].d * (float)sum_q;
    }
    return sum;
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

tf_qdot_fn tf_cpu_qdot_of(tinfer_dtype dtype) {
    switch (dtype) {
    case TINFER_DTYPE_Q4_0:
        return dot_q4_0;
    case TINFER_DTYPE_Q5_0:
        return dot_q5_0;
    case TINFER_DTYPE_Q8_0:
        return dot_q8_0;
    case TINFER_DTYPE_Q4_K:
        return dot_q4_k;
    case TINFER_DTYPE_Q5_K:
        return dot_q5_k;
    case TINFER_DTYPE_Q6_K:
        return dot_q6_k;
    default:
        return NULL;
    }
}

size_t tf_cpu_act_row_bytes(tf_act_quant kind, uint32_t n_elems) {
    if (kind == TF_ACT_Q8_0) return (size_t)(n_elems / QK) * sizeof(tf_q8_0_act);
    if (kind == TF_ACT_Q8_K) return (size_t)(n_elems / QK_K) * sizeof(tf_q8_k_act);
    return 0;
}

void tf_cpu_quantize_act(tf_act_quant kind, const float *x, uint32_t n_elems, void *out) {
    if (kind == TF_ACT_Q8_0) quantize_q8_0(x, n_elems, out);
    else if (kind == TF_ACT_Q8_K) quantize_q8_k(x, n_elems, out);
}
