/* Small helpers the command-line programs share: clocks, memory, CPU name, strict number parsing,
 * thread counts, the final check of stdout and the one-line failure report. Header-only (static
 * inline), so each program stays one file. */
#ifndef TINFER_EXAMPLES_PROGRAM_UTIL_H
#define TINFER_EXAMPLES_PROGRAM_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tinfer/tinfer.h"

static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB); 0 if unknown. */
static inline double peak_rss_mib(void) {
    struct rusage usage;
    return getrusage(RUSAGE_SELF, &usage) == 0 ? (double)usage.ru_maxrss / 1024.0 : 0;
}

/* The CPU's model name from /proc/cpuinfo ("unknown" if none), in a heap string the caller frees.
 */
static inline char *cpu_model(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    char *model = NULL;
    while (f && !model && fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (colon && (!strncmp(line, "model name", 10) || !strncmp(line, "Model", 5))) {
            model = strdup(colon + 1 + strspn(colon + 1, " \t"));
            if (model) model[strcspn(model, "\n")] = '\0';
        }
    }
    if (f) fclose(f);
    return model ? model : strdup("unknown");
}

/* qsort comparator for doubles, ascending. */
static inline int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The whole of text as a number; false for empty text, trailing characters or overflow. */
static inline bool parse_number(const char *text, double *out) {
    char *end;
    errno = 0;
    *out = strtod(text, &end);
    return errno == 0 && end != text && *end == '\0';
}

static inline bool parse_long(const char *text, long *out) {
    char *end;
    errno = 0;
    *out = strtol(text, &end, 10);
    return errno == 0 && end != text && *end == '\0';
}

/* --kv-dtype's values: f16, f32 or q8_0 as a tinfer_kv_dtype in *out; false for anything else. */
static inline bool parse_kv_dtype(const char *text, tinfer_kv_dtype *out) {
    static const char *const names[] = {
        [TINFER_KV_F16] = "f16", [TINFER_KV_F32] = "f32", [TINFER_KV_Q8_0] = "q8_0"};
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(text, names[i])) {
            *out = (tinfer_kv_dtype)i;
            return true;
        }
    return false;
}

/* The name reports give a cache type: "F16", "F32" or "Q8_0". */
static inline const char *kv_dtype_label(tinfer_kv_dtype dtype) {
    return dtype == TINFER_KV_F32 ? "F32" : dtype == TINFER_KV_Q8_0 ? "Q8_0" : "F16";
}

/* --threads N as the benchmarks record it: N, or the online CPU count for 0 ("one per core"). */
static inline long threads_requested(long n_threads_option) {
    return n_threads_option ? n_threads_option : sysconf(_SC_NPROCESSORS_ONLN);
}

/* Threads the context's forward pass actually runs on (its CPU backend's thread pool, the calling
 * thread included), as the library reports it; benchmarks print it beside threads_requested.
 * OpenBLAS, used for float-weight prompts, runs on one thread inside the pool's ranges. */
static inline long threads_used(const tinfer_context *ctx) {
    tinfer_context_info info;
    return tinfer_context_get_info(ctx, &info, sizeof info) == TINFER_OK ? (long)info.n_threads : 0;
}

/* Flushes and closes stdout, and says on stderr when anything written to it was lost (a full
 * disk, `> /dev/full`): stdio keeps write errors in the stream, so without this check such a run
 * would exit 0. Call once, at the end of main; returns status, or 1 when the output failed. */
static inline int close_stdout(const char *program, int status) {
    bool failed = ferror(stdout) != 0;
    errno = 0;
    if (fflush(stdout) != 0) failed = true;
    int flush_errno = errno;
    if (fclose(stdout) != 0 && !failed) {
        failed = true;
        flush_errno = errno;
    }
    if (!failed) return status;
    fprintf(stderr, "%s: writing the output failed: %s\n", program,
            flush_errno ? strerror(flush_errno) : "write error");
    return 1;
}

/* "PROGRAM: what: library message (STATUS)" on stderr; returns exit status 1. */
static inline int report_failure(const char *program, const char *what, tinfer_status status) {
    fprintf(stderr, "%s: %s: %s (%s)\n", program, what, tinfer_last_error(),
            tinfer_status_str(status));
    return 1;
}

#endif
