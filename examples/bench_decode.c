/* tinfer-bench-decode: the time of one decode step at log2-spaced KV-cache positions.
 *
 *   tinfer-bench-decode [-m MODEL] [--device cpu|cuda] [--threads N] [--max-cache-len L]
 *                       [--prefill-len P] [--repeats R] [--positions 1,8,64] [--batch B]
 *                       [--json FILE]
 *
 * For each position the sequence's cache is filled with random keys and values up to that
 * position (tinfer_kv_seq_fill_random), so no prompt work is timed, then one decode step is run
 * once to warm up and R times to measure, the cache cut back to the position between steps. Also
 * measured: TTFT (prefill of P random tokens + the first decode step), model load time and peak
 * RSS. stdout: the table; stderr: progress; --json FILE: every measurement and the run's context
 * (schema: doc/benchmarks.md, benchmarks/schema/bench_decode.schema.json).
 * --batch B (B > 1) times a step that decodes B sequences at once, each filled to the position,
 * as a server does; TPS is then B tokens per step. Its table only: no --json (the schema has no
 * batch). TTFT stays one sequence's.
 * Exit status: 0 ok, 1 failure, 2 usage error. */
#define TINFER_EXPERIMENTAL /* tinfer_kv_seq_fill_random: tinfer/experimental.h */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "program_util.h"
#include "tinfer/tinfer.h"

#ifndef TINFER_GIT_COMMIT
#define TINFER_GIT_COMMIT "unknown"
#endif

enum {
    MAX_POSITIONS = 64,
    MAX_REPEATS = 1000,
    MAX_BATCH = 256,
    DEFAULT_PREFILL = 128,
    FILL_SEED = 42
};
static const char *const PROGRAM = "tinfer-bench-decode";
static const char *const DEFAULT_MODEL = "models/gemma-3-270m-q4_k_m.gguf";

typedef struct options {
    const char *model_path;
    const char *device;
    const char *json_path;
    const char *positions_text; /* NULL: the log2 scale */
    const char *profile_dir;    /* NULL: no per-op profile */
    const char *head_sum;       /* "exact" or "fast" */
    const char *prompt_sum;     /* "exact" or "fast" */
    const char *kv_dtype;       /* "f16", "f32" or "q8_0" */
    tinfer_kv_dtype kv;         /* kv_dtype, parsed */
    long n_threads;
    long max_cache_len; /* 0: min(n_ctx_train, 32768) */
    long prefill_len;
    long repeats;
    long batch; /* sequences decoded per timed step */
} options;

typedef struct stats {
    double median_ms, sd_ms;
} stats;

typedef struct measurement {
    uint32_t position;
    double samples_ms[MAX_REPEATS];
    stats step;
} measurement;

typedef struct bench {
    options opt;
    tinfer_model *model;
    tinfer_context *ctx;
    tinfer_model_info info;
    uint32_t max_cache_len;
    uint32_t positions[MAX_POSITIONS];
    size_t n_positions;
    double load_ms;
    double ttft_samples_ms[MAX_REPEATS];
    stats ttft;
    measurement *results; /* [n_positions] */
} bench;

static int usage(const char *message) {
    if (message) fprintf(stderr, "%s: %s\n", PROGRAM, message);
    fprintf(message ? stderr : stdout,
            "usage: %s [options]\n"
            "  -m MODEL             model file (default $TINFER_DEFAULT_MODEL, else %s)\n"
            "  --device cpu|cuda    backend (default cpu)\n"
            "  --threads N          worker threads, 0 = one per core (default 0)\n"
            "  --max-cache-len L    KV cache length (default min(training context, 32768))\n"
            "  --prefill-len P      prompt length of the TTFT measurement (default 128)\n"
            "  --repeats R          timed steps per position, after one warm-up (default 3)\n"
            "  --positions LIST     comma-separated positions (default 1, 2, 4, ... up to L - P,\n"
            "                       the last point exactly L - P)\n"
            "  --batch B            sequences decoded together per timed step, each at the\n"
            "                       position (default 1; TPS counts all B; not with --json)\n"
            "  --json FILE          write every measurement and the run's context as JSON\n"
            "  --profile DIR        write DIR/profile_pos<P>.txt, the per-op times of the timed\n"
            "                       steps at each position P, and DIR/profile_prefill<N>.txt,\n"
            "                       those of the timed TTFT prompts; every op's event beside\n"
            "                       as DIR/trace_<...>.json (the directory must exist)\n"
            "  --head-sum exact|fast  the output head's float order (default exact; fast:\n"
            "                       TINFER_HEAD_SUM_FAST)\n"
            "  --prompt-sum exact|fast  the TTFT prompts' float order over Q5_0/Q8_0 matrices\n"
            "                       (default exact; fast: TINFER_PROMPT_SUM_FAST)\n"
            "  --kv-dtype f16|f32|q8_0  the KV cache's element type (default f16)\n",
            PROGRAM, DEFAULT_MODEL);
    return message ? 2 : -1;
}

