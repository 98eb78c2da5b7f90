/* Attention over the block-structured KV cache (rows written by cpu_kv.c).
 *
 * Reading follows llama.cpp's CPU arithmetic exactly (see attend_group); each K and V row is read
 * once per KV head and shared by its query heads (GQA) and, in prompts, by a block of consecutive
 * tokens (attend_block). */
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "backend/cpu/cpu_ops.h"

/* One cached row (a head's slice) as float32 in out. */
static void load_row(const tf_cpu_kernels *k, const tf_cpu_kv *kv, const uint8_t *row, uint32_t n,
                     float *out) {
    if (kv->dtype == TINFER_DTYPE_F32) memcpy(out, row, (size_t)n * sizeof(float));
    else k->f16_to_f32((const uint16_t *)row, out, n);
}

/* Softmax of one head's scores over the slots [base, base + n_slots) (base a multiple of 8; slots
 * below first_slot are masked): as ggml_compute_forward_soft_max_f32 with ggml_vec_soft_max_f32 —
 * exp through ggml_v_expf, 8-slot chunk sums in float, their total in double. */
static void softmax_slots(const tf_cpu_kernels *k, float *scores, uint32_t first_slot,
                          uint32_t n_slots, bool round_half) {
    /* ggml_vec_max_f32's MAX (a NaN score is skipped, as fmaxf would; which zero is kept does
     * not matter: x - (±0) = x, exp(±0) = 1). */
    const float max_score = tf_max_f32(scores + first_slot, n_slots - first_slot);
    for (uint32_t i = 0; i < first_slot; i++) scores[i] = 0.0f;
    for (uint32_t i = first_slot; i < n_slots; i++) scores[i] -= max_score;
    k->expf_n(scores + first_slot, scores + first_slot, n_slots - first_slot);
    const uint32_t padded = (n_slots + 7) & ~7u;
    for (uint32_t i = n_slots; i < padded; i++) scores[i] = 0.0f;
    double sum = 0;
    for (uint32_t c = 0; c < padded; c += 8) sum += (double)tf_hsum8(scores + c);
    const float inv_sum = (float)(1.0 / sum);
    if (round_half) k->attn_round_f16(scores, inv_sum, scores, n_slots);
    else
        for (uint32_t i = 0; i < n_slots; i++) scores[i] *= inv_sum;
}

/* out[d] = the lanes' partial sums head[l·width + d] reduced in the engine's tree: tinyBLAS's
 * hsum of 8 lanes (n_lanes TF_LANES_TILED), or ggml_vec_dot_f16's GGML_F32x8_REDUCE of 32, for
 * dimensions [d0, d1). */
static void reduce_lanes_scalar(const float *restrict head, uint32_t n_lanes, size_t w, size_t d0,
                                size_t d1, float *restrict out) {
    for (size_t d = d0; d < d1; d++) {
        const float *h = head + d;
        if (n_lanes == TF_LANES_TILED) { /* tf_hsum8 */
            out[d] = ((h[4 * w] + h[0]) + (h[6 * w] + h[2 * w])) +
                     ((h[5 * w] + h[w]) + (h[7 * w] + h[3 * w]));
            continue;
        }
        float x[8]; /* tf_reduce4x8, lane l of sum j at lane 8j + l */
        for (size_t l = 0; l < 8; l++)
            x[l] = (h[l * w] + h[(16 + l) * w]) + (h[(8 + l) * w] + h[(24 + l) * w]);
        out[d] = ((x[0] + x[4]) + (x[1] + x[5])) + ((x[2] + x[6]) + (x[3] + x[7]));
    }
}

/* The same adds, four dimensions at a time where SSE2 is there (at any optimisation level:
 * through an array of lane pointers GCC kept it scalar even at -O3, 7.4 µs for four heads of 32
 * × 256 lanes in cache; 1.9 so). */
