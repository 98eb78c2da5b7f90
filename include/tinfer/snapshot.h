/* libtinfer KV snapshots: included by tinfer/tinfer.h; do not include it alone. */
#ifndef TINFER_SNAPSHOT_H
#define TINFER_SNAPSHOT_H
#ifndef TINFER_TINFER_H
#error "include tinfer/tinfer.h, not tinfer/snapshot.h"
#endif

/* ---------------------------------------------------------------------------------------------
 * Snapshots: the state of one sequence, or of every sequence of a context — its cached keys and
 * values and the logits of its last token — saved as zstd-compressed bytes (to a caller's buffer
 * or to a file) and loaded back into a context of the same model, so a conversation can continue
 * later, elsewhere or in another process, without running its prompt again. The layout is in
 * doc/formats.md ("KV snapshots"). Since 0.3.
 *
 *  - seq is a sequence slot, 0 .. n_seq_max-1, or -1 for the whole context (every slot).
 *  - A one-sequence snapshot loads into any slot of any context of the same model with the same
 *    KV dtype and n_ctx at least its length; a whole-context snapshot into a context with enough
 *    slots for its non-empty sequences (slots it does not name are cleared).
 *  - After a load, decoding the next token gives bit for bit the logits it would have given in
 *    the context that was saved, and tinfer_logits(ctx, seq) returns the saved logits row when
 *    the snapshot has one.
 *  - Loading treats the bytes as hostile and checks all of them (every size against the target
 *    context, checksums over the header and the payload) before it changes anything: on failure
 *    the context is exactly as it was. The statuses:
 *      E_FORMAT       not a snapshot, truncated, corrupted (a checksum or a size disagrees)
 *      E_UNSUPPORTED  a well-formed snapshot this context cannot take: another format version,
 *                     another model (architecture, widths or fingerprint), another KV dtype,
 *                     a sliding-window state the context's layout cannot hold
 *      E_CONTEXT_FULL a sequence longer than n_ctx, or more sequences than n_seq_max
 *      E_INVALID_ARG  a bad argument, or a whole-context snapshot given a slot (or the reverse)
 *    and tinfer_last_error() says which field and why.
 * ------------------------------------------------------------------------------------------- */

/* Options of the save functions; fill with tinfer_snapshot_params_init. Since 0.3. */
typedef struct tinfer_snapshot_params {
    int32_t zstd_level;  /* compression level, -7 (fastest) .. 19 (smallest); default 3 */
    bool include_logits; /* store each sequence's last logits row, when it has one (default
                            true; without it tinfer_logits gives NULL after a load until the
                            next decode) */
} tinfer_snapshot_params;

/* Writes the defaults into the first size bytes of *params (pass sizeof *params): every field
 * that fits whole, zero elsewhere; nothing past size. NULL is a no-op. Since 0.3. */
TINFER_API void tinfer_snapshot_params_init(tinfer_snapshot_params *params, size_t size);

/* The most bytes tinfer_snapshot_save can write for seq (-1: the whole context) as the context
 * is now, into *bytes. params may be NULL (defaults; params_size is then ignored), else
 * params_size is sizeof *params. Since 0.3. */
TINFER_API tinfer_status tinfer_snapshot_bound(const tinfer_context *ctx, int32_t seq,
                                               const tinfer_snapshot_params *params,
                                               size_t params_size, size_t *bytes);

/* Saves seq (-1: the whole context) into buf, cap bytes; *written receives the bytes used.
 * E_BUFFER_TOO_SMALL when cap is too small (tinfer_snapshot_bound is always enough). The context
 * is not changed. Since 0.3. */
TINFER_API tinfer_status tinfer_snapshot_save(const tinfer_context *ctx, int32_t seq,
                                              const tinfer_snapshot_params *params,
                                              size_t params_size, void *buf, size_t cap,
                                              size_t *written);

/* Loads len bytes of a snapshot into slot seq (a one-sequence snapshot) or, with seq = -1, into
 * the whole context (a whole-context snapshot), replacing what those slots held. Statuses as
 * listed above; the context is unchanged on failure. Since 0.3. */
TINFER_API tinfer_status tinfer_snapshot_load(tinfer_context *ctx, int32_t seq, const void *buf,
                                              size_t len);

/* tinfer_snapshot_save into a new file at path (replaced when it exists; written to a
 * temporary name beside it and renamed, so a failed save leaves no partial file). E_IO when it
 * cannot be written. Since 0.3. */
TINFER_API tinfer_status tinfer_snapshot_save_file(const tinfer_context *ctx, int32_t seq,
                                                   const tinfer_snapshot_params *params,
                                                   size_t params_size, const char *path);

/* tinfer_snapshot_load from the file at path (E_IO when it cannot be read; messages are
 * prefixed with the path). Since 0.3. */
TINFER_API tinfer_status tinfer_snapshot_load_file(tinfer_context *ctx, int32_t seq,
                                                   const char *path);

#endif
