/* Public entry points of the context: argument checks, then calls inward. */
#include <inttypes.h>

#include "context/context.h"
#include "core/abi_struct.h"
#include "core/error.h"
#include "core/thread_pool.h"

/* Every field in order; the first five are 0.1's struct, the smallest a caller can pass. */
static const tf_abi_field context_params_fields[] = {
    TF_ABI_FIELD(tinfer_context_params, n_ctx),
    TF_ABI_FIELD(tinfer_context_params, n_seq_max),
    TF_ABI_FIELD(tinfer_context_params, n_threads),
    TF_ABI_FIELD(tinfer_context_params, kv_dtype),
    TF_ABI_FIELD(tinfer_context_params, n_batch),
    TF_ABI_FIELD(tinfer_context_params, device),          /* 0.2 */
    TF_ABI_FIELD(tinfer_context_params, device_index),    /* 0.2 */
    TF_ABI_FIELD(tinfer_context_params, abort_callback),  /* 0.2 */
    TF_ABI_FIELD(tinfer_context_params, abort_user_data), /* 0.2 */
    TF_ABI_FIELD(tinfer_context_params, n_kv_tokens),     /* 0.3 */
    TF_ABI_FIELD(tinfer_context_params, n_logits_max),    /* 0.3 */
    TF_ABI_FIELD(tinfer_context_params, head_sum),        /* 0.3 */
    TF_ABI_FIELD(tinfer_context_params, prefault),        /* 0.3 */
    TF_ABI_FIELD(tinfer_context_params, prompt_sum),      /* 0.3 */
};
static const tf_abi_layout context_params_layout = {
    "tinfer_context_params", sizeof(tinfer_context_params), context_params_fields,
    sizeof context_params_fields / sizeof context_params_fields[0], 5};

static const tinfer_context_params context_params_defaults = {.n_ctx = 4096,
                                                              .n_seq_max = 1,
                                                              .n_threads = 0,
                                                              .kv_dtype = TINFER_KV_F16,
                                                              .n_batch = 512,
                                                              .device = TINFER_DEVICE_CPU,
                                                              .device_index = 0,
                                                              .n_kv_tokens = 0,
                                                              .n_logits_max = 8,
                                                              .head_sum = TINFER_HEAD_SUM_EXACT,
                                                              .prompt_sum =
                                                                  TINFER_PROMPT_SUM_EXACT};

static bool seq_ok(const tinfer_context *ctx, int32_t seq) {
    return seq >= 0 && (uint32_t)seq < ctx->kv.n_seq_max;
}

TINFER_API void tinfer_context_params_init(tinfer_context_params *params, size_t size) {
    tf_abi_params_init(&context_params_layout, &context_params_defaults, params, size,
                       "tinfer_context_params_init");
}

