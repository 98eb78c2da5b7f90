/* Weight-times-activation products over any weight dtype, and the embedding lookup.
 *
 * Weights stay in the file's dtype; three paths, each reading every weight byte once per call (per
 * TF_CPU_QDOT_TOKENS tokens for the first):
 *  - quantized weights with a kernel in the table (cpu_kernels.h), any number of tokens: the
 *    activations are quantized to Q8_0/Q8_K as llama.cpp does and each weight row is dotted in
 *    integers with every token, summed in llama.cpp's float order — its numerics exactly (where
 *    the table has a row-tile product for the chunk's kernel, sixteen rows at a time);
 *  - other dtypes, fewer than SGEMM_MIN_TOKENS tokens: a weight row is dequantized to float32 and
 *    dotted with every token;
 *  - other dtypes, many tokens: a tile of rows is dequantized and handed to OpenBLAS sgemm, whose
 *    blocking wins once the tile is reused across enough tokens. */
#include <cblas.h>
#include <stdint.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/cpu_qdot.h"
#include "core/error.h"
#include "quant/dequant.h"

enum { SGEMM_MIN_TOKENS = 8 }; /* below this the row-at-a-time loop is as fast and simpler */
/* Tokens from which a row-tile product (tf_qgemm_fn) beats the four-row dots: unpacking a tile
 * costs about as much as a few tokens' dots. */
enum { QGEMM_MIN_TOKENS = 4 };
/* Rows per range of a row-tile product: each call first sums the chunk's activations for its
 * offsets (cpu_kernels_avx512.c), a tenth of one tile's work; four tiles share it. */
enum { QGEMM_MIN_ROWS = 4 * TF_QGEMM_ROWS };

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

/* One op's arguments, shared by the threads that split it. */
typedef struct matmul_job {
    const tf_cpu_state *state;
    const tf_matrix *w;
    tf_dequant_fn decode;
    const float *x;
    size_t n_tokens;
    bool rows_out; /* the rows are output rows (TF_ROWS_OUT): each rounds as a single token */
    float *y;
    /* matmul_qdot: the chunk of tokens [t0, t0 + chunk), its activation format and kernels */
    tf_act_quant kind;
    size_t t0, chunk, n_fours;
    const tf_qdot_fn *dots;
    const tf_qdot4_fn *fours;
    tf_qdot_rows4_fn rows4; /* one token: four weight rows a call (one_token_range), or NULL */
    tf_qgemm_fn gemm; /* the kernel of the chunk's first n_gemm tokens as row tiles, or NULL */
    size_t n_gemm;
    tf_qgemm_fn gemm_rest; /* packed rows: the tokens past n_gemm too (one other order), or NULL */
    const uint8_t *packed; /* the matrix's rows packed for the row tiles (cpu_packed.h), or NULL */
} matmul_job;

/* Weight rows per range: the rows of one range write 16 consecutive floats (a cache line) or
 * more of each output row, so two threads never share a line of y but at a range's ends. */
enum { ROWS_ALIGN = 16 };

/* Weight rows [r0, r1), each dequantized into this thread's tile and dotted with every token. */
static void rows_range(void *arg, size_t r0, size_t r1, uint32_t thread) {
    const matmul_job *job = arg;
    const tf_matrix *w = job->w;
    float *row = job->state->scratch[thread].tile;
    for (size_t r = r0; r < r1; r++) {
        job->decode(w->data + r * w->row_bytes, row, w->row_elems);
        for (size_t t = 0; t < job->n_tokens; t++)
            job->y[t * w->n_rows + r] = tf_cpu_dot(row, job->x + t * w->row_elems, w->row_elems);
    }
}

/* Tiles [i0, i1) of TF_CPU_TILE_ROWS rows: the same sgemm calls as on one thread (each tile
 * starts at the same row), made from this thread with its own tile buffer. */
