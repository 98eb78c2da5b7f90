/* tinfer-bench: whole generation on the built-in prompt sets (examples/bench_prompts.h): short,
 * medium and long, in English and Korean, each wrapped in the model's chat template.
 *
 *   tinfer-bench [-m MODEL] [--max-gen-len N] [--runs R] [--temp T] [--seed S] [--threads N]
 *                [--tests short_en,long_ko] [--json] [--markdown] [--profile] [--output-dir DIR]
 *
 * After one short warm-up pass, every test generates exactly max-gen-len tokens (end-of-generation
 * tokens do not stop it, so runs compare). Per test: prompt tokens, generated tokens, total time,
 * TTFT (prefill + sampling the first token), generation tokens/s (tokens after the first / their
 * time), p50/p95/p99 of the per-token latency (one decode step + sampling) and peak RSS. stdout:
 * the summary table; stderr: progress. --json / --markdown write DIR/bench_generate.json / .md
 * (schema: doc/benchmarks.md, benchmarks/schema/bench_generate.schema.json); --profile records
 * every op of every run (use --runs 1) and writes DIR/trace.json (Chrome trace) and
 * DIR/profile_stats.txt. Exit status: 0 ok, 1 failure, 2 usage error. */
#define TINFER_EXPERIMENTAL /* tinfer_profile_begin/end: tinfer/experimental.h */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_prompts.h"
#include "program_util.h"
#include "tinfer/tinfer.h"

#ifndef TINFER_GIT_COMMIT
#define TINFER_GIT_COMMIT "unknown"
#endif

static const char *const PROGRAM = "tinfer-bench";
static const char *const DEFAULT_MODEL = "models/gemma-3-270m-q4_k_m.gguf";
enum { MAX_RUNS = 100, MAX_GEN = 100000 };

typedef struct options {
    const char *model_path, *output_dir, *tests;
    long max_gen_len, runs, n_threads;
    double temperature;
    long seed;
    bool json, markdown, profile;
} options;

typedef struct test_result {
    const bench_prompt *prompt;
    int32_t *prompt_ids;
    size_t n_prompt;
    bool chat_template; /* false: the model has none, the raw text was used */
    size_t n_generated;
    double total_s[MAX_RUNS], ttft_ms[MAX_RUNS], gen_tps[MAX_RUNS];
    double *latencies_ms; /* runs × (max_gen_len - 1) decode steps */
    size_t n_latencies;
    double p50_ms, p95_ms, p99_ms, peak_rss_mib;
} test_result;

typedef struct bench {
    options opt;
    tinfer_model *model;
    const tinfer_tokenizer *tok;
    tinfer_context *ctx;
    tinfer_sampler *sampler;
    tinfer_model_info info;
    double load_ms;
    test_result tests[BENCH_N_PROMPTS];
    size_t n_tests;
} bench;

static int usage(const char *message) {
    if (message) fprintf(stderr, "%s: %s\n", PROGRAM, message);
    fprintf(message ? stderr : stdout,
            "usage: %s [options]\n"
            "  -m MODEL           model file (default $TINFER_DEFAULT_MODEL, else %s)\n"
            "  --max-gen-len N    tokens generated per test (default 128)\n"
            "  --runs R           runs per test (default 1)\n"
            "  --temp T           temperature, 0 = greedy (default 0)\n"
            "  --seed S           sampling seed (default 0)\n"
            "  --threads N        worker threads, 0 = one per core (default 0)\n"
            "  --tests LIST       comma-separated subset of: short_en medium_en long_en short_ko\n"
            "                     medium_ko long_ko (default all)\n"
            "  --json             write OUTPUT_DIR/bench_generate.json\n"
            "  --markdown         write OUTPUT_DIR/bench_generate.md\n"
            "  --profile          write OUTPUT_DIR/trace.json and OUTPUT_DIR/profile_stats.txt\n"
            "  --output-dir DIR   where files go (default results)\n",
            PROGRAM, DEFAULT_MODEL);
    return message ? 2 : -1;
}

static bool parse_valued(options *opt, const char *name, const char *value) {
    double number;
    if (!strcmp(name, "-m")) opt->model_path = value;
    else if (!strcmp(name, "--output-dir")) opt->output_dir = value;
    else if (!strcmp(name, "--tests")) opt->tests = value;
    else if (!parse_number(value, &number)) return false;
    else if (!strcmp(name, "--max-gen-len")) opt->max_gen_len = (long)number;
    else if (!strcmp(name, "--runs")) opt->runs = (long)number;
    else if (!strcmp(name, "--temp")) opt->temperature = number;
    else if (!strcmp(name, "--seed")) opt->seed = (long)number;
    else if (!strcmp(name, "--threads")) opt->n_threads = (long)number;
    else return false;
    return true;
}