/* The caller's params over the defaults, every field checked; who names the entry point. */
static tinfer_status read_params(const tinfer_context_params *params, size_t params_size,
                                 tinfer_context_params *p, const char *who) {
    *p = context_params_defaults;
    tinfer_status status = tf_abi_params_read(&context_params_layout, params, params_size, p, who);
    if (status != TINFER_OK) return status;
    TF_CHECK_ARG(p->n_ctx >= 1 && p->n_ctx <= (1u << 24), "%s: n_ctx = %u is outside [1, 2^24]",
                 who, p->n_ctx);
    TF_CHECK_ARG(p->n_seq_max >= 1 && p->n_seq_max <= 4096,
                 "%s: n_seq_max = %u is outside [1, 4096]", who, p->n_seq_max);
    TF_CHECK_ARG(p->n_batch >= 1 && p->n_batch <= 65536, "%s: n_batch = %u is outside [1, 65536]",
                 who, p->n_batch);
    TF_CHECK_ARG(p->n_threads <= TF_POOL_MAX_THREADS, "%s: n_threads = %u is above %d", who,
                 p->n_threads, TF_POOL_MAX_THREADS);
    TF_CHECK_ARG(p->kv_dtype == TINFER_KV_F16 || p->kv_dtype == TINFER_KV_F32 ||
                     p->kv_dtype == TINFER_KV_Q8_0,
                 "%s: kv_dtype %d is none of TINFER_KV_F16, TINFER_KV_F32, TINFER_KV_Q8_0", who,
                 (int)p->kv_dtype);
    TF_CHECK_ARG(p->device == TINFER_DEVICE_CPU || p->device == TINFER_DEVICE_CUDA,
                 "%s: device %d is neither TINFER_DEVICE_CPU nor TINFER_DEVICE_CUDA", who,
                 (int)p->device);
    TF_CHECK_ARG(p->head_sum == TINFER_HEAD_SUM_EXACT || p->head_sum == TINFER_HEAD_SUM_FAST,
                 "%s: head_sum %d is neither TINFER_HEAD_SUM_EXACT nor TINFER_HEAD_SUM_FAST", who,
                 (int)p->head_sum);
    TF_CHECK_ARG(p->prompt_sum == TINFER_PROMPT_SUM_EXACT ||
                     p->prompt_sum == TINFER_PROMPT_SUM_FAST,
                 "%s: prompt_sum %d is neither TINFER_PROMPT_SUM_EXACT nor TINFER_PROMPT_SUM_FAST",
                 who, (int)p->prompt_sum);
    TF_CHECK_ARG(p->n_logits_max >= 1 && p->n_logits_max <= 65536,
                 "%s: n_logits_max = %u is outside [1, 65536]", who, p->n_logits_max);
    TF_CHECK_ARG(p->device_index >= 0, "%s: device_index = %d is negative", who,
                 (int)p->device_index);
    /* More than every sequence full, nothing shared, could never be used. */
    const uint64_t most = (uint64_t)p->n_seq_max *
                          ((p->n_ctx + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS) *
                          TF_KV_BLOCK_TOKENS;
    TF_CHECK_ARG(p->n_kv_tokens <= most,
                 "%s: n_kv_tokens = %u exceeds n_seq_max × n_ctx = %" PRIu64
                 " tokens (n_ctx in whole blocks of %d), more than the sequences can ever hold",
                 who, p->n_kv_tokens, most, TF_KV_BLOCK_TOKENS);
    return TINFER_OK;
}

TINFER_API tinfer_status tinfer_context_create(const tinfer_model *model,
                                               const tinfer_context_params *params,
                                               size_t params_size, tinfer_context **out) {
    tf_error_clear();
    TF_CHECK_ARG(model && out, "tinfer_context_create: model or out is NULL");
    tinfer_context_params p;
    tinfer_status status = read_params(params, params_size, &p, "tinfer_context_create");
    return status != TINFER_OK ? status : tf_context_create(model, &p, NULL, out);
}

TINFER_API tinfer_status tinfer_context_estimate(const tinfer_model *model,
                                                 const tinfer_context_params *params,
                                                 size_t params_size, tinfer_context_info *out,
                                                 size_t out_size) {
    tf_error_clear();
    TF_CHECK_ARG(model && out, "tinfer_context_estimate: model or out is NULL");
    tinfer_context_params p;
    tinfer_context_info info;
    tinfer_status status = read_params(params, params_size, &p, "tinfer_context_estimate");
    if (status == TINFER_OK) status = tf_context_estimate(model, &p, &info);
    return status != TINFER_OK
               ? status
               : tf_abi_info_write(&info, sizeof info, out, out_size, "tinfer_context_estimate");
}

TINFER_API tinfer_status tinfer_context_get_info(const tinfer_context *ctx,
                                                 tinfer_context_info *out, size_t out_size) {
    tf_error_clear();
    TF_CHECK_ARG(ctx && out, "tinfer_context_get_info: ctx or out is NULL");
    tinfer_context_info info;
    tinfer_status status = tf_context_info_of(ctx, &info);
    return status != TINFER_OK
               ? status
               : tf_abi_info_write(&info, sizeof info, out, out_size, "tinfer_context_get_info");
}

TINFER_API void tinfer_context_free(tinfer_context *ctx) { tf_context_free(ctx); }

TINFER_API tinfer_status tinfer_prefill(tinfer_context *ctx, int32_t seq, const int32_t *tokens,
                                        size_t n) {
    tf_error_clear();
    TF_CHECK_ARG(ctx, "tinfer_prefill: ctx is NULL");
    TF_CHECK_ARG(seq_ok(ctx, seq), "tinfer_prefill: seq %d is outside [0, %u)", seq,
                 ctx->kv.n_seq_max);
    TF_CHECK_ARG(tokens && n > 0, "tinfer_prefill: no tokens (tokens NULL or n = 0)");
    return tf_context_prefill(ctx, (uint32_t)seq, tokens, n);
}

TINFER_API tinfer_status tinfer_prefill_logits(tinfer_context *ctx, int32_t seq,
                                               const int32_t *tokens, size_t n, const uint8_t *want,
                                               float *logits, size_t logits_cap) {
    tf_error_clear();
    TF_CHECK_ARG(ctx, "tinfer_prefill_logits: ctx is NULL");
    TF_CHECK_ARG(seq_ok(ctx, seq), "tinfer_prefill_logits: seq %d is outside [0, %u)", seq,
                 ctx->kv.n_seq_max);
    TF_CHECK_ARG(tokens && n > 0, "tinfer_prefill_logits: no tokens (tokens NULL or n = 0)");
    return tf_context_prefill_logits(ctx, (uint32_t)seq, tokens, n, want, logits, logits_cap);
}

TINFER_API tinfer_status tinfer_decode(tinfer_context *ctx, const int32_t *seqs,
                                       const int32_t *tokens, size_t n_seq) {
    tf_error_clear();
    TF_CHECK_ARG(ctx, "tinfer_decode: ctx is NULL");
    TF_CHECK_ARG(seqs && tokens && n_seq > 0, "tinfer_decode: seqs or tokens NULL, or n_seq = 0");
    return tf_context_decode(ctx, seqs, tokens, n_seq);
}

TINFER_API const float *tinfer_logits(const tinfer_context *ctx, int32_t seq) {
    if (!ctx || !seq_ok(ctx, seq) || !ctx->has_logits[seq]) return NULL;
    return ctx->logits + (size_t)seq * ctx->n_vocab;
}

TINFER_API size_t tinfer_context_n_vocab(const tinfer_context *ctx) {
    return ctx ? ctx->n_vocab : 0;
}

TINFER_API tinfer_status tinfer_kv_seq_len(const tinfer_context *ctx, int32_t seq, size_t *n) {
    tf_error_clear();
    TF_CHECK_ARG(ctx && n, "tinfer_kv_seq_len: ctx or n is NULL");
    TF_CHECK_ARG(seq_ok(ctx, seq), "tinfer_kv_seq_len: seq %d is outside [0, %u)", seq,
                 ctx->kv.n_seq_max);
    *n = ctx->kv.seqs[seq].n_tokens;
    return TINFER_OK;
}

TINFER_API tinfer_status tinfer_kv_seq_truncate(tinfer_context *ctx, int32_t seq, size_t n) {
    tf_error_clear();
    TF_CHECK_ARG(ctx, "tinfer_kv_seq_truncate: ctx is NULL");
    TF_CHECK_ARG(seq_ok(ctx, seq), "tinfer_kv_seq_truncate: seq %d is outside [0, %u)", seq,
                 ctx->kv.n_seq_max);
    TF_CHECK_ARG(n <= ctx->kv.seqs[seq].n_tokens,
                 "tinfer_kv_seq_truncate: n = %zu but sequence %d holds %u tokens", n, seq,
                 ctx->kv.seqs[seq].n_tokens);
    return tf_context_kv_truncate(ctx, (uint32_t)seq, (uint32_t)n);
}

TINFER_API tinfer_status tinfer_kv_seq_clear(tinfer_context *ctx, int32_t seq) {
    return tinfer_kv_seq_truncate(ctx, seq, 0);
}

/* ---- Forks: sequences sharing cached blocks (issue 14). ---- */

TINFER_API tinfer_status tinfer_kv_seq_copy(tinfer_context *ctx, int32_t src, int32_t dst) {
    tf_error_clear();
    TF_CHECK_ARG(ctx, "tinfer_kv_seq_copy: ctx is NULL");
    TF_CHECK_ARG(seq_ok(ctx, src), "tinfer_kv_seq_copy: src %d is outside [0, %u)", src,
                 ctx->kv.n_seq_max);
    TF_CHECK_ARG(seq_ok(ctx, dst), "tinfer_kv_seq_copy: dst %d is outside [0, %u)", dst,
                 ctx->kv.n_seq_max);
    return tf_context_kv_copy(ctx, (uint32_t)src, (uint32_t)dst);
}

TINFER_API tinfer_status tinfer_kv_free_tokens(const tinfer_context *ctx, size_t *n) {
    tf_error_clear();
    TF_CHECK_ARG(ctx && n, "tinfer_kv_free_tokens: ctx or n is NULL");
    *n = (size_t)tf_kv_free_tokens(&ctx->kv);
    return TINFER_OK;
}

/* ---- end of forks ---- */

TINFER_API tinfer_status tinfer_kv_seq_fill_random(tinfer_context *ctx, int32_t seq, size_t n,
                                                   uint64_t seed) {
    tf_error_clear();
    TF_CHECK_ARG(ctx, "tinfer_kv_seq_fill_random: ctx is NULL");
    TF_CHECK_ARG(seq_ok(ctx, seq), "tinfer_kv_seq_fill_random: seq %d is outside [0, %u)", seq,
                 ctx->kv.n_seq_max);
    if (n > ctx->kv.n_ctx)
        return tf_error(TINFER_E_CONTEXT_FULL,
                        "tinfer_kv_seq_fill_random: n = %zu exceeds n_ctx = %u", n, ctx->kv.n_ctx);
    return tf_context_kv_fill_random(ctx, (uint32_t)seq, (uint32_t)n, seed);
}