static void reduce_lanes(const float *restrict head, uint32_t n_lanes, uint32_t width,
                         float *restrict out) {
    const size_t w = width;
    size_t d = 0;
#if defined(__SSE2__)
    for (; d + 4 <= w; d += 4) {
        const float *h = head + d;
#define LANE(l) _mm_loadu_ps(h + (size_t)(l)*w)
        if (n_lanes == TF_LANES_TILED) {
            const __m128 lo =
                _mm_add_ps(_mm_add_ps(LANE(4), LANE(0)), _mm_add_ps(LANE(6), LANE(2)));
            const __m128 hi =
                _mm_add_ps(_mm_add_ps(LANE(5), LANE(1)), _mm_add_ps(LANE(7), LANE(3)));
            _mm_storeu_ps(out + d, _mm_add_ps(lo, hi));
            continue;
        }
        __m128 x[8];
        for (int l = 0; l < 8; l++)
            x[l] = _mm_add_ps(_mm_add_ps(LANE(l), LANE(16 + l)),
                              _mm_add_ps(LANE(8 + l), LANE(24 + l)));
#undef LANE
        const __m128 lo = _mm_add_ps(_mm_add_ps(x[0], x[4]), _mm_add_ps(x[1], x[5]));
        const __m128 hi = _mm_add_ps(_mm_add_ps(x[2], x[6]), _mm_add_ps(x[3], x[7]));
        _mm_storeu_ps(out + d, _mm_add_ps(lo, hi));
    }
#endif
    reduce_lanes_scalar(head, n_lanes, w, d, w, out);
}

/* The query heads [h0, h0 + group) that share KV head kv_head, for one token, with the F32 cache
 * (attend_block below takes the F16 one).
 *
 * llama.cpp computes attention as two matrix products around a softmax, and the float order
 * depends on the batch: one token goes through ggml_vec_dot (4 × 8 lanes), two or more through
 * tinyBLAS (8 lanes) — for an F32 cache only in the product with V: it multiplies the keys by the
 * (permuted, non-contiguous) queries without tinyBLAS. Lanes are indexed by cache cell, which is
 * the position here, so the V sums keep one partial sum per lane (attn_lanes) and reduce them at
 * the end in that engine's tree. Each cached K and V row is converted once and used by every head
 * of the group.
 *
 * Every head's numbers depend on its own query and the cached rows only, so a group may be any
 * run of the query heads sharing kv_head: the threads split a KV head's queries when there are
 * fewer (token, KV head) pairs than threads, at the price of converting its rows once per part. */
static void attend_group(const tf_cpu_state *state, const tf_cpu_scratch *scratch, uint32_t il,
                         const uint32_t *table, const tf_attn_shape *shape, const tf_span *span,
                         uint32_t kv_head, uint32_t group, bool tiled, const float *q, float *out) {
    const tf_cpu_kernels *k = state->kernels;
    const tf_cpu_kv *kv = &state->kv;
    const uint32_t hd = shape->head_dim, hd_v = shape->head_dim_v;
    const uint32_t base = span->pos_first & ~7u;
    const uint32_t first_slot = span->pos_first - base, n_slots = span->pos_last - base + 1;
    const uint32_t stride = (n_slots + 7) & ~7u;
    const uint32_t n_lanes = tiled ? TF_LANES_TILED : TF_LANES_VECDOT;
    float *row = scratch->attn_row, *scores = scratch->attn_scores, *lanes = scratch->attn_lanes;
    const size_t k_at = tf_cpu_kv_bytes(kv, (size_t)kv_head * hd);
    const size_t v_at = tf_cpu_kv_bytes(kv, (size_t)kv_head * hd_v);

    for (uint32_t i = first_slot; i < n_slots; i++) {
        const uint8_t *k_row = tf_cpu_kv_row(kv, il, false, table, base + i);
        load_row(k, kv, k_row + k_at, hd, row);
        for (uint32_t g = 0; g < group; g++)
            scores[(size_t)g * stride + i] =
                k->dot_vecdot_f32(row, q + (size_t)g * hd, hd) * shape->scale;
    }
    for (uint32_t g = 0; g < group; g++)
        softmax_slots(k, scores + (size_t)g * stride, first_slot, n_slots, false);

    memset(lanes, 0, (size_t)group * n_lanes * hd_v * sizeof *lanes);
    for (uint32_t i = first_slot; i < n_slots; i++) {
        const uint32_t pos = base + i;
        const uint8_t *v_row = tf_cpu_kv_row(kv, il, true, table, pos);
        load_row(k, kv, v_row + v_at, hd_v, row);
        for (uint32_t g = 0; g < group; g++)
            k->axpy(lanes + ((size_t)g * n_lanes + pos % n_lanes) * hd_v, row,
                    scores[(size_t)g * stride + i], hd_v);
    }
    for (uint32_t g = 0; g < group; g++)
        reduce_lanes(lanes + (size_t)g * n_lanes * hd_v, n_lanes, hd_v, out + (size_t)g * hd_v);
}

