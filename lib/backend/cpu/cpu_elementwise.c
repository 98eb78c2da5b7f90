/* Row-wise and element-wise kernels: RMSNorm, RoPE, gated activations, adds and scales. Each
 * splits its rows (or elements) over the backend's threads; an element's value never depends on
 * the split. */
#include <math.h>
#include <pthread.h>

#include "backend/cpu/cpu_ops.h"
#include "quant/fp16.h"

/* One op's arguments (each op uses the fields it names). */
typedef struct elementwise_job {
    const tf_cpu_state *state;
    size_t width;
    const float *x;
    const float *weight; /* rmsnorm's, or add_bias's bias */
    float *y;
    float factor; /* rmsnorm's eps, scale's factor, softcap's cap */
    size_t n_heads, head_dim;
    const tf_rope *rope;
    tf_ffn_act act;
} elementwise_job;

/* Elements an op should hand each thread at least, so a dispatch (about a microsecond) pays: the
 * cheap ops (adds, scales) and the costly ones (a tanh, an exp or a table lookup per element). */
enum { MIN_CHUNK_CHEAP = 2048, MIN_CHUNK_COSTLY = 1024 };

/* Rows of width elements per range, for an op that wants min_elems elements per range. */
static size_t row_chunk(size_t width, size_t min_elems) {
    return width >= min_elems ? 1 : (min_elems + width - 1) / width;
}

/* As ggml: each square in float, their sum in double (Gemma's residual stream reaches 1e4). */
static void rmsnorm_range(void *arg, size_t r0, size_t r1, uint32_t thread) {
    (void)thread;
    const elementwise_job *job = arg;
    const size_t width = job->width;
    for (size_t r = r0; r < r1; r++) {
        const float *row = job->x + r * width;
        double sum_sq = 0;
        for (size_t i = 0; i < width; i++) sum_sq += (double)(row[i] * row[i]);
        const float inv_rms = 1.0f / sqrtf((float)(sum_sq / (double)width) + job->factor);
        float *dst = job->y + r * width;
        for (size_t i = 0; i < width; i++) dst[i] = row[i] * inv_rms * job->weight[i];
    }
}

tinfer_status tf_cpu_rmsnorm(tf_backend *be, tf_rows rows, size_t heads, size_t width,
                             const float *x, const float *weight, float eps, float *out) {
    const tf_cpu_state *state = be->state;
    elementwise_job job = {.width = width, .x = x, .weight = weight, .y = out, .factor = eps};
    const size_t n_rows = tf_cpu_rows(state, rows) * heads;
    tf_cpu_for(state, n_rows, row_chunk(width, MIN_CHUNK_COSTLY), rmsnorm_range, &job);
    return TINFER_OK;
}

/* Pairs whose angles are formed at a time, on the stack, for all of a token's heads. */
enum { ROPE_PAIRS_CHUNK = 128 };

/* theta_i = pos · base^(-2i/n_rot), built by repeated multiplication as ggml's rope cache does, so
 * the angles carry the same rounding as the reference engine's: the cos and sin of pairs
 * [i0, i0 + n), *theta holding theta_i0 and left at theta_(i0 + n). */
static void rope_angles(const tf_rope *rope, float theta_scale, size_t i0, size_t n, float *theta,
                        float *cos_a, float *sin_a) {
    for (size_t i = 0; i < n; i++) {
        const float angle =
            rope->freq_scale * (rope->freq_factors ? *theta / rope->freq_factors[i0 + i] : *theta);
        cos_a[i] = cosf(angle);
        sin_a[i] = sinf(angle);
        *theta *= theta_scale;
    }
}

/* Pairs [i0, i0 + n) of one head, rotated; fused the way the reference engine's compiler
 * contracts x0·cos − x1·sin (checked bit for bit against llama.cpp's output). */
static void rope_pairs(float *head, const tf_rope *rope, size_t i0, size_t n, const float *cos_a,
                       const float *sin_a) {
    const size_t half = rope->n_rot / 2;
    for (size_t k = 0; k < n; k++) {
        const size_t i = i0 + k;
        const size_t j0 = rope->neox ? i : 2 * i;
        const size_t j1 = rope->neox ? i + half : 2 * i + 1;
        const float x0 = head[j0], x1 = head[j1];
        head[j0] = fmaf(x0, cos_a[k], -(x1 * sin_a[k]));
        head[j1] = fmaf(x0, sin_a[k], x1 * cos_a[k]);
    }
}

/* Tokens [t0, t1) of the pass: each token's angles formed once, for all its heads. */
static void rope_range(void *arg, size_t t0, size_t t1, uint32_t thread) {
    (void)thread;
    const elementwise_job *job = arg;
    const tf_rope *rope = job->rope;
    const int32_t *positions = job->state->pass.positions;
    const float theta_scale = powf(rope->freq_base, -2.0f / (float)rope->n_rot);
    const size_t half = rope->n_rot / 2;
    float cos_a[ROPE_PAIRS_CHUNK], sin_a[ROPE_PAIRS_CHUNK];
    for (size_t t = t0; t < t1; t++) {
        float theta = (float)positions[t];
        for (size_t i0 = 0; i0 < half; i0 += ROPE_PAIRS_CHUNK) {
            const size_t n = half - i0 < ROPE_PAIRS_CHUNK ? half - i0 : ROPE_PAIRS_CHUNK;
            rope_angles(rope, theta_scale, i0, n, &theta, cos_a, sin_a);
            for (size_t h = 0; h < job->n_heads; h++)
                rope_pairs(job->y + (t * job->n_heads + h) * job->head_dim, rope, i0, n, cos_a,
                           sin_a);
        }
    }
}