static bool parse_valued(options *opt, const char *name, const char *value) {
    if (!strcmp(name, "-m")) opt->model_path = value;
    else if (!strcmp(name, "--device")) opt->device = value;
    else if (!strcmp(name, "--json")) opt->json_path = value;
    else if (!strcmp(name, "--positions")) opt->positions_text = value;
    else if (!strcmp(name, "--profile")) opt->profile_dir = value;
    else if (!strcmp(name, "--head-sum")) opt->head_sum = value;
    else if (!strcmp(name, "--prompt-sum")) opt->prompt_sum = value;
    else if (!strcmp(name, "--kv-dtype")) opt->kv_dtype = value;
    else if (!strcmp(name, "--threads")) return parse_long(value, &opt->n_threads);
    else if (!strcmp(name, "--max-cache-len")) return parse_long(value, &opt->max_cache_len);
    else if (!strcmp(name, "--prefill-len")) return parse_long(value, &opt->prefill_len);
    else if (!strcmp(name, "--repeats")) return parse_long(value, &opt->repeats);
    else if (!strcmp(name, "--batch")) return parse_long(value, &opt->batch);
    else return false;
    return true;
}

static int parse_args(int argc, char **argv, options *opt) {
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(NULL);
        if (i + 1 >= argc || !parse_valued(opt, argv[i], argv[i + 1]))
            return usage("unknown option, missing value or bad number");
    }
    if (strcmp(opt->device, "cpu") && strcmp(opt->device, "cuda"))
        return usage("--device must be cpu or cuda");
    if (strcmp(opt->head_sum, "exact") && strcmp(opt->head_sum, "fast"))
        return usage("--head-sum must be exact or fast");
    if (strcmp(opt->prompt_sum, "exact") && strcmp(opt->prompt_sum, "fast"))
        return usage("--prompt-sum must be exact or fast");
    if (!parse_kv_dtype(opt->kv_dtype, &opt->kv))
        return usage("--kv-dtype must be f16, f32 or q8_0");
    if (opt->n_threads < 0 || opt->n_threads > 4096) return usage("--threads is out of range");
    if (opt->max_cache_len < 0 || opt->max_cache_len > (1L << 24))
        return usage("--max-cache-len is outside [1, 2^24]");
    if (opt->prefill_len < 1 || opt->prefill_len > (1L << 24))
        return usage("--prefill-len must be at least 1");
    if (opt->repeats < 1 || opt->repeats > MAX_REPEATS)
        return usage("--repeats is outside [1, 1000]");
    if (opt->batch < 1 || opt->batch > MAX_BATCH) return usage("--batch is outside [1, 256]");
    if (opt->batch > 1 && opt->json_path) return usage("--json takes no --batch (schema 2)");
    return 0;
}

/* The default scale: 1, 2, 4, ... below last, then last itself. */
static size_t log2_positions(uint32_t last, uint32_t *out) {
    size_t n = 0;
    for (uint64_t p = 1; p < last && n + 1 < MAX_POSITIONS; p *= 2) out[n++] = (uint32_t)p;
    out[n++] = last;
    return n;
}

/* "1,8,64": every entry a whole number in [0, L - 1] (a decode step at position p needs p + 1
 * slots). Returns 0 or a usage error. */