/* The positions of [first, first + n) as pointers to KV head kv_head's float16 K (or V) rows. */
static void gather_rows(const tf_cpu_kv *kv, uint32_t il, bool value, const uint32_t *table,
                        uint32_t first, uint32_t n, size_t head_offset, const uint16_t **rows) {
    for (uint32_t i = 0; i < n; i++)
        rows[i] = (const uint16_t *)tf_cpu_kv_row(kv, il, value, table, first + i) + head_offset;
}

/* Attention with the F16 cache for a run of n_tok tokens of one sequence at once (query rows
 * r = j·n_heads + g: token t0 + j, query head h0 + g of KV head kv_head), through the table's
 * attention kernels. As attend_group, plus llama.cpp's float16 rounding of the query and of the
 * probabilities where they meet the cached rows, and tinyBLAS's order (8 lanes) for the scores
 * of a prompt batch too (hd a multiple of 8), ggml_vec_dot_f16's for one token.
 *
 * The keys and values of the run's union of spans are read once for all its rows, blocked in
 * registers by the kernels; every row's scores, softmax and V chains are exactly attend_group's:
 * its scores are the same dots; its softmax runs on its own span, from its own 8-aligned base;
 * and a position outside its span enters its V chains with probability +0, which leaves every
 * partial sum as it was (fma(v, +0, acc) = acc for a finite cached v: acc starts at +0 and the
 * products of a float16 value and a probability never round to -0) — llama.cpp itself multiplies
 * every cached row, masked or not, by its probability. */
static void attend_block(const tf_cpu_state *state, const tf_cpu_scratch *scratch, uint32_t il,
                         bool local, const tf_attn_shape *shape, uint32_t t0, uint32_t n_tok,
                         uint32_t kv_head, uint32_t h0, uint32_t n_heads, bool tiled,
                         const float *q, float *out) {
    const tf_cpu_kernels *k = state->kernels;
    const tf_cpu_kv *kv = &state->kv;
    const tf_span *spans = (local ? state->pass.spans_local : state->pass.spans_global) + t0;
    const uint32_t hd = shape->head_dim, hd_v = shape->head_dim_v;
    const uint32_t n_rows = n_tok * n_heads, n_lanes = tiled ? TF_LANES_TILED : TF_LANES_VECDOT;
    uint32_t first = spans[0].pos_first, last = spans[0].pos_last;
    for (uint32_t j = 1; j < n_tok; j++) {
        if (spans[j].pos_first < first) first = spans[j].pos_first;
        if (spans[j].pos_last > last) last = spans[j].pos_last;
    }
    const uint32_t base = first & ~7u, n_pos = last - first + 1, off = first - base;
    const uint32_t stride = (last - base + 1 + 7) & ~7u;
    const uint32_t *table = tf_cpu_token_table(state, t0, local);
    const uint16_t **k_rows = scratch->attn_rows,
                   **v_rows = scratch->attn_rows + state->config.n_ctx;
    float *query = scratch->attn_query, *scores = scratch->attn_scores;

    for (uint32_t j = 0; j < n_tok; j++)
        k->attn_round_f16(q + ((size_t)(t0 + j) * shape->n_head + h0) * hd, 1.0f,
                          query + (size_t)j * n_heads * hd, (size_t)n_heads * hd);
    gather_rows(kv, il, false, table, first, n_pos, (size_t)kv_head * hd, k_rows);
    if (tiled && hd % 8 == 0) /* see attend_group: the F16 cache's prompt products are tiled */
        k->attn_scores_tiled(k_rows, n_pos, query, n_rows, hd, shape->scale, scores + off, stride);
    else
        k->attn_scores_vecdot(k_rows, n_pos, query, n_rows, hd, shape->scale, scores + off, stride);
    for (uint32_t j = 0; j < n_tok; j++) {
        const uint32_t base_j = spans[j].pos_first & ~7u;
        for (uint32_t g = 0; g < n_heads; g++) {
            float *row = scores + (size_t)(j * n_heads + g) * stride;
            softmax_slots(k, row + (base_j - base), spans[j].pos_first - base_j,
                          spans[j].pos_last - base_j + 1, true);
            for (uint32_t i = off; i < spans[j].pos_first - base; i++) row[i] = 0.0f;
            for (uint32_t i = spans[j].pos_last - base + 1; i < last - base + 1; i++) row[i] = 0.0f;
        }
    }

    gather_rows(kv, il, true, table, first, n_pos, (size_t)kv_head * hd_v, v_rows);
    /* Rows whose lanes fit attn_lanes at once: at least a group's (max_row_elems covers every
     * query head), all of a block's in the tiled order. */
    size_t lanes_rows = state->config.max_row_elems * TF_LANES_VECDOT / ((size_t)n_lanes * hd_v);
    if (lanes_rows < 1) lanes_rows = 1;
    for (uint32_t r0 = 0; r0 < n_rows; r0 += (uint32_t)lanes_rows) {
        const uint32_t nr = n_rows - r0 < lanes_rows ? n_rows - r0 : (uint32_t)lanes_rows;
        k->attn_values(v_rows, n_pos, first, scores + (size_t)r0 * stride + off, stride, nr,
                       n_lanes, hd_v, scratch->attn_lanes);
        for (uint32_t r = r0; r < r0 + nr; r++) {
            const float *head = scratch->attn_lanes + (size_t)(r - r0) * n_lanes * hd_v;
            float *o = out + ((size_t)(t0 + r / n_heads) * shape->n_head + h0 + r % n_heads) * hd_v;
            reduce_lanes(head, n_lanes, hd_v, o);
        }
    }
}