tinfer_status tf_cpu_rope(tf_backend *be, float *x, size_t n_heads, size_t head_dim,
                          const tf_rope *rope) {
    const tf_cpu_state *state = be->state;
    elementwise_job job = {
        .state = state, .y = x, .n_heads = n_heads, .head_dim = head_dim, .rope = rope};
    /* A token costs a cosf and a sinf per pair (microseconds): worth a thread of its own. */
    tf_cpu_for(state, state->pass.n_tokens, 1, rope_range, &job);
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
static uint16_t gelu_table[(1 << 16) + 2]; /* + 2: the kernels read 32-bit words */
static pthread_once_t gelu_table_once = PTHREAD_ONCE_INIT;

static void build_gelu_table(void) {
    for (uint32_t i = 0; i < (1u << 16); i++)
        gelu_table[i] = tf_f32_to_f16(gelu_tanh(tf_f16_to_f32((uint16_t)i)));
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

/* Elements [i0, i1) of gate · up. swiglu's ranges start at multiples of 8 (the chunk is), so its
 * eight-wide steps and its libm tail fall on the same elements as on one thread. */
static void ffn_gate_range(void *arg, size_t i0, size_t i1, uint32_t thread) {
    (void)thread;
    const elementwise_job *job = arg;
    float *gate = job->y + i0;
    const float *up = job->x + i0;
    if (job->act == TF_FFN_GELU_TANH)
        job->state->kernels->gelu_table_mul(gelu_table, gate, up, i1 - i0);
    else swiglu(job->state->kernels, gate, up, i1 - i0);
}

tinfer_status tf_cpu_ffn_gate(tf_backend *be, tf_ffn_act act, size_t width, float *gate,
                              const float *up) {
    const tf_cpu_state *state = be->state;
    if (act == TF_FFN_GELU_TANH) pthread_once(&gelu_table_once, build_gelu_table);
    elementwise_job job = {.state = state, .x = up, .y = gate, .act = act};
    const size_t n = state->pass.n_tokens * width;
    tf_cpu_for(state, n, tf_cpu_chunk(state, n, MIN_CHUNK_COSTLY, 8), ffn_gate_range, &job);
    return TINFER_OK;
}

static void add_range(void *arg, size_t i0, size_t i1, uint32_t thread) {
    (void)thread;
    const elementwise_job *job = arg;
    for (size_t i = i0; i < i1; i++) job->y[i] += job->x[i];
}

tinfer_status tf_cpu_add(tf_backend *be, size_t width, float *y, const float *x) {
    const tf_cpu_state *state = be->state;
    elementwise_job job = {.x = x, .y = y};
    const size_t n = tf_cpu_rows(state, TF_ROWS_TOKENS) * width;
    tf_cpu_for(state, n, tf_cpu_chunk(state, n, MIN_CHUNK_CHEAP, 16), add_range, &job);
    return TINFER_OK;
}

static void add_bias_range(void *arg, size_t r0, size_t r1, uint32_t thread) {
    (void)thread;
    const elementwise_job *job = arg;
    for (size_t r = r0; r < r1; r++)
        for (size_t i = 0; i < job->width; i++) job->y[r * job->width + i] += job->weight[i];
}

tinfer_status tf_cpu_add_bias(tf_backend *be, size_t width, float *y, const float *bias) {
    const tf_cpu_state *state = be->state;
    elementwise_job job = {.width = width, .weight = bias, .y = y};
    tf_cpu_for(state, tf_cpu_rows(state, TF_ROWS_TOKENS), row_chunk(width, MIN_CHUNK_CHEAP),
               add_bias_range, &job);
    return TINFER_OK;
}

static void scale_range(void *arg, size_t i0, size_t i1, uint32_t thread) {
    (void)thread;
    const elementwise_job *job = arg;
    for (size_t i = i0; i < i1; i++) job->y[i] *= job->factor;
}

tinfer_status tf_cpu_scale(tf_backend *be, tf_rows rows, size_t width, float *y, float factor) {
    const tf_cpu_state *state = be->state;
    elementwise_job job = {.y = y, .factor = factor};
    const size_t n = tf_cpu_rows(state, rows) * width;
    tf_cpu_for(state, n, tf_cpu_chunk(state, n, MIN_CHUNK_CHEAP, 16), scale_range, &job);
    return TINFER_OK;
}

/* As llama.cpp: scale by 1/cap, tanh, scale by cap. */
static void softcap_range(void *arg, size_t i0, size_t i1, uint32_t thread) {
    (void)thread;
    const elementwise_job *job = arg;
    const float cap = job->factor;
    for (size_t i = i0; i < i1; i++) job->y[i] = tanhf(job->y[i] * (1.0f / cap)) * cap;
}

tinfer_status tf_cpu_softcap(tf_backend *be, size_t width, float *y, float cap) {
    const tf_cpu_state *state = be->state;
    elementwise_job job = {.y = y, .factor = cap};
    const size_t n = tf_cpu_rows(state, TF_ROWS_OUT) * width;
    tf_cpu_for(state, n, tf_cpu_chunk(state, n, MIN_CHUNK_COSTLY, 16), softcap_range, &job);
    return TINFER_OK;
}