static int parse_positions(const char *text, uint32_t cache_len, uint32_t *out, size_t *n_out) {
    size_t n = 0;
    for (const char *p = text; *p;) {
        char *end;
        errno = 0;
        const long value = strtol(p, &end, 10);
        if (errno || end == p || (*end != ',' && *end != '\0'))
            return usage("--positions must be a comma-separated list of whole numbers");
        if (value < 0 || value >= (long)cache_len)
            return usage("--positions: every position must be in [0, max-cache-len - 1]");
        if (n == MAX_POSITIONS) return usage("--positions: at most 64 positions");
        out[n++] = (uint32_t)value;
        p = *end == ',' ? end + 1 : end;
    }
    if (n == 0) return usage("--positions is empty");
    *n_out = n;
    return 0;
}

static int choose_positions(bench *b) {
    const options *opt = &b->opt;
    if (opt->positions_text)
        return parse_positions(opt->positions_text, b->max_cache_len, b->positions,
                               &b->n_positions);
    if ((long)b->max_cache_len - opt->prefill_len < 1) {
        fprintf(stderr,
                "%s: max-cache-len %u minus prefill-len %ld is %ld: the default positions run "
                "from 1 to L - P, so L - P must be at least 1 (raise --max-cache-len, lower "
                "--prefill-len or give --positions)\n",
                PROGRAM, b->max_cache_len, opt->prefill_len,
                (long)b->max_cache_len - opt->prefill_len);
        return 2;
    }
    b->n_positions = log2_positions(b->max_cache_len - (uint32_t)opt->prefill_len, b->positions);
    return 0;
}

/* Median and sample standard deviation (0 for one sample). */
static stats summarize(const double *samples, size_t n) {
    double sorted[MAX_REPEATS], mean = 0, var = 0;
    memcpy(sorted, samples, n * sizeof *samples);
    qsort(sorted, n, sizeof *sorted, compare_doubles);
    for (size_t i = 0; i < n; i++) mean += samples[i] / (double)n;
    for (size_t i = 0; i < n; i++) var += (samples[i] - mean) * (samples[i] - mean);
    const double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    return (stats){.median_ms = median, .sd_ms = n > 1 ? sqrt(var / (double)(n - 1)) : 0};
}

static int32_t next_token(const bench *b, uint64_t *state) {
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (int32_t)((*state >> 33) % tinfer_context_n_vocab(b->ctx));
}

/* One decode step of sequences 0 .. batch-1 at position pos (each cache already holds pos
 * tokens), then each cut back to pos. */
static tinfer_status timed_step(bench *b, uint32_t pos, uint64_t *rng, double *ms) {
    const size_t n = (size_t)b->opt.batch;
    int32_t seqs[MAX_BATCH], tokens[MAX_BATCH];
    for (size_t s = 0; s < n; s++) {
        seqs[s] = (int32_t)s;
        tokens[s] = next_token(b, rng);
    }
    const double start = now_ms();
    tinfer_status status = tinfer_decode(b->ctx, seqs, tokens, n);
    *ms = now_ms() - start;
    for (size_t s = 0; s < n && status == TINFER_OK; s++)
        status = tinfer_kv_seq_truncate(b->ctx, (int32_t)s, pos);
    return status;
}

/* The per-op summary of the passes timed since tinfer_profile_begin, as DIR/profile_<what><N>.txt,
 * and every op's event as DIR/trace_<what><N>.json (Chrome trace: per layer, e.g. to tell a
 * model's Q4_K layers from its Q6_K ones). what: "pos" for decode steps at position N, "prefill"
 * for N-token prompts and their first step; the profile's own clock calls add a little to the
 * passes it covers. */
static int write_profile(const bench *b, const char *what, uint32_t n) {
    char stats[4096], trace[4096];
    const char *dir = b->opt.profile_dir;
    const int stats_len = snprintf(stats, sizeof stats, "%s/profile_%s%u.txt", dir, what, n);
    const int trace_len = snprintf(trace, sizeof trace, "%s/trace_%s%u.json", dir, what, n);
    if (stats_len < 0 || (size_t)stats_len >= sizeof stats || trace_len < 0 ||
        (size_t)trace_len >= sizeof trace) {
        fprintf(stderr, "%s: --profile directory name is too long\n", PROGRAM);
        return 1;
    }
    tinfer_status status = tinfer_profile_end(b->ctx, trace, stats);
    if (status != TINFER_OK) return report_failure(PROGRAM, "writing the profile", status);
    fprintf(stderr, "%s: wrote %s and %s\n", PROGRAM, stats, trace);
    return 0;
}

