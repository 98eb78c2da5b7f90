/* Attention over the Q8_0 cache (TINFER_KV_Q8_0): flash-decoding partial sums.
 *
 * A token's span is cut at the multiples of TF_CPU_Q8_RANGE positions. Each range gives a partial
 * sum per query head — its largest score m, Σ exp(s − m) and Σ exp(s − m)·v over its keys — and
 * the ranges are merged in position order (merge_partial). How a token's attention rounds thus
 * depends on its span alone: not on the thread count, the other tokens of the pass, or whether it
 * came in a prompt or a decode step.
 *
 * Two ways through, with the same arithmetic in the same order, hence the same bits:
 *  - a (token, KV head) pair per work item, its ranges one after the other (prompts, decode of
 *    several sequences);
 *  - one decode step with fewer pairs than threads: the ranges of every pair spread over the
 *    threads into kv->q8_partials, then each query head's ranges merged on an item of its own
 *    (a head's merge never reads another's). Every cached row is read once.
 * Prompts read each token's span for that token alone (the F16 path's blocks of tokens share
 * row reads): a 4,096-token prefill of the default model takes 9 % longer than with F16. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"

/* One op's arguments. */
typedef struct q8_job {
    const tf_cpu_state *state;
    uint32_t il;
    bool local;
    const tf_attn_shape *shape;
    uint32_t group; /* query heads per KV head */
    const float *q;
    float *out;
    size_t part_floats;  /* one range's partial: group × (2 + head_dim_v) */
    uint32_t max_ranges; /* per pair, in the split way */
} q8_job;

static const tf_span *span_of(const q8_job *job, size_t t) {
    return job->local ? &job->state->pass.spans_local[t] : &job->state->pass.spans_global[t];
}

/* The ranges of a span: [first_range, end_range) over positions rounded down to TF_CPU_Q8_RANGE. */
static uint32_t first_range(const tf_span *span) { return span->pos_first / TF_CPU_Q8_RANGE; }
static uint32_t end_range(const tf_span *span) { return span->pos_last / TF_CPU_Q8_RANGE + 1; }

/* Token t's rows of KV head kv_head at positions [first, first + n), value or key storage. */
static void gather_rows(const q8_job *job, size_t t, bool value, uint32_t kv_head, uint32_t first,
                        uint32_t n, const uint8_t **rows) {
    const tf_cpu_kv *kv = &job->state->kv;
    const uint32_t *table = tf_cpu_token_table(job->state, t, job->local);
    const size_t head_bytes = tf_cpu_kv_bytes(
        kv, (size_t)kv_head * (value ? job->shape->head_dim_v : job->shape->head_dim));
    for (uint32_t i = 0; i < n; i++)
        rows[i] = tf_cpu_kv_row(kv, job->il, value, table, first + i) + head_bytes;
}

/* Range r of token t's span, KV head kv_head: part[g·(2 + hd_v)] = m, [+1] = Σ exp(s − m),
 * [+2 …] = Σ exp(s − m)·v, for each query head g of the group. */
static void range_partial(const q8_job *job, const tf_cpu_scratch *scratch, size_t t,
                          uint32_t kv_head, uint32_t r, float *part) {
    const tf_cpu_kernels *k = job->state->kernels;
    const tf_attn_shape *shape = job->shape;
    const tf_span *span = span_of(job, t);
    const uint32_t lo = r * TF_CPU_Q8_RANGE, hi = lo + TF_CPU_Q8_RANGE - 1;
    const uint32_t first = span->pos_first > lo ? span->pos_first : lo;
    const uint32_t n = (span->pos_last < hi ? span->pos_last : hi) + 1 - first;
    const uint32_t hd = shape->head_dim, hd_v = shape->head_dim_v, group = job->group;
    const uint8_t **rows = (const uint8_t **)scratch->attn_rows;
    float *scores = scratch->attn_scores;
    const float *q = job->q + ((size_t)t * shape->n_head + (size_t)kv_head * group) * hd;

    const uint8_t **v_rows = rows + n; /* attn_rows holds 2 × (n_ctx + 1) */
    gather_rows(job, t, false, kv_head, first, n, rows);
    gather_rows(job, t, true, kv_head, first, n, v_rows);
    k->attn_q8_scores(rows, v_rows, n, q, group, hd, shape->scale, scores, n, scratch->attn_work);
    for (uint32_t g = 0; g < group; g++) {
        float *s = scores + (size_t)g * n;
        const float max = tf_max_f32(s, n);
        for (uint32_t i = 0; i < n; i++) s[i] -= max;
        k->expf_n(s, s, n);
        part[(size_t)g * (2 + hd_v)] = max;
        part[(size_t)g * (2 + hd_v) + 1] = tf_sum_f32(s, n);
    }
    k->attn_q8_values(v_rows, n, scores, n, group, hd_v, part + 2, 2 + hd_v, scratch->attn_work);
}

/* acc ← acc merged with part (both group × (2 + hd_v)); first: acc ← part. */
static void merge_partial(float *acc, const float *part, uint32_t group, uint32_t hd_v,
                          bool first) {
    const size_t width = 2 + (size_t)hd_v;
    if (first) {
        memcpy(acc, part, group * width * sizeof *acc);
        return;
    }
    for (uint32_t g = 0; g < group; g++) {
        float *restrict a = acc + g * width;
        const float *restrict p = part + g * width;
        const float max = a[0] > p[0] ? a[0] : p[0];
        const float ca = expf(a[0] - max), cp = expf(p[0] - max);
        a[0] = max;
        a[1] = a[1] * ca + p[1] * cp;
        for (uint32_t d = 0; d < hd_v; d++) a[2 + d] = a[2 + d] * ca + p[2 + d] * cp;
    }
}