/* The tokens [t, t_end) that attend_block can take together from t: consecutive, of t's
 * sequence, and with room in the scratch for their rows' scores over their union of spans. */
static uint32_t run_end(const tf_cpu_state *state, const tf_cpu_scratch *scratch, bool local,
                        uint32_t n_heads, uint32_t t, uint32_t t_end) {
    const tf_span *spans = local ? state->pass.spans_local : state->pass.spans_global;
    uint32_t first = spans[t].pos_first, last = spans[t].pos_last, end = t + 1;
    for (; end < t_end && state->pass.token_seq[end] == state->pass.token_seq[t]; end++) {
        const uint32_t f = spans[end].pos_first < first ? spans[end].pos_first : first;
        const uint32_t l = spans[end].pos_last > last ? spans[end].pos_last : last;
        const size_t stride = ((l - (f & ~7u) + 1) + 7) & ~(size_t)7;
        if ((size_t)(end + 1 - t) * n_heads * stride > scratch->attn_scores_len) break;
        first = f;
        last = l;
    }
    return end;
}

/* One op's arguments. Work item i is (block of tokens, KV head, part of the KV head's query
 * heads), block outermost: i / (n_head_kv · n_parts) is the block, tokens [b·T, b·T + T). */
typedef struct attention_job {
    const tf_cpu_state *state;
    uint32_t il;
    bool local, tiled;
    const tf_attn_shape *shape;
    uint32_t group;      /* query heads per KV head */
    uint32_t n_parts;    /* parts each KV head's query heads are split into */
    uint32_t block_toks; /* T: tokens per block (1 but for F16 prompts) */
    const float *q;
    float *out;
} attention_job;

