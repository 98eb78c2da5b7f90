/* The seam between the forward pass and a device: one table of function pointers per backend.
 *
 * A pass is a unit: begin_pass hands the backend a step descriptor (tf_step: token ids,
 * positions, which sequence each token belongs to, that sequence's block tables, the span of
 * cached positions each token sees), which the backend copies into its own memory; the ops that
 * follow read token counts, positions and spans from there, never from arguments, so a device can
 * capture them once as a graph and replay it from step to step. The output head runs over the
 * tokens that asked for logits in groups (out_select), and logits_out copies each group's logits
 * to the host rows the step named. Every op reports failure as a status.
 *
 * Activations are float32 row-major [rows][width] in buffers from the backend's alloc; "rows" is
 * the pass's token count, or its count of output tokens for the ops that say so (tf_rows).
 * Weights are described by tf_matrix (host bytes, the file's dtype); a device backend keeps its
 * own copy, made once per model and device (tf_backend_ops.upload_weights).
 *
 * The KV cache's storage and its row addressing live here too: kv/ only hands out block numbers,
 * and the backend alone knows where a (block, slot) row is — for attention, for the K/V writes
 * and for the benchmark's random fill. */
#ifndef TINFER_BACKEND_BACKEND_H
#define TINFER_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/trace.h"
#include "tinfer/tinfer.h"

/* Token rows of one KV block: block b holds positions of a sequence whose logical block (position
 * / TF_KV_BLOCK_TOKENS) maps to b through its block table. */
enum { TF_KV_BLOCK_TOKENS = 32 };

/* The most matrices one matmul_multi takes (Q, K and V; gate and up). */
enum { TF_MATMUL_MULTI_MAX = 4 };

/* A weight matrix of n_rows rows, each row_elems elements (whole blocks) taking row_bytes. */
typedef struct tf_matrix {
    const uint8_t *data;
    tinfer_dtype dtype;
    uint32_t n_rows;
    uint32_t row_elems;
    size_t row_bytes;
} tf_matrix;

/* Rotary position embedding of one layer. */
typedef struct tf_rope {
    uint32_t n_rot;            /* leading elements of each head that rotate (= head_dim here) */
    float freq_base;           /* theta_i = pos * freq_base^(-2i/n_rot) */
    bool neox;                 /* pairs (i, i + n_rot/2) — NEOX/HF layout — else (2i, 2i+1) */
    const float *freq_factors; /* n_rot/2 divisors of theta_i (Llama 3 scaling), or NULL */
    float freq_scale;          /* multiplies every angle (linear scaling: 1 / factor) */
} tf_rope;

typedef struct tf_attn_shape {
    uint32_t n_head;
    uint32_t n_head_kv; /* divides n_head; query head h reads KV head h / (n_head / n_head_kv) */
    uint32_t head_dim;
    uint32_t head_dim_v;
    float scale; /* multiplies q·k before the softmax */
} tf_attn_shape;

typedef enum tf_ffn_act { TF_FFN_SILU, TF_FFN_GELU_TANH } tf_ffn_act;

/* What a pass computes, which decides how its sums round: a prompt chunk (rounded as llama.cpp
 * rounds a batch of that many tokens), or one token per sequence (rounded as llama.cpp rounds a
 * single token, whatever else is in the batch: a sequence's logits never depend on its
 * batch-mates). */
typedef enum tf_batch_kind { TF_BATCH_PROMPT, TF_BATCH_DECODE } tf_batch_kind;

/* Which row count of the pass an op runs over. */
typedef enum tf_rows {
    TF_ROWS_TOKENS, /* every token of the pass */
    TF_ROWS_OUT     /* the group of output tokens out_select chose, in out_tokens order */
} tf_rows;

/* The cached positions [pos_first, pos_last] one query token sees. */
typedef struct tf_span {
    uint32_t pos_first;
    uint32_t pos_last;
} tf_span;

/* One pass, as the context's step driver describes it. Everything is copied by begin_pass. */
typedef struct tf_step {
    tf_batch_kind kind;
    const char *name; /* "prefill" or "decode": the profiler's name for the whole pass */
    uint32_t n_tokens;
    const int32_t *tokens;     /* [n_tokens] token ids, checked against the vocabulary */
    const int32_t *positions;  /* [n_tokens] */
    const uint32_t *token_seq; /* [n_tokens] index into the tables below of each token's sequence */
    const tf_span *spans_global;         /* [n_tokens] what each token sees in global layers */
    const tf_span *spans_local;          /* [n_tokens] ... in sliding-window layers */
    uint32_t n_seqs;                     /* sequences in the pass */
    uint32_t n_table_blocks;             /* entries of each table the pass may touch */
    const uint32_t *const *tables;       /* [n_seqs] block table of each sequence */
    const uint32_t *const *local_tables; /* [n_seqs] the table of its sliding-window layers (the
                                            ring's when the cache keeps one, else = tables[i]) */
    uint32_t n_out;
    const uint32_t *out_tokens; /* [n_out] tokens (indices < n_tokens) whose logits come back */
    float *const *out_logits;   /* [n_out] host row (n_vocab floats) each one's logits go to */
} tf_step;