/* Query heads [g0, g0 + n) of token t's KV head kv_head from their merged sums (acc: n heads). */
static void finish(const q8_job *job, const float *acc, size_t t, uint32_t kv_head, uint32_t g0,
                   uint32_t n) {
    const uint32_t hd_v = job->shape->head_dim_v;
    for (uint32_t g = 0; g < n; g++) {
        const float *a = acc + (size_t)g * (2 + hd_v);
        const size_t head = (size_t)t * job->shape->n_head + (size_t)kv_head * job->group + g0 + g;
        float *o = job->out + head * hd_v;
        for (uint32_t d = 0; d < hd_v; d++) o[d] = a[2 + d] / a[1];
    }
}

/* Pairs [i0, i1), pair i = (token i / n_head_kv, KV head i % n_head_kv), ranges in order. */
static void pairs_range(void *arg, size_t i0, size_t i1, uint32_t thread) {
    const q8_job *job = arg;
    const tf_cpu_scratch *scratch = &job->state->scratch[thread];
    float *acc = scratch->attn_lanes, *part = acc + job->part_floats;
    const uint32_t n_head_kv = job->shape->n_head_kv;
    for (size_t i = i0; i < i1; i++) {
        const size_t t = i / n_head_kv;
        const uint32_t kv_head = (uint32_t)(i % n_head_kv);
        const tf_span *span = span_of(job, t);
        for (uint32_t r = first_range(span); r < end_range(span); r++) {
            range_partial(job, scratch, t, kv_head, r, part);
            merge_partial(acc, part, job->group, job->shape->head_dim_v, r == first_range(span));
        }
        finish(job, acc, t, kv_head, 0, job->group);
    }
}

/* The split way: item i = (pair i / max_ranges, its range i % max_ranges past the first). */
static float *pair_partial(const q8_job *job, size_t pair, uint32_t r) {
    return job->state->kv.q8_partials + pair * job->state->kv.q8_pair_floats +
           (size_t)r * job->part_floats;
}

static void split_ranges(void *arg, size_t i0, size_t i1, uint32_t thread) {
    const q8_job *job = arg;
    const uint32_t n_head_kv = job->shape->n_head_kv;
    for (size_t i = i0; i < i1; i++) {
        const size_t pair = i / job->max_ranges;
        const size_t t = pair / n_head_kv;
        const tf_span *span = span_of(job, t);
        const uint32_t r = (uint32_t)(i % job->max_ranges);
        if (first_range(span) + r >= end_range(span)) continue;
        range_partial(job, &job->state->scratch[thread], t, (uint32_t)(pair % n_head_kv),
                      first_range(span) + r, pair_partial(job, pair, r));
    }
}

/* Item i = (pair i / group, its query head i % group): that head's ranges merged in order. */
static void split_merge(void *arg, size_t i0, size_t i1, uint32_t thread) {
    const q8_job *job = arg;
    float *acc = job->state->scratch[thread].attn_lanes;
    const uint32_t n_head_kv = job->shape->n_head_kv, hd_v = job->shape->head_dim_v;
    for (size_t i = i0; i < i1; i++) {
        const size_t pair = i / job->group, t = pair / n_head_kv;
        const uint32_t g = (uint32_t)(i % job->group);
        const tf_span *span = span_of(job, t);
        for (uint32_t r = 0; first_range(span) + r < end_range(span); r++)
            merge_partial(acc, pair_partial(job, pair, r) + (size_t)g * (2 + hd_v), 1, hd_v,
                          r == 0);
        finish(job, acc, t, (uint32_t)(pair % n_head_kv), g, 1);
    }
}

tinfer_status tf_cpu_attention_q8(tf_backend *be, uint32_t il, bool local,
                                  const tf_attn_shape *shape, const float *q, float *out) {
    const tf_cpu_state *state = be->state;
    const tf_cpu_pass *pass = &state->pass;
    const size_t pairs = (size_t)pass->n_tokens * shape->n_head_kv;
    q8_job job = {.state = state,
                  .il = il,
                  .local = local,
                  .shape = shape,
                  .group = shape->n_head / shape->n_head_kv,
                  .q = q,
                  .out = out,
                  .part_floats =
                      (size_t)(shape->n_head / shape->n_head_kv) * (2 + (size_t)shape->head_dim_v)};
    if (pass->kind == TF_BATCH_DECODE && pairs < state->n_threads && pairs <= state->kv.q8_pairs) {
        uint32_t most = 1;
        for (size_t t = 0; t < pass->n_tokens; t++) {
            const tf_span *span = span_of(&job, t);
            if (end_range(span) - first_range(span) > most)
                most = end_range(span) - first_range(span);
        }
        if (most > 1 && (size_t)most * job.part_floats <= state->kv.q8_pair_floats) {
            job.max_ranges = most;
            tf_cpu_for(state, pairs * most, 1, split_ranges, &job);
            tf_cpu_for(state, pairs * job.group, 1, split_merge, &job);
            return TINFER_OK;
        }
    }
    tf_cpu_for(state, pairs, 1, pairs_range, &job);
    return TINFER_OK;
}
