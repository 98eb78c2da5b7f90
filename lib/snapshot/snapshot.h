/* KV snapshots behind the public calls (snapshot_api.c checks the arguments): a context's
 * sequences gathered into the format of snapshot_format.h, and put back. */
#ifndef TINFER_SNAPSHOT_SNAPSHOT_H
#define TINFER_SNAPSHOT_SNAPSHOT_H

#include "snapshot/snapshot_format.h"
#include "tinfer/tinfer.h"

/* The 64-bit fingerprint of a model: its metadata (keys, types, values, in store order) and its
 * tensor table (names, dtypes, shapes), through tf_snap_hash. */
uint64_t tf_snapshot_fingerprint(const tinfer_model *model);
/* The model fields of a snapshot of ctx. */
void tf_snapshot_model_of(const tinfer_context *ctx, tf_snap_model *out);

/* snapshot_rows.c: the rows a record holds in ctx's layout. Layer l holds positions
 * [tf_snapshot_layer_first(ctx, r, l), r->n_tokens): from swa_first in sliding-window layers,
 * from 0 in the others. */
uint32_t tf_snapshot_layer_first(const tinfer_context *ctx, const tf_snap_record *r, uint32_t l);
/* Payload bytes of record r (its logits row, then every layer's K and V rows), added to *total;
 * false when the sum overflows. */
bool tf_snapshot_record_bytes(const tinfer_context *ctx, const tf_snap_record *r, uint64_t *total);

/* A record's K/V rows (after its logits row) are stored as byte planes: of the region's
 * region_elems elements (elem_bytes each: 2 for F16, 4 for F32), byte b of element i sits at
 * region[b · region_elems + i]. These move n elements, the region's from index `at` on, between
 * packed elements and the planes. */
void tf_snapshot_to_planes(const uint8_t *elems, size_t n, size_t elem_bytes, uint8_t *region,
                           size_t region_elems, size_t at);
void tf_snapshot_from_planes(const uint8_t *region, size_t region_elems, size_t at,
                             size_t elem_bytes, uint8_t *elems, size_t n);
/* Bytes of one element of ctx's cache. */
size_t tf_snapshot_elem_bytes(const tinfer_context *ctx);

/* seq: a slot, or -1 for the whole context (checked by the caller); params checked. */
tinfer_status tf_snapshot_bound(const tinfer_context *ctx, int32_t seq,
                                const tinfer_snapshot_params *params, size_t *bytes);
tinfer_status tf_snapshot_save(const tinfer_context *ctx, int32_t seq,
                               const tinfer_snapshot_params *params, void *buf, size_t cap,
                               size_t *written);
tinfer_status tf_snapshot_load(tinfer_context *ctx, int32_t seq, const uint8_t *bytes, size_t len);

#endif