/* A range of host memory holding weights: a model file's tensor data, the float32 copies of the
 * norms, the RoPE divisors. Every pointer the forward pass hands an op (tf_matrix.data, norm
 * vectors, freq_factors) lies in one of the model's regions. */
typedef struct tf_weight_region {
    const void *host;
    size_t bytes;
} tf_weight_region;

/* A weight matrix the forward pass multiplies by, for a backend that lays matrices out its own
 * way (the CPU's packed row tiles). in_mapping: its bytes lie in a read-only file mapping, whose
 * pages may be released once a copy is made (they read back from the file if touched again). */
typedef struct tf_weight_matrix {
    tf_matrix matrix;
    bool in_mapping;
} tf_weight_matrix;

/* What upload_weights copies: the regions, and each distinct matrix of the network once. */
typedef struct tf_weight_regions {
    const tf_weight_region *regions;
    size_t n;
    const tf_weight_matrix *matrices;
    size_t n_matrices;
} tf_weight_regions;

/* Where the KV cache's rows are kept: per layer, a number of blocks (the shared pool, or the
 * sliding-window ring of every sequence) of K rows and V rows. */
typedef struct tf_kv_geometry {
    uint32_t n_layer;
    const uint32_t *layer_blocks; /* [n_layer] blocks of storage in each layer */
    const bool *layer_in_ring;    /* [n_layer] whether a layer's blocks are per-sequence rings
                                     (sliding-window layers), or NULL: none is */
    uint32_t k_row_elems;         /* n_head_kv · head_dim */
    uint32_t v_row_elems;         /* n_head_kv · head_dim_v */
    uint32_t n_head_kv;
    tinfer_dtype dtype; /* F16, F32, or Q8_0 (head dimensions multiples of 32) */
} tf_kv_geometry;

/* The benchmark's synthetic cache contents for one sequence: every layer gets positions
 * [first, n) where first is 0, or ring_first in the layers that read through local_table while the
 * cache keeps a ring (rows the ring would have overwritten are skipped). Row values depend on
 * (seed, seq, layer, position) only. */
typedef struct tf_kv_fill {
    uint32_t seq;
    uint32_t n;
    uint32_t ring_first;
    const uint32_t *table;
    const uint32_t *local_table;
    const bool *layer_in_ring; /* [n_layer] */
    uint64_t seed;
} tf_kv_fill;

/* One copy inside the KV cache's storage, in every layer of one kind: rows [0, n_rows) of the run
 * of blocks from src_block (row r in block src_block + r / TF_KV_BLOCK_TOKENS, slot r % 32) to the
 * same rows from dst_block. The cache's copy-on-write (part of one block) and the fork of a
 * sequence's sliding-window ring (its whole run of ring blocks) are such copies. */
typedef struct tf_kv_block_copy {
    uint32_t src_block;
    uint32_t dst_block;
    uint32_t n_rows;
    bool ring; /* the layers that keep the ring (layer_in_ring[l]); else every other layer */
} tf_kv_block_copy;
/* Rows [first, first + n) of one sequence in layer `layer`, addressed through `table` (its block
 * table, or the ring's for a layer that keeps one), for the snapshots' reads and writes. On the
 * host the n K rows come first, then the n V rows, each in the cache's dtype
 * (tf_kv_geometry.dtype), packed. */
typedef struct tf_kv_rows {
    uint32_t layer;
    const uint32_t *table;
    uint32_t first;
    uint32_t n;
} tf_kv_rows;

typedef struct tf_backend tf_backend;

