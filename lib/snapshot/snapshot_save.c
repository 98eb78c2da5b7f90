/* Saving: each sequence's logits row and its K/V rows — every position in global layers, what
 * the ring still holds in sliding-window layers — read from the backend into one staging
 * buffer, compressed into a single zstd frame (with its content checksum) behind the header and
 * the records. */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "context/context.h"
#include "core/checked.h"
#include "core/error.h"
#include "kv/kv_ring.h"
#include "snapshot/snapshot.h"

/* The records of seq (-1: every slot) as the cache holds them now; *n_records of them in a new
 * array. */
static tinfer_status describe(const tinfer_context *ctx, int32_t seq,
                              const tinfer_snapshot_params *params, tf_snap_record **out,
                              uint32_t *n_records) {
    const uint32_t first = seq < 0 ? 0 : (uint32_t)seq;
    const uint32_t n = seq < 0 ? ctx->kv.n_seq_max : 1;
    tf_snap_record *records = calloc(n, sizeof *records);
    if (!records) return tf_error(TINFER_E_NOMEM, "snapshot: out of memory for %u records", n);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t slot = first + i;
        const tf_kv_seq *s = &ctx->kv.seqs[slot];
        /* The ring keeps [first_kept, n_tokens) intact (0 without a ring); truncation never
         * leaves the length below what it keeps (tf_kv_ring_holds). */
        uint32_t swa_first = tf_kv_ring_first_kept(&ctx->kv, s->n_tokens_reached);
        if (swa_first > s->n_tokens) swa_first = s->n_tokens;
        records[i] = (tf_snap_record){
            .seq = slot,
            .n_tokens = s->n_tokens,
            .n_tokens_reached =
                s->n_tokens_reached > s->n_tokens ? s->n_tokens_reached : s->n_tokens,
            .swa_first = s->n_tokens ? swa_first : 0,
            .flags = params->include_logits && ctx->has_logits[slot] && s->n_tokens
                         ? TF_SNAP_HAS_LOGITS
                         : 0};
    }
    *out = records;
    *n_records = n;
    return TINFER_OK;
}

static tinfer_status payload_bytes(const tinfer_context *ctx, const tf_snap_record *records,
                                   uint32_t n_records, size_t *bytes) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < n_records; i++)
        if (!tf_snapshot_record_bytes(ctx, &records[i], &total))
            return tf_error(TINFER_E_NOMEM, "snapshot: the payload's size overflows");
    if (total > SIZE_MAX) return tf_error(TINFER_E_NOMEM, "snapshot: the payload is too large");
    *bytes = (size_t)total;
    return TINFER_OK;
}

/* Record r's bytes into out: the logits row, then its K/V region as byte planes (per layer the
 * K rows and the V rows, read through the backend into rows_buf, room for n_tokens rows). */
static tinfer_status gather(const tinfer_context *ctx, const tf_snap_record *r, uint8_t *rows_buf,
                            uint8_t **out) {
    if (r->flags & TF_SNAP_HAS_LOGITS) {
        const size_t bytes = (size_t)ctx->n_vocab * sizeof(float);
        memcpy(*out, ctx->logits + (size_t)r->seq * ctx->n_vocab, bytes);
        *out += bytes;
    }
    const size_t elem_bytes = tf_snapshot_elem_bytes(ctx);
    size_t region_bytes = 0, at = 0;
    for (uint32_t l = 0; l < ctx->kv.n_layer; l++)
        region_bytes +=
            (size_t)(r->n_tokens - tf_snapshot_layer_first(ctx, r, l)) * ctx->kv_row_bytes;
    tf_backend *be = ctx->backend;
    for (uint32_t l = 0; l < ctx->kv.n_layer; l++) {
        const uint32_t first = tf_snapshot_layer_first(ctx, r, l);
        const tf_kv_rows rows = {.layer = l,
                                 .table = ctx->kv.layer_in_ring[l]
                                              ? tf_kv_swa_table(&ctx->kv, r->seq)
                                              : ctx->kv.seqs[r->seq].block_table,
                                 .first = first,
                                 .n = r->n_tokens - first};
        if (rows.n == 0) continue;
        tinfer_status status = be->ops->kv_read(be, &rows, rows_buf);
        if (status != TINFER_OK) return status;
        const size_t n = (size_t)rows.n * ctx->kv_row_bytes / elem_bytes;
        tf_snapshot_to_planes(rows_buf, n, elem_bytes, *out, region_bytes / elem_bytes, at);
        at += n;
    }
    *out += region_bytes;
    return TINFER_OK;
}

