/* Tiny models with pseudo-random weights, written as GGUF for the forward-pass and KV-cache tests:
 * a few layers and small widths, but real head counts, GQA and sliding windows. Header-only so
 * each test program that needs it includes it (static functions).
 *
 * Weight j of a tensor is a hash of (FNV-1a of its name, j) mapped to 2001 levels in float32,
 * exactly as tests/conformance/llamacpp/make_synthetic_golden.py computes it, so the models
 * behind tests/data/golden/synthetic_logits.json are rebuilt here bit for bit. */
#ifndef TINFER_TESTS_SYNTHETIC_MODEL_H
#define TINFER_TESTS_SYNTHETIC_MODEL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures/gguf_writer.h"
#include "fixtures/test_env.h"
#include "quant/fp16.h"

typedef struct synth_spec {
    const char *arch; /* "gemma3", "llama", "qwen2", "qwen3", or anything else */
    uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    uint32_t sliding_window;   /* written only when non-zero */
    uint32_t matrix_type;      /* GGML type of the 2-D weights (synth_tensor) */
    const char *omit;          /* a tensor name to leave out, or NULL */
    const char *misshape;      /* a tensor name to write with one row too many, or NULL */
    float rope_freq_base;      /* 0: 10000 */
    float rope_scaling_linear; /* linear RoPE factor written to metadata; 0: none */
    bool rope_freqs;           /* write a rope_freqs tensor (Llama 3 style divisors) */
    /* Called with every tensor's float32 values as well (for writing other formats); may be
     * NULL. values are freed after the call. */
    void (*sink)(void *sink_ctx, const char *name, uint32_t n_rows, uint32_t row_elems,
                 bool is_vector, const float *values);
    void *sink_ctx;
} synth_spec;

static uint32_t synth_fnv1a(const char *text) {
    uint32_t h = 2166136261u;
    for (; *text; text++) h = (h ^ (uint8_t)*text) * 16777619u;
    return h;
}

static uint32_t synth_hash32(uint32_t x) { /* lowbias32 */
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

/* offset + ((h % 2001) - 1000) · (scale / 1000), every step in float32. */
static float synth_value(uint32_t name_hash, size_t j, float scale, float offset) {
    const uint32_t h = synth_hash32(name_hash + (uint32_t)j * 0x9E3779B9u);
    const float step = scale / 1000.0f;
    return offset + (float)((int32_t)(h % 2001u) - 1000) * step;
}

static bool synth_has_qk_norm(const synth_spec *s) {
    return !strcmp(s->arch, "gemma3") || !strcmp(s->arch, "qwen3");
}

/* The legacy quantizers as gguf-py's numpy code runs them (gguf/quants.py), not as ggml's C: the
 * same float32 steps in the same order (tests build with -std=c11, so no FMA contraction), the
 * scale picked from the first element of largest magnitude (numpy's argmax), 4- and 5-bit codes
 * truncated after adding 0.5 and clipped, Q8_0 codes rounded half away from zero (np_roundf),
 * scales rounded to float16 last. 32 values in, one block out. */
static void synth_q4_0_block(const float *x, uint8_t *out) { /* d, 16 × (q[j] | q[j+16] << 4) */
    float max = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > fabsf(max)) max = x[j];
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    for (int j = 0; j < 32; j++) q[j] = (uint8_t)fminf(15.0f, truncf(x[j] * id + 8.5f));
    const uint16_t d16 = tf_f32_to_f16(d);
    memcpy(out, &d16, 2);
    for (int j = 0; j < 16; j++) out[2 + j] = (uint8_t)(q[j] | q[j + 16] << 4);
}

