/* The op profiler: a preallocated buffer of timed events (op name, layer, shape) and the writers
 * of a Chrome trace and a per-op summary.
 *
 * The forward pass wraps each backend call in TF_BACKEND_OP (backend/backend.h). While the
 * context is not profiling (the backend's trace is NULL, the usual case) that costs one
 * well-predicted branch; while it is, the backend times the op with its own clock and appends one
 * event here. */
#ifndef TINFER_CORE_TRACE_H
#define TINFER_CORE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "tinfer/tinfer.h"

typedef struct tf_trace_event {
    const char *name;  /* a string literal */
    uint64_t start_ns; /* since the trace began */
    uint64_t dur_ns;
    int32_t layer;       /* -1 outside the layers (embedding, output head, whole steps) */
    uint32_t rows, cols; /* the op's output shape: tokens × width */
} tf_trace_event;

typedef struct tf_trace {
    tf_trace_event *events;
    size_t n_events, cap;
    size_t n_dropped; /* events that came after the buffer filled */
    uint64_t origin_ns;
} tf_trace;

/* About a million events (40 MB, allocated when profiling starts): ~2,800 decode steps of an
 * 18-layer model. */
enum { TF_TRACE_DEFAULT_CAP = 1 << 20 };

/* Allocates room for cap events (once; later calls only clear) and sets the time origin. */
tinfer_status tf_trace_start(tf_trace *trace, size_t cap);
void tf_trace_free(tf_trace *trace);

uint64_t tf_trace_now_ns(void);
/* Appends an event that began at start_ns (a tf_trace_now_ns reading) and ends now. */
void tf_trace_record(tf_trace *trace, const char *name, int32_t layer, size_t rows, size_t cols,
                     uint64_t start_ns);

/* Chrome trace JSON ("X" complete events, µs); E_IO when the file cannot be written. */
tinfer_status tf_trace_write_chrome(const tf_trace *trace, const char *path);
/* Per-op table: total ms, % of the time of the "prefill"/"decode" step events, calls, mean µs. */
tinfer_status tf_trace_write_stats(const tf_trace *trace, const char *path);

#endif