/* level's frame of src into dst (cap bytes); E_BUFFER_TOO_SMALL when it does not fit. */
static tinfer_status compress(int level, const void *src, size_t n, void *dst, size_t cap,
                              size_t *written) {
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!cctx) return tf_error(TINFER_E_NOMEM, "snapshot: out of memory for the compressor");
    size_t ret = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(ret)) ret = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(ret)) ret = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    if (!ZSTD_isError(ret)) ret = ZSTD_compress2(cctx, dst, cap, src, n);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(ret))
        return ZSTD_getErrorCode(ret) == ZSTD_error_dstSize_tooSmall
                   ? tf_error(TINFER_E_BUFFER_TOO_SMALL,
                              "snapshot: the buffer is too small (tinfer_snapshot_bound gives "
                              "enough)")
                   : tf_error(TINFER_E_NOMEM, "snapshot: zstd: %s", ZSTD_getErrorName(ret));
    *written = ret;
    return TINFER_OK;
}

tinfer_status tf_snapshot_bound(const tinfer_context *ctx, int32_t seq,
                                const tinfer_snapshot_params *params, size_t *bytes) {
    tf_snap_record *records = NULL;
    uint32_t n_records = 0;
    size_t payload = 0;
    tinfer_status status = describe(ctx, seq, params, &records, &n_records);
    if (status == TINFER_OK) status = payload_bytes(ctx, records, n_records, &payload);
    free(records);
    if (status != TINFER_OK) return status;
    const size_t frame = ZSTD_compressBound(payload);
    if (ZSTD_isError(frame) || !tinfer_add_size(tf_snap_prefix_bytes(n_records), frame, bytes))
        return tf_error(TINFER_E_NOMEM, "snapshot: the payload is too large to compress");
    return TINFER_OK;
}

tinfer_status tf_snapshot_save(const tinfer_context *ctx, int32_t seq,
                               const tinfer_snapshot_params *params, void *buf, size_t cap,
                               size_t *written) {
    tf_snap_record *records = NULL;
    uint32_t n_records = 0;
    size_t payload = 0, frame = 0;
    uint8_t *staging = NULL;
    tinfer_status status = describe(ctx, seq, params, &records, &n_records);
    if (status == TINFER_OK) status = payload_bytes(ctx, records, n_records, &payload);
    const size_t prefix = tf_snap_prefix_bytes(n_records);
    if (status == TINFER_OK && cap < prefix)
        status = tf_error(TINFER_E_BUFFER_TOO_SMALL,
                          "snapshot: %zu bytes of buffer, the header alone takes %zu", cap, prefix);
    uint32_t most = 0;
    for (uint32_t i = 0; i < n_records; i++)
        if (records[i].n_tokens > most) most = records[i].n_tokens;
    uint8_t *rows_buf = NULL;
    if (status == TINFER_OK && (!(staging = malloc(payload ? payload : 1)) ||
                                !(rows_buf = malloc(most ? (size_t)most * ctx->kv_row_bytes : 1))))
        status =
            tf_error(TINFER_E_NOMEM, "snapshot: out of memory for %zu bytes of payload", payload);
    uint8_t *cursor = staging;
    for (uint32_t i = 0; status == TINFER_OK && i < n_records; i++)
        status = gather(ctx, &records[i], rows_buf, &cursor);
    free(rows_buf);
    if (status == TINFER_OK)
        status = compress(params->zstd_level, staging, payload, (uint8_t *)buf + prefix,
                          cap - prefix, &frame);
    free(staging);
    if (status == TINFER_OK) {
        tf_snap_header h = {.flags = seq < 0 ? TF_SNAP_WHOLE_CONTEXT : 0,
                            .n_records = n_records,
                            .payload_bytes = payload,
                            .compressed_bytes = frame};
        tf_snapshot_model_of(ctx, &h.model);
        tf_snap_write_prefix(&h, records, buf);
        *written = prefix + frame;
    }
    free(records);
    return status;
}