static void sgemm_range(void *arg, size_t i0, size_t i1, uint32_t thread) {
    const matmul_job *job = arg;
    const tf_matrix *w = job->w;
    float *tile = job->state->scratch[thread].tile;
    for (size_t i = i0; i < i1; i++) {
        const uint32_t r0 = (uint32_t)(i * TF_CPU_TILE_ROWS);
        const uint32_t rows = w->n_rows - r0 < TF_CPU_TILE_ROWS ? w->n_rows - r0 : TF_CPU_TILE_ROWS;
        for (uint32_t r = 0; r < rows; r++)
            job->decode(w->data + (size_t)(r0 + r) * w->row_bytes, tile + (size_t)r * w->row_elems,
                        w->row_elems);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)job->n_tokens, (blasint)rows,
                    (blasint)w->row_elems, 1.0f, job->x, (blasint)w->row_elems, tile,
                    (blasint)w->row_elems, 0.0f, job->y + r0, (blasint)w->n_rows);
    }
}

static void matmul_rows(const tf_cpu_state *state, matmul_job *job) {
    const uint32_t n_rows = job->w->n_rows;
    tf_cpu_for(state, n_rows, tf_cpu_chunk(state, n_rows, ROWS_ALIGN, ROWS_ALIGN), rows_range, job);
}

static void matmul_sgemm(const tf_cpu_state *state, matmul_job *job) {
    const size_t n_tiles = (job->w->n_rows + TF_CPU_TILE_ROWS - 1) / TF_CPU_TILE_ROWS;
    tf_cpu_for(state, n_tiles, 1, sgemm_range, job);
}

/* Tokens [t0 + a, t0 + b) of the chunk quantized into the shared activation rows. */
static void quantize_range(void *arg, size_t a, size_t b, uint32_t thread) {
    (void)thread;
    const matmul_job *job = arg;
    const size_t row_elems = job->w->row_elems, act_bytes = job->state->act_quant_row_bytes;
    for (size_t t = a; t < b; t++)
        tf_cpu_quantize_act(job->kind, job->x + (job->t0 + t) * row_elems, (uint32_t)row_elems,
                            job->state->act_quant + t * act_bytes);
}

/* Weight rows [r0, r1) through the row-tile product gemm, with the chunk's tokens [t, t + n). */
static void qgemm_range(const matmul_job *job, tf_qgemm_fn gemm, size_t t, size_t n, size_t r0,
                        size_t r1, uint32_t thread) {
    const tf_matrix *w = job->w;
    /* r0 is a multiple of ROWS_ALIGN, hence of a tile; a packed tile takes a tile's file bytes */
    const tf_qgemm_args args = {.w = w->data + r0 * w->row_bytes,
                                .row_bytes = w->row_bytes,
                                .n_rows = (uint32_t)(r1 - r0),
                                .packed = job->packed ? job->packed + r0 * w->row_bytes : NULL,
                                .x_quant =
                                    job->state->act_quant + t * job->state->act_quant_row_bytes,
                                .x_stride = job->state->act_quant_row_bytes,
                                .n_tokens = (uint32_t)n,
                                .n_elems = w->row_elems,
                                .y = job->y + (job->t0 + t) * w->n_rows + r0,
                                .y_stride = w->n_rows,
                                .scratch = job->state->scratch[thread].qgemm};
    gemm(&args);
}

/* The order a thread's row loop takes its rows in: row_streams interleaved streams, the i-th row
 * of each of that many equal contiguous parts in turn, then the rows left over. A decode token's
 * dots read each row once, and one stream of short rows left a core short of the memory
 * bandwidth whatever the prefetching (the default model's 178 MB output head, 680-byte rows, one
 * thread on this Zen 3: 12-14 GB/s, 14-18 with software prefetch 4 KiB ahead); the hardware
 * prefetchers follow four streams at once to 17-21 (doc/benchmarks.md; tinfer-roofline reads
 * its buffer both ways). Longer rows are longer streams already, and four of them lost where
 * each row is its own call: the default model's Q6_K ffn_down (1680-byte rows, two threads) took
 * 30 % longer in four streams than in two, one stream was slower again. A four-row kernel
 * (job->rows4) reads a row of each stream at once, and there four streams won at any length:
 * the SmolLM2-shaped Q8_0 ffn_down (2720-byte rows, two threads, alternated) 123-154 → 73-95 µs
 * a layer against two streams, which it read two adjacent rows at a time.
 * Each row's dot is the same call either way: the order changes no bit. */
