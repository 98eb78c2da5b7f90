/* Attention over the block-structured KV cache: storing new K/V rows, and reading them back.
 *
 * Reading is the textbook two-pass softmax over score rows as long as the context (scratch sized
 * at creation); each K and V row is read once per KV head and shared by its query heads (GQA). */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "quant/fp16.h"

static size_t row_bytes(const tf_kv_layer *layer, uint32_t row_elems) {
    return (size_t)row_elems * (layer->dtype == TINFER_DTYPE_F16 ? 2 : 4);
}

/* Address of the row of position pos in the layer's K or V storage. */
static uint8_t *kv_row(const tf_kv_layer *layer, void *base, uint32_t row_elems,
                       const tf_kv_span *span, uint32_t pos) {
    const uint32_t block = span->block_table[pos / layer->block_tokens];
    const size_t slot = (size_t)block * layer->block_tokens + pos % layer->block_tokens;
    return (uint8_t *)base + slot * row_bytes(layer, row_elems);
}

static void store_row(const tf_kv_layer *layer, uint8_t *dst, const float *src, uint32_t n) {
    if (layer->dtype == TINFER_DTYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint16_t half = tf_f32_to_f16(src[i]);
        memcpy(dst + 2 * (size_t)i, &half, sizeof half);
    }
}

void tf_cpu_kv_store(tf_backend *be, const tf_kv_layer *layer, const tf_kv_span *spans,
                     const int32_t *positions, size_t n_tokens, const float *k, const float *v) {
    (void)be;
    for (size_t t = 0; t < n_tokens; t++) {
        const uint32_t pos = (uint32_t)positions[t];
        store_row(layer, kv_row(layer, layer->k, layer->k_row_elems, &spans[t], pos),
                  k + t * layer->k_row_elems, layer->k_row_elems);
        store_row(layer, kv_row(layer, layer->v, layer->v_row_elems, &spans[t], pos),
                  v + t * layer->v_row_elems, layer->v_row_elems);
    }
}

/* One cached row (a head's slice) as float32 in out. */
static void load_row(const tf_kv_layer *layer, const uint8_t *row, uint32_t n, float *out) {
    if (layer->dtype == TINFER_DTYPE_F32) {
        memcpy(out, row, (size_t)n * sizeof(float));
        return;
    }
    for (uint32_t i = 0; i < n; i++) out[i] = tf_f16_load(row + 2 * (size_t)i);
}

static float round_f16(float x) { return tf_f16_to_f32(tf_f32_to_f16(x)); }

/* The query heads [h0, h0 + group) that share KV head kv_head, for one token: scores into a
 * [group][n_keys] scratch, softmax, then the weighted sum of V. Each cached K and V row is
 * converted once and used by every head of the group.
 * With an F16 cache the queries and the attention probabilities are rounded to float16 before
 * they meet the cached rows, exactly where llama.cpp's F16 matrix products round them: Gemma 3's
 * logits move by ~0.3 when this rounding differs (see tests/unit/test_forward_golden.c). */
static void attend_group(const tf_cpu_state *state, const tf_kv_layer *layer,
                         const tf_attn_shape *shape, const tf_kv_span *span, uint32_t kv_head,
                         uint32_t group, const float *q, float *out) {
    const bool half = layer->dtype == TINFER_DTYPE_F16;
    const size_t elem_bytes = half ? 2 : 4;
    const uint32_t hd = shape->head_dim, hd_v = shape->head_dim_v;
    const uint32_t n_keys = span->pos_last - span->pos_first + 1;
    float *query = state->attn_query, *row = state->attn_row, *scores = state->attn_scores;
    for (uint32_t i = 0; i < group * hd; i++) query[i] = half ? round_f16(q[i]) : q[i];
    for (uint32_t i = 0; i < n_keys; i++) {
        const uint8_t *k_row =
            kv_row(layer, layer->k, layer->k_row_elems, span, span->pos_first + i);
        load_row(layer, k_row + (size_t)kv_head * hd * elem_bytes, hd, row);
        for (uint32_t g = 0; g < group; g++)
            scores[(size_t)g * n_keys + i] =
                shape->scale * tf_cpu_dot(query + (size_t)g * hd, row, hd);
    }
    for (uint32_t g = 0; g < group; g++) {
        float *head_scores = scores + (size_t)g * n_keys, max_score = -INFINITY;
        for (uint32_t i = 0; i < n_keys; i++) max_score = fmaxf(max_score, head_scores[i]);
        double sum = 0;
        for (uint32_t i = 0; i < n_keys; i++) {
            head_scores[i] = expf(head_scores[i] - max_score);
            sum += head_scores[i];
        }
        const float inv_sum = (float)(1.0 / sum);
        for (uint32_t i = 0; i < n_keys; i++) {
            const float p = head_scores[i] * inv_sum;
            head_scores[i] = half ? round_f16(p) : p;
        }
    }
    memset(out, 0, (size_t)group * hd_v * sizeof *out);
    for (uint32_t i = 0; i < n_keys; i++) {
        const uint8_t *v_row =
            kv_row(layer, layer->v, layer->v_row_elems, span, span->pos_first + i);
        load_row(layer, v_row + (size_t)kv_head * hd_v * elem_bytes, hd_v, row);
        for (uint32_t g = 0; g < group; g++) {
            const float p = scores[(size_t)g * n_keys + i];
            float *acc = out + (size_t)g * hd_v;
            for (uint32_t d = 0; d < hd_v; d++) acc[d] += p * row[d];
        }
    }
}

void tf_cpu_attention(tf_backend *be, const tf_kv_layer *layer, const tf_attn_shape *shape,
                      const tf_kv_span *spans, size_t n_tokens, const float *q, float *out) {
    tf_cpu_state *state = be->state;
    const uint32_t group = shape->n_head / shape->n_head_kv;
    for (size_t t = 0; t < n_tokens; t++)
        for (uint32_t kv_head = 0; kv_head < shape->n_head_kv; kv_head++) {
            const uint32_t h0 = kv_head * group;
            attend_group(state, layer, shape, &spans[t], kv_head, group,
                         q + (t * shape->n_head + h0) * shape->head_dim,
                         out + (t * shape->n_head + h0) * shape->head_dim_v);
        }
}
