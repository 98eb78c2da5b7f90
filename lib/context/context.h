/* The context behind the public handle: the model's network, a backend, the KV cache's
 * bookkeeping, the pass's activations and the logits of each sequence. */
#ifndef TINFER_CONTEXT_CONTEXT_H
#define TINFER_CONTEXT_CONTEXT_H

#include "tinfer/tinfer.h"

#include "backend/backend.h"
#include "core/trace.h"
#include "kv/kv_cache.h"
#include "model/forward.h"
#include "model/network.h"

struct tinfer_context {
    const tinfer_model *model;
    const tf_network *net; /* the model's, shared with every other context */
    tf_backend *backend;
    tf_kv_cache kv;
    tf_activations act;
    tinfer_context_params params; /* as created (checked, defaults filled in) */
    uint32_t n_batch;             /* tokens one pass holds */
    uint32_t n_threads;           /* the CPU backend's threads (0 on another device) */
    uint32_t n_vocab;
    size_t kv_row_bytes; /* of one position in one layer: its K row and its V row */
    float *logits;       /* [n_seq_max][n_vocab], a row per sequence */
    bool *has_logits;    /* [n_seq_max] */
    /* The step descriptor's arrays (tf_step), [n_batch] or [n_seq_max] each. */
    int32_t *positions;
    uint32_t *token_seq;
    uint32_t *out_tokens;
    tf_span *spans_global, *spans_local;
    const uint32_t **tables, **local_tables;
    float **out_rows;     /* [n_batch] where the backend copies each output token's logits */
    tf_abort_check abort; /* the params' abort callback */
    /* The op profiler (tinfer_profile_begin/end): active around this context's passes only. */
    tf_trace trace;
    bool profiling;
};

/* Settings the public params do not carry, for tests inside the library's reach. */
typedef struct tf_context_options {
    bool kv_swa_full; /* sliding-window layers keep every position, not a ring */
} tf_context_options;

/* Creates the context (arguments already checked); options may be NULL (all off). */
tinfer_status tf_context_create(const tinfer_model *model, const tinfer_context_params *params,
                                const tf_context_options *options, tinfer_context **out);
void tf_context_free(tinfer_context *ctx);

/* The steps (arguments checked here: seq ids, token ids, lengths). A step that fails leaves the
 * cache's lengths and blocks as they were. */
tinfer_status tf_context_prefill(tinfer_context *ctx, uint32_t seq, const int32_t *tokens,
                                 size_t n);
tinfer_status tf_context_decode(tinfer_context *ctx, const int32_t *seqs, const int32_t *tokens,
                                size_t n_seq);
/* A prefill that also copies the logits of the tokens want marks (NULL: every token) into
 * logits, logits_cap floats (checked here, before anything changes). */
tinfer_status tf_context_prefill_logits(tinfer_context *ctx, uint32_t seq, const int32_t *tokens,
                                        size_t n, const uint8_t *want, float *logits,
                                        size_t logits_cap);

/* KV operations (arguments checked by the caller: seq < n_seq_max, n ≤ the sequence's length
 * for truncate, n ≤ n_ctx for the fill). */
/* tf_kv_reserve, then the copy-on-write it asks for, made by the backend before the step writes
 * anything; on failure nothing changed. The step driver's one way to reserve: a failed step then
 * undoes it with tf_kv_release_unused. */
tinfer_status tf_context_kv_reserve(tinfer_context *ctx, uint32_t seq, uint32_t n_new);
/* dst shares src's blocks and gets a copy of its ring and its logits (tinfer_kv_seq_copy). */
tinfer_status tf_context_kv_copy(tinfer_context *ctx, uint32_t src, uint32_t dst);
tinfer_status tf_context_kv_truncate(tinfer_context *ctx, uint32_t seq, uint32_t n);
tinfer_status tf_context_kv_fill_random(tinfer_context *ctx, uint32_t seq, uint32_t n,
                                        uint64_t seed);
/* Bytes of K and V storage the backend holds for the cache, over all layers. */
size_t tf_context_kv_bytes(const tinfer_context *ctx);

/* context_plan.c: what params amount to (shared by creation and tinfer_context_estimate). */
uint32_t tf_context_plan_batch(const tinfer_context_params *p);
uint32_t tf_context_plan_threads(const tinfer_context_params *p);
/* Logits rows the output head computes at once: n_logits_max, raised to n_seq_max (a decode's
 * outputs stay one group) and capped at the batch. */
uint32_t tf_context_plan_logits_rows(const tinfer_context_params *p);
size_t tf_context_plan_kv_row_bytes(const tf_hparams *hp, tinfer_kv_dtype dtype);
/* The element type a tinfer_kv_dtype stores keys and values in (F16 for an unknown one). */
tinfer_dtype tf_context_kv_storage(tinfer_kv_dtype dtype);
/* That type's name ("F16", "F32", "Q8_0"), "unknown" for a number no tinfer_kv_dtype has. */
const char *tf_kv_dtype_name(uint32_t dtype);
/* Bytes of elems cached elements of dtype (for Q8_0 a multiple of 32: whole blocks). */
size_t tf_context_plan_kv_elems_bytes(tinfer_kv_dtype dtype, size_t elems);
tinfer_status tf_context_plan_kv(const tinfer_model *model, const tf_network *net,
                                 const tinfer_context_params *p, bool swa_full, tf_kv_cache *kv);
uint64_t tf_context_plan_kv_bytes(const tf_kv_cache *kv, size_t row_bytes);
tinfer_status tf_context_estimate(const tinfer_model *model, const tinfer_context_params *p,
                                  tinfer_context_info *info);
tinfer_status tf_context_info_of(const tinfer_context *ctx, tinfer_context_info *info);

/* activations.c: the pass's scratch in backend memory, for n_batch tokens and n_out_max output
 * rows; tf_activations_bytes counts it (false when the size overflows). */
bool tf_activations_bytes(const tf_hparams *hp, uint32_t n_batch, uint32_t n_out_max,
                          uint64_t *total);
tinfer_status tf_activations_alloc(tf_activations *act, tf_backend *be, const tf_hparams *hp,
                                   uint32_t n_batch, uint32_t n_out_max);
void tf_activations_free(tf_activations *act, tf_backend *be);

#endif