enum { SHORT_ROW_BYTES = 1024, SHORT_ROW_STREAMS = 4, LONG_ROW_STREAMS = 2 };

static size_t row_streams(const matmul_job *job) {
    return job->rows4 || job->w->row_bytes <= SHORT_ROW_BYTES ? SHORT_ROW_STREAMS
                                                              : LONG_ROW_STREAMS;
}

/* Slot k of a range [r0, ...) in row_streams' order, part rows a stream: row k / n_streams of
 * stream k % n_streams. */
static size_t slot_row(size_t r0, size_t part, size_t n_streams, size_t k) {
    return r0 + k % n_streams * part + k / n_streams;
}

/* Row r dotted with every token of the chunk from the first not in row tiles. */
static void qdot_row(const matmul_job *job, size_t r) {
    const tf_matrix *w = job->w;
    const uint8_t *act = job->state->act_quant;
    const size_t act_bytes = job->state->act_quant_row_bytes;
    float *y = job->y + job->t0 * w->n_rows;
    const uint8_t *row = w->data + r * w->row_bytes;
    size_t t = job->n_gemm;
    for (; t % 4 == 0 && t / 4 < job->n_fours && job->fours[t / 4]; t += 4) {
        const void *xs[4];
        float out[4];
        for (int i = 0; i < 4; i++) xs[i] = act + (t + i) * act_bytes;
        job->fours[t / 4](row, xs, w->row_elems, out);
        for (int i = 0; i < 4; i++) y[(t + i) * w->n_rows + r] = out[i];
    }
    for (; t < job->chunk; t++)
        y[t * w->n_rows + r] = job->dots[t](row, act + t * act_bytes, w->row_elems);
}

/* Weight rows [r0, r1) dotted with one token (a decode step of one sequence, the output head), in
 * row_streams' order (slot_row), the rows left over after the streams' whole parts last. Four
 * slots at a time through the table's four-row kernel where it has one, else qdot_row's call with
 * its invariants hoisted; each row the same bits either way. */
static void one_token_range(const matmul_job *job, size_t r0, size_t r1) {
    const tf_matrix *w = job->w;
    const tf_qdot_fn dot = job->dots[0];
    const uint8_t *act = job->state->act_quant, *data = w->data;
    const size_t row_bytes = w->row_bytes, n_streams = row_streams(job);
    const size_t part = (r1 - r0) / n_streams, n_slots = part * n_streams;
    const uint32_t n_elems = w->row_elems;
    float *y = job->y + job->t0 * w->n_rows;
    size_t k = 0;
    for (; job->rows4 && k + 4 <= n_slots; k += 4) {
        size_t r[4];
        const uint8_t *rows[4];
        float out[4];
        for (size_t j = 0; j < 4; j++) {
            r[j] = slot_row(r0, part, n_streams, k + j);
            rows[j] = data + r[j] * row_bytes;
        }
        job->rows4(rows, act, n_elems, out);
        for (size_t j = 0; j < 4; j++) y[r[j]] = out[j];
    }
    for (; k < n_slots; k++) {
        const size_t r = slot_row(r0, part, n_streams, k);
        y[r] = dot(data + r * row_bytes, act, n_elems);
    }
    for (size_t r = r0 + n_slots; r < r1; r++) y[r] = dot(data + r * row_bytes, act, n_elems);
}

/* Weight rows [r0, r1) dotted in integers with every token of the chunk: the first n_gemm as
 * row tiles, the others row by row. */
