/* Public profiling entry points (experimental API, tinfer/experimental.h): start a recording in
 * the context's trace, stop it and write the Chrome trace and the per-op summary. */
#include "context/context.h"
#include "core/error.h"

TINFER_API tinfer_status tinfer_profile_begin(tinfer_context *ctx) {
    tf_error_clear();
    TF_CHECK_ARG(ctx, "tinfer_profile_begin: ctx is NULL");
    tinfer_status status = tf_trace_start(&ctx->trace, TF_TRACE_DEFAULT_CAP);
    if (status == TINFER_OK) ctx->profiling = true;
    return status;
}

TINFER_API tinfer_status tinfer_profile_end(tinfer_context *ctx, const char *chrome_trace_path,
                                            const char *stats_path) {
    tf_error_clear();
    TF_CHECK_ARG(ctx, "tinfer_profile_end: ctx is NULL");
    TF_CHECK_ARG(ctx->profiling, "tinfer_profile_end: profiling was not started");
    ctx->profiling = false;
    tinfer_status status = TINFER_OK;
    if (chrome_trace_path) status = tf_trace_write_chrome(&ctx->trace, chrome_trace_path);
    if (status == TINFER_OK && stats_path) status = tf_trace_write_stats(&ctx->trace, stats_path);
    return status;
}
