/* tinfer-roofline: how fast decode could be if it were limited only by memory reads.
 *
 *   tinfer-roofline [-m MODEL] [--threads N] [--positions LIST] [--buffer-mib M]
 *                   [--decode-json FILE]
 *
 * In one run it measures the sustained read bandwidth of this machine with 1..N threads (each
 * thread sums its slice of a buffer larger than the last-level cache as one stream and as four
 * interleaved ones, the best of 5 sweeps of either), asks the
 * library what one decode step reads at each position (tinfer_context_step_bytes: every weight a
 * token touches, the output head, the KV rows its attention reads), and prints the roofline
 * tokens/s = bandwidth / bytes per token. Given tinfer-bench-decode's JSON (--decode-json), it
 * also prints the achieved tokens/s at the same positions and the fraction of the roofline they
 * reach (with the bandwidth of the thread count that run used). */
#define TINFER_EXPERIMENTAL /* tinfer_context_step_bytes: tinfer/experimental.h */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program_util.h"
#include "tinfer/tinfer.h"

#define PROGRAM "tinfer-roofline"
enum { MAX_POSITIONS = 64, MAX_THREADS = 256, SWEEPS = 5 };

typedef struct options {
    const char *model_path, *decode_json;
    long n_threads, buffer_mib;
    size_t positions[MAX_POSITIONS];
    size_t n_positions;
    bool kv_q8_0; /* --kv-dtype q8_0 */
} options;

static int usage(const char *problem) {
    if (problem) fprintf(stderr, "%s: %s\n", PROGRAM, problem);
    fprintf(problem ? stderr : stdout,
            "usage: %s [options]\n"
            "  -m MODEL            model file (default $TINFER_DEFAULT_MODEL, else "
            "models/gemma-3-270m-q4_k_m.gguf)\n"
            "  --threads N         bandwidth measured with 1..N threads (default: cores)\n"
            "  --positions LIST    comma-separated KV positions (default 1,128,4096,32640)\n"
            "  --buffer-mib M      read buffer, larger than the last-level cache (default 512)\n"
            "  --decode-json FILE  tinfer-bench-decode --json output: achieved tokens/s\n"
            "  --kv-dtype f16|q8_0 the KV cache's element type the bytes are counted in\n"
            "                      (default f16)\n",
            PROGRAM);
    return problem ? 2 : 0;
}

static bool parse_positions(const char *text, options *opt) {
    opt->n_positions = 0;
    char *copy = strdup(text), *save = NULL;
    bool ok = copy != NULL;
    for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; ok && item;
         item = strtok_r(NULL, ",", &save)) {
        long value;
        ok = parse_long(item, &value) && value >= 0 && value < (1L << 24) &&
             opt->n_positions < MAX_POSITIONS;
        if (ok) opt->positions[opt->n_positions++] = (size_t)value;
    }
    free(copy);
    return ok && opt->n_positions > 0;
}

static int parse_args(int argc, char **argv, options *opt) {
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(name, "-h") || !strcmp(name, "--help")) return usage(NULL) - 1;
        bool ok = value != NULL;
        if (!ok) break;
        if (!strcmp(name, "-m")) opt->model_path = value;
        else if (!strcmp(name, "--decode-json")) opt->decode_json = value;
        else if (!strcmp(name, "--kv-dtype")) {
            ok = !strcmp(value, "f16") || !strcmp(value, "q8_0");
            opt->kv_q8_0 = !strcmp(value, "q8_0");
        } else if (!strcmp(name, "--threads")) ok = parse_long(value, &opt->n_threads);
        else if (!strcmp(name, "--buffer-mib")) ok = parse_long(value, &opt->buffer_mib);
        else if (!strcmp(name, "--positions")) ok = parse_positions(value, opt);
        else ok = false;
        if (!ok) return usage("unknown option, missing value or bad number");
    }
    if ((argc - 1) % 2 != 0) return usage("every option takes a value");
    if (opt->n_threads < 1 || opt->n_threads > MAX_THREADS)
        return usage("--threads is outside [1, 256]");
    if (opt->buffer_mib < 16 || opt->buffer_mib > (1L << 16))
        return usage("--buffer-mib is outside [16, 65536]");
    return 0;
}

/* ---- read bandwidth ---- */

typedef struct sweep {
    const uint64_t *words;
    size_t n_words;
    size_t n_streams; /* 1, or the slice read as that many interleaved parts */
    uint64_t sum;     /* kept so the loads cannot be dropped */
} sweep;

