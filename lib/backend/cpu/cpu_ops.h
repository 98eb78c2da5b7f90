/* The CPU backend's state and ops: kernels in llama.cpp's float order (cpu_kernels.h), OpenBLAS
 * for float-weight prompts, the KV cache in host memory, and a pool of threads that splits each op
 * into pieces whose every float is computed exactly as on one thread (the same sums, in the same
 * order): only which core computes it changes, so any thread count gives bit-identical results. */
#ifndef TINFER_BACKEND_CPU_CPU_OPS_H
#define TINFER_BACKEND_CPU_CPU_OPS_H

#include "backend/backend.h"
#include "backend/cpu/cpu_kernels.h"
#include "core/huge_alloc.h"
#include "core/thread_pool.h"
#include "quant/blocks.h"

enum {
    TF_CPU_TILE_ROWS = 64,   /* weight rows dequantized together for one sgemm */
    TF_CPU_QDOT_TOKENS = 32, /* activation rows quantized at a time for the integer dots */
    TF_CPU_ATTN_TOKENS = 8   /* prompt tokens attending together (cpu_attention.c) */
};

/* The running pass: begin_pass's copy of the step descriptor, in arrays sized at creation. */
typedef struct tf_cpu_pass {
    tf_batch_kind kind;
    const char *name;
    uint32_t n_tokens, n_out;
    uint32_t out_first, out_count;       /* the group out_select chose */
    uint32_t n_vocab_out;                /* width of the logits rows copied out (profiler) */
    int32_t *tokens, *positions;         /* [n_batch] */
    uint32_t *token_seq, *out_tokens;    /* [n_batch] */
    tf_span *spans_global, *spans_local; /* [n_batch] */
    uint32_t *tables, *local_tables;     /* [n_seq_max][blocks_per_seq] */
    float **out_logits;                  /* [n_batch] the host rows of the outputs */
    uint64_t start_ns;                   /* when it began, while profiling */
} tf_cpu_pass;

/* The KV cache's storage: per layer, blocks of TF_KV_BLOCK_TOKENS K rows and as many V rows. */
typedef struct tf_cpu_kv {
    tf_huge_buf *k, *v; /* [n_layer]: each layer's rows, on huge pages where offered */
    uint32_t n_layer;
    uint32_t k_row_elems, v_row_elems; /* a token's row: every KV head's slice */
    uint32_t n_head_kv;
    tinfer_dtype dtype;                /* F16, F32 or Q8_0 */
    uint32_t block_elems, block_bytes; /* dtype's block geometry (quant/dtype.h) */
    size_t k_row_bytes, v_row_bytes;
    /* Q8_0 only (cpu_attention_q8.c): the partial sums of one decode step's key ranges, split
     * across the threads, for up to q8_pairs (token, KV head) pairs of q8_pair_floats each;
     * NULL with one thread. */
    float *q8_partials;
    uint32_t q8_pairs;
    size_t q8_pair_floats;
} tf_cpu_kv;

/* Bytes left unused after each KV block's rows. The F16 cache's V sums walk one row of each
 * block (a lane: positions 32 apart); without the gap a block of 256-dimension rows is 16 KiB,
 * so every row of such a walk would fall in the same L1 set and the walk would miss L1 on every
 * row (an 8-way L1 holds 8 of its 16 rows). One line a block shifts each block by one set. */
enum { TF_CPU_KV_BLOCK_PAD = 64 };

/* Keys per partial sum of the Q8_0 cache's attention: a span is cut at the multiples of this
 * position, so how a span is summed depends on the span alone (cpu_attention_q8.c). */
enum { TF_CPU_Q8_RANGE = 256, TF_CPU_Q8_SPLIT_PAIRS = 4 };

/* Bytes of elems cached elements (whole blocks: elems a multiple of block_elems). */
static inline size_t tf_cpu_kv_bytes(const tf_cpu_kv *kv, size_t elems) {
    return elems / kv->block_elems * kv->block_bytes;
}

/* One thread's scratch, allocated with the backend: what a thread writes while it computes its
 * share of an op. */