static void qdot_range(void *arg, size_t r0, size_t r1, uint32_t thread) {
    const matmul_job *job = arg;
    if (job->gemm) qgemm_range(job, job->gemm, 0, job->n_gemm, r0, r1, thread);
    if (job->gemm_rest)
        qgemm_range(job, job->gemm_rest, job->n_gemm, job->chunk - job->n_gemm, r0, r1, thread);
    if (job->n_gemm == job->chunk || job->gemm_rest) return;
    if (job->chunk == 1 && job->n_gemm == 0) {
        one_token_range(job, r0, r1);
        return;
    }
    const size_t n_streams = row_streams(job), part = (r1 - r0) / n_streams;
    for (size_t k = 0; k < part * n_streams; k++) qdot_row(job, slot_row(r0, part, n_streams, k));
    for (size_t r = r0 + n_streams * part; r < r1; r++) qdot_row(job, r);
}

/* The row tile in a fast order the job takes instead of ggml's, where asked for and available,
 * else NULL: the output head in TINFER_HEAD_SUM_FAST's (packed Q8_0 rows), a prompt's Q5_0
 * (packed) and Q8_0 products in TINFER_PROMPT_SUM_FAST's. */
static tf_qgemm_fn fast_gemm(const tf_cpu_state *state, const matmul_job *job) {
    const tf_cpu_kernels *k = state->kernels;
    const tinfer_dtype dtype = job->w->dtype;
    if (job->rows_out)
        return state->config.fast_head && job->packed && dtype == TINFER_DTYPE_Q8_0
                   ? k->q8_0_gemm_fast
                   : NULL;
    if (state->pass.kind != TF_BATCH_PROMPT || !state->config.fast_prompt) return NULL;
    if (dtype == TINFER_DTYPE_Q5_0) return job->packed ? k->q5_0_gemm_fast : NULL;
    return dtype == TINFER_DTYPE_Q8_0 ? k->q8_0_gemm_fast : NULL;
}

/* The kernels (float orders) of the chunk [t0, t0 + chunk) for the job's matrix: dots[t] per token
 * and, where four consecutive tokens share one with a four-row version, fours[g]; where the first
 * n_gemm tokens (enough of them) share one with a row-tile version, gemm. A prompt's last chunk
 * may end in tokens of another order (Q4_K: the gemv's, past the last four) that take the rows. */
static void qdot_kernels(const tf_cpu_state *state, matmul_job *job, size_t t0, size_t chunk,
                         tf_qdot_fn dots[TF_CPU_QDOT_TOKENS],
                         tf_qdot4_fn fours[TF_CPU_QDOT_TOKENS / 4]) {
    const tf_matrix *w = job->w;
    /* Decode rows round as single tokens (see tf_batch_kind), and so do the output head's rows:
     * a token's logits are the same bits whichever group of outputs it is computed in. Every
     * token then has the same kernel, so a decode of four or more sequences takes its four-row
     * version (q4_k_rows_x4, q6_k_x4, q5_0_x4, q8_0_x4): each weight block unpacked once for
     * four sequences, the bits of four single calls. */
    const size_t n_order = state->pass.kind == TF_BATCH_DECODE || job->rows_out ? 1 : job->n_tokens;
    for (size_t t = 0; t < chunk; t++)
        dots[t] =
            tf_cpu_qdot_of(state->kernels, w->dtype, w->n_rows, n_order, n_order == 1 ? 0 : t0 + t);
    const size_t n_fours = chunk / 4;
    for (size_t g = 0; g < n_fours; g++) {
        const tf_qdot_fn *d = dots + 4 * g;
        const bool same = d[0] == d[1] && d[0] == d[2] && d[0] == d[3];
        fours[g] = same ? tf_cpu_qdot4_of(state->kernels, d[0]) : NULL;
    }
    size_t n_same = 1;
    while (n_same < chunk && dots[n_same] == dots[0]) n_same++;
    /* Packed rows need no unpacking: one token already gains from the tiles. */
    const size_t min_tokens = job->packed ? 1 : QGEMM_MIN_TOKENS;
    job->gemm = n_same >= min_tokens ? tf_cpu_qgemm_of(state->kernels, dots[0]) : NULL;
    const tf_qgemm_fn fast = fast_gemm(state, job); /* every such row or token has one order */
    if (fast) job->gemm = fast;
    job->n_gemm = job->gemm ? n_same : 0;
    /* With packed rows the file's are not read at all: the tokens of another order after the
     * first ones (a Q4_K prompt's last few) take their own tiles. */
    size_t n_rest = 0;
    while (job->packed && job->gemm && n_same + n_rest < chunk &&
           dots[n_same + n_rest] == dots[n_same])
        n_rest++;
    job->gemm_rest = n_rest > 0 && n_same + n_rest == chunk
                         ? tf_cpu_qgemm_of(state->kernels, dots[n_same])
                         : NULL;
    job->rows4 =
        chunk == 1 && job->n_gemm == 0 ? tf_cpu_qdot_rows4_of(state->kernels, dots[0]) : NULL;
    job->t0 = t0;
    job->chunk = chunk;
    job->n_fours = n_fours;
    job->dots = dots;
    job->fours = fours;
}