/* 16-byte vector sums (GCC vector extensions: SSE2 or NEON loads), four a cache line: 64-bit
 * scalar loads, eight a line, had bound one core below its bandwidth (~16 GB/s against ~21 on the
 * Zen 3 here). With n_streams parts, a cache line of each in turn: a core's hardware prefetchers
 * follow several streams further than one (cpu_matmul.c reads a decode token's rows so). */
typedef uint64_t words2 __attribute__((vector_size(16)));

static void *sum_slice(void *arg) {
    sweep *s = arg;
    words2 acc[4] = {{0}, {0}, {0}, {0}};
    const size_t part = s->n_words / s->n_streams / 8 * 8;
    for (size_t i = 0; i < part; i += 8)
        for (size_t p = 0; p < s->n_streams; p++) {
            const uint64_t *line = s->words + p * part + i;
            for (int k = 0; k < 4; k++) {
                words2 v;
                memcpy(&v, line + 2 * k, sizeof v);
                acc[k] += v;
            }
        }
    uint64_t sum = 0;
    for (size_t i = part * s->n_streams; i < s->n_words; i++) sum += s->words[i];
    for (int k = 0; k < 4; k++) sum ^= acc[k][0] ^ acc[k][1];
    s->sum = sum;
    return NULL;
}

/* GB/s of the best of SWEEPS sweeps of the whole buffer, split among n_threads threads, each
 * reading its slice as n_streams streams. */
static double sweep_bandwidth(const uint64_t *words, size_t n_words, long n_threads,
                              size_t n_streams) {
    double best_ms = 1e300;
    sweep slices[MAX_THREADS];
    pthread_t threads[MAX_THREADS];
    volatile uint64_t sink = 0;
    for (int rep = 0; rep < SWEEPS; rep++) {
        const size_t per = n_words / (size_t)n_threads;
        for (long t = 0; t < n_threads; t++)
            slices[t] = (sweep){.words = words + (size_t)t * per,
                                .n_words = t == n_threads - 1 ? n_words - (size_t)t * per : per,
                                .n_streams = n_streams};
        const double start = now_ms();
        for (long t = 1; t < n_threads; t++)
            if (pthread_create(&threads[t], NULL, sum_slice, &slices[t]) != 0) return 0;
        sum_slice(&slices[0]);
        for (long t = 1; t < n_threads; t++) pthread_join(threads[t], NULL);
        const double ms = now_ms() - start;
        for (long t = 0; t < n_threads; t++) sink ^= slices[t].sum;
        if (ms < best_ms) best_ms = ms;
    }
    (void)sink;
    return (double)n_words * sizeof(uint64_t) / (best_ms * 1e6);
}

/* The better of one stream and four per thread. */
static double read_bandwidth(const uint64_t *words, size_t n_words, long n_threads) {
    const double one = sweep_bandwidth(words, n_words, n_threads, 1);
    const double four = sweep_bandwidth(words, n_words, n_threads, 4);
    return one > four ? one : four;
}

/* ---- achieved tokens/s from tinfer-bench-decode's JSON ---- */

typedef struct achieved {
    double tps[MAX_POSITIONS]; /* 0 where the JSON has no such position */
    long threads_used;
} achieved;

static int read_decode_json(const char *path, const options *opt, achieved *out) {
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    if (!root) {
        fprintf(stderr, "%s: %s: %s (line %d)\n", PROGRAM, path, error.text, error.line);
        return 1;
    }
    json_t *used = json_object_get(json_object_get(root, "context"), "threads_used");
    out->threads_used = json_is_integer(used) ? (long)json_integer_value(used) : 1;
    size_t i;
    json_t *step;
    json_array_foreach(json_object_get(root, "decode"), i, step) {
        const json_int_t position = json_integer_value(json_object_get(step, "position"));
        for (size_t p = 0; p < opt->n_positions; p++)
            if ((json_int_t)opt->positions[p] == position)
                out->tps[p] = json_number_value(json_object_get(step, "tps"));
    }
    json_decref(root);
    return 0;
}

/* ---- the table ---- */

static size_t max_position(const options *opt) {
    size_t max = 0;
    for (size_t p = 0; p < opt->n_positions; p++)
        if (opt->positions[p] > max) max = opt->positions[p];
    return max;
}