typedef struct tf_cpu_scratch {
    float *tile;        /* TF_CPU_TILE_ROWS × max_row_elems dequantized weights */
    float *attn_query;  /* max_row_elems × TF_CPU_ATTN_TOKENS: the query heads of one KV head
                           for a block of tokens, rounded for the cache */
    float *attn_row;    /* max_row_elems: one cached K or V row as float32 */
    float *attn_scores; /* attn_scores_len: scores, then probabilities (at least n_head × (n_ctx
                           + 8), room for several tokens' where that is small) */
    float *attn_lanes;  /* max_row_elems × TF_LANES_VECDOT: per-lane partial sums of V */
    const uint16_t **attn_rows; /* 2 × n_ctx: the float16 K rows, then V rows, of a span */
    void *attn_work;            /* tf_attn_q8_work_bytes(max_row_elems), 64-byte aligned: the Q8_0
                                   cache's query scales and V weights */
    size_t attn_scores_len;
    void *qgemm; /* tf_qgemm_scratch_bytes(max_row_elems), 64-byte aligned; NULL where the
                    kernel table has no row-tile products */
} tf_cpu_scratch;

/* One pass's RoPE angles for one tf_rope (cpu_rope.c): cos and sin per (token, pair), a row of
 * rope_dim floats per token (the cosines, then the sines). */
enum { TF_CPU_ROPE_TABLES = 2 }; /* tf_ropes a pass keeps tables for (Gemma 3 has two) */
typedef enum tf_rope_table_state {
    TF_ROPE_TABLE_FREE,    /* holds nothing this pass */
    TF_ROPE_TABLE_CLAIMED, /* rope is set; the op rotating with it now forms the angles */
    TF_ROPE_TABLE_READY    /* the angles of every token of the pass are in */
} tf_rope_table_state;
typedef struct tf_cpu_rope_table {
    tf_rope rope;
    tf_rope_table_state state;
    float *cos_sin; /* [n_batch][rope_dim] */
} tf_cpu_rope_table;

typedef struct tf_cpu_state {
    const tf_cpu_kernels *kernels; /* chosen for this CPU when the backend was created */
    tf_backend_config config;
    uint32_t blocks_per_seq;
    tf_cpu_pass pass;
    tf_cpu_kv kv;
    /* The threads: n_threads counting the caller; pool is NULL for one, and every op then runs
     * inline. One pool per backend, hence per context: a context is used by one thread at a time,
     * so its pool is never contended, and two contexts never wait on each other's workers.
     * Measured on the 2-core build machine (Gemma 3 270M Q4_K_M, best of quiet runs): decode
     * 33 -> 56 tok/s at position 1, prefill of 128 tokens 180 -> 355 tok/s, 1 -> 2 threads; with
     * another program holding one core, 2 threads decode about as fast as 1. */
    uint32_t n_threads;
    tf_thread_pool *pool;
    tf_cpu_scratch *scratch; /* [n_threads] */
    /* The model's packed rows (cpu_packed.h: the matrices and layouts of the CPU's best table),
     * NULL where there are none or this context's table reads other layouts. */
    const struct tf_cpu_packed *packed;
    /* TF_CPU_QDOT_TOKENS quantized activation rows, shared: quantized before the rows are split. */
    uint8_t *act_quant;
    size_t act_quant_row_bytes;
    uint64_t op_start_ns;                              /* of the op being timed, while profiling */
    tf_cpu_rope_table rope_tables[TF_CPU_ROPE_TABLES]; /* emptied by every begin_pass */
} tf_cpu_state;

/* fn over [0, n_items) on the backend's threads in ranges of chunk items (inline when one range
 * covers them all, or on one thread). */
static inline void tf_cpu_for(const tf_cpu_state *state, size_t n_items, size_t chunk,
                              tf_pool_range fn, void *arg) {
    tf_pool_for(state->pool, n_items, chunk, fn, arg);
}

/* A range length that gives each thread about eight ranges to take (so a thread slowed by the
 * scheduler holds up little), at least min_chunk, and a multiple of align. */
static inline size_t tf_cpu_chunk(const tf_cpu_state *state, size_t n_items, size_t min_chunk,
                                  size_t align) {
    size_t chunk = n_items / ((size_t)state->n_threads * 8);
    if (chunk < min_chunk) chunk = min_chunk;
    return (chunk + align - 1) / align * align;
}

/* The rows an op runs over in the current pass. */
static inline size_t tf_cpu_rows(const tf_cpu_state *state, tf_rows rows) {
    return rows == TF_ROWS_OUT ? state->pass.out_count : state->pass.n_tokens;
}

/* The block table token t of the pass addresses its rows through. */
static inline const uint32_t *tf_cpu_token_table(const tf_cpu_state *state, size_t t, bool local) {
    const uint32_t *tables = local ? state->pass.local_tables : state->pass.tables;
    return tables + (size_t)state->pass.token_seq[t] * state->blocks_per_seq;
}

/* The one place a cached row's address is computed: position pos of the sequence whose block
 * table is table, in the K (or V) storage of layer il. */
