/* A snapshot's header and records: little-endian fields at fixed offsets (doc/formats.md). */
#include "snapshot/snapshot_format.h"

#include <string.h>

#include "backend/backend.h"
#include "core/checked.h"
#include "core/error.h"

/* Field offsets of the header. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 8,
    OFF_HEADER_BYTES = 12,
    OFF_FINGERPRINT = 16,
    OFF_ARCH = 24, /* then n_layer … kv_dtype, nine u32 in tf_snap_model's order */
    OFF_N_RECORDS = 60,
    OFF_FLAGS = 64,
    OFF_RESERVED = 68,
    OFF_PAYLOAD_BYTES = 72,
    OFF_COMPRESSED_BYTES = 80,
    OFF_CHECKSUM = 88
};

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint64_t tf_snap_hash(uint64_t h, const void *bytes, size_t n) {
    const uint8_t *p = bytes;
    const uint64_t prime = 0x100000001B3ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) h = (h ^ get_u64(p + i)) * prime;
    for (; i < n; i++) h = (h ^ p[i]) * prime;
    return h;
}

size_t tf_snap_prefix_bytes(uint32_t n_records) {
    return TF_SNAP_HEADER_BYTES + (size_t)n_records * TF_SNAP_RECORD_BYTES;
}

/* The model's nine u32 fields in file order. */
static uint32_t *model_field(tf_snap_model *m, int i) {
    uint32_t *fields[9] = {&m->arch,      &m->n_layer,        &m->n_embd,
                           &m->n_head_kv, &m->head_dim,       &m->head_dim_v,
                           &m->n_vocab,   &m->sliding_window, &m->kv_dtype};
    return fields[i];
}

void tf_snap_write_prefix(const tf_snap_header *h, const tf_snap_record *records, uint8_t *out) {
    memset(out, 0, tf_snap_prefix_bytes(h->n_records));
    memcpy(out + OFF_MAGIC, TF_SNAP_MAGIC, 8);
    put_u32(out + OFF_VERSION, TF_SNAP_VERSION);
    put_u32(out + OFF_HEADER_BYTES, TF_SNAP_HEADER_BYTES);
    put_u64(out + OFF_FINGERPRINT, h->model.fingerprint);
    tf_snap_model model = h->model;
    for (int i = 0; i < 9; i++) put_u32(out + OFF_ARCH + 4 * i, *model_field(&model, i));
    put_u32(out + OFF_N_RECORDS, h->n_records);
    put_u32(out + OFF_FLAGS, h->flags);
    put_u64(out + OFF_PAYLOAD_BYTES, h->payload_bytes);
    put_u64(out + OFF_COMPRESSED_BYTES, h->compressed_bytes);
    for (uint32_t i = 0; i < h->n_records; i++) {
        uint8_t *r = out + TF_SNAP_HEADER_BYTES + (size_t)i * TF_SNAP_RECORD_BYTES;
        put_u32(r + 0, records[i].seq);
        put_u32(r + 4, records[i].n_tokens);
        put_u32(r + 8, records[i].n_tokens_reached);
        put_u32(r + 12, records[i].swa_first);
        put_u32(r + 16, records[i].flags);
    }
    uint64_t sum = tf_snap_hash(TF_SNAP_HASH_SEED, out, OFF_CHECKSUM);
    sum =
        tf_snap_hash(sum, out + TF_SNAP_HEADER_BYTES, (size_t)h->n_records * TF_SNAP_RECORD_BYTES);
    put_u64(out + OFF_CHECKSUM, sum);
}

