/* Loading: every byte checked and the payload decompressed into staging memory before anything
 * changes — the header against the context (model, dtype, lengths, the sliding-window layout),
 * the payload's size computed from the records with checked math and bounded by what the
 * context can hold, zstd's content checksum — then the target slots are cleared, their blocks
 * reserved and their rows written through the backend. */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "context/context.h"
#include "core/checked.h"
#include "core/error.h"
#include "kv/kv_ring.h"
#include "model/arch_traits.h"
#include "snapshot/snapshot.h"

/* One record as it will go in: the slot, and the ring's bookkeeping there. */
typedef struct placed {
    tf_snap_record r;
    uint32_t slot;
    uint32_t n_tokens_reached; /* what the slot's ring bookkeeping is given */
} placed;

static const char *const ARCH_NAMES[] = {"unknown", "llama", "qwen2", "qwen3", "gemma3"};

static const char *arch_name(uint32_t arch) {
    return arch < sizeof ARCH_NAMES / sizeof ARCH_NAMES[0] ? ARCH_NAMES[arch] : "unknown";
}

static tinfer_status check_model(const tinfer_context *ctx, const tf_snap_model *got) {
    tf_snap_model want;
    tf_snapshot_model_of(ctx, &want);
    if (got->arch != want.arch || got->n_layer != want.n_layer || got->n_embd != want.n_embd ||
        got->n_head_kv != want.n_head_kv || got->head_dim != want.head_dim ||
        got->head_dim_v != want.head_dim_v || got->n_vocab != want.n_vocab ||
        got->sliding_window != want.sliding_window)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "snapshot: made by another model (%s, %u layers, n_embd %u, %u KV heads "
                        "of %u/%u, n_vocab %u, window %u); this context's is %s, %u layers, "
                        "n_embd %u, %u KV heads of %u/%u, n_vocab %u, window %u",
                        arch_name(got->arch), got->n_layer, got->n_embd, got->n_head_kv,
                        got->head_dim, got->head_dim_v, got->n_vocab, got->sliding_window,
                        arch_name(want.arch), want.n_layer, want.n_embd, want.n_head_kv,
                        want.head_dim, want.head_dim_v, want.n_vocab, want.sliding_window);
    if (got->fingerprint != want.fingerprint)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "snapshot: made by another model of the same shape (fingerprint "
                        "%016llx, this model's %016llx: other metadata or tensors)",
                        (unsigned long long)got->fingerprint, (unsigned long long)want.fingerprint);
    if (got->kv_dtype != want.kv_dtype)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "snapshot: holds %s keys and values; this context's cache is %s",
                        tf_kv_dtype_name(got->kv_dtype), tf_kv_dtype_name(want.kv_dtype));
    return TINFER_OK;
}

/* The ring's bookkeeping for record r in a slot of ctx (see doc/formats.md): E_UNSUPPORTED when
 * the context's layout cannot hold what the next token needs. */
static tinfer_status place_ring(const tinfer_context *ctx, uint32_t i, placed *p) {
    const tf_kv_cache *kv = &ctx->kv;
    const uint32_t n = p->r.n_tokens, window = kv->window;
    bool model_swa = false;
    for (uint32_t l = 0; l < kv->n_layer; l++)
        model_swa =
            model_swa || tf_layer_is_swa(&ctx->net->traits, l, ctx->model->hparams.sliding_window);
    /* What the next token reads in sliding-window layers (describe_token in steps.c). */
    const uint32_t first_read = window && n >= window ? n - window + 1 : 0;
    if (p->r.swa_first && (!model_swa || p->r.swa_first > first_read))
        return tf_error(TINFER_E_FORMAT,
                        "snapshot: record %u: swa_first = %u, but the next token reads from "
                        "position %u",
                        i, p->r.swa_first, model_swa ? first_read : 0);
    p->n_tokens_reached = n;
    if (!p->r.swa_first) return TINFER_OK;
    if (kv->ring_blocks == 0)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "snapshot: record %u keeps sliding-window rows only from position %u, "
                        "but this context keeps every position of those layers (its ring would "
                        "not be shorter than n_ctx); load it into a context with a larger n_ctx",
                        i, p->r.swa_first);
    /* The ring claims [first_kept(reached), n) intact. When that starts before swa_first (this
     * ring is larger than the saver's), claim as if the sequence had run on to where it starts
     * at swa_first: the positions in between are rewritten before any query reads them, and
     * truncation back below swa_first + window - 1 is refused as it would be there. */
    if (tf_kv_ring_first_kept(kv, n) < p->r.swa_first)
        p->n_tokens_reached = p->r.swa_first + (kv->ring_blocks - 1) * TF_KV_BLOCK_TOKENS + 1;
    return TINFER_OK;
}