/* A layer's matrix for one token (a decode step of one sequence) is read in about as long as a
 * DRAM stream takes to get going, so each thread takes one contiguous share of its rows rather
 * than the usual eight ranges, each of which began with demand misses until the hardware
 * prefetcher caught up. Alternated per-op profiles of the default model, two threads, position 1:
 * the four layer products 162-170 → 135-152 µs a layer (two ranges a thread: 149-173). Larger
 * matrices (the output head) and more tokens keep the small ranges that even out a thread the
 * scheduler holds up: whoever is running still takes what is left. */
enum { QDOT_SHARE_MAX_BYTES = 16u << 20 };

static size_t qdot_rows_per_range(const tf_cpu_state *state, const matmul_job *job) {
    const size_t n_rows = job->w->n_rows;
    const size_t min_rows = job->gemm ? QGEMM_MIN_ROWS : ROWS_ALIGN;
    if (job->chunk == 1 && n_rows * job->w->row_bytes <= QDOT_SHARE_MAX_BYTES) {
        const size_t share = (n_rows + state->n_threads - 1) / state->n_threads;
        return (share + ROWS_ALIGN - 1) / ROWS_ALIGN * ROWS_ALIGN;
    }
    return tf_cpu_chunk(state, n_rows, min_rows, ROWS_ALIGN);
}

/* Quantized weights, n_jobs matrices over the same input and activation format: quantize the
 * activations as llama.cpp does (TF_CPU_QDOT_TOKENS rows at a time, once for all threads and all
 * the matrices: split over tokens), then integer dots (split over each matrix's weight rows). The
 * quantized rows depend on the input and the format only, so sharing them changes no bit. */
static void matmul_qdot(const tf_cpu_state *state, matmul_job *jobs, size_t n_jobs) {
    const size_t n_tokens = jobs[0].n_tokens;
    for (size_t t0 = 0; t0 < n_tokens; t0 += TF_CPU_QDOT_TOKENS) {
        const size_t chunk =
            n_tokens - t0 < TF_CPU_QDOT_TOKENS ? n_tokens - t0 : TF_CPU_QDOT_TOKENS;
        tf_qdot_fn dots[TF_CPU_QDOT_TOKENS];
        tf_qdot4_fn fours[TF_CPU_QDOT_TOKENS / 4];
        for (size_t i = 0; i < n_jobs; i++) {
            matmul_job *job = &jobs[i];
            qdot_kernels(state, job, t0, chunk, dots, fours);
            /* A row of 2048+ elements takes microseconds to quantize: a dispatch pays from 4. */
            if (i == 0) tf_cpu_for(state, chunk, 4, quantize_range, job);
            tf_cpu_for(state, job->w->n_rows, qdot_rows_per_range(state, job), qdot_range, job);
        }
    }
}

static matmul_job job_of(const tf_cpu_state *state, const tf_matrix *w, tf_rows rows,
                         const float *x, float *y) {
    return (matmul_job){.state = state,
                        .w = w,
                        .decode = tf_dequant_fn_of(w->dtype), /* checked when bound */
                        .x = x,
                        .n_tokens = tf_cpu_rows(state, rows),
                        .rows_out = rows == TF_ROWS_OUT,
                        .y = y,
                        .kind = tf_cpu_act_quant_of(w->dtype),
                        .packed = tf_cpu_packed_rows(state->packed, w)};
}

