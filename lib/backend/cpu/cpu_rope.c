/* RoPE: each token's query and key heads rotated by angles of its position.
 *
 * A token's angles depend on its position and the layer's tf_rope alone, yet every layer rotates
 * q and k: 2 × n_layer times a pass, a cosf and a sinf per pair each time (for a prompt of the
 * default model, 3 % of the prefill). The pass keeps a table of cos and sin per (token, pair) for
 * each distinct tf_rope it meets (Gemma 3 has two: the sliding-window layers' base and the
 * global layers'): the first rotation with a tf_rope forms its angles into the table as it
 * rotates, the others read them. The angles are the same floats either way, so the bits are too. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"

/* Pairs whose angles are formed at a time, on the stack, where no table serves the op. */
enum { ROPE_PAIRS_CHUNK = 128 };

typedef struct rope_job {
    const tf_cpu_state *state;
    float *x;
    size_t n_heads, head_dim;
    const tf_rope *rope;
    float *table; /* the pass's cos and sin rows for this tf_rope, or NULL */
    bool fill;    /* the table is to be formed by this op (else read) */
} rope_job;

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

/* Pairs [i0, i0 + n) of one head in the interleaved layout (2i, 2i + 1), rotated; fused the way
 * the reference engine's compiler contracts x0·cos − x1·sin (checked bit for bit against
 * llama.cpp's output). */
static void rope_pairs(float *head, size_t i0, size_t n, const float *cos_a, const float *sin_a) {
    for (size_t k = 0; k < n; k++) {
        const size_t j0 = 2 * (i0 + k), j1 = j0 + 1;
        const float x0 = head[j0], x1 = head[j1];
        head[j0] = fmaf(x0, cos_a[k], -(x1 * sin_a[k]));
        head[j1] = fmaf(x0, sin_a[k], x1 * cos_a[k]);
    }
}

/* Every head of token t rotated by pairs [i0, i0 + n); the NEOX layout's pairs, whose halves are
 * contiguous, through the kernel table's vector loop. */
static void rotate_token(const rope_job *job, size_t t, size_t i0, size_t n, const float *cos_a,
                         const float *sin_a) {
    const size_t half = job->rope->n_rot / 2;
    for (size_t h = 0; h < job->n_heads; h++) {
        float *head = job->x + (t * job->n_heads + h) * job->head_dim;
        if (job->rope->neox)
            job->state->kernels->rope_neox(head + i0, head + half + i0, n, cos_a, sin_a);
        else rope_pairs(head, i0, n, cos_a, sin_a);
    }
}

/* Tokens [t0, t1) of the pass: each token's angles formed (into the table, or in chunks on the
 * stack) or read from the table, once for all its heads. */
static void rope_range(void *arg, size_t t0, size_t t1, uint32_t thread) {
    (void)thread;
    const rope_job *job = arg;
    const tf_rope *rope = job->rope;
    const int32_t *positions = job->state->pass.positions;
    const float theta_scale = powf(rope->freq_base, -2.0f / (float)rope->n_rot);
    const size_t half = rope->n_rot / 2;
    float cos_chunk[ROPE_PAIRS_CHUNK], sin_chunk[ROPE_PAIRS_CHUNK];
    for (size_t t = t0; t < t1; t++) {
        float theta = (float)positions[t];
        if (job->table) {
            float *cos_a = job->table + t * 2 * half, *sin_a = cos_a + half;
            if (job->fill) rope_angles(rope, theta_scale, 0, half, &theta, cos_a, sin_a);
            rotate_token(job, t, 0, half, cos_a, sin_a);
            continue;
        }
        for (size_t i0 = 0; i0 < half; i0 += ROPE_PAIRS_CHUNK) {
            const size_t n = half - i0 < ROPE_PAIRS_CHUNK ? half - i0 : ROPE_PAIRS_CHUNK;
            rope_angles(rope, theta_scale, i0, n, &theta, cos_chunk, sin_chunk);
            rotate_token(job, t, i0, n, cos_chunk, sin_chunk);
        }
    }
}

static bool same_rope(const tf_rope *a, const tf_rope *b) {
    return a->n_rot == b->n_rot && a->freq_base == b->freq_base &&
           a->freq_factors == b->freq_factors && a->freq_scale == b->freq_scale;
}

/* The pass's table for rope, claiming a free one; NULL when every table holds another tf_rope or
 * its rows are too short. */
static tf_cpu_rope_table *table_for(tf_cpu_state *state, const tf_rope *rope) {
    if (rope->n_rot > state->config.rope_dim) return NULL;
    for (size_t i = 0; i < TF_CPU_ROPE_TABLES; i++) {
        tf_cpu_rope_table *table = &state->rope_tables[i];
        if (!table->cos_sin) return NULL;
        if (table->state == TF_ROPE_TABLE_FREE) {
            table->rope = *rope;
            table->state = TF_ROPE_TABLE_CLAIMED;
            return table;
        }
        if (same_rope(&table->rope, rope)) return table;
    }
    return NULL;
}

tinfer_status tf_cpu_rope(tf_backend *be, float *x, size_t n_heads, size_t head_dim,
                          const tf_rope *rope) {
    tf_cpu_state *state = be->state;
    tf_cpu_rope_table *table = table_for(state, rope);
    rope_job job = {.state = state,
                    .x = x,
                    .n_heads = n_heads,
                    .head_dim = head_dim,
                    .rope = rope,
                    .table = table ? table->cos_sin : NULL,
                    .fill = table && table->state == TF_ROPE_TABLE_CLAIMED};
    /* A token costs a cosf and a sinf per pair (microseconds) when its angles are formed: worth a
     * thread of its own; read from the table, a few tokens share one. */
    tf_cpu_for(state, state->pass.n_tokens, job.fill || !table ? 1 : 4, rope_range, &job);
    if (job.fill) table->state = TF_ROPE_TABLE_READY;
    return TINFER_OK;
}

void tf_cpu_rope_tables_reset(tf_cpu_state *state) {
    for (size_t i = 0; i < TF_CPU_ROPE_TABLES; i++)
        state->rope_tables[i].state = TF_ROPE_TABLE_FREE;
}
