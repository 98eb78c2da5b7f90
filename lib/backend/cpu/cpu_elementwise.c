/* Row-wise and element-wise kernels: RMSNorm, gated activations, adds and scales (RoPE is in
 * cpu_rope.c). Each splits its rows (or elements) over the backend's threads; an element's value
 * never depends on the split. */
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

/* Rows normalized side by side: each row's sum is one chain of double adds (ggml's order), whose
 * latency, not its arithmetic, bounds a single row; four chains at once overlap. */
enum { RMSNORM_ROWS = 4 };

/* Row r's Σ x² as ggml forms it: each square in float, the sum in double, in order. */
static double sum_squares(const float *row, size_t width) {
    double sum_sq = 0;
    for (size_t i = 0; i < width; i++) sum_sq += (double)(row[i] * row[i]);
    return sum_sq;
}

/* The same for RMSNORM_ROWS rows of width elements from rows, width apart; each row's own chain. */
static void sum_squares4(const float *rows, size_t width, double *sums) {
    const float *a = rows, *b = rows + width, *c = rows + 2 * width, *d = rows + 3 * width;
    double sa = 0, sb = 0, sc = 0, sd = 0;
    for (size_t i = 0; i < width; i++) {
        sa += (double)(a[i] * a[i]);
        sb += (double)(b[i] * b[i]);
        sc += (double)(c[i] * c[i]);
        sd += (double)(d[i] * d[i]);
    }
    sums[0] = sa, sums[1] = sb, sums[2] = sc, sums[3] = sd;
}

/* Row r scaled by 1 / rms, from its sum of squares, times the weight. */
static void scale_row(const elementwise_job *job, size_t r, double sum_sq) {
    const size_t width = job->width;
    const float *row = job->x + r * width;
    const float inv_rms = 1.0f / sqrtf((float)(sum_sq / (double)width) + job->factor);
    float *dst = job->y + r * width;
    for (size_t i = 0; i < width; i++) dst[i] = row[i] * inv_rms * job->weight[i];
}

/* As ggml: each square in float, their sum in double (Gemma's residual stream reaches 1e4). Rows
 * in groups of four while four remain; every sum is taken before its row is overwritten. */
static void rmsnorm_range(void *arg, size_t r0, size_t r1, uint32_t thread) {
    (void)thread;
    const elementwise_job *job = arg;
    double sums[RMSNORM_ROWS];
    for (size_t r = r0; r < r1;) {
        const size_t n = r1 - r >= RMSNORM_ROWS ? RMSNORM_ROWS : 1;
        if (n == RMSNORM_ROWS) sum_squares4(job->x + r * job->width, job->width, sums);
        else sums[0] = sum_squares(job->x + r * job->width, job->width);
        for (size_t k = 0; k < n; k++) scale_row(job, r + k, sums[k]);
        r += n;
    }
}

tinfer_status tf_cpu_rmsnorm(tf_backend *be, tf_rows rows, size_t heads, size_t width,
                             const float *x, const float *weight, float eps, float *out) {
    const tf_cpu_state *state = be->state;
    elementwise_job job = {.width = width, .x = x, .weight = weight, .y = out, .factor = eps};
    const size_t n_rows = tf_cpu_rows(state, rows) * heads;
    const size_t chunk = row_chunk(width, MIN_CHUNK_COSTLY);
    tf_cpu_for(state, n_rows, (chunk + RMSNORM_ROWS - 1) / RMSNORM_ROWS * RMSNORM_ROWS,
               rmsnorm_range, &job);
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
 * ggml_v_expf, then times the up projection. The exponentials of up to SWIGLU_CHUNK elements per
 * call of expf_n, eight-wide steps as its vector loop (one call per eight had cost ~6 ns an element
 * on two threads, a sixth of the Qwen-shaped FFN's down projection); a tail of fewer than eight
 * uses libm's expf, as its scalar tail does. */
enum { SWIGLU_CHUNK = 256 };

static void swiglu(const tf_cpu_kernels *k, float *gate, const float *up, size_t n) {
    const size_t whole = n & ~(size_t)7;
    float e[SWIGLU_CHUNK];
    for (size_t i0 = 0; i0 < whole; i0 += SWIGLU_CHUNK) {
        const size_t m = whole - i0 < SWIGLU_CHUNK ? whole - i0 : SWIGLU_CHUNK;
        float *g = gate + i0;
        for (size_t j = 0; j < m; j++) e[j] = 0.0f - g[j];
        k->expf_n(e, e, m);
        for (size_t j = 0; j < m; j++) g[j] = g[j] / (1.0f + e[j]) * up[i0 + j];
    }
    for (size_t i = whole; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
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
