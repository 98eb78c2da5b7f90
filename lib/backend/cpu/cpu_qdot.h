/* Dot products of quantized weight rows with activations quantized the way llama.cpp does it:
 * to Q8_0 (32-element blocks) for the legacy formats and to Q8_K (256-element blocks) for the
 * k-quants. The products are integer sums scaled once per block, summed in the reference engine's
 * float order (cpu_kernels.h), so our results are bit-identical to its. */
#ifndef TINFER_BACKEND_CPU_CPU_QDOT_H
#define TINFER_BACKEND_CPU_CPU_QDOT_H

#include <stddef.h>
#include <stdint.h>

#include "quant/blocks.h"
#include "tinfer/tinfer.h"

/* Not ggml's block_q8_0 (an f16 d): the scale is kept widened, so the dots skip a conversion. */
typedef struct tf_q8_0_act {
    float d; /* the scale, already rounded through float16 as ggml stores it */
    int8_t qs[TF_QK8_0];
} tf_q8_0_act;

/* ggml's block_q8_K (tf_block_q8_k), naturally aligned: the rows are ours, never a file's. */
typedef struct tf_q8_k_act {
    float d;
    int8_t qs[TF_QK_K];
    int16_t bsums[TF_QK_K / 16]; /* sums of each 16 consecutive qs (the k-quant mins need them) */
} tf_q8_k_act;
_Static_assert(sizeof(tf_q8_k_act) == sizeof(tf_block_q8_k), "tf_q8_k_act is block_q8_K");

/* The bsums of sub-blocks 2p and 2p + 1 (32 elements each: the sum of two bsums, within int16)
 * as one int32 of two int16, low and high: the multiplier of a madd with the k-quant mins of the
 * two sub-blocks as an int16 pair (the row tiles' Q4_K mins, avx512 and AVX2). */
static inline int32_t tf_q8_k_bsum_pair(const tf_q8_k_act *x, int p) {
    const int32_t lo = x->bsums[4 * p] + x->bsums[4 * p + 1];
    const int32_t hi = x->bsums[4 * p + 2] + x->bsums[4 * p + 3];
    return (int32_t)((uint32_t)hi << 16 | ((uint32_t)lo & 0xFFFF));
}

typedef enum tf_act_quant { TF_ACT_NONE, TF_ACT_Q8_0, TF_ACT_Q8_K } tf_act_quant;

/* Σ_j w[j]·x[j] over n_elems, w a row in the weight's dtype, x quantized as act_quant_of says. */
typedef float (*tf_qdot_fn)(const uint8_t *w_row, const void *x_quant, uint32_t n_elems);

/* The activation format of a weight dtype's integer dots; TF_ACT_NONE when it has none (the
 * kernels themselves: tf_cpu_qdot_of in cpu_kernels.h). */
tf_act_quant tf_cpu_act_quant_of(tinfer_dtype dtype);

/* x[0, n) (n a multiple of 32) as Q8_0 blocks (tf_block_q8_0) in out, rounded as the activations'
 * Q8_0 (ggml's quantize_row_q8_0): the Q8_0 KV cache's rows. */
void tf_cpu_quantize_q8_0_blocks(const float *x, uint32_t n, void *out);

/* Bytes of one quantized activation row of n_elems (a multiple of the block size). */
size_t tf_cpu_act_row_bytes(tf_act_quant kind, uint32_t n_elems);
void tf_cpu_quantize_act(tf_act_quant kind, const float *x, uint32_t n_elems, void *out);

#endif