/* Reads and places every record: lengths against n_ctx, slots against n_seq_max. */
static tinfer_status place_records(const tinfer_context *ctx, int32_t seq, const uint8_t *bytes,
                                   const tf_snap_header *h, placed *out) {
    for (uint32_t i = 0; i < h->n_records; i++) {
        placed *p = &out[i];
        tinfer_status status = tf_snap_read_record(bytes, i, &p->r);
        if (status != TINFER_OK) return status;
        p->slot = seq >= 0 ? (uint32_t)seq : p->r.seq;
        if (seq < 0 && i > 0 && p->r.seq <= out[i - 1].r.seq)
            return tf_error(TINFER_E_FORMAT,
                            "snapshot: record %u names slot %u after slot %u (slots must "
                            "increase)",
                            i, p->r.seq, out[i - 1].r.seq);
        if (p->r.n_tokens > ctx->kv.n_ctx)
            return tf_error(TINFER_E_CONTEXT_FULL,
                            "snapshot: sequence %u holds %u tokens; this context's n_ctx is %u",
                            p->r.seq, p->r.n_tokens, ctx->kv.n_ctx);
        if (p->slot >= ctx->kv.n_seq_max && p->r.n_tokens)
            return tf_error(TINFER_E_CONTEXT_FULL,
                            "snapshot: holds sequence %u; this context has n_seq_max = %u",
                            p->r.seq, ctx->kv.n_seq_max);
        if ((status = place_ring(ctx, i, p)) != TINFER_OK) return status;
    }
    return TINFER_OK;
}

/* Blocks the records need against what the target slots will have once cleared: the free
 * blocks, and the blocks only those slots hold (every block, for a whole context). The pool may
 * be smaller than n_seq_max × n_ctx (n_kv_tokens), so a load can find it full. */
static tinfer_status check_room(const tinfer_context *ctx, int32_t seq, const placed *records,
                                uint32_t n_records) {
    const tf_kv_cache *kv = &ctx->kv;
    uint64_t need = 0;
    const uint64_t have =
        seq < 0 ? kv->n_blocks : (uint64_t)kv->n_free + tf_kv_seq_own_blocks(kv, (uint32_t)seq);
    for (uint32_t i = 0; i < n_records; i++)
        need += (records[i].r.n_tokens + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    if (need > have)
        return tf_error(TINFER_E_CONTEXT_FULL,
                        "snapshot: needs %llu blocks of the cache; %llu are free for it",
                        (unsigned long long)need, (unsigned long long)have);
    return TINFER_OK;
}

/* The frame into staging memory of exactly payload bytes, or E_FORMAT. */
static tinfer_status decompress(const uint8_t *frame, size_t n, uint64_t payload, uint8_t **out) {
    const unsigned long long content = ZSTD_getFrameContentSize(frame, n);
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN)
        return tf_error(TINFER_E_FORMAT, "snapshot: the payload is not a zstd frame with its size");
    if (content != payload)
        return tf_error(TINFER_E_FORMAT,
                        "snapshot: the zstd frame holds %llu bytes; the records need %llu", content,
                        (unsigned long long)payload);
    const size_t frame_bytes = ZSTD_findFrameCompressedSize(frame, n);
    if (ZSTD_isError(frame_bytes) || frame_bytes != n)
        return tf_error(TINFER_E_FORMAT, "snapshot: the zstd frame is %s",
                        ZSTD_isError(frame_bytes) ? "truncated or malformed"
                                                  : "followed by other bytes");
    uint8_t *staging = malloc(payload ? (size_t)payload : 1);
    if (!staging)
        return tf_error(TINFER_E_NOMEM, "snapshot: out of memory for %llu bytes of payload",
                        (unsigned long long)payload);
    const size_t got = ZSTD_decompress(staging, (size_t)payload, frame, n);
    if (ZSTD_isError(got) || got != payload) {
        free(staging);
        return tf_error(TINFER_E_FORMAT, "snapshot: the payload does not decompress: %s",
                        ZSTD_isError(got) ? ZSTD_getErrorName(got) : "size disagrees");
    }
    *out = staging;
    return TINFER_OK;
}