static int parse_args(int argc, char **argv, options *opt) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) opt->json = true;
        else if (!strcmp(argv[i], "--markdown")) opt->markdown = true;
        else if (!strcmp(argv[i], "--profile")) opt->profile = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(NULL);
        else if (i + 1 >= argc || !parse_valued(opt, argv[i], argv[i + 1]))
            return usage("unknown option, missing value or bad number");
        else i++;
    }
    if (opt->max_gen_len < 1 || opt->max_gen_len > MAX_GEN)
        return usage("--max-gen-len is outside [1, 100000]");
    if (opt->runs < 1 || opt->runs > MAX_RUNS) return usage("--runs is outside [1, 100]");
    if (!(opt->temperature >= 0)) return usage("--temp must be 0 or more");
    if (opt->n_threads < 0 || opt->n_threads > 4096) return usage("--threads is out of range");
    if (opt->seed < 0) return usage("--seed must be 0 or more");
    return 0;
}

/* Picks the tests named in opt->tests (all when NULL), in the built-in order. */
static int select_tests(bench *b) {
    const char *list = b->opt.tests;
    for (size_t i = 0; i < BENCH_N_PROMPTS; i++) {
        const char *name = BENCH_PROMPTS[i].name, *hit = list ? strstr(list, name) : NULL;
        const size_t len = strlen(name);
        while (hit && !((hit == list || hit[-1] == ',') && (hit[len] == ',' || !hit[len])))
            hit = strstr(hit + 1, name);
        if (!list || hit) b->tests[b->n_tests++].prompt = &BENCH_PROMPTS[i];
    }
    for (const char *p = list; p && *p;) { /* every listed name must exist */
        const size_t len = strcspn(p, ",");
        bool known = false;
        for (size_t i = 0; i < BENCH_N_PROMPTS; i++)
            known |=
                strlen(BENCH_PROMPTS[i].name) == len && !strncmp(BENCH_PROMPTS[i].name, p, len);
        if (!known) return usage("--tests: unknown test name");
        p += len + (p[len] == ',');
    }
    return b->n_tests ? 0 : usage("--tests selects nothing");
}

/* The prompt in the model's chat template, or as raw text when the model has none. */
static tinfer_status render_prompt(const bench *b, test_result *t, char **text, uint32_t *flags) {
    const tinfer_chat_msg msg = {.role = "user", .content = t->prompt->text};
    size_t len = 0;
    tinfer_status status = tinfer_chat_apply(b->tok, &msg, 1, sizeof msg, true, NULL, 0, &len);
    if (status == TINFER_E_UNSUPPORTED) {
        t->chat_template = false;
        *flags = TINFER_TOKENIZE_DEFAULT;
        *text = strdup(t->prompt->text);
        return *text ? TINFER_OK : TINFER_E_NOMEM;
    }
    if (status != TINFER_E_BUFFER_TOO_SMALL && status != TINFER_OK) return status;
    if (!(*text = malloc(len + 1))) return TINFER_E_NOMEM;
    t->chat_template = true;
    *flags = TINFER_TOKENIZE_PARSE_SPECIAL; /* the template holds BOS */
    return tinfer_chat_apply(b->tok, &msg, 1, sizeof msg, true, *text, len + 1, &len);
}

static tinfer_status tokenize_prompt(const bench *b, test_result *t) {
    char *text = NULL;
    uint32_t flags = 0;
    tinfer_status status = render_prompt(b, t, &text, &flags);
    const size_t len = text ? strlen(text) : 0, cap = tinfer_tokenize_bound(b->tok, len);
    if (status == TINFER_OK && !(t->prompt_ids = malloc((cap ? cap : 1) * sizeof(int32_t))))
        status = TINFER_E_NOMEM;
    if (status == TINFER_OK)
        status = tinfer_tokenize(b->tok, text, len, flags, t->prompt_ids, cap, &t->n_prompt);
    if (status == TINFER_OK && t->n_prompt == 0)
        status = TINFER_E_INVALID_ARG; /* nothing to prefill */
    free(text);
    return status;
}

/* Nearest-rank percentile of sorted values (p in (0, 100]). */
static double percentile(const double *sorted, size_t n, double p) {
    if (n == 0) return 0;
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    return sorted[rank ? rank - 1 : 0];
}