tinfer_status tf_snap_read_header(const uint8_t *bytes, size_t len, tf_snap_header *h) {
    if (len < TF_SNAP_HEADER_BYTES)
        return tf_error(TINFER_E_FORMAT,
                        "snapshot: %zu bytes, shorter than the %d-byte header (truncated?)", len,
                        (int)TF_SNAP_HEADER_BYTES);
    if (memcmp(bytes + OFF_MAGIC, TF_SNAP_MAGIC, 8) != 0)
        return tf_error(TINFER_E_FORMAT, "snapshot: not a KV snapshot (the magic is not '%s')",
                        TF_SNAP_MAGIC);
    const uint32_t version = get_u32(bytes + OFF_VERSION);
    if (version != TF_SNAP_VERSION)
        return tf_error(version == 0 ? TINFER_E_FORMAT : TINFER_E_UNSUPPORTED,
                        "snapshot: format version %u; this library reads version %d", version,
                        (int)TF_SNAP_VERSION);
    const uint32_t header_bytes = get_u32(bytes + OFF_HEADER_BYTES);
    if (header_bytes != TF_SNAP_HEADER_BYTES)
        return tf_error(TINFER_E_FORMAT, "snapshot: header_bytes = %u, version 1 has %d",
                        header_bytes, (int)TF_SNAP_HEADER_BYTES);
    *h = (tf_snap_header){0};
    h->model.fingerprint = get_u64(bytes + OFF_FINGERPRINT);
    for (int i = 0; i < 9; i++) *model_field(&h->model, i) = get_u32(bytes + OFF_ARCH + 4 * i);
    h->n_records = get_u32(bytes + OFF_N_RECORDS);
    h->flags = get_u32(bytes + OFF_FLAGS);
    h->payload_bytes = get_u64(bytes + OFF_PAYLOAD_BYTES);
    h->compressed_bytes = get_u64(bytes + OFF_COMPRESSED_BYTES);
    if (h->n_records == 0 || h->n_records > TF_SNAP_MAX_RECORDS)
        return tf_error(TINFER_E_FORMAT, "snapshot: n_records = %u is outside [1, %d]",
                        h->n_records, (int)TF_SNAP_MAX_RECORDS);
    const size_t prefix = tf_snap_prefix_bytes(h->n_records);
    if (len < prefix)
        return tf_error(TINFER_E_FORMAT,
                        "snapshot: %zu bytes, shorter than its header and %u records (%zu bytes; "
                        "truncated?)",
                        len, h->n_records, prefix);
    uint64_t sum = tf_snap_hash(TF_SNAP_HASH_SEED, bytes, OFF_CHECKSUM);
    sum = tf_snap_hash(sum, bytes + TF_SNAP_HEADER_BYTES, prefix - TF_SNAP_HEADER_BYTES);
    if (sum != get_u64(bytes + OFF_CHECKSUM))
        return tf_error(TINFER_E_FORMAT,
                        "snapshot: the header's checksum does not match (corrupted header or "
                        "records)");
    if ((h->flags & ~(uint32_t)TF_SNAP_WHOLE_CONTEXT) || get_u32(bytes + OFF_RESERVED))
        return tf_error(TINFER_E_FORMAT, "snapshot: unknown header flags 0x%x or reserved bits",
                        h->flags);
    if (!tinfer_range_ok(prefix, h->compressed_bytes, len) || prefix + h->compressed_bytes != len)
        return tf_error(TINFER_E_FORMAT,
                        "snapshot: %zu bytes, but the header and records (%zu) and the "
                        "compressed payload (%llu) make %s",
                        len, prefix, (unsigned long long)h->compressed_bytes,
                        tinfer_range_ok(prefix, h->compressed_bytes, len) ? "fewer (trailing bytes)"
                                                                          : "more (truncated?)");
    return TINFER_OK;
}

tinfer_status tf_snap_read_record(const uint8_t *bytes, uint32_t i, tf_snap_record *r) {
    const uint8_t *p = bytes + TF_SNAP_HEADER_BYTES + (size_t)i * TF_SNAP_RECORD_BYTES;
    *r = (tf_snap_record){.seq = get_u32(p),
                          .n_tokens = get_u32(p + 4),
                          .n_tokens_reached = get_u32(p + 8),
                          .swa_first = get_u32(p + 12),
                          .flags = get_u32(p + 16)};
    if (r->n_tokens > TF_SNAP_MAX_TOKENS || r->n_tokens_reached > TF_SNAP_MAX_TOKENS ||
        r->n_tokens_reached < r->n_tokens)
        return tf_error(TINFER_E_FORMAT,
                        "snapshot: record %u: n_tokens = %u, n_tokens_reached = %u (want "
                        "n_tokens ≤ n_tokens_reached ≤ 2^24)",
                        i, r->n_tokens, r->n_tokens_reached);
    if (r->swa_first > r->n_tokens || r->swa_first % TF_KV_BLOCK_TOKENS != 0)
        return tf_error(TINFER_E_FORMAT,
                        "snapshot: record %u: swa_first = %u is not a multiple of 32 at most "
                        "n_tokens = %u",
                        i, r->swa_first, r->n_tokens);
    if ((r->flags & ~(uint32_t)TF_SNAP_HAS_LOGITS) || get_u32(p + 20) ||
        ((r->flags & TF_SNAP_HAS_LOGITS) && r->n_tokens == 0))
        return tf_error(TINFER_E_FORMAT,
                        "snapshot: record %u: flags 0x%x (logits without tokens, or unknown "
                        "bits)",
                        i, r->flags);
    return TINFER_OK;
}
