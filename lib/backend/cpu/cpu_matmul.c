/* Weight-times-activation products over any weight dtype, and the embedding lookup.
 *
 * Weights stay in the file's dtype; three paths, each reading every weight byte once per call (per
 * TF_CPU_QDOT_TOKENS tokens for the first):
 *  - quantized weights with a kernel in the table (cpu_kernels.h), any number of tokens: the
 *    activations are quantized to Q8_0/Q8_K as llama.cpp does and each weight row is dotted in
 *    integers with every token, summed in llama.cpp's float order — its numerics exactly;
 *  - other dtypes, fewer than SGEMM_MIN_TOKENS tokens: a weight row is dequantized to float32 and
 *    dotted with every token;
 *  - other dtypes, many tokens: a tile of rows is dequantized and handed to OpenBLAS sgemm, whose
 *    blocking wins once the tile is reused across enough tokens. */
#include <cblas.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_qdot.h"
#include "quant/dequant.h"

enum { SGEMM_MIN_TOKENS = 8 }; /* below this the row-at-a-time loop is as fast and simpler */

/* Eight independent partial sums: the compiler can keep them in vector lanes without
 * reassociating (which -O2 without -ffast-math would not do for one running sum). */
float tf_cpu_dot(const float *a, const float *b, size_t n) {
    float partial[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t lane = 0; lane < 8; lane++) partial[lane] += a[i + lane] * b[i + lane];
    float sum = 0;
    for (; i < n; i++) sum += a[i] * b[i];
    for (size_t lane = 0; lane < 8; lane++) sum += partial[lane];
    return sum;
}

static void matmul_rows(tf_cpu_state *state, const tf_matrix *w, tf_dequant_fn decode,
                        const float *x, size_t n_tokens, float *y) {
    float *row = state->tile;
    for (uint32_t r = 0; r < w->n_rows; r++) {
        decode(w->data + (size_t)r * w->row_bytes, row, w->row_elems);
        for (size_t t = 0; t < n_tokens; t++)
            y[t * w->n_rows + r] = tf_cpu_dot(row, x + t * w->row_elems, w->row_elems);
    }
}

static void matmul_sgemm(tf_cpu_state *state, const tf_matrix *w, tf_dequant_fn decode,
                         const float *x, size_t n_tokens, float *y) {
    for (uint32_t r0 = 0; r0 < w->n_rows; r0 += TF_CPU_TILE_ROWS) {
        uint32_t rows = w->n_rows - r0 < TF_CPU_TILE_ROWS ? w->n_rows - r0 : TF_CPU_TILE_ROWS;
        for (uint32_t r = 0; r < rows; r++)
            decode(w->data + (size_t)(r0 + r) * w->row_bytes,
                   state->tile + (size_t)r * w->row_elems, w->row_elems);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n_tokens, (blasint)rows,
                    (blasint)w->row_elems, 1.0f, x, (blasint)w->row_elems, state->tile,
                    (blasint)w->row_elems, 0.0f, y + r0, (blasint)w->n_rows);
    }
}

/* Quantized weights: quantize the activations as llama.cpp does (TF_CPU_QDOT_TOKENS rows at a
 * time), then integer dots. */
static void matmul_qdot(tf_cpu_state *state, const tf_matrix *w, tf_act_quant kind, const float *x,
                        size_t n_tokens, float *y) {
    const size_t act_bytes = state->act_quant_row_bytes;
    /* Decode rows round as single tokens (see tf_batch_kind). */
    const size_t n_order = state->pass.kind == TF_BATCH_DECODE ? 1 : n_tokens;

    for (size_t t0 = 0; t0 < n_tokens; t0 += TF_CPU_QDOT_TOKENS) {
        const size_t chunk =
            n_tokens - t0 < TF_CPU_QDOT_TOKENS ? n_tokens - t0 : TF_CPU_QDOT_TOKENS;
        tf_qdot_fn dots[TF_CPU_QDOT_TOKENS]; /* the kernel (float order) of each token */
        for (size_t t = 0; t < chunk; t++) {
            tf_cpu_quantize_act(kind, x + (t0 + t) * w->row_elems, w->row_elems,
                                state->act_quant + t * act_bytes);
            dots[t] = tf_cpu_qdot_of(state->kernels, w->dtype, w->n_rows, n_order,
                                     n_order == 1 ? 0 : t0 + t);
        }
        /* Four tokens with the same kernel go through its four-row version where it has one. */
        tf_qdot4_fn fours[TF_CPU_QDOT_TOKENS / 4];
        const size_t n_fours = chunk / 4;
        for (size_t g = 0; g < n_fours; g++) {
            const tf_qdot_fn *d = dots + 4 * g;
            const bool same = d[0] == d[1] && d[0] == d[2] && d[0] == d[3];
            fours[g] = same ? tf_cpu_qdot4_of(state->kernels, d[0]) : NULL;
        }
        for (uint32_t r = 0; r < w->n_rows; r++) {
            const uint8_t *row = w->data + (size_t)r * w->row_bytes;
            size_t t = 0;
            for (; t / 4 < n_fours && fours[t / 4]; t += 4) {
                const void *xs[4];
                float out[4];
                for (int i = 0; i < 4; i++) xs[i] = state->act_quant + (t + i) * act_bytes;
                fours[t / 4](row, xs, w->row_elems, out);
                for (int i = 0; i < 4; i++) y[(t0 + t + i) * w->n_rows + r] = out[i];
            }
            for (; t < chunk; t++)
                y[(t0 + t) * w->n_rows + r] =
                    dots[t](row, state->act_quant + t * act_bytes, w->row_elems);
        }
    }
}

tinfer_status tf_cpu_matmul(tf_backend *be, const tf_matrix *w, tf_rows rows, const float *x,
                            float *y) {
    tf_cpu_state *state = be->state;
    const size_t n_tokens = tf_cpu_rows(state, rows);
    tf_dequant_fn decode = tf_dequant_fn_of(w->dtype); /* checked when the weights were bound */
    const tf_act_quant kind = tf_cpu_act_quant_of(w->dtype);
    const bool has_qdot = tf_cpu_qdot_of(state->kernels, w->dtype, w->n_rows, 1, 0) != NULL;
    if (has_qdot && kind != TF_ACT_NONE && w->row_elems <= state->config.max_row_elems)
        matmul_qdot(state, w, kind, x, n_tokens, y);
    else if (n_tokens >= SGEMM_MIN_TOKENS) matmul_sgemm(state, w, decode, x, n_tokens, y);
    else matmul_rows(state, w, decode, x, n_tokens, y);
    return TINFER_OK;
}

tinfer_status tf_cpu_embed(tf_backend *be, const tf_matrix *w, float *out) {
    const tf_cpu_pass *pass = &((tf_cpu_state *)be->state)->pass;
    tf_dequant_fn decode = tf_dequant_fn_of(w->dtype);
    for (size_t t = 0; t < pass->n_tokens; t++)
        decode(w->data + (size_t)pass->tokens[t] * w->row_bytes, out + t * w->row_elems,
               w->row_elems);
    return TINFER_OK;
}
