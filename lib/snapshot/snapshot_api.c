/* Public entry points of the snapshots: argument checks, the params struct's ABI, and the file
 * variants (written to a temporary name and renamed; read through a mapping). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context/context.h"
#include "core/abi_struct.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "snapshot/snapshot.h"

enum { LEVEL_MIN = -7, LEVEL_MAX = 19 };

/* Every field in order; both are 0.3's, the first version. */
static const tf_abi_field snapshot_params_fields[] = {
    TF_ABI_FIELD(tinfer_snapshot_params, zstd_level),
    TF_ABI_FIELD(tinfer_snapshot_params, include_logits),
};
static const tf_abi_layout snapshot_params_layout = {
    "tinfer_snapshot_params", sizeof(tinfer_snapshot_params), snapshot_params_fields,
    sizeof snapshot_params_fields / sizeof snapshot_params_fields[0], 2};

static const tinfer_snapshot_params snapshot_params_defaults = {.zstd_level = 3,
                                                                .include_logits = true};

TINFER_API void tinfer_snapshot_params_init(tinfer_snapshot_params *params, size_t size) {
    tf_abi_params_init(&snapshot_params_layout, &snapshot_params_defaults, params, size,
                       "tinfer_snapshot_params_init");
}

/* The caller's params over the defaults, checked; who names the entry point. */
static tinfer_status read_params(const tinfer_snapshot_params *params, size_t params_size,
                                 tinfer_snapshot_params *p, const char *who) {
    *p = snapshot_params_defaults;
    tinfer_status status = tf_abi_params_read(&snapshot_params_layout, params, params_size, p, who);
    if (status != TINFER_OK) return status;
    TF_CHECK_ARG(p->zstd_level >= LEVEL_MIN && p->zstd_level <= LEVEL_MAX,
                 "%s: zstd_level = %d is outside [%d, %d]", who, (int)p->zstd_level, LEVEL_MIN,
                 LEVEL_MAX);
    return TINFER_OK;
}

static tinfer_status check_seq(const tinfer_context *ctx, int32_t seq, const char *who) {
    TF_CHECK_ARG(ctx, "%s: ctx is NULL", who);
    TF_CHECK_ARG(seq == -1 || (seq >= 0 && (uint32_t)seq < ctx->kv.n_seq_max),
                 "%s: seq %d is neither -1 (the whole context) nor in [0, %u)", who, seq,
                 ctx->kv.n_seq_max);
    return TINFER_OK;
}

TINFER_API tinfer_status tinfer_snapshot_bound(const tinfer_context *ctx, int32_t seq,
                                               const tinfer_snapshot_params *params,
                                               size_t params_size, size_t *bytes) {
    tf_error_clear();
    static const char who[] = "tinfer_snapshot_bound";
    tinfer_snapshot_params p;
    tinfer_status status = check_seq(ctx, seq, who);
    if (status == TINFER_OK) status = read_params(params, params_size, &p, who);
    if (status != TINFER_OK) return status;
    TF_CHECK_ARG(bytes, "%s: bytes is NULL", who);
    return tf_snapshot_bound(ctx, seq, &p, bytes);
}

TINFER_API tinfer_status tinfer_snapshot_save(const tinfer_context *ctx, int32_t seq,
                                              const tinfer_snapshot_params *params,
                                              size_t params_size, void *buf, size_t cap,
                                              size_t *written) {
    tf_error_clear();
    static const char who[] = "tinfer_snapshot_save";
    tinfer_snapshot_params p;
    tinfer_status status = check_seq(ctx, seq, who);
    if (status == TINFER_OK) status = read_params(params, params_size, &p, who);
    if (status != TINFER_OK) return status;
    TF_CHECK_ARG(written && (buf || cap == 0), "%s: written is NULL, or buf is NULL", who);
    return tf_snapshot_save(ctx, seq, &p, buf, cap, written);
}

TINFER_API tinfer_status tinfer_snapshot_load(tinfer_context *ctx, int32_t seq, const void *buf,
                                              size_t len) {
    tf_error_clear();
    tinfer_status status = check_seq(ctx, seq, "tinfer_snapshot_load");
    if (status != TINFER_OK) return status;
    TF_CHECK_ARG(buf || len == 0, "tinfer_snapshot_load: buf is NULL");
    return tf_snapshot_load(ctx, seq, buf, len);
}

/* Writes bytes to path through path.tmp-<pid> and a rename. */
static tinfer_status write_file(const char *path, const void *bytes, size_t n) {
    const size_t tmp_len = strlen(path) + 32;
    char *tmp = malloc(tmp_len);
    if (!tmp) return tf_error(TINFER_E_NOMEM, "out of memory");
    snprintf(tmp, tmp_len, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        tinfer_status status = tf_error(TINFER_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return status;
    }
    bool ok = fwrite(bytes, 1, n, f) == n;
    int err = errno;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    tinfer_status status =
        ok ? TINFER_OK : tf_error(TINFER_E_IO, "%s: cannot write: %s", path, strerror(err));
    if (!ok) remove(tmp);
    free(tmp);
    return status;
}

TINFER_API tinfer_status tinfer_snapshot_save_file(const tinfer_context *ctx, int32_t seq,
                                                   const tinfer_snapshot_params *params,
                                                   size_t params_size, const char *path) {
    tf_error_clear();
    static const char who[] = "tinfer_snapshot_save_file";
    tinfer_snapshot_params p;
    tinfer_status status = check_seq(ctx, seq, who);
    if (status == TINFER_OK) status = read_params(params, params_size, &p, who);
    if (status != TINFER_OK) return status;
    TF_CHECK_ARG(path, "%s: path is NULL", who);
    size_t cap = 0, written = 0;
    if ((status = tf_snapshot_bound(ctx, seq, &p, &cap)) != TINFER_OK) return status;
    void *buf = malloc(cap);
    if (!buf) return tf_error(TINFER_E_NOMEM, "%s: out of memory for %zu bytes", who, cap);
    status = tf_snapshot_save(ctx, seq, &p, buf, cap, &written);
    if (status == TINFER_OK) status = write_file(path, buf, written);
    free(buf);
    return status;
}

TINFER_API tinfer_status tinfer_snapshot_load_file(tinfer_context *ctx, int32_t seq,
                                                   const char *path) {
    tf_error_clear();
    tinfer_status status = check_seq(ctx, seq, "tinfer_snapshot_load_file");
    if (status != TINFER_OK) return status;
    TF_CHECK_ARG(path, "tinfer_snapshot_load_file: path is NULL");
    tf_mapped_file file;
    if ((status = tf_mapped_file_open(path, true, &file)) != TINFER_OK) return status;
    status = tf_snapshot_load(ctx, seq, file.bytes, file.size);
    if (status != TINFER_OK) tf_error_prefix(path);
    tf_mapped_file_close(&file);
    return status;
}