static void attention_range(void *arg, size_t i0, size_t i1, uint32_t thread) {
    const attention_job *job = arg;
    const tf_cpu_state *state = job->state;
    const tf_cpu_scratch *scratch = &state->scratch[thread];
    const tf_attn_shape *shape = job->shape;
    const size_t per_block = (size_t)shape->n_head_kv * job->n_parts;
    for (size_t i = i0; i < i1; i++) {
        const uint32_t t0 = (uint32_t)(i / per_block) * job->block_toks;
        const uint32_t t1 = t0 + job->block_toks < state->pass.n_tokens ? t0 + job->block_toks
                                                                        : state->pass.n_tokens;
        const uint32_t kv_head = (uint32_t)(i % per_block / job->n_parts);
        const uint32_t part = (uint32_t)(i % job->n_parts);
        /* Heads [g0, g1) of the group: the parts differ in size by at most one head. */
        const uint32_t g0 = (uint32_t)((uint64_t)job->group * part / job->n_parts);
        const uint32_t g1 = (uint32_t)((uint64_t)job->group * (part + 1) / job->n_parts);
        const uint32_t h0 = kv_head * job->group + g0;
        if (state->kv.dtype == TINFER_DTYPE_F16) {
            for (uint32_t t = t0, end; t < t1; t = end) {
                end = run_end(state, scratch, job->local, g1 - g0, t, t1);
                attend_block(state, scratch, job->il, job->local, shape, t, end - t, kv_head, h0,
                             g1 - g0, job->tiled, job->q, job->out);
            }
            continue;
        }
        for (uint32_t t = t0; t < t1; t++) {
            const tf_span *span =
                job->local ? &state->pass.spans_local[t] : &state->pass.spans_global[t];
            attend_group(state, scratch, job->il, tf_cpu_token_table(state, t, job->local), shape,
                         span, kv_head, g1 - g0, job->tiled,
                         job->q + ((size_t)t * shape->n_head + h0) * shape->head_dim,
                         job->out + ((size_t)t * shape->n_head + h0) * shape->head_dim_v);
        }
    }
}

/* ---- one (token, KV head) over a long span, split across the threads ----
 *
 * The same arithmetic as attend_group on the whole group, in three phases that each read the cache
 * once between them: the scores split over slots (each slot's dots are independent), the softmax
 * split over heads, and the weighted sum of V split over the V dimensions (each element's chain
 * over positions, and its lane, unchanged). So the bits equal the single-thread ones, while every
 * K and V row is read once, not once per part of the group. The query, the scores and (F16) the
 * K rows' addresses live in thread 0's scratch, which none of the phases uses otherwise; with the
 * F16 cache each phase goes through the table's attention kernels, as attend_block does. */
typedef struct span_job {
    const tf_cpu_state *state;
    uint32_t il, kv_head, group, base, first_slot, n_slots, stride, n_lanes;
    const uint32_t *table;
    const tf_attn_shape *shape;
    bool half;
    const uint16_t **k_rows; /* F16: the span's K rows' addresses (in thread 0's scratch) */
    float *query, *scores, *out;
} span_job;

enum { SPAN_SPLIT_MIN = 256, SPAN_SLOTS_PER_RANGE = 256, SPAN_DIMS_ALIGN = 8 };

static void span_scores(void *arg, size_t i0, size_t i1, uint32_t thread) {
    const span_job *job = arg;
    const tf_cpu_kernels *k = job->state->kernels;
    const tf_cpu_kv *kv = &job->state->kv;
    const uint32_t hd = job->shape->head_dim;
    float *row = job->state->scratch[thread].attn_row;
    if (job->half) { /* each range gathers its own keys' addresses into the shared list */
        gather_rows(kv, job->il, false, job->table, job->base + job->first_slot + (uint32_t)i0,
                    (uint32_t)(i1 - i0), (size_t)job->kv_head * hd, job->k_rows + i0);
        k->attn_scores_vecdot(job->k_rows + i0, i1 - i0, job->query, job->group, hd,
                              job->shape->scale, job->scores + job->first_slot + i0, job->stride);
        return;
    }
    const size_t k_at = tf_cpu_kv_bytes(kv, (size_t)job->kv_head * hd);
    for (size_t i = i0 + job->first_slot; i < i1 + job->first_slot; i++) {
        const uint8_t *k_row =
            tf_cpu_kv_row(kv, job->il, false, job->table, job->base + (uint32_t)i);
        load_row(k, kv, k_row + k_at, hd, row);
        for (uint32_t g = 0; g < job->group; g++) {
            const float *qg = job->query + (size_t)g * hd;
            const float dot = k->dot_vecdot_f32(row, qg, hd);
            job->scores[(size_t)g * job->stride + i] = dot * job->shape->scale;
        }
    }
}