static int measure_position(bench *b, measurement *m) {
    uint64_t rng = m->position;
    double ms;
    tinfer_status status = TINFER_OK;
    for (long s = 0; s < b->opt.batch && status == TINFER_OK; s++)
        status = tinfer_kv_seq_fill_random(b->ctx, (int32_t)s, m->position, FILL_SEED + s);
    if (status != TINFER_OK) return report_failure(PROGRAM, "filling the KV cache", status);
    if ((status = timed_step(b, m->position, &rng, &ms)))
        return report_failure(PROGRAM, "warm-up step", status);
    if (b->opt.profile_dir && (status = tinfer_profile_begin(b->ctx)))
        return report_failure(PROGRAM, "starting the profile", status);
    for (long r = 0; r < b->opt.repeats; r++)
        if ((status = timed_step(b, m->position, &rng, &m->samples_ms[r])))
            return report_failure(PROGRAM, "decode step", status);
    if (b->opt.profile_dir && write_profile(b, "pos", m->position)) return 1;
    m->step = summarize(m->samples_ms, (size_t)b->opt.repeats);
    fprintf(stderr, "%s: position %u: %.2f ms (median of %ld)\n", PROGRAM, m->position,
            m->step.median_ms, b->opt.repeats);
    return 0;
}

/* Prefill of P random tokens from an empty cache, then the first decode step. */
static int time_first_token(bench *b, uint64_t *rng, double *ms) {
    const size_t n = (size_t)b->opt.prefill_len;
    int32_t *tokens = malloc(n * sizeof *tokens);
    if (!tokens) return report_failure(PROGRAM, "out of memory", TINFER_E_NOMEM);
    for (size_t i = 0; i < n; i++) tokens[i] = next_token(b, rng);
    const int32_t seq = 0, token = next_token(b, rng);
    tinfer_status status = tinfer_kv_seq_clear(b->ctx, 0);
    const double start = now_ms();
    if (status == TINFER_OK) status = tinfer_prefill(b->ctx, 0, tokens, n);
    if (status == TINFER_OK) status = tinfer_decode(b->ctx, &seq, &token, 1);
    *ms = now_ms() - start;
    free(tokens);
    if (status != TINFER_OK) return report_failure(PROGRAM, "TTFT prefill", status);
    return 0;
}

static int measure_ttft(bench *b) {
    uint64_t rng = 7;
    double ms;
    if ((long)b->max_cache_len < b->opt.prefill_len + 1) {
        fprintf(stderr, "%s: prefill-len %ld + 1 does not fit max-cache-len %u\n", PROGRAM,
                b->opt.prefill_len, b->max_cache_len);
        return 2;
    }
    int rc = time_first_token(b, &rng, &ms);
    tinfer_status status;
    if (rc == 0 && b->opt.profile_dir && (status = tinfer_profile_begin(b->ctx)))
        return report_failure(PROGRAM, "starting the profile", status);
    for (long r = 0; rc == 0 && r < b->opt.repeats; r++)
        rc = time_first_token(b, &rng, &b->ttft_samples_ms[r]);
    if (rc != 0) return rc;
    if (b->opt.profile_dir && write_profile(b, "prefill", (uint32_t)b->opt.prefill_len)) return 1;
    b->ttft = summarize(b->ttft_samples_ms, (size_t)b->opt.repeats);
    fprintf(stderr, "%s: TTFT (prefill %ld + 1 step): %.1f ms\n", PROGRAM, b->opt.prefill_len,
            b->ttft.median_ms);
    return 0;
}

static void print_table(const bench *b) {
    printf("Position |      TPS | Step ms (median ± sd)\n");
    printf("-------: | -------: | :-------------------\n");
    for (size_t i = 0; i < b->n_positions; i++) {
        const measurement *m = &b->results[i];
        printf("%8u | %8.2f | %.3f ± %.3f\n", m->position,
               1000.0 * b->opt.batch / m->step.median_ms, m->step.median_ms, m->step.sd_ms);
    }
    const long requested = threads_requested(b->opt.n_threads);
    printf("\nTTFT (prefill %ld + 1 step): %.2f ± %.2f ms | model load: %.1f ms | peak RSS: %.1f "
           "MiB | threads: %ld used (%ld requested)\n",
           b->opt.prefill_len, b->ttft.median_ms, b->ttft.sd_ms, b->load_ms, peak_rss_mib(),
           threads_used(b->ctx), requested);
    if (b->opt.batch > 1)
        printf("batch: %ld sequences per step (TPS counts all of them)\n", b->opt.batch);
}