static double median_of(const double *values, size_t n) {
    double sorted[MAX_RUNS];
    memcpy(sorted, values, n * sizeof *values);
    qsort(sorted, n, sizeof *sorted, compare_doubles);
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static tinfer_status sample(bench *b, int32_t *token) {
    tinfer_status status = tinfer_sampler_sample(b->sampler, tinfer_logits(b->ctx, 0),
                                                 tinfer_context_n_vocab(b->ctx), token);
    if (status == TINFER_OK) status = tinfer_sampler_accept(b->sampler, *token);
    return status;
}

/* One generation: prefill, then max_gen_len - 1 decode steps, each timed with its sampling. */
static int generate_once(bench *b, test_result *t, long run) {
    const int32_t seq = 0;
    int32_t token;
    tinfer_sampler_reset(b->sampler);
    tinfer_status status = tinfer_kv_seq_clear(b->ctx, 0);
    const double start = now_ms();
    if (status == TINFER_OK) status = tinfer_prefill(b->ctx, 0, t->prompt_ids, t->n_prompt);
    if (status == TINFER_OK) status = sample(b, &token);
    if (status != TINFER_OK) return report_failure(PROGRAM, "prefill", status);
    const double first = now_ms();
    for (long i = 1; i < b->opt.max_gen_len; i++) {
        const double step_start = now_ms();
        if ((status = tinfer_decode(b->ctx, &seq, &token, 1)) || (status = sample(b, &token)))
            return report_failure(PROGRAM, "decode", status);
        t->latencies_ms[t->n_latencies++] = now_ms() - step_start;
    }
    const double end = now_ms();
    t->n_generated = (size_t)b->opt.max_gen_len;
    t->ttft_ms[run] = first - start;
    t->total_s[run] = (end - start) / 1e3;
    t->gen_tps[run] = end > first ? (double)(t->n_generated - 1) * 1e3 / (end - first) : 0;
    return 0;
}

static int run_test(bench *b, test_result *t) {
    t->latencies_ms = malloc((size_t)(b->opt.runs * b->opt.max_gen_len) * sizeof(double));
    if (!t->latencies_ms) return report_failure(PROGRAM, "out of memory", TINFER_E_NOMEM);
    for (long r = 0; r < b->opt.runs; r++) {
        int rc = generate_once(b, t, r);
        if (rc) return rc;
        fprintf(stderr, "%s: %s run %ld: %zu prompt + %zu generated tokens, %.2f s\n", PROGRAM,
                t->prompt->name, r + 1, t->n_prompt, t->n_generated, t->total_s[r]);
    }
    qsort(t->latencies_ms, t->n_latencies, sizeof(double), compare_doubles);
    t->p50_ms = percentile(t->latencies_ms, t->n_latencies, 50);
    t->p95_ms = percentile(t->latencies_ms, t->n_latencies, 95);
    t->p99_ms = percentile(t->latencies_ms, t->n_latencies, 99);
    t->peak_rss_mib = peak_rss_mib();
    return 0;
}

/* ---- reports ---- */

static void print_table(const bench *b, FILE *f) {
    fprintf(f, "| Test | Prompt len | Gen tokens | Time (s) | Tokens/sec | TTFT (ms) | p50 / p95 / "
               "p99 ms |\n|:--|--:|--:|--:|--:|--:|--:|\n");
    for (size_t i = 0; i < b->n_tests; i++) {
        const test_result *t = &b->tests[i];
        const size_t runs = (size_t)b->opt.runs;
        fprintf(f, "| %s | %zu | %zu | %.2f | %.2f | %.1f | %.1f / %.1f / %.1f |\n",
                t->prompt->name, t->n_prompt, t->n_generated, median_of(t->total_s, runs),
                median_of(t->gen_tps, runs), median_of(t->ttft_ms, runs), t->p50_ms, t->p95_ms,
                t->p99_ms);
    }
}

static json_t *number_array(const double *values, long n) {
    json_t *array = json_array();
    for (long i = 0; i < n; i++) json_array_append_new(array, json_real(values[i]));
    return array;
}

static json_t *test_json(const bench *b, const test_result *t) {
    const long runs = b->opt.runs;
    return json_pack(
        "{s:s, s:s, s:s, s:b, s:I, s:I, s:f, s:f, s:f, s:{s:f, s:f, s:f}, s:f, s:{s:o, s:o, "
        "s:o}}",
        "name", t->prompt->name, "size", t->prompt->size, "lang", t->prompt->lang, "chat_template",
        t->chat_template, "prompt_tokens", (json_int_t)t->n_prompt, "generated_tokens",
        (json_int_t)t->n_generated, "total_s", median_of(t->total_s, (size_t)runs), "ttft_ms",
        median_of(t->ttft_ms, (size_t)runs), "gen_tps", median_of(t->gen_tps, (size_t)runs),
        "token_latency_ms", "p50", t->p50_ms, "p95", t->p95_ms, "p99", t->p99_ms, "peak_rss_mib",
        t->peak_rss_mib, "runs", "total_s", number_array(t->total_s, runs), "ttft_ms",
        number_array(t->ttft_ms, runs), "gen_tps", number_array(t->gen_tps, runs));
}

static json_t *run_context(const bench *b) {
    char *cpu = cpu_model();
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const long requested = threads_requested(b->opt.n_threads);
    json_t *context = json_pack(
        "{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s}", "cpu_model", cpu, "cores",
        (json_int_t)cores, "threads_requested", (json_int_t)requested, "threads_used",
        (json_int_t)threads_used(b->ctx), "simd", tinfer_cpu_kernels(), "backend", "cpu",
        "library_version", tinfer_version_string(), "git_commit", TINFER_GIT_COMMIT, "model_file",
        b->opt.model_path, "architecture", b->info.architecture ? b->info.architecture : "",
        "model_name", b->info.name, "kv_dtype", "F16");
    free(cpu);
    return context;
}

static bool output_path(const bench *b, const char *file, char *buf, size_t cap) {
    if (mkdir(b->opt.output_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create %s: %s\n", PROGRAM, b->opt.output_dir, strerror(errno));
        return false;
    }
    return (size_t)snprintf(buf, cap, "%s/%s", b->opt.output_dir, file) < cap;
}

static int write_json(const bench *b) {
    char path[4096];
    if (!output_path(b, "bench_generate.json", path, sizeof path)) return 1;
    json_t *tests = json_array();
    for (size_t i = 0; i < b->n_tests; i++)
        json_array_append_new(tests, test_json(b, &b->tests[i]));
    json_t *root =
        json_pack("{s:s, s:i, s:o, s:{s:I, s:I, s:f, s:I}, s:f, s:f, s:o}", "program", PROGRAM,
                  "schema_version", 2, "context", run_context(b), "config", "max_gen_len",
                  (json_int_t)b->opt.max_gen_len, "runs", (json_int_t)b->opt.runs, "temperature",
                  b->opt.temperature, "seed", (json_int_t)b->opt.seed, "load_ms", b->load_ms,
                  "peak_rss_mib", peak_rss_mib(), "tests", tests);
    const int rc = root && json_dump_file(root, path, JSON_INDENT(2)) == 0 ? 0 : 1;
    if (rc) fprintf(stderr, "%s: cannot write %s\n", PROGRAM, path);
    else fprintf(stderr, "%s: wrote %s\n", PROGRAM, path);
    json_decref(root);
    return rc;
}

static int write_markdown(const bench *b) {
    char path[4096];
    if (!output_path(b, "bench_generate.md", path, sizeof path)) return 1;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write %s\n", PROGRAM, path);
        return 1;
    }
    fprintf(f,
            "# tinfer-bench: %s (%s)\n\nlibtinfer %s (%s), %s backend, %s kernels, %ld thread(s) "
            "used (%ld requested); max-gen-len %ld, %ld run(s), temperature %g. Medians over runs; "
            "latency percentiles over every decode step.\n\n",
            b->opt.model_path, b->info.architecture, tinfer_version_string(), TINFER_GIT_COMMIT,
            "cpu", tinfer_cpu_kernels(), threads_used(b->ctx), threads_requested(b->opt.n_threads),
            b->opt.max_gen_len, b->opt.runs, b->opt.temperature);
    print_table(b, f);
    fprintf(f, "\nModel load %.1f ms, peak RSS %.1f MiB.\n", b->load_ms, peak_rss_mib());
    const int rc = fclose(f) == 0 ? 0 : 1;
    fprintf(stderr, "%s: wrote %s\n", PROGRAM, path);
    return rc;
}

static int write_profile(bench *b) {
    char trace[4096], stats[4096];
    if (!output_path(b, "trace.json", trace, sizeof trace) ||
        !output_path(b, "profile_stats.txt", stats, sizeof stats))
        return 1;
    tinfer_status status = tinfer_profile_end(b->ctx, trace, stats);
    if (status != TINFER_OK) return report_failure(PROGRAM, "writing the profile", status);
    fprintf(stderr, "%s: wrote %s and %s\n", PROGRAM, trace, stats);
    return 0;
}

/* ---- the run ---- */

static int setup(bench *b) {
    const double start = now_ms();
    tinfer_status status = tinfer_model_load(b->opt.model_path, NULL, 0, &b->model);
    if (status != TINFER_OK) return report_failure(PROGRAM, "loading the model", status);
    b->load_ms = now_ms() - start;
    if ((status = tinfer_model_get_info(b->model, &b->info, sizeof b->info)))
        return report_failure(PROGRAM, "model info", status);
    if (!(b->tok = tinfer_model_tokenizer(b->model)))
        return report_failure(PROGRAM, "the model has no tokenizer", TINFER_E_UNSUPPORTED);
    size_t longest = 0;
    for (size_t i = 0; i < b->n_tests; i++) {
        if ((status = tokenize_prompt(b, &b->tests[i])))
            return report_failure(PROGRAM, "tokenizing a prompt", status);
        if (b->tests[i].n_prompt > longest) longest = b->tests[i].n_prompt;
    }
    tinfer_context_params cp;
    tinfer_context_params_init(&cp, sizeof cp);
    if (longest + (size_t)b->opt.max_gen_len > (1u << 24))
        return report_failure(PROGRAM, "too long", TINFER_E_INVALID_ARG);
    cp.n_ctx = (uint32_t)(longest + (size_t)b->opt.max_gen_len);
    cp.n_threads = (uint32_t)b->opt.n_threads;
    if ((status = tinfer_context_create(b->model, &cp, sizeof cp, &b->ctx)))
        return report_failure(PROGRAM, "creating the context", status);
    tinfer_sampler_params sp;
    tinfer_sampler_params_init(&sp, sizeof sp);
    sp.temperature = (float)b->opt.temperature;
    sp.seed = (uint64_t)b->opt.seed;
    if ((status =
             tinfer_sampler_create(&sp, sizeof sp, tinfer_context_n_vocab(b->ctx), &b->sampler)))
        return report_failure(PROGRAM, "creating the sampler", status);
    return 0;
}

/* One short pass before measuring, so the first test does not pay for faulting in the weights. */
static int warm_up(bench *b) {
    const test_result *t = &b->tests[0];
    const int32_t seq = 0, token = t->prompt_ids[0];
    tinfer_status status =
        tinfer_prefill(b->ctx, 0, t->prompt_ids, t->n_prompt < 8 ? t->n_prompt : 8);
    if (status == TINFER_OK) status = tinfer_decode(b->ctx, &seq, &token, 1);
    if (status != TINFER_OK) return report_failure(PROGRAM, "warm-up", status);
    return 0;
}

static int run(bench *b) {
    int rc;
    if ((rc = select_tests(b)) || (rc = setup(b)) || (rc = warm_up(b))) return rc;
    tinfer_status status = b->opt.profile ? tinfer_profile_begin(b->ctx) : TINFER_OK;
    if (status != TINFER_OK) return report_failure(PROGRAM, "starting the profiler", status);
    for (size_t i = 0; i < b->n_tests; i++)
        if ((rc = run_test(b, &b->tests[i]))) return rc;
    print_table(b, stdout);
    printf("\nModel load %.1f ms, peak RSS %.1f MiB.\n", b->load_ms, peak_rss_mib());
    if (b->opt.profile && (rc = write_profile(b))) return rc;
    if (b->opt.json && (rc = write_json(b))) return rc;
    return b->opt.markdown ? write_markdown(b) : 0;
}

int main(int argc, char **argv) {
    const char *env_model = getenv("TINFER_DEFAULT_MODEL");
    bench b = {.opt = {.model_path = env_model && *env_model ? env_model : DEFAULT_MODEL,
                       .output_dir = "results",
                       .max_gen_len = 128,
                       .runs = 1}};
    int rc = parse_args(argc, argv, &b.opt);
    if (rc != 0) return rc < 0 ? 0 : rc;
    rc = run(&b);
    for (size_t i = 0; i < b.n_tests; i++) {
        free(b.tests[i].prompt_ids);
        free(b.tests[i].latencies_ms);
    }
    tinfer_sampler_free(b.sampler);
    tinfer_context_free(b.ctx);
    tinfer_model_free(b.model);
    return rc;
}
