/* Activations quantized to Q8_0 / Q8_K blocks as llama.cpp quantizes them (see cpu_qdot.h); the
 * dot products with weight rows are in the kernel table (cpu_kernels_impl.h). */
#include "backend/cpu/cpu_qdot.h"

#include <math.h>
#include <string.h>

#include "quant/fp16.h"

/* ---- activations ---- */

/* nearbyintf, then int8: defined for every input, since a hostile file's NaN or infinite scale
 * reaches the activations (a float → int conversion of NaN or of an out-of-range value is
 * undefined behaviour in C). NaN gives 0, values beyond the range its nearest end; finite
 * activations quantize exactly as ggml's do. Non-finite weights are not rejected at load —
 * scanning every block scale would cost a pass over the file — so such a model gives NaN
 * logits, not a crash. */
static inline int q8_round(float v) {
    if (!(v == v)) return 0;
    if (v >= 127.0f) return 127;
    if (v <= -128.0f) return -128;
    return (int)nearbyintf(v);
}

/* ggml's AVX2 quantize_row_q8_0: scale 127/amax, round to nearest even, d stored as f16. */
static void quantize_q8_0(const float *x, uint32_t n, tf_q8_0_act *out) {
    for (uint32_t b = 0; b < n / TF_QK8_0; b++, x += TF_QK8_0) {
        float amax = 0;
        for (int j = 0; j < TF_QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        out[b].d = tf_f16_to_f32(tf_f32_to_f16(d));
        for (int j = 0; j < TF_QK8_0; j++) out[b].qs[j] = (int8_t)q8_round(x[j] * id);
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
        float amax = 0, max = 0;
        for (int j = 0; j < TF_QK_K; j++)
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
        for (int j = 0; j < TF_QK_K; j++) {
            const int v = q8_round(iscale * x[j]);
            y->qs[j] = (int8_t)(v < 127 ? v : 127);
        }
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