/* ---- JSON ---- */

static json_t *weight_dtypes(const tinfer_model *model) {
    json_t *counts = json_object();
    for (size_t i = 0; i < tinfer_model_tensor_count(model); i++) {
        tinfer_tensor_info t;
        if (tinfer_model_tensor(model, i, &t, sizeof t) != TINFER_OK) continue;
        const char *name = tinfer_dtype_name(t.dtype);
        if (!name) name = "unknown";
        const json_t *old = json_object_get(counts, name);
        json_object_set_new(counts, name, json_integer(old ? json_integer_value(old) + 1 : 1));
    }
    return counts;
}

static json_t *run_context(const bench *b) {
    char *cpu = cpu_model();
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const long requested = threads_requested(b->opt.n_threads);
    json_t *context = json_pack(
        "{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:I, s:I, s:o, s:s}", "cpu_model",
        cpu, "cores", (json_int_t)cores, "threads_requested", (json_int_t)requested, "threads_used",
        (json_int_t)threads_used(b->ctx), "simd", tinfer_cpu_kernels(), "backend", b->opt.device,
        "library_version", tinfer_version_string(), "git_commit", TINFER_GIT_COMMIT, "model_file",
        b->opt.model_path, "architecture", b->info.architecture ? b->info.architecture : "",
        "model_name", b->info.name, "n_params", (json_int_t)b->info.n_params, "n_ctx_train",
        (json_int_t)b->info.n_ctx_train, "weight_dtypes", weight_dtypes(b->model), "kv_dtype",
        kv_dtype_label(b->opt.kv));
    free(cpu);
    return context;
}

static json_t *samples_array(const double *samples, long n) {
    json_t *array = json_array();
    for (long i = 0; i < n; i++) json_array_append_new(array, json_real(samples[i]));
    return array;
}

static json_t *decode_results(const bench *b) {
    json_t *rows = json_array();
    for (size_t i = 0; i < b->n_positions; i++) {
        const measurement *m = &b->results[i];
        json_array_append_new(
            rows,
            json_pack("{s:I, s:f, s:f, s:f, s:o}", "position", (json_int_t)m->position, "tps",
                      1000.0 / m->step.median_ms, "median_ms", m->step.median_ms, "sd_ms",
                      m->step.sd_ms, "samples_ms", samples_array(m->samples_ms, b->opt.repeats)));
    }
    return rows;
}

static int write_json(const bench *b) {
    json_t *positions = json_array();
    for (size_t i = 0; i < b->n_positions; i++)
        json_array_append_new(positions, json_integer(b->positions[i]));
    json_t *root = json_pack(
        "{s:s, s:i, s:o, s:{s:I, s:I, s:I, s:i, s:o}, s:f, s:f, s:{s:I, s:f, s:f, s:f, s:o}, "
        "s:o}",
        "program", PROGRAM, "schema_version", 2, "context", run_context(b), "config",
        "max_cache_len", (json_int_t)b->max_cache_len, "prefill_len",
        (json_int_t)b->opt.prefill_len, "repeats", (json_int_t)b->opt.repeats, "warmup", 1,
        "positions", positions, "load_ms", b->load_ms, "peak_rss_mib", peak_rss_mib(), "ttft",
        "prefill_len", (json_int_t)b->opt.prefill_len, "median_ms", b->ttft.median_ms, "sd_ms",
        b->ttft.sd_ms, "tps", 1000.0 / b->ttft.median_ms, "samples_ms",
        samples_array(b->ttft_samples_ms, b->opt.repeats), "decode", decode_results(b));
    const int rc = root && json_dump_file(root, b->opt.json_path, JSON_INDENT(2)) == 0 ? 0 : 1;
    if (rc) fprintf(stderr, "%s: cannot write %s\n", PROGRAM, b->opt.json_path);
    json_decref(root);
    return rc;
}

/* ---- the run ---- */