static void span_softmax(void *arg, size_t g0, size_t g1, uint32_t thread) {
    (void)thread;
    const span_job *job = arg;
    for (size_t g = g0; g < g1; g++)
        softmax_slots(job->state->kernels, job->scores + g * job->stride, job->first_slot,
                      job->n_slots, job->half);
}

/* V dimensions [8·c0, 8·c1) of every head of the group. */
static void span_values(void *arg, size_t c0, size_t c1, uint32_t thread) {
    const span_job *job = arg;
    const tf_cpu_kernels *k = job->state->kernels;
    const tf_cpu_kv *kv = &job->state->kv;
    const tf_cpu_scratch *scratch = &job->state->scratch[thread];
    const uint32_t hd_v = job->shape->head_dim_v, n_lanes = job->n_lanes;
    const uint32_t d0 = (uint32_t)c0 * SPAN_DIMS_ALIGN;
    const uint32_t d1 =
        (uint32_t)c1 * SPAN_DIMS_ALIGN < hd_v ? (uint32_t)c1 * SPAN_DIMS_ALIGN : hd_v;
    const uint32_t width = d1 - d0;
    float *row = scratch->attn_row, *lanes = scratch->attn_lanes; /* lanes: [g][lane][width] */
    if (job->half) {
        /* this thread's dimensions of the span's V rows (past thread 0's K rows) */
        const uint16_t **v_rows = scratch->attn_rows + job->state->config.n_ctx;
        const uint32_t n_pos = job->n_slots - job->first_slot;
        gather_rows(kv, job->il, true, job->table, job->base + job->first_slot, n_pos,
                    (size_t)job->kv_head * hd_v + d0, v_rows);
        k->attn_values(v_rows, n_pos, job->base + job->first_slot, job->scores + job->first_slot,
                       job->stride, job->group, n_lanes, width, lanes);
        for (uint32_t g = 0; g < job->group; g++)
            reduce_lanes(lanes + (size_t)g * n_lanes * width, n_lanes, width,
                         job->out + (size_t)g * hd_v + d0);
        return;
    }
    memset(lanes, 0, (size_t)job->group * n_lanes * width * sizeof *lanes);
    const size_t v_at = tf_cpu_kv_bytes(kv, (size_t)job->kv_head * hd_v + d0);
    for (uint32_t i = job->first_slot; i < job->n_slots; i++) {
        const uint32_t pos = job->base + i;
        const uint8_t *v_row = tf_cpu_kv_row(kv, job->il, true, job->table, pos);
        load_row(k, kv, v_row + v_at, width, row);
        for (uint32_t g = 0; g < job->group; g++)
            k->axpy(lanes + ((size_t)g * n_lanes + pos % n_lanes) * width, row,
                    job->scores[(size_t)g * job->stride + i], width);
    }
    for (uint32_t g = 0; g < job->group; g++)
        reduce_lanes(lanes + (size_t)g * n_lanes * width, n_lanes, width,
                     job->out + (size_t)g * hd_v + d0);
}