/* Bytes of one K row of ctx's cache (the rest of kv_row_bytes is the V row). */
static size_t k_row_bytes(const tinfer_context *ctx) {
    const tf_hparams *hp = &ctx->model->hparams;
    return tf_context_plan_kv_elems_bytes(ctx->params.kv_dtype,
                                          (size_t)hp->n_head_kv * hp->head_dim);
}

/* Everything checked: the slot gets the record's rows, lengths and logits. *cursor walks the
 * staging payload; rows_buf has room for n_tokens rows. */
static tinfer_status install(tinfer_context *ctx, const placed *p, uint8_t *rows_buf,
                             const uint8_t **cursor) {
    tf_kv_cache *kv = &ctx->kv;
    /* The slot was cleared: fresh blocks, nothing shared, so no copy-on-write. */
    tf_kv_block_copy copy;
    tinfer_status status = tf_kv_reserve(kv, p->slot, p->r.n_tokens, &copy);
    if (status != TINFER_OK) return status; /* not reached: check_room */
    if (p->r.flags & TF_SNAP_HAS_LOGITS) {
        const size_t bytes = (size_t)ctx->n_vocab * sizeof(float);
        memcpy(ctx->logits + (size_t)p->slot * ctx->n_vocab, *cursor, bytes);
        *cursor += bytes;
    }
    const size_t k_bytes = k_row_bytes(ctx), v_bytes = ctx->kv_row_bytes - k_bytes;
    const size_t elem_bytes = tf_snapshot_elem_bytes(ctx);
    size_t region_bytes = 0, at = 0;
    for (uint32_t l = 0; l < kv->n_layer; l++)
        region_bytes +=
            (size_t)(p->r.n_tokens - tf_snapshot_layer_first(ctx, &p->r, l)) * ctx->kv_row_bytes;
    /* Ring rows below what the ring claims (first_kept) are skipped: a smaller ring than the
     * saver's would overwrite them with later positions. */
    const uint32_t ring_first = tf_kv_ring_first_kept(kv, p->n_tokens_reached);
    tf_backend *be = ctx->backend;
    for (uint32_t l = 0; l < kv->n_layer && status == TINFER_OK; l++) {
        const uint32_t first = tf_snapshot_layer_first(ctx, &p->r, l);
        const uint32_t count = p->r.n_tokens - first;
        const bool ring = kv->layer_in_ring[l];
        const uint32_t skip = ring && ring_first > first ? ring_first - first : 0;
        const tf_kv_rows rows = {.layer = l,
                                 .table = ring ? tf_kv_swa_table(kv, p->slot)
                                               : kv->seqs[p->slot].block_table,
                                 .first = first + skip,
                                 .n = count - skip};
        const size_t n = (size_t)count * ctx->kv_row_bytes / elem_bytes;
        tf_snapshot_from_planes(*cursor, region_bytes / elem_bytes, at, elem_bytes, rows_buf, n);
        at += n;
        /* The kept V rows move down to follow the kept K rows, as kv_write reads them. */
        if (skip)
            memmove(rows_buf + (size_t)count * k_bytes,
                    rows_buf + (size_t)count * k_bytes + (size_t)skip * v_bytes,
                    (size_t)rows.n * v_bytes);
        if (rows.n) status = be->ops->kv_write(be, &rows, rows_buf + (size_t)skip * k_bytes);
    }
    *cursor += region_bytes;
    if (status != TINFER_OK) return status;
    tf_kv_set_len(kv, p->slot, p->r.n_tokens);
    kv->seqs[p->slot].n_tokens_reached = p->n_tokens_reached;
    ctx->has_logits[p->slot] = (p->r.flags & TF_SNAP_HAS_LOGITS) != 0;
    return TINFER_OK;
}