static void synth_q4_1_block(const float *x, uint8_t *out) { /* d, m, 16 nibble pairs */
    float max = x[0], min = x[0];
    for (int j = 1; j < 32; j++) {
        max = fmaxf(max, x[j]);
        min = fminf(min, x[j]);
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    for (int j = 0; j < 32; j++) q[j] = (uint8_t)fminf(15.0f, truncf((x[j] - min) * id + 0.5f));
    const uint16_t d16 = tf_f32_to_f16(d), m16 = tf_f32_to_f16(min);
    memcpy(out, &d16, 2);
    memcpy(out + 2, &m16, 2);
    for (int j = 0; j < 16; j++) out[4 + j] = (uint8_t)(q[j] | q[j + 16] << 4);
}

/* The 5-bit codes' fifth bits into qh (bit j for element j, little-endian) and their low
 * nibbles paired as in Q4_0. */
static void synth_pack5(const uint8_t *q, uint8_t *qh, uint8_t *qs) {
    memset(qh, 0, 4);
    for (int j = 0; j < 32; j++) qh[j / 8] |= (uint8_t)((q[j] >> 4) << (j % 8));
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 0x0F) | (q[j + 16] & 0x0F) << 4);
}

static void synth_q5_0_block(const float *x, uint8_t *out) { /* d, qh[4], qs[16] */
    float max = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > fabsf(max)) max = x[j];
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    for (int j = 0; j < 32; j++) q[j] = (uint8_t)fminf(31.0f, truncf(x[j] * id + 16.5f));
    const uint16_t d16 = tf_f32_to_f16(d);
    memcpy(out, &d16, 2);
    synth_pack5(q, out + 2, out + 6);
}