static inline uint8_t *tf_cpu_kv_row(const tf_cpu_kv *kv, uint32_t il, bool value,
                                     const uint32_t *table, uint32_t pos) {
    const size_t block = table[pos / TF_KV_BLOCK_TOKENS], row = pos % TF_KV_BLOCK_TOKENS;
    const size_t row_bytes = value ? kv->v_row_bytes : kv->k_row_bytes;
    uint8_t *data = value ? kv->v[il].data : kv->k[il].data;
    /* a block is TF_KV_BLOCK_TOKENS rows and TF_CPU_KV_BLOCK_PAD bytes (tf_kv_layer_bytes) */
    return data + block * (row_bytes * TF_KV_BLOCK_TOKENS + TF_CPU_KV_BLOCK_PAD) + row * row_bytes;
}

float tf_cpu_dot(const float *a, const float *b, size_t n);

tinfer_status tf_cpu_matmul(tf_backend *be, const tf_matrix *w, tf_rows rows, const float *x,
                            float *y);
tinfer_status tf_cpu_matmul_multi(tf_backend *be, size_t n, const tf_matrix *const *w, tf_rows rows,
                                  const float *x, float *const *y);
tinfer_status tf_cpu_embed(tf_backend *be, const tf_matrix *w, float *out);
tinfer_status tf_cpu_rmsnorm(tf_backend *be, tf_rows rows, size_t heads, size_t width,
                             const float *x, const float *weight, float eps, float *out);
tinfer_status tf_cpu_rope(tf_backend *be, float *x, size_t n_heads, size_t head_dim,
                          const tf_rope *rope);
void tf_cpu_rope_tables_reset(tf_cpu_state *state);
tinfer_status tf_cpu_ffn_gate(tf_backend *be, tf_ffn_act act, size_t width, float *gate,
                              const float *up);
tinfer_status tf_cpu_add(tf_backend *be, size_t width, float *y, const float *x);
tinfer_status tf_cpu_add_bias(tf_backend *be, size_t width, float *y, const float *bias);
tinfer_status tf_cpu_scale(tf_backend *be, tf_rows rows, size_t width, float *y, float factor);
tinfer_status tf_cpu_softcap(tf_backend *be, size_t width, float *y, float cap);

/* cpu_kv.c: storage, writes, the random fill and block copies; cpu_attention.c: reads. */
tinfer_status tf_cpu_kv_alloc(tf_backend *be, const tf_kv_geometry *geometry);
void tf_cpu_kv_free(tf_cpu_kv *kv);
tinfer_status tf_cpu_kv_store(tf_backend *be, uint32_t il, bool local, const float *k,
                              const float *v);
tinfer_status tf_cpu_kv_fill_random(tf_backend *be, const tf_kv_fill *fill);
tinfer_status tf_cpu_kv_copy_blocks(tf_backend *be, const tf_kv_block_copy *copies, size_t n,
                                    const bool *layer_in_ring);
/* cpu_kv_io.c: the snapshots' row copies. */
tinfer_status tf_cpu_kv_read(tf_backend *be, const tf_kv_rows *rows, void *host);
tinfer_status tf_cpu_kv_write(tf_backend *be, const tf_kv_rows *rows, const void *host);
tinfer_status tf_cpu_attention(tf_backend *be, uint32_t il, bool local, const tf_attn_shape *shape,
                               const float *q, float *out);
/* cpu_attention_q8.c: the Q8_0 cache's reads (tf_cpu_attention hands them over). */
tinfer_status tf_cpu_attention_q8(tf_backend *be, uint32_t il, bool local,
                                  const tf_attn_shape *shape, const float *q, float *out);

/* cpu_pass.c: the step descriptor's copy, the logits' way out, gathering output rows, timing. */
tinfer_status tf_cpu_pass_alloc(tf_cpu_state *state);
void tf_cpu_pass_free(tf_cpu_pass *pass);
tinfer_status tf_cpu_begin_pass(tf_backend *be, const tf_step *step);
tinfer_status tf_cpu_end_pass(tf_backend *be);
tinfer_status tf_cpu_out_select(tf_backend *be, uint32_t first, uint32_t count);
tinfer_status tf_cpu_logits_out(tf_backend *be, const float *logits, uint32_t n_vocab);
tinfer_status tf_cpu_gather_out(tf_backend *be, const float *x, size_t width, float *out);
void tf_cpu_op_begin(tf_backend *be);
void tf_cpu_op_end(tf_backend *be, const char *name, int32_t layer, size_t rows, size_t cols);

#endif