/* Whether the job goes through the integer dots. */
static bool takes_qdot(const tf_cpu_state *state, const matmul_job *job) {
    const tf_matrix *w = job->w;
    const bool has_qdot = tf_cpu_qdot_of(state->kernels, w->dtype, w->n_rows, 1, 0) != NULL;
    return has_qdot && job->kind != TF_ACT_NONE && w->row_elems <= state->config.max_row_elems;
}

static void matmul_one(const tf_cpu_state *state, matmul_job *job) {
    if (takes_qdot(state, job)) matmul_qdot(state, job, 1);
    else if (job->n_tokens >= SGEMM_MIN_TOKENS) matmul_sgemm(state, job);
    else matmul_rows(state, job);
}

tinfer_status tf_cpu_matmul(tf_backend *be, const tf_matrix *w, tf_rows rows, const float *x,
                            float *y) {
    const tf_cpu_state *state = be->state;
    matmul_job job = job_of(state, w, rows, x, y);
    matmul_one(state, &job);
    return TINFER_OK;
}

tinfer_status tf_cpu_matmul_multi(tf_backend *be, size_t n, const tf_matrix *const *w, tf_rows rows,
                                  const float *x, float *const *y) {
    const tf_cpu_state *state = be->state;
    matmul_job jobs[TF_MATMUL_MULTI_MAX];
    if (n == 0 || n > TF_MATMUL_MULTI_MAX)
        return tf_error(TINFER_E_INVALID_ARG, "matmul_multi takes 1 to %d matrices, not %zu",
                        TF_MATMUL_MULTI_MAX, n);
    /* The matrices with integer dots and the first one's activation format share one quantized
     * input; any other runs alone, as matmul would run it. */
    size_t n_shared = 0;
    for (size_t i = 0; i < n; i++) {
        matmul_job job = job_of(state, w[i], rows, x, y[i]);
        if (takes_qdot(state, &job) && (n_shared == 0 || job.kind == jobs[0].kind) &&
            w[i]->row_elems == w[0]->row_elems)
            jobs[n_shared++] = job;
        else matmul_one(state, &job);
    }
    if (n_shared > 0) matmul_qdot(state, jobs, n_shared);
    return TINFER_OK;
}

/* Tokens [t0, t1) of the pass: their embedding rows as float32 (from the packed copy, through
 * this thread's tile as bytes, where the table is packed: a tied output head). */
static void embed_range(void *arg, size_t t0, size_t t1, uint32_t thread) {
    const matmul_job *job = arg;
    const tf_matrix *w = job->w;
    const int32_t *tokens = job->state->pass.tokens;
    uint8_t *row_bytes = (uint8_t *)job->state->scratch[thread].tile;
    for (size_t t = t0; t < t1; t++) {
        const uint8_t *row = w->data + (size_t)tokens[t] * w->row_bytes;
        if (job->packed) {
            tf_cpu_packed_row(job->state->kernels->packs, job->packed, w, (uint32_t)tokens[t],
                              row_bytes);
            row = row_bytes;
        }
        job->decode(row, job->y + t * w->row_elems, w->row_elems);
    }
}

tinfer_status tf_cpu_embed(tf_backend *be, const tf_matrix *w, float *out) {
    const tf_cpu_state *state = be->state;
    /* The tile holds TF_CPU_TILE_ROWS rows of floats: room for one row's bytes when it is no
     * longer than max_row_elems (every matrix the backend was sized for). */
    const bool fits = w->row_elems <= state->config.max_row_elems;
    matmul_job job = {.state = state,
                      .w = w,
                      .decode = tf_dequant_fn_of(w->dtype),
                      .y = out,
                      .packed = fits ? tf_cpu_packed_rows(state->packed, w) : NULL};
    tf_cpu_for(state, state->pass.n_tokens, 16, embed_range, &job);
    return TINFER_OK;
}
