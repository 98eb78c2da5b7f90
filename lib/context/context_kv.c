/* The context's KV operations behind the public calls: truncating a sequence (which the
 * sliding-window ring may forbid), the benchmark's random fill, and the storage's size. Arguments
 * are checked by the callers in context_api.c. */
#include "context/context.h"
#include "core/error.h"
#include "kv/kv_ring.h"

tinfer_status tf_context_kv_truncate(tinfer_context *ctx, uint32_t seq, uint32_t n) {
    const tf_kv_seq *s = &ctx->kv.seqs[seq];
    if (!tf_kv_ring_holds(&ctx->kv, seq, n))
        return tf_error(TINFER_E_UNSUPPORTED,
                        "tinfer_kv_seq_truncate: sequence %u ran to %u tokens; its sliding-window "
                        "layers keep only the last %u positions, so it cannot be cut back to %u "
                        "(clear it and prefill again)",
                        seq, s->n_tokens_reached,
                        s->n_tokens_reached - tf_kv_ring_first_kept(&ctx->kv, s->n_tokens_reached),
                        n);
    tf_kv_set_len(&ctx->kv, seq, n);
    ctx->has_logits[seq] = false;
    return TINFER_OK;
}

/* Positions [0, n) get random rows in every layer (the ring's layers only those it keeps) and the
 * sequence's length becomes n, taking or returning blocks; nothing changes on failure. */
tinfer_status tf_context_kv_fill_random(tinfer_context *ctx, uint32_t seq, uint32_t n,
                                        uint64_t seed) {
    tf_kv_seq *s = &ctx->kv.seqs[seq];
    if (n > s->n_tokens) {
        tinfer_status status = tf_kv_reserve(&ctx->kv, seq, n - s->n_tokens);
        if (status != TINFER_OK) return status;
    }
    const tf_kv_fill fill = {.seq = seq,
                             .n = n,
                             .ring_first = tf_kv_ring_first_kept(&ctx->kv, n),
                             .table = s->block_table,
                             .local_table = tf_kv_swa_table(&ctx->kv, seq),
                             .layer_in_ring = ctx->kv.layer_in_ring,
                             .seed = seed};
    tinfer_status status = ctx->backend->ops->kv_fill_random(ctx->backend, &fill);
    if (status != TINFER_OK) {
        tf_kv_release_unused(&ctx->kv, seq);
        return status;
    }
    tf_kv_set_len(&ctx->kv, seq, n);
    /* The ring now holds [ring_first, n) as if the sequence had run straight to n. */
    s->n_tokens_reached = n;
    ctx->has_logits[seq] = false;
    return TINFER_OK;
}

size_t tf_context_kv_bytes(const tinfer_context *ctx) {
    return (size_t)tf_context_plan_kv_bytes(&ctx->kv, ctx->kv_row_bytes);
}