/* One decode token's KV head kv_head (all its query heads) over its span, on every thread. */
static void attend_span_split(const tf_cpu_state *state, uint32_t il, bool local,
                              const tf_attn_shape *shape, uint32_t kv_head, const float *q,
                              float *out) {
    const tf_span *span = local ? &state->pass.spans_local[0] : &state->pass.spans_global[0];
    const uint32_t group = shape->n_head / shape->n_head_kv;
    const uint32_t base = span->pos_first & ~7u;
    span_job job = {.state = state,
                    .il = il,
                    .kv_head = kv_head,
                    .group = group,
                    .base = base,
                    .first_slot = span->pos_first - base,
                    .n_slots = span->pos_last - base + 1,
                    .stride = ((span->pos_last - base + 1) + 7) & ~7u,
                    .n_lanes = TF_LANES_VECDOT,
                    .table = tf_cpu_token_table(state, 0, local),
                    .shape = shape,
                    .half = state->kv.dtype == TINFER_DTYPE_F16,
                    .k_rows = state->scratch[0].attn_rows,
                    .query = state->scratch[0].attn_query,
                    .scores = state->scratch[0].attn_scores,
                    .out = out + (size_t)kv_head * group * shape->head_dim_v};
    const float *qh = q + (size_t)kv_head * group * shape->head_dim;
    if (job.half) state->kernels->attn_round_f16(qh, 1.0f, job.query, group * shape->head_dim);
    else memcpy(job.query, qh, (size_t)group * shape->head_dim * sizeof *qh);
    /* One share of the keys per thread (at least SPAN_SLOTS_PER_RANGE): a range restarts the
     * stream of key prefetches (alternated per-op profiles, two threads: attention 1.18 → 1.07
     * ms a step at position 1,000, 5.61 → 5.37 at 32,640, against 256-key ranges). */
    const size_t n_keys = job.n_slots - job.first_slot;
    const size_t share = (n_keys + state->n_threads - 1) / state->n_threads;
    tf_cpu_for(state, n_keys, share > SPAN_SLOTS_PER_RANGE ? share : SPAN_SLOTS_PER_RANGE,
               span_scores, &job);
    tf_cpu_for(state, group, 1, span_softmax, &job);
    const size_t n_chunks = (shape->head_dim_v + SPAN_DIMS_ALIGN - 1) / SPAN_DIMS_ALIGN;
    tf_cpu_for(state, n_chunks, (n_chunks + state->n_threads - 1) / state->n_threads, span_values,
               &job);
}

tinfer_status tf_cpu_attention(tf_backend *be, uint32_t il, bool local, const tf_attn_shape *shape,
                               const float *q, float *out) {
    const tf_cpu_state *state = be->state;
    if (state->kv.dtype == TINFER_DTYPE_Q8_0)
        return tf_cpu_attention_q8(be, il, local, shape, q, out);
    const tf_cpu_pass *pass = &state->pass;
    const uint32_t group = shape->n_head / shape->n_head_kv;
    const size_t pairs = (size_t)pass->n_tokens * shape->n_head_kv;
    /* One decode token over a long span, fewer KV heads than threads: split the span itself
     * (same bits; every cached row read once). */
    if (pass->kind == TF_BATCH_DECODE && pass->n_tokens == 1 && pairs < state->n_threads) {
        const tf_span *span = local ? &pass->spans_local[0] : &pass->spans_global[0];
        if (span->pos_last + 1 - span->pos_first >= SPAN_SPLIT_MIN) {
            for (uint32_t h = 0; h < shape->n_head_kv; h++)
                attend_span_split(state, il, local, shape, h, q, out);
            return TINFER_OK;
        }
    }
    /* Enough parts that every thread gets an item (decode of a model with one KV head). */
    uint32_t n_parts = 1;
    if (pairs < state->n_threads) {
        const size_t wanted = (state->n_threads + pairs - 1) / pairs;
        n_parts = wanted < group ? (uint32_t)wanted : group;
    }
    /* F16 prompts: blocks of up to TF_CPU_ATTN_TOKENS consecutive tokens, each cached row read
     * once per block, while leaving about four blocks per thread. */
    uint32_t block_toks = 1;
    const bool tiled = pass->kind == TF_BATCH_PROMPT && pass->n_tokens >= 2;
    if (tiled && state->kv.dtype == TINFER_DTYPE_F16) {
        const size_t fit = pairs / (4 * (size_t)state->n_threads);
        block_toks = fit < 1 ? 1 : fit > TF_CPU_ATTN_TOKENS ? TF_CPU_ATTN_TOKENS : (uint32_t)fit;
    }
    const size_t n_blocks = (pass->n_tokens + block_toks - 1) / block_toks;
    attention_job job = {.state = state,
                         .il = il,
                         .local = local,
                         .tiled = tiled,
                         .shape = shape,
                         .group = group,
                         .n_parts = n_parts,
                         .block_toks = block_toks,
                         .q = q,
                         .out = out};
    /* One item each: a block's attention over a long span takes far longer than a dispatch, and
     * spans differ in length (causal prompts), so threads take items as they finish. */
    tf_cpu_for(state, n_blocks * shape->n_head_kv * n_parts, 1, attention_range, &job);
    return TINFER_OK;
}