static int step_bytes(const options *opt, tinfer_step_bytes *bytes) {
    tinfer_model *model = NULL;
    tinfer_status status = tinfer_model_load(opt->model_path, NULL, 0, &model);
    if (status != TINFER_OK) return report_failure(PROGRAM, "loading the model", status);
    tinfer_context_params cp;
    tinfer_context_params_init(&cp, sizeof cp);
    cp.n_ctx = (uint32_t)max_position(opt) + 1;
    cp.kv_dtype = opt->kv_q8_0 ? TINFER_KV_Q8_0 : TINFER_KV_F16;
    tinfer_context *ctx = NULL;
    status = tinfer_context_create(model, &cp, sizeof cp, &ctx);
    for (size_t p = 0; status == TINFER_OK && p < opt->n_positions; p++)
        status = tinfer_context_step_bytes(ctx, opt->positions[p], &bytes[p], sizeof bytes[p]);
    tinfer_context_free(ctx);
    tinfer_model_free(model);
    return status == TINFER_OK ? 0 : report_failure(PROGRAM, "step bytes", status);
}

static void print_table(const options *opt, const double *gbps, const tinfer_step_bytes *bytes,
                        const achieved *done) {
    printf("read bandwidth (%ld MiB buffer, best of %d):", opt->buffer_mib, SWEEPS);
    for (long t = 1; t <= opt->n_threads; t++)
        printf("  %ld thread%s %.1f GB/s", t, t > 1 ? "s" : "", gbps[t - 1]);
    printf("\n\n%10s %10s %10s %10s", "position", "weight_MB", "kv_MB", "total_MB");
    for (long t = 1; t <= opt->n_threads; t++) printf(" %9s%ld", "roof_tps@", t);
    if (opt->decode_json) printf(" %10s %9s", "tps", "fraction");
    printf("\n");
    const long used = done->threads_used < 1                ? 1
                      : done->threads_used > opt->n_threads ? opt->n_threads
                                                            : done->threads_used;
    for (size_t p = 0; p < opt->n_positions; p++) {
        const double total = (double)(bytes[p].weights + bytes[p].kv);
        printf("%10zu %10.3f %10.3f %10.3f", opt->positions[p], (double)bytes[p].weights / 1e6,
               (double)bytes[p].kv / 1e6, total / 1e6);
        for (long t = 1; t <= opt->n_threads; t++) printf(" %10.1f", gbps[t - 1] * 1e9 / total);
        if (opt->decode_json) {
            const double roof = gbps[used - 1] * 1e9 / total;
            if (done->tps[p] > 0)
                printf(" %10.1f %8.0f%%", done->tps[p], 100 * done->tps[p] / roof);
            else printf(" %10s %9s", "-", "-");
        }
        printf("\n");
    }
    if (opt->decode_json)
        printf("\nfraction: achieved tokens/s over the roofline at the %ld thread%s the decode run "
               "used\n",
               used, used > 1 ? "s" : "");
}

int main(int argc, char **argv) {
    const char *default_model = getenv("TINFER_DEFAULT_MODEL");
    options opt = {.model_path = default_model ? default_model : "models/gemma-3-270m-q4_k_m.gguf",
                   .n_threads = sysconf(_SC_NPROCESSORS_ONLN),
                   .buffer_mib = 512,
                   .positions = {1, 128, 4096, 32640},
                   .n_positions = 4};
    int rc = parse_args(argc, argv, &opt);
    if (rc) return rc < 0 ? close_stdout(PROGRAM, 0) : rc;
    tinfer_step_bytes bytes[MAX_POSITIONS];
    achieved done = {.threads_used = 1};
    if ((rc = step_bytes(&opt, bytes)) ||
        (opt.decode_json && (rc = read_decode_json(opt.decode_json, &opt, &done))))
        return rc;
    const size_t n_words = (size_t)opt.buffer_mib * (1u << 20) / sizeof(uint64_t);
    uint64_t *words = malloc(n_words * sizeof *words);
    if (!words) return report_failure(PROGRAM, "out of memory for the buffer", TINFER_E_NOMEM);
    for (size_t i = 0; i < n_words; i++) words[i] = i; /* touch every page before timing */
    double gbps[MAX_THREADS];
    for (long t = 1; t <= opt.n_threads; t++) gbps[t - 1] = read_bandwidth(words, n_words, t);
    free(words);
    print_table(&opt, gbps, bytes, &done);
    return close_stdout(PROGRAM, 0);
}
