/* Which rows a snapshot record holds, and how many bytes they take in the payload: one rule for
 * the save and for the load's size check. */
#include "context/context.h"
#include "core/checked.h"
#include "model/arch_traits.h"
#include "snapshot/snapshot.h"

uint32_t tf_snapshot_layer_first(const tinfer_context *ctx, const tf_snap_record *r, uint32_t l) {
    const tf_hparams *hp = &ctx->model->hparams;
    return tf_layer_is_swa(&ctx->net->traits, l, hp->sliding_window) ? r->swa_first : 0;
}

bool tf_snapshot_record_bytes(const tinfer_context *ctx, const tf_snap_record *r, uint64_t *total) {
    uint64_t sum = *total, bytes;
    if ((r->flags & TF_SNAP_HAS_LOGITS) &&
        (!tinfer_mul_u64(ctx->n_vocab, sizeof(float), &bytes) || !tinfer_add_u64(sum, bytes, &sum)))
        return false;
    for (uint32_t l = 0; l < ctx->kv.n_layer; l++) {
        const uint32_t first = tf_snapshot_layer_first(ctx, r, l);
        if (first > r->n_tokens ||
            !tinfer_mul_u64(r->n_tokens - first, ctx->kv_row_bytes, &bytes) ||
            !tinfer_add_u64(sum, bytes, &sum))
            return false;
    }
    *total = sum;
    return true;
}
