/* The context's KV operations behind the public calls: reserving for a step (with its
 * copy-on-write), forking a sequence, truncating one (which the sliding-window ring may forbid),
 * the benchmark's random fill, and the storage's size. Arguments are checked by the callers in
 * context_api.c. */
#include <string.h>

#include "context/context.h"
#include "core/error.h"
#include "kv/kv_ring.h"

tinfer_status tf_context_kv_reserve(tinfer_context *ctx, uint32_t seq, uint32_t n_new) {
    tf_kv_block_copy copy;
    tinfer_status status = tf_kv_reserve(&ctx->kv, seq, n_new, &copy);
    if (status != TINFER_OK || copy.n_rows == 0) return status;
    status = ctx->backend->ops->kv_copy_blocks(ctx->backend, &copy, 1, ctx->kv.layer_in_ring);
    if (status != TINFER_OK) tf_kv_release_unused(&ctx->kv, seq);
    return status;
}

/* dst is emptied first, so a backend failing the ring's copy leaves it empty (the CPU never
 * fails there). The global layers' blocks are shared, not copied: the fork costs the ring only. */
tinfer_status tf_context_kv_copy(tinfer_context *ctx, uint32_t src, uint32_t dst) {
    if (src == dst) return TINFER_OK;
    tf_kv_set_len(&ctx->kv, dst, 0);
    ctx->has_logits[dst] = false;
    const tf_kv_block_copy ring = tf_kv_ring_fork_copy(&ctx->kv, src, dst);
    if (ring.n_rows > 0) {
        tinfer_status status =
            ctx->backend->ops->kv_copy_blocks(ctx->backend, &ring, 1, ctx->kv.layer_in_ring);
        if (status != TINFER_OK) return status;
    }
    tf_kv_fork(&ctx->kv, src, dst);
    if (ctx->has_logits[src]) {
        memcpy(ctx->logits + (size_t)dst * ctx->n_vocab, ctx->logits + (size_t)src * ctx->n_vocab,
               ctx->n_vocab * sizeof *ctx->logits);
        ctx->has_logits[dst] = true;
    }
    return TINFER_OK;
}

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

/* A sequence that shares blocks with a fork must not write into them: it gives them up (keeping
 * the ones it alone holds for reuse) and starts from empty, after checking that the pool has room
 * for n tokens, so that a full pool changes nothing. */
static tinfer_status unshare_for_fill(tinfer_context *ctx, uint32_t seq, uint32_t n) {
    const uint32_t need = (n + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    const uint32_t own = tf_kv_seq_own_blocks(&ctx->kv, seq);
    if (own == ctx->kv.seqs[seq].n_blocks) return TINFER_OK;
    if (need > own + ctx->kv.n_free)
        return tf_error(TINFER_E_CONTEXT_FULL,
                        "kv cache: sequence %u needs %u blocks of %d tokens but holds %u of its "
                        "own and %u of the pool's %u are free",
                        seq, need, TF_KV_BLOCK_TOKENS, own, ctx->kv.n_free, ctx->kv.n_blocks);
    tf_kv_set_len(&ctx->kv, seq, 0);
    return TINFER_OK;
}

/* Positions [0, n) get random rows in every layer (the ring's layers only those it keeps) and the
 * sequence's length becomes n, taking or returning blocks; nothing changes on failure, except
 * that a sequence sharing blocks with a fork has let them go if the backend then fails (the
 * CPU's never does). */
tinfer_status tf_context_kv_fill_random(tinfer_context *ctx, uint32_t seq, uint32_t n,
                                        uint64_t seed) {
    tf_kv_seq *s = &ctx->kv.seqs[seq];
    tinfer_status status = unshare_for_fill(ctx, seq, n);
    if (status != TINFER_OK) return status;
    if (n > s->n_tokens) {
        status = tf_context_kv_reserve(ctx, seq, n - s->n_tokens);
        if (status != TINFER_OK) return status;
    }
    const tf_kv_fill fill = {.seq = seq,
                             .n = n,
                             .ring_first = tf_kv_ring_first_kept(&ctx->kv, n),
                             .table = s->block_table,
                             .local_table = tf_kv_swa_table(&ctx->kv, seq),
                             .layer_in_ring = ctx->kv.layer_in_ring,
                             .seed = seed};
    status = ctx->backend->ops->kv_fill_random(ctx->backend, &fill);
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
