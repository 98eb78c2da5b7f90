/* The context's KV operations behind the public calls: truncating a sequence (which the
 * sliding-window ring may forbid) and the benchmark's random fill. Arguments are checked by the
 * callers in context_api.c. */
#include "context/context.h"
#include "core/error.h"
#include "kv/kv_fill.h"
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

tinfer_status tf_context_kv_fill_random(tinfer_context *ctx, uint32_t seq, uint32_t n,
                                        uint64_t seed) {
    tinfer_status status = tf_kv_fill_random(&ctx->kv, seq, n, seed);
    if (status == TINFER_OK) ctx->has_logits[seq] = false;
    return status;
}
