/* Row-wise and element-wise kernels: RMSNorm, RoPE, gated activations, adds and scales. */
#include <math.h>
#include <pthread.h>

#include "backend/cpu/cpu_ops.h"
#include "quant/fp16.h"

/* As ggml: each square in float, their sum in double (Gemma's residual stream reaches 1e4). */
tinfer_status tf_cpu_rmsnorm(tf_backend *be, tf_rows rows, size_t heads, size_t width,
                             const float *x, const float *weight, float eps, float *out) {
    const size_t n_rows = tf_cpu_rows(be->state, rows) * heads;
    for (size_t r = 0; r < n_rows; r++) {
        const float *row = x + r * width;
        double sum_sq = 0;
        for (size_t i = 0; i < width; i++) sum_sq += (double)(row[i] * row[i]);
        const float inv_rms = 1.0f / sqrtf((float)(sum_sq / (double)width) + eps);
        float *dst = out + r * width;
        for (size_t i = 0; i < width; i++) dst[i] = row[i] * inv_rms * weight[i];
    }
    return TINFER_OK;
}

/* theta_i = pos · base^(-2i/n_rot), built by repeated multiplication as ggml's rope cache does, so
 * the angles carry the same rounding as the reference engine's; the rotation is fused the way its
 * compiler contracts x0·cos − x1·sin (checked bit for bit against llama.cpp's output). */
static void rope_one_head(float *head, int32_t position, const tf_rope *rope) {
    const float theta_scale = powf(rope->freq_base, -2.0f / (float)rope->n_rot);
    const size_t half = rope->n_rot / 2;
    float theta = (float)position;
    for (size_t i = 0; i < half; i++) {
        const float angle =
            rope->freq_scale * (rope->freq_factors ? theta / rope->freq_factors[i] : theta);
        const float cos_a = cosf(angle), sin_a = sinf(angle);
        const size_t i0 = rope->neox ? i : 2 * i;
        const size_t i1 = rope->neox ? i + half : 2 * i + 1;
        const float x0 = head[i0], x1 = head[i1];
        head[i0] = fmaf(x0, cos_a, -(x1 * sin_a));
        head[i1] = fmaf(x0, sin_a, x1 * cos_a);
        theta *= theta_scale;
    }
}

tinfer_status tf_cpu_rope(tf_backend *be, float *x, size_t n_heads, size_t head_dim,
                          const tf_rope *rope) {
    const tf_cpu_pass *pass = &((tf_cpu_state *)be->state)->pass;
    for (size_t t = 0; t < pass->n_tokens; t++)
        for (size_t h = 0; h < n_heads; h++)
            rope_one_head(x + (t * n_heads + h) * head_dim, pass->positions[t], rope);
    return TINFER_OK;
}

/* GELU with the tanh approximation (Gemma's gelu_pytorch_tanh), with 1 + a·x² fused as ggml's
 * compiled table has it (all 65536 float16 inputs checked against llama.cpp's table). */
static float gelu_tanh(float x) {
    const float sqrt_2_over_pi = 0.79788456080286535588f;
    return 0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * x * fmaf(0.044715f * x, x, 1.0f)));
}

/* What ggml computes for GELU on the CPU: a table of float16 results indexed by the float16 input,
 * exact outside (-10, 10). Gemma's FFN inputs are large enough that the float16 steps show in the
 * logits, so we round at the same two places — through the same kind of table, built once. */
static uint16_t gelu_table[1 << 16];
static pthread_once_t gelu_table_once = PTHREAD_ONCE_INIT;

static void build_gelu_table(void) {
    for (uint32_t i = 0; i < (1u << 16); i++)
        gelu_table[i] = tf_f32_to_f16(gelu_tanh(tf_f16_to_f32((uint16_t)i)));
}

static float gelu_tanh_f16(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return tf_f16_to_f32(gelu_table[tf_f32_to_f16(x)]);
}

/* SiLU as ggml_vec_swiglu_f32 computes it (ggml_v_silu): x / (1 + exp(-x)) with exp through
 * ggml_v_expf, then times the up projection. Eight at a time, as its vector loop; a tail of
 * fewer than eight uses libm's expf, as its scalar tail does. */
static void swiglu(const tf_cpu_kernels *k, float *gate, const float *up, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float e[8];
        for (int j = 0; j < 8; j++) e[j] = 0.0f - gate[i + j];
        k->expf_n(e, e, 8);
        for (int j = 0; j < 8; j++) gate[i + j] = gate[i + j] / (1.0f + e[j]) * up[i + j];
    }
    for (; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

tinfer_status tf_cpu_ffn_gate(tf_backend *be, tf_ffn_act act, size_t width, float *gate,
                              const float *up) {
    const tf_cpu_state *state = be->state;
    const size_t n = state->pass.n_tokens * width;
    if (act == TF_FFN_GELU_TANH) {
        pthread_once(&gelu_table_once, build_gelu_table);
        for (size_t i = 0; i < n; i++) gate[i] = gelu_tanh_f16(gate[i]) * up[i];
    } else {
        swiglu(state->kernels, gate, up, n);
    }
    return TINFER_OK;
}

tinfer_status tf_cpu_add(tf_backend *be, size_t width, float *y, const float *x) {
    const size_t n = tf_cpu_rows(be->state, TF_ROWS_TOKENS) * width;
    for (size_t i = 0; i < n; i++) y[i] += x[i];
    return TINFER_OK;
}

tinfer_status tf_cpu_add_bias(tf_backend *be, size_t width, float *y, const float *bias) {
    const size_t n_rows = tf_cpu_rows(be->state, TF_ROWS_TOKENS);
    for (size_t r = 0; r < n_rows; r++)
        for (size_t i = 0; i < width; i++) y[r * width + i] += bias[i];
    return TINFER_OK;
}

tinfer_status tf_cpu_scale(tf_backend *be, tf_rows rows, size_t width, float *y, float factor) {
    const size_t n = tf_cpu_rows(be->state, rows) * width;
    for (size_t i = 0; i < n; i++) y[i] *= factor;
    return TINFER_OK;
}

/* As llama.cpp: scale by 1/cap, tanh, scale by cap. */
tinfer_status tf_cpu_softcap(tf_backend *be, size_t width, float *y, float cap) {
    const size_t n = tf_cpu_rows(be->state, TF_ROWS_OUT) * width;
    for (size_t i = 0; i < n; i++) y[i] = tanhf(y[i] * (1.0f / cap)) * cap;
    return TINFER_OK;
}