/* The KV calls of a load, in one place: clear the target slots (every slot for a whole-context
 * snapshot), then install each record. */
static tinfer_status apply(tinfer_context *ctx, int32_t seq, const placed *records,
                           uint32_t n_records, const uint8_t *payload, uint8_t *rows_buf) {
    for (uint32_t s = 0; s < ctx->kv.n_seq_max; s++)
        if (seq < 0 || s == (uint32_t)seq) {
            tf_kv_set_len(&ctx->kv, s, 0);
            ctx->has_logits[s] = false;
        }
    const uint8_t *cursor = payload;
    for (uint32_t i = 0; i < n_records; i++) {
        if (records[i].r.n_tokens == 0) continue;
        tinfer_status status = install(ctx, &records[i], rows_buf, &cursor);
        if (status != TINFER_OK) return status;
    }
    return TINFER_OK;
}

/* Header and records against the context; the payload's size from the records. */
static tinfer_status check_all(const tinfer_context *ctx, int32_t seq, const uint8_t *bytes,
                               size_t len, tf_snap_header *h, placed **records) {
    tinfer_status status = tf_snap_read_header(bytes, len, h);
    if (status != TINFER_OK) return status;
    const bool whole = (h->flags & TF_SNAP_WHOLE_CONTEXT) != 0;
    if (whole != (seq < 0))
        return tf_error(TINFER_E_INVALID_ARG,
                        whole ? "snapshot: holds a whole context; load it with seq = -1"
                              : "snapshot: holds one sequence; load it into a slot, not seq = -1");
    if (!whole && h->n_records != 1)
        return tf_error(TINFER_E_FORMAT, "snapshot: one sequence, but %u records", h->n_records);
    if ((status = check_model(ctx, &h->model)) != TINFER_OK) return status;
    placed *out = calloc(h->n_records, sizeof *out);
    if (!out)
        return tf_error(TINFER_E_NOMEM, "snapshot: out of memory for %u records", h->n_records);
    status = place_records(ctx, seq, bytes, h, out);
    uint64_t payload = 0;
    for (uint32_t i = 0; status == TINFER_OK && i < h->n_records; i++)
        if (!tf_snapshot_record_bytes(ctx, &out[i].r, &payload))
            status = tf_error(TINFER_E_FORMAT, "snapshot: the payload's size overflows");
    if (status == TINFER_OK && payload != h->payload_bytes)
        status = tf_error(TINFER_E_FORMAT,
                          "snapshot: the header says %llu bytes of payload; its records need %llu",
                          (unsigned long long)h->payload_bytes, (unsigned long long)payload);
    if (status == TINFER_OK && payload > SIZE_MAX)
        status = tf_error(TINFER_E_NOMEM, "snapshot: the payload is too large");
    if (status == TINFER_OK) status = check_room(ctx, seq, out, h->n_records);
    if (status != TINFER_OK) {
        free(out);
        return status;
    }
    *records = out;
    return TINFER_OK;
}

tinfer_status tf_snapshot_load(tinfer_context *ctx, int32_t seq, const uint8_t *bytes, size_t len) {
    tf_snap_header h;
    placed *records = NULL;
    uint8_t *payload = NULL, *rows_buf = NULL;
    tinfer_status status = check_all(ctx, seq, bytes, len, &h, &records);
    if (status == TINFER_OK) {
        const size_t prefix = tf_snap_prefix_bytes(h.n_records);
        status = decompress(bytes + prefix, len - prefix, h.payload_bytes, &payload);
    }
    if (status == TINFER_OK) {
        /* One layer's rows at a time, unpacked from the planes: at most n_ctx rows. */
        uint32_t most = 0;
        for (uint32_t i = 0; i < h.n_records; i++)
            if (records[i].r.n_tokens > most) most = records[i].r.n_tokens;
        if (!(rows_buf = malloc(most ? (size_t)most * ctx->kv_row_bytes : 1)))
            status = tf_error(TINFER_E_NOMEM, "snapshot: out of memory for %u rows", most);
    }
    if (status == TINFER_OK) status = apply(ctx, seq, records, h.n_records, payload, rows_buf);
    free(rows_buf);
    free(payload);
    free(records);
    return status;
}