typedef struct tf_backend_ops {
    const char *name;
    void (*destroy)(tf_backend *be);
    /* Zeroed device memory for activations; NULL when out of memory. */
    void *(*alloc)(tf_backend *be, size_t bytes);
    void (*free)(tf_backend *be, void *ptr);
    /* A backend's own copy of the weights, made once per model and device — the model keeps the
     * copy and shares it with every context on that device (model/device_weights.c), and frees
     * it with itself through release_weights, so a copy must not depend on the backend that
     * made it. A device backend copies the regions into device memory: a host pointer p inside
     * region r is then found at the copy's base + (p - r.host). The CPU reads the weights in
     * place and copies only the matrices its kernels read faster laid out as row tiles
     * (backend/cpu/cpu_packed.c). NULL: the backend reads the weights as they are. */
    tinfer_status (*upload_weights)(tf_backend *be, const tf_weight_regions *regions, void **copy);
    void (*release_weights)(void *copy);
    /* Makes the backend read weights from copy (made by upload_weights for its device). */
    void (*use_weights)(tf_backend *be, void *copy);
    /* Storage for the KV cache, once per context. */
    tinfer_status (*kv_alloc)(tf_backend *be, const tf_kv_geometry *geometry);
    /* Copies cached rows to host memory (kv_read) or from it (kv_write); see tf_kv_rows. */
    tinfer_status (*kv_read)(tf_backend *be, const tf_kv_rows *rows, void *host);
    tinfer_status (*kv_write)(tf_backend *be, const tf_kv_rows *rows, const void *host);
    tinfer_status (*kv_fill_random)(tf_backend *be, const tf_kv_fill *fill);
    /* Makes the n copies in order (layer_in_ring: [n_layer]); a copy's two runs never overlap. */
    tinfer_status (*kv_copy_blocks)(tf_backend *be, const tf_kv_block_copy *copies, size_t n,
                                    const bool *layer_in_ring);

    /* Starts a pass; every output token is selected (out_select(be, 0, n_out)). */
    tinfer_status (*begin_pass)(tf_backend *be, const tf_step *step);
    /* Ends the pass (the profiler's record of it). */
    tinfer_status (*end_pass)(tf_backend *be);
    /* The group of output tokens the TF_ROWS_OUT ops run over from now on: out_tokens[first ..
     * first + count), count ≥ 1, first + count ≤ n_out. The output head runs in such groups so
     * that its scratch holds a bounded number of logits rows; each row rounds the same in any
     * group (a row of the head is computed as a single token would be). */
    tinfer_status (*out_select)(tf_backend *be, uint32_t first, uint32_t count);
    /* Copies row i of logits ([count][n_vocab], backend memory) of the selected group to the
     * step's out_logits[first + i]. */
    tinfer_status (*logits_out)(tf_backend *be, const float *logits, uint32_t n_vocab);

    /* y[t][r] = Σ_j w[r][j] · x[t][j] for every row t, r < w->n_rows. */
    tinfer_status (*matmul)(tf_backend *be, const tf_matrix *w, tf_rows rows, const float *x,
                            float *y);
    /* y[i] = w[i] · x for n (1..TF_MATMUL_MULTI_MAX) matrices of one row length over the same
     * input: exactly the results of n matmul calls, for one reading of x (the CPU quantizes it
     * once for all of them, where matmul would quantize it once per matrix). */
    tinfer_status (*matmul_multi)(tf_backend *be, size_t n, const tf_matrix *const *w, tf_rows rows,
                                  const float *x, float *const *y);
    /* out[t] = row tokens[t] of w as float32, for every token of the pass (the embedding). */
    tinfer_status (*embed)(tf_backend *be, const tf_matrix *w, float *out);
    /* out[i] = x[out_tokens[i]], width floats each: the rows that go on to the output head. */
    tinfer_status (*gather_out)(tf_backend *be, const float *x, size_t width, float *out);
    /* Each of the rows × heads rows of width elements: out = x / rms(x) * weight (in place ok). */
    tinfer_status (*rmsnorm)(tf_backend *be, tf_rows rows, size_t heads, size_t width,
                             const float *x, const float *weight, float eps, float *out);
    /* Rotates x [tokens][n_heads][head_dim] in place, token t at its position. */
    tinfer_status (*rope)(tf_backend *be, float *x, size_t n_heads, size_t head_dim,
                          const tf_rope *rope);
    /* Writes each token's K and V row into layer il at its position; local: through the
     * sliding-window tables. */
    tinfer_status (*kv_store)(tf_backend *be, uint32_t il, bool local, const float *k,
                              const float *v);
    /* out[t] = softmax(scale · q[t]·K) · V over token t's span of layer il, per head
     * (q: [t][n_head][head_dim], out: [t][n_head][head_dim_v]). */
    tinfer_status (*attention)(tf_backend *be, uint32_t il, bool local, const tf_attn_shape *shape,
                               const float *q, float *out);
    /* gate = act(gate) · up, width elements per token. */
    tinfer_status (*ffn_gate)(tf_backend *be, tf_ffn_act act, size_t width, float *gate,
                              const float *up);
    /* y += x, width elements per token. */
    tinfer_status (*add)(tf_backend *be, size_t width, float *y, const float *x);
    /* y[t] += bias, width elements per token. */
    tinfer_status (*add_bias)(tf_backend *be, size_t width, float *y, const float *bias);
    /* y *= factor, width elements per row. */
    tinfer_status (*scale)(tf_backend *be, tf_rows rows, size_t width, float *y, float factor);
    /* y = cap · tanh(y / cap), width elements per output row (logit soft-capping). */
    tinfer_status (*softcap)(tf_backend *be, size_t width, float *y, float cap);

    /* The profiler: around each op while a trace is set (tf_backend.trace), the backend times it
     * with its own clock (a device with its events) and records it there. */
    void (*op_begin)(tf_backend *be);
    void (*op_end)(tf_backend *be, const char *name, int32_t layer, size_t rows, size_t cols);
} tf_backend_ops;

