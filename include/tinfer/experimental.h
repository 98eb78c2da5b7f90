/* libtinfer experimental API: included by tinfer/tinfer.h when the program defines
 * TINFER_EXPERIMENTAL before including it; do not include it alone.
 *
 * These functions serve benchmarks and profiling. Unlike the rest of the API they may change or
 * go away between minor versions (a program using them is tied to the minor version it was
 * built with); the library always exports them, so TINFER_EXPERIMENTAL changes only what a
 * program sees, never what the library is. */
#ifndef TINFER_EXPERIMENTAL_H
#define TINFER_EXPERIMENTAL_H
#ifndef TINFER_TINFER_H
#error "include tinfer/tinfer.h (with TINFER_EXPERIMENTAL defined), not tinfer/experimental.h"
#endif
#ifndef TINFER_EXPERIMENTAL
#error "define TINFER_EXPERIMENTAL before including tinfer/tinfer.h to use the experimental API"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Benchmarking: a context's KV cache without the prefill. ---- */

/* Writes random keys and values (mean 0, standard deviation 1, roughly normal, stored in the
 * cache's dtype) for positions [0, n) of seq in every layer and sets its length to n, so a decode
 * step can be timed at position n without n tokens of prefill. The same seed gives the same
 * contents. The sequence's logits are forgotten. E_INVALID_ARG for a bad seq; E_CONTEXT_FULL,
 * with nothing changed, when n exceeds n_ctx or the cache has no free blocks. Since 0.1
 * (experimental since 0.2). */
TINFER_API tinfer_status tinfer_kv_seq_fill_random(tinfer_context *ctx, int32_t seq, size_t n,
                                                   uint64_t seed);

/* ---- Profiling: per-op timings of the steps. ---- */

/* Starts recording every backend op of every layer of every following prefill/decode pass: op
 * name, layer (-1 outside the layers), token count and duration. Events go into a buffer owned by
 * the context (allocated here, E_NOMEM); when it is full, later ops are counted but not kept.
 * Restarting discards the previous recording. While off, each op costs one predictable branch.
 * Since 0.1 (experimental since 0.2). */
TINFER_API tinfer_status tinfer_profile_begin(tinfer_context *ctx);

/* Stops recording. When chrome_trace_path is not NULL, writes the events as a Chrome trace JSON
 * ("traceEvents", complete events "X" with ts/dur in microseconds, args {layer, n_tokens}) that
 * chrome://tracing and Perfetto load; when stats_path is not NULL, writes a per-op summary table
 * (total ms, % of the recorded time, calls, mean µs). E_INVALID_ARG when profiling was not
 * started; E_IO when a file cannot be written. Since 0.1 (experimental since 0.2). */
TINFER_API tinfer_status tinfer_profile_end(tinfer_context *ctx, const char *chrome_trace_path,
                                            const char *stats_path);

/* ---- Roofline: what one decode step must read from memory. ---- */

/* Bytes one decode step reads for a sequence whose new token sits at position: weights (every
 * matrix row the token touches — the whole of each layer matrix and of the output head, one row
 * of the embedding — plus the float32 norm vectors) and KV (the cached K and V rows its attention
 * reads in every layer: position + 1 of them, or the window in sliding-window layers). Divide a
 * measured read bandwidth by their sum for the step rate memory allows. Since 0.2
 * (experimental). */
typedef struct tinfer_step_bytes {
    uint64_t weights;
    uint64_t kv;
} tinfer_step_bytes;

/* Fills *out with at most out_size bytes (pass sizeof(tinfer_step_bytes)). E_INVALID_ARG for a
 * NULL argument or a position at or past n_ctx. Since 0.2 (experimental). */
TINFER_API tinfer_status tinfer_context_step_bytes(const tinfer_context *ctx, size_t position,
                                                   tinfer_step_bytes *out, size_t out_size);

#ifdef __cplusplus
}
#endif

#endif
