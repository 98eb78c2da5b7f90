/* Event buffer and its two writers (Chrome trace JSON, per-op summary table). */
#include "core/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

uint64_t tf_trace_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

tinfer_status tf_trace_start(tf_trace *trace, size_t cap) {
    if (!trace->events) {
        trace->events = calloc(cap, sizeof *trace->events);
        if (!trace->events)
            return tf_error(TINFER_E_NOMEM, "profiler: out of memory for %zu events", cap);
        trace->cap = cap;
    }
    trace->n_events = 0;
    trace->n_dropped = 0;
    trace->origin_ns = tf_trace_now_ns();
    return TINFER_OK;
}

void tf_trace_free(tf_trace *trace) {
    free(trace->events);
    *trace = (tf_trace){0};
}

void tf_trace_record(tf_trace *trace, const char *name, int32_t layer, size_t rows, size_t cols,
                     uint64_t start_ns) {
    const uint64_t end_ns = tf_trace_now_ns();
    if (trace->n_events == trace->cap) {
        trace->n_dropped++;
        return;
    }
    trace->events[trace->n_events++] = (tf_trace_event){
        .name = name,
        .start_ns = start_ns - trace->origin_ns,
        .dur_ns = end_ns - start_ns,
        .layer = layer,
        .rows = rows > UINT32_MAX ? UINT32_MAX : (uint32_t)rows,
        .cols = cols > UINT32_MAX ? UINT32_MAX : (uint32_t)cols,
    };
}

/* Names are string literals of letters, digits and '_' (no JSON escaping needed). */
static void write_event(FILE *f, const tf_trace_event *e, bool first) {
    const bool is_step =
        e->layer < 0 && (!strcmp(e->name, "prefill") || !strcmp(e->name, "decode"));
    fprintf(f,
            "%s\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":1,\"tid\":1,"
            "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"layer\":%d,\"shape\":[%u,%u]}}",
            first ? "" : ",", e->name, is_step ? "step" : "op", (double)e->start_ns / 1e3,
            (double)e->dur_ns / 1e3, (int)e->layer, e->rows, e->cols);
}

tinfer_status tf_trace_write_chrome(const tf_trace *trace, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return tf_error(TINFER_E_IO, "profiler: cannot write %s", path);
    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
          "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"libtinfer\"}},\n"
          "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,"
          "\"args\":{\"name\":\"forward (calling thread)\"}}",
          f);
    for (size_t i = 0; i < trace->n_events; i++) write_event(f, &trace->events[i], false);
    fprintf(f, "\n],\"otherData\":{\"dropped_events\":%zu}}\n", trace->n_dropped);
    const bool ok = !ferror(f);
    if (fclose(f) != 0 || !ok) return tf_error(TINFER_E_IO, "profiler: cannot write %s", path);
    return TINFER_OK;
}

typedef struct op_total {
    const char *name;
    uint64_t total_ns;
    size_t calls;
} op_total;

enum { MAX_OP_NAMES = 128 };

static size_t gather(const tf_trace *trace, op_total *ops, uint64_t *step_ns) {
    size_t n_ops = 0;
    *step_ns = 0;
    for (size_t i = 0; i < trace->n_events; i++) {
        const tf_trace_event *e = &trace->events[i];
        if (e->layer < 0 && (!strcmp(e->name, "prefill") || !strcmp(e->name, "decode"))) {
            *step_ns += e->dur_ns;
            continue;
        }
        size_t k = 0;
        while (k < n_ops && strcmp(ops[k].name, e->name)) k++;
        if (k == n_ops) {
            if (n_ops == MAX_OP_NAMES) continue;
            ops[n_ops++] = (op_total){.name = e->name};
        }
        ops[k].total_ns += e->dur_ns;
        ops[k].calls++;
    }
    return n_ops;
}

static int by_total_desc(const void *a, const void *b) {
    const uint64_t x = ((const op_total *)a)->total_ns, y = ((const op_total *)b)->total_ns;
    return (x < y) - (x > y);
}

tinfer_status tf_trace_write_stats(const tf_trace *trace, const char *path) {
    op_total ops[MAX_OP_NAMES];
    uint64_t step_ns;
    const size_t n_ops = gather(trace, ops, &step_ns);
    qsort(ops, n_ops, sizeof *ops, by_total_desc);
    FILE *f = fopen(path, "w");
    if (!f) return tf_error(TINFER_E_IO, "profiler: cannot write %s", path);
    uint64_t ops_ns = 0;
    for (size_t k = 0; k < n_ops; k++) ops_ns += ops[k].total_ns;
    fprintf(f,
            "# step time %.3f ms (prefill + decode passes), ops %.3f ms, %zu events, %zu dropped\n",
            (double)step_ns / 1e6, (double)ops_ns / 1e6, trace->n_events, trace->n_dropped);
    fprintf(f, "%-16s %12s %8s %8s %12s\n", "op", "total_ms", "%step", "calls", "mean_us");
    for (size_t k = 0; k < n_ops; k++)
        fprintf(f, "%-16s %12.3f %8.2f %8zu %12.3f\n", ops[k].name, (double)ops[k].total_ns / 1e6,
                step_ns ? 100.0 * (double)ops[k].total_ns / (double)step_ns : 0.0, ops[k].calls,
                (double)ops[k].total_ns / 1e3 / (double)ops[k].calls);
    const bool ok = !ferror(f);
    if (fclose(f) != 0 || !ok) return tf_error(TINFER_E_IO, "profiler: cannot write %s", path);
    return TINFER_OK;
}