struct tf_backend {
    const tf_backend_ops *ops;
    tinfer_device_kind device; /* with device_index: the key of the model's weight copies */
    int32_t device_index;
    void *state;        /* the device's own */
    tf_trace *trace;    /* where op timings go while profiling; NULL otherwise */
    uint32_t n_threads; /* host threads the backend computes with, the caller included (the CPU's
                           resolved tf_backend_config.n_threads); 0 where it does not say */
};

/* What a backend is sized for, fixed for its life. */
typedef struct tf_backend_config {
    tinfer_device_kind device;
    int32_t device_index;
    size_t max_row_elems; /* longest matrix row, and the width of all query heads together */
    uint32_t n_ctx;       /* positions one sequence reaches */
    uint32_t n_head;      /* query heads */
    uint32_t rope_dim;    /* elements of a head RoPE rotates (head_dim), 0 = none */
    uint32_t n_batch;     /* tokens one pass holds */
    uint32_t n_seq_max;   /* sequences one pass holds */
    uint32_t n_threads;   /* host threads to compute with, the caller included; 0 = one per core */
    bool fast_head;       /* the output head in the fast order (TINFER_HEAD_SUM_FAST) where the
                             backend has it */
    bool fast_prompt;     /* prompt passes in the fast order (TINFER_PROMPT_SUM_FAST) where the
                             backend has it */
    bool prefault;        /* host memory the backend allocates (scratch, the KV cache) written
                             at allocation, so it is resident from the start */
} tf_backend_config;

/* The factory: the backend for config->device. E_UNSUPPORTED, saying why, for a device this build
 * or this machine lacks; E_NOMEM. On success *out is a backend to free with tf_backend_destroy. */
tinfer_status tf_backend_create(const tf_backend_config *config, tf_backend **out);
void tf_backend_destroy(tf_backend *be);

/* Every backend's checks of what the step driver hands it (name: "cpu backend", ...):
 * E_INVALID_ARG with a message when a pass does not fit the sizes the backend was made for
 * (config, and blocks_per_seq table entries a sequence), or when out_select's rows
 * [first, first + count) are not within the pass's n_out output tokens. */
tinfer_status tf_backend_check_step(const char *name, const tf_backend_config *config,
                                    uint32_t blocks_per_seq, const tf_step *step);
tinfer_status tf_backend_check_out_rows(const char *name, uint32_t first, uint32_t count,
                                        uint32_t n_out);

/* Layer l's K and V storage in bytes (its blocks, each TF_KV_BLOCK_TOKENS rows and block_pad
 * unused bytes after them), for every backend's cache allocation: E_INVALID_ARG where the
 * products overflow. */
tinfer_status tf_kv_layer_bytes(const tf_kv_geometry *g, uint32_t l, size_t k_row_bytes,
                                size_t v_row_bytes, size_t block_pad, size_t *k_bytes,
                                size_t *v_bytes);

/* Runs call (an expression giving a tinfer_status) into status, timed by the backend while a
 * trace is set: one predictable branch otherwise. -DTINFER_NO_PROFILER_HOOKS compiles it out. */
#ifdef TINFER_NO_PROFILER_HOOKS
#define TF_BACKEND_OP(status, be, name, layer, rows, cols, call) \
    do {                                                         \
        (void)(layer);                                           \
        (status) = (call);                                       \
    } while (0)
#else
#define TF_BACKEND_OP(status, be, name, layer, rows, cols, call)       \
    do {                                                               \
        if (__builtin_expect((be)->trace != NULL, 0)) {                \
            (be)->ops->op_begin(be);                                   \
            (status) = (call);                                         \
            (be)->ops->op_end(be, name, (int32_t)(layer), rows, cols); \
        } else {                                                       \
            (status) = (call);                                         \
        }                                                              \
    } while (0)
#endif

#endif