static int load(bench *b) {
    const double start = now_ms();
    tinfer_status status = tinfer_model_load(b->opt.model_path, NULL, 0, &b->model);
    if (status != TINFER_OK) return report_failure(PROGRAM, "loading the model", status);
    b->load_ms = now_ms() - start;
    if ((status = tinfer_model_get_info(b->model, &b->info, sizeof b->info)) != TINFER_OK)
        return report_failure(PROGRAM, "model info", status);
    const uint32_t train = b->info.n_ctx_train ? b->info.n_ctx_train : 4096;
    b->max_cache_len =
        b->opt.max_cache_len ? (uint32_t)b->opt.max_cache_len : (train < 32768 ? train : 32768);
    return 0;
}

static int create_context(bench *b) {
    tinfer_context_params cp;
    tinfer_context_params_init(&cp, sizeof cp);
    cp.n_ctx = b->max_cache_len;
    cp.n_threads = (uint32_t)b->opt.n_threads;
    cp.head_sum = strcmp(b->opt.head_sum, "fast") ? TINFER_HEAD_SUM_EXACT : TINFER_HEAD_SUM_FAST;
    cp.prompt_sum =
        strcmp(b->opt.prompt_sum, "fast") ? TINFER_PROMPT_SUM_EXACT : TINFER_PROMPT_SUM_FAST;
    cp.kv_dtype = b->opt.kv;
    /* The library says why a device cannot be used (not built, not present, no kernels yet). */
    cp.device = strcmp(b->opt.device, "cuda") ? TINFER_DEVICE_CPU : TINFER_DEVICE_CUDA;
    if (cp.n_batch > (uint32_t)b->opt.prefill_len) cp.n_batch = (uint32_t)b->opt.prefill_len;
    if (b->opt.batch > 1) { /* room for every sequence at the last position, not at L each */
        uint32_t longest = (uint32_t)b->opt.prefill_len + 1;
        for (size_t i = 0; i < b->n_positions; i++)
            if (b->positions[i] + 1 > longest) longest = b->positions[i] + 1;
        cp.n_seq_max = (uint32_t)b->opt.batch;
        if (cp.n_batch < cp.n_seq_max) cp.n_batch = cp.n_seq_max;    /* one step takes them all */
        const uint64_t per_seq = ((uint64_t)longest + 31) / 32 * 32; /* whole cache blocks */
        const uint64_t kv_tokens = per_seq * (uint64_t)b->opt.batch;
        cp.n_kv_tokens = kv_tokens > UINT32_MAX ? 0 : (uint32_t)kv_tokens; /* 0: the default */
    }
    tinfer_status status = tinfer_context_create(b->model, &cp, sizeof cp, &b->ctx);
    if (status != TINFER_OK) return report_failure(PROGRAM, "creating the context", status);
    b->results = calloc(b->n_positions, sizeof *b->results);
    if (!b->results) return report_failure(PROGRAM, "out of memory", TINFER_E_NOMEM);
    return 0;
}

static int run(bench *b) {
    int rc;
    if ((rc = load(b)) || (rc = choose_positions(b)) || (rc = create_context(b)) ||
        (rc = measure_ttft(b)))
        return rc;
    fprintf(stderr, "%s: %s (%s), cache %u, %zu positions, %ld repeats\n", PROGRAM,
            b->opt.model_path, b->info.architecture, b->max_cache_len, b->n_positions,
            b->opt.repeats);
    for (size_t i = 0; i < b->n_positions; i++) {
        b->results[i].position = b->positions[i];
        if ((rc = measure_position(b, &b->results[i]))) return rc;
    }
    print_table(b);
    return b->opt.json_path ? write_json(b) : 0;
}

int main(int argc, char **argv) {
    const char *env_model = getenv("TINFER_DEFAULT_MODEL");
    bench b = {.opt = {.model_path = env_model && *env_model ? env_model : DEFAULT_MODEL,
                       .device = "cpu",
                       .head_sum = "exact",
                       .prompt_sum = "exact",
                       .kv_dtype = "f16",
                       .prefill_len = DEFAULT_PREFILL,
                       .repeats = 3,
                       .batch = 1}};
    int rc = parse_args(argc, argv, &b.opt);
    if (rc != 0) return rc < 0 ? 0 : rc;
    rc = run(&b);
    free(b.results);
    tinfer_context_free(b.ctx);
    tinfer_model_free(b.model);
    return rc;
}
