/* The bytes of a KV snapshot (doc/formats.md, "KV snapshots"): a fixed header, one record per
 * sequence, then one zstd frame holding the payload. This module writes and parses the header
 * and the records — every field checked that can be checked without a context — and nothing
 * else; what the records mean for a context is snapshot.c's. */
#ifndef TINFER_SNAPSHOT_SNAPSHOT_FORMAT_H
#define TINFER_SNAPSHOT_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinfer/tinfer.h"

#define TF_SNAP_MAGIC "TFKVSNAP"
enum {
    TF_SNAP_VERSION = 1,
    TF_SNAP_HEADER_BYTES = 96,
    TF_SNAP_RECORD_BYTES = 24,
    TF_SNAP_MAX_RECORDS = 4096,    /* tinfer_context_params.n_seq_max's limit */
    TF_SNAP_MAX_TOKENS = 1u << 24, /* n_ctx's limit */
    TF_SNAP_WHOLE_CONTEXT = 1u,    /* header flag: every slot of a context */
    TF_SNAP_HAS_LOGITS = 1u        /* record flag: the payload starts with the logits row */
};

/* What the model and the cache look like: a snapshot loads only where all of it agrees. */
typedef struct tf_snap_model {
    uint64_t fingerprint; /* tf_snapshot_fingerprint */
    uint32_t arch;        /* tf_arch: 1 llama, 2 qwen2, 3 qwen3, 4 gemma3 */
    uint32_t n_layer, n_embd, n_head_kv, head_dim, head_dim_v, n_vocab, sliding_window;
    uint32_t kv_dtype; /* tinfer_kv_dtype */
} tf_snap_model;

typedef struct tf_snap_record {
    uint32_t seq;              /* the slot it was saved from */
    uint32_t n_tokens;         /* positions [0, n_tokens) */
    uint32_t n_tokens_reached; /* the most it held since it was last cleared (≥ n_tokens) */
    uint32_t swa_first;        /* sliding-window layers hold [swa_first, n_tokens) */
    uint32_t flags;            /* TF_SNAP_HAS_LOGITS */
} tf_snap_record;

typedef struct tf_snap_header {
    tf_snap_model model;
    uint32_t flags; /* TF_SNAP_WHOLE_CONTEXT */
    uint32_t n_records;
    uint64_t payload_bytes;    /* decompressed */
    uint64_t compressed_bytes; /* the zstd frame */
} tf_snap_header;

/* Bytes of the header and n records. */
size_t tf_snap_prefix_bytes(uint32_t n_records);

/* Writes the header and the records (with the checksum over both) into out, which holds
 * tf_snap_prefix_bytes(h->n_records) bytes. */
void tf_snap_write_prefix(const tf_snap_header *h, const tf_snap_record *records, uint8_t *out);

/* Reads the header of bytes[0, len): the magic, the version (E_UNSUPPORTED for another), the
 * record count and that the records fit, the checksum, reserved fields zero, and that the
 * snapshot ends where the frame does. Records are then read with tf_snap_read_record (each
 * checked for its own consistency). E_FORMAT otherwise, naming the field. */
tinfer_status tf_snap_read_header(const uint8_t *bytes, size_t len, tf_snap_header *h);
tinfer_status tf_snap_read_record(const uint8_t *bytes, uint32_t i, tf_snap_record *r);

/* The 64-bit hash the checksum and the fingerprint use, continued from h (start with
 * TF_SNAP_HASH_SEED): FNV-1a's step, h = (h ^ x) · 0x100000001B3, taken over each whole 8-byte
 * little-endian word of bytes, then over each remaining byte (eight times fewer multiplies than
 * byte-wise FNV-1a: the model's metadata, megabytes of vocabulary, is hashed at every save and
 * load). */
#define TF_SNAP_HASH_SEED 0xCBF29CE484222325ull
uint64_t tf_snap_hash(uint64_t h, const void *bytes, size_t n);

#endif