static void synth_q5_1_block(const float *x, uint8_t *out) { /* d, m, qh[4], qs[16] */
    float max = x[0], min = x[0];
    for (int j = 1; j < 32; j++) {
        max = fmaxf(max, x[j]);
        min = fminf(min, x[j]);
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    for (int j = 0; j < 32; j++) q[j] = (uint8_t)fminf(31.0f, truncf((x[j] - min) * id + 0.5f));
    const uint16_t d16 = tf_f32_to_f16(d), m16 = tf_f32_to_f16(min);
    memcpy(out, &d16, 2);
    memcpy(out + 2, &m16, 2);
    synth_pack5(q, out + 4, out + 8);
}

static void synth_q8_0_block(const float *x, uint8_t *out) { /* d = amax/127, codes roundf(x/d) */
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t d16 = tf_f32_to_f16(d);
    memcpy(out, &d16, 2);
    for (int j = 0; j < 32; j++) out[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

/* The legacy quantizers by GGML type. */
typedef void (*synth_block_fn)(const float *x, uint8_t *out);
static const struct {
    uint32_t type;
    size_t block_bytes;
    synth_block_fn quantize;
} SYNTH_QUANTIZERS[] = {
    {2, 18, synth_q4_0_block}, {3, 20, synth_q4_1_block}, {6, 22, synth_q5_0_block},
    {7, 24, synth_q5_1_block}, {8, 34, synth_q8_0_block},
};

/* n_rows × row_elems weights in s->matrix_type: 0 F32, 1 F16, 30 BF16, a type of SYNTH_QUANTIZERS,
 * or Q8_0 for any other type (what older callers got). 1-D tensors: n_rows = 1, always F32. */
static void synth_tensor(gguf_writer *w, const synth_spec *s, const char *name, uint32_t n_rows,
                         uint32_t row_elems, bool is_vector, float scale, float offset) {
    if (s->omit && !strcmp(name, s->omit)) return;
    if (s->misshape && !strcmp(name, s->misshape)) {
        if (is_vector) row_elems += 1;
        else n_rows += 1;
    }
    const size_t n = (size_t)n_rows * row_elems;
    float *values = malloc(n * sizeof *values);
    const uint32_t name_hash = synth_fnv1a(name);
    for (size_t i = 0; i < n; i++) values[i] = synth_value(name_hash, i, scale, offset);
    if (s->sink) s->sink(s->sink_ctx, name, n_rows, row_elems, is_vector, values);
    const uint64_t ne[2] = {row_elems, n_rows};
    const uint32_t type = is_vector ? 0 : s->matrix_type;
    if (type == 0) {
        gw_tensor(w, name, 0, is_vector ? 1 : 2, ne, values, n * 4);
    } else if (type == 1 || type == 30) {
        uint16_t *halves = malloc(n * 2);
        for (size_t i = 0; i < n; i++)
            halves[i] = type == 1 ? tf_f32_to_f16(values[i]) : tf_f32_to_bf16(values[i]);
        gw_tensor(w, name, type, 2, ne, halves, n * 2);
        free(halves);
    } else {
        const size_t n_quantizers = sizeof SYNTH_QUANTIZERS / sizeof SYNTH_QUANTIZERS[0];
        size_t q = 0; /* the last, Q8_0, for a type not in the table */
        while (q + 1 < n_quantizers && SYNTH_QUANTIZERS[q].type != type) q++;
        const size_t block_bytes = SYNTH_QUANTIZERS[q].block_bytes;
        uint8_t *blocks = malloc(n / 32 * block_bytes);
        for (size_t b = 0; b < n / 32; b++)
            SYNTH_QUANTIZERS[q].quantize(values + b * 32, blocks + b * block_bytes);
        gw_tensor(w, name, SYNTH_QUANTIZERS[q].type, 2, ne, blocks, n / 32 * block_bytes);
        free(blocks);
    }
    free(values);
}

static void synth_keys(gguf_writer *w, const synth_spec *s) {
    char key[128];
    gw_kv_str(w, "general.architecture", s->arch);
#define SYNTH_U32(suffix, value)                      \
    snprintf(key, sizeof key, "%s." suffix, s->arch); \
    gw_kv_u32(w, key, value)
    SYNTH_U32("context_length", 4096);
    SYNTH_U32("embedding_length", s->n_embd);
    SYNTH_U32("block_count", s->n_layer);
    SYNTH_U32("feed_forward_length", s->n_ff);
    SYNTH_U32("attention.head_count", s->n_head);
    SYNTH_U32("attention.head_count_kv", s->n_head_kv);
    SYNTH_U32("attention.key_length", s->head_dim);
    SYNTH_U32("attention.value_length", s->head_dim);
    if (s->sliding_window) {
        SYNTH_U32("attention.sliding_window", s->sliding_window);
    }
#undef SYNTH_U32
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", s->arch);
    gw_kv_f32(w, key, 1e-6f);
    snprintf(key, sizeof key, "%s.rope.freq_base", s->arch);
    gw_kv_f32(w, key, s->rope_freq_base > 0 ? s->rope_freq_base : 10000.0f);
    if (s->rope_scaling_linear > 0) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", s->arch);
        gw_kv_str(w, key, "linear");
        snprintf(key, sizeof key, "%s.rope.scaling.factor", s->arch);
        gw_kv_f32(w, key, s->rope_scaling_linear);
    }
}

/* Scales as the Python script computes them: 1/sqrt(n) in double, then float32. */
static float synth_inv_sqrt(uint32_t n) { return (float)(1.0 / sqrt((double)n)); }

static void synth_layer(gguf_writer *w, const synth_spec *s, uint32_t l) {
    char name[96];
    const uint32_t q_rows = s->n_head * s->head_dim, kv_rows = s->n_head_kv * s->head_dim;
    const float wscale = synth_inv_sqrt(s->n_embd);
#define SYNTH_T(suffix, rows, cols, vec, scale, offset) \
    snprintf(name, sizeof name, "blk.%u." suffix, l);   \
    synth_tensor(w, s, name, rows, cols, vec, scale, offset)
    SYNTH_T("attn_norm.weight", 1, s->n_embd, true, 0.1f, 1.0f);
    SYNTH_T("attn_q.weight", q_rows, s->n_embd, false, wscale, 0);
    SYNTH_T("attn_k.weight", kv_rows, s->n_embd, false, wscale, 0);
    SYNTH_T("attn_v.weight", kv_rows, s->n_embd, false, wscale, 0);
    SYNTH_T("attn_output.weight", s->n_embd, q_rows, false, synth_inv_sqrt(q_rows), 0);
    if (!strcmp(s->arch, "qwen2")) {
        SYNTH_T("attn_q.bias", 1, q_rows, true, 0.1f, 0);
        SYNTH_T("attn_k.bias", 1, kv_rows, true, 0.1f, 0);
        SYNTH_T("attn_v.bias", 1, kv_rows, true, 0.1f, 0);
    }
    if (synth_has_qk_norm(s)) {
        SYNTH_T("attn_q_norm.weight", 1, s->head_dim, true, 0.1f, 1.0f);
        SYNTH_T("attn_k_norm.weight", 1, s->head_dim, true, 0.1f, 1.0f);
    }
    SYNTH_T("ffn_norm.weight", 1, s->n_embd, true, 0.1f, 1.0f);
    SYNTH_T("ffn_gate.weight", s->n_ff, s->n_embd, false, wscale, 0);
    SYNTH_T("ffn_up.weight", s->n_ff, s->n_embd, false, wscale, 0);
    SYNTH_T("ffn_down.weight", s->n_embd, s->n_ff, false, synth_inv_sqrt(s->n_ff), 0);
    if (!strcmp(s->arch, "gemma3")) {
        SYNTH_T("post_attention_norm.weight", 1, s->n_embd, true, 0.1f, 1.0f);
        SYNTH_T("post_ffw_norm.weight", 1, s->n_embd, true, 0.1f, 1.0f);
    }
#undef SYNTH_T
}

/* The model's keys and tensors in a new writer, or NULL when out of memory. */
static gguf_writer *synth_build(const synth_spec *s) {
    gguf_writer *w = gw_new();
    if (!w) return NULL;
    synth_keys(w, s);
    synth_tensor(w, s, "token_embd.weight", s->n_vocab, s->n_embd, false, 1.0f, 0);
    synth_tensor(w, s, "output_norm.weight", 1, s->n_embd, true, 0.1f, 1.0f);
    if (s->rope_freqs)
        synth_tensor(w, s, "rope_freqs.weight", 1, s->head_dim / 2, true, 3.5f, 4.5f);
    for (uint32_t l = 0; l < s->n_layer; l++) synth_layer(w, s, l);
    return w;
}

/* Writes the model to $TINFER_TEST_TMPDIR/<file_name>; returns the path in path_buf or NULL. */
static const char *synth_write(const synth_spec *s, const char *file_name, char *path_buf,
                               size_t cap) {
    gguf_writer *w = synth_build(s);
    if (!w) return NULL;
    test_tmp_path(path_buf, cap, file_name);
    const bool ok = gw_write_file(w, path_buf);
    gw_free(w);
    return ok ? path_buf : NULL;
}

/* 32-bit FNV-1a of the model's data section (every tensor's bytes and padding, in file order)
 * into *hash; false when out of memory. The metadata differs from gguf-py's (no tokenizer), the
 * data must not: make_synthetic_golden.py records its files' hash. */
static inline bool synth_data_fnv1a(const synth_spec *s, uint32_t *hash) {
    gguf_writer *w = synth_build(s);
    size_t size = 0;
    uint8_t *bytes = w ? gw_build(w, &size) : NULL;
    const bool ok = bytes != NULL;
    if (ok) {
        uint32_t h = 2166136261u;
        for (size_t i = gw_offset(w, GW_DATA_START, 0); i < size; i++)
            h = (h ^ bytes[i]) * 16777619u;
        *hash = h;
    }
    free(bytes);
    gw_free(w);
    return ok;
}

/* A small Gemma 3: 7 layers (layer 5 global, the rest sliding), GQA 4:2, window 5. */
static inline synth_spec synth_gemma3(void) {
    return (synth_spec){.arch = "gemma3",
                        .n_vocab = 96,
                        .n_embd = 64,
                        .n_layer = 7,
                        .n_head = 4,
                        .n_head_kv = 2,
                        .head_dim = 32,
                        .n_ff = 96,
                        .sliding_window = 5,
                        .matrix_type = 0};
}

#endif
