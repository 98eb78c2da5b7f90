/* tinfer-server: an OpenAI-compatible HTTP server with continuous batching.
 *
 *   tinfer-server -m MODEL [--host 127.0.0.1] [--port 8080] [--parallel N] [--ctx N]
 *                 [--threads N] [--api-key KEY] [--queue N] [--chunk N] [--max-body BYTES]
 *                 [--cache-slots N] [--kv-tokens N] [--cache-reuse exact|blocks]
 *                 [--head-sum exact|fast] [--kv-dtype f16|q8_0] [--prefault on|off]
 *
 * Endpoints: POST /v1/chat/completions, POST /v1/completions (whole or streamed as server-sent
 * events), GET /v1/models, GET /health, GET /metrics (Prometheus). See doc/server.md.
 * Threads: libmicrohttpd's one polling thread (http.c), one scheduler thread that owns the
 * tinfer_context (scheduler.c), and this one, which waits for SIGINT/SIGTERM and then stops the
 * others in order: stop accepting, fail what is in flight (the running step is aborted between
 * layers), let the last bytes go out (bounded), close every connection, free everything, exit 0.
 * Uses the public API only. Exit status: 0 after a signal, 1 failure to start, 2 usage error. */
#include <errno.h>
#ifdef __linux__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../program_util.h"
#include "http.h"
#include "job.h"
#include "scheduler.h"
#include "tinfer/tinfer.h"

static const char *const PROGRAM = "tinfer-server";
/* How long the last responses may take to go out after a signal before connections are cut. */
#define DRAIN_MS 3000

typedef struct options {
    const char *model_path;
    const char *host;
    const char *api_key;
    const char *cache_reuse;
    const char *head_sum;
    const char *prompt_sum;
    const char *kv_dtype;
    const char *prefault;
    long port, parallel, n_ctx, n_threads, queue, chunk, max_body, cache_slots, kv_tokens;
} options;

static int print_usage(const char *message) {
    if (message) fprintf(stderr, "%s: %s\n", PROGRAM, message);
    fprintf(message ? stderr : stdout,
            "usage: tinfer-server -m MODEL [options]\n"
            "  --host H        address to listen on (default 127.0.0.1)\n"
            "  --port P        TCP port, 0 = any free one (default 8080)\n"
            "  --parallel N    requests generated together, one sequence each (default 4)\n"
            "  --ctx N         tokens per sequence, prompt and output (default 4096)\n"
            "  --threads N     compute threads, 0 = one per core (default 0)\n"
            "  --api-key KEY   require 'Authorization: Bearer KEY' (not for /health)\n"
            "  --queue N       requests that may wait for a sequence; more get 429 (default 64)\n"
            "  --chunk N       prompt tokens prefilled per step between decodes (default 256)\n"
            "  --max-body B    largest request body in bytes (default 1048576)\n"
            "  --cache-slots N finished requests kept for prefix caching, 0 = off (default:\n"
            "                  --parallel)\n"
            "  --kv-tokens N   KV block pool, running and cached sequences together; 0 =\n"
            "                  --parallel x --ctx, cached entries evicted as needed (default 0)\n"
            "  --cache-reuse M exact: reuse only what a fresh prefill computes bit for bit\n"
            "                  (whole --chunk runs of earlier prompts); blocks: every shared\n"
            "                  32-token block, output included (default exact)\n"
            "  --head-sum S    fast: the output head's integer sum per block (logits within\n"
            "                  1e-3 of exact, the same answers alone or batched; a step of\n"
            "                  several sequences a sixth faster); exact: llama.cpp's float\n"
            "                  order, bit for bit (see doc/architecture.md) (default fast)\n"
            "  --prompt-sum S  exact: prompts in llama.cpp's float order, bit for bit; fast:\n"
            "                  their Q5_0/Q8_0 products' integer sum per block, prefill 1.1-1.4x\n"
            "                  faster on x86-64-v3 (see doc/architecture.md) (default exact)\n"
            "  --kv-dtype D    f16, or q8_0: keys and values in 8-bit blocks, half the cache\n"
            "                  memory and faster long contexts, other rounding (default f16)\n"
            "  --prefault M    on: the context's memory (the whole KV cache: --kv-tokens and\n"
            "                  every sequence's window; scratch; logits) resident from the\n"
            "                  start, so it does not grow under load and no request waits on\n"
            "                  first-touch page faults; off: pages are taken as requests first\n"
            "                  reach them (default on)\n");
    return message ? 2 : -1;
}

static bool parse_valued(options *opt, const char *name, const char *value) {
    long number;
    if (!strcmp(name, "-m")) opt->model_path = value;
    else if (!strcmp(name, "--host")) opt->host = value;
    else if (!strcmp(name, "--api-key")) opt->api_key = value;
    else if (!strcmp(name, "--cache-reuse")) opt->cache_reuse = value;
    else if (!strcmp(name, "--head-sum")) opt->head_sum = value;
    else if (!strcmp(name, "--prompt-sum")) opt->prompt_sum = value;
    else if (!strcmp(name, "--kv-dtype")) opt->kv_dtype = value;
    else if (!strcmp(name, "--prefault")) opt->prefault = value;
    else if (!parse_long(value, &number)) return false;
    else if (!strcmp(name, "--port")) opt->port = number;
    else if (!strcmp(name, "--parallel")) opt->parallel = number;
    else if (!strcmp(name, "--ctx")) opt->n_ctx = number;
    else if (!strcmp(name, "--threads")) opt->n_threads = number;
    else if (!strcmp(name, "--queue")) opt->queue = number;
    else if (!strcmp(name, "--chunk")) opt->chunk = number;
    else if (!strcmp(name, "--max-body")) opt->max_body = number;
    else if (!strcmp(name, "--cache-slots")) opt->cache_slots = number;
    else if (!strcmp(name, "--kv-tokens")) opt->kv_tokens = number;
    else return false;
    return true;
}

static int parse_args(int argc, char **argv, options *opt) {
    for (int i = 1; i < argc; i += 2) { /* every option but --help takes a value */
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return print_usage(NULL);
        if (i + 1 >= argc || !parse_valued(opt, argv[i], argv[i + 1]))
            return print_usage("unknown option, missing value or bad number");
    }
    if (!opt->model_path) return print_usage("-m MODEL is required");
    if (opt->port < 0 || opt->port > 65535) return print_usage("--port is out of range");
    if (opt->parallel < 1 || opt->parallel > 256) return print_usage("--parallel must be 1..256");
    if (opt->n_ctx < 1 || opt->n_ctx > (1L << 24)) return print_usage("--ctx is out of range");
    if (opt->n_threads < 0 || opt->n_threads > 256) return print_usage("--threads must be 0..256");
    if (opt->queue < 1 || opt->queue > 100000) return print_usage("--queue must be 1..100000");
    if (opt->chunk < 1 || opt->chunk > 65536) return print_usage("--chunk must be 1..65536");
    if (opt->max_body < 1024 || opt->max_body > (1L << 30))
        return print_usage("--max-body must be 1024..1073741824");
    if (opt->api_key && !*opt->api_key) return print_usage("--api-key is empty");
    if (opt->cache_slots < 0) opt->cache_slots = opt->parallel;
    if (opt->cache_slots > 256) return print_usage("--cache-slots must be 0..256");
    /* by default the cached entries get no memory of their own: they live in what the running
     * sequences leave free, and are evicted when those need it (each can still reach --ctx) */
    if (opt->kv_tokens == 0) opt->kv_tokens = opt->parallel * ((opt->n_ctx + 31) / 32 * 32);
    if (opt->kv_tokens < 0 || opt->kv_tokens > (long)UINT32_MAX)
        return print_usage("--kv-tokens is out of range");
    if (strcmp(opt->cache_reuse, "exact") && strcmp(opt->cache_reuse, "blocks"))
        return print_usage("--cache-reuse must be exact or blocks");
    if (strcmp(opt->head_sum, "exact") && strcmp(opt->head_sum, "fast"))
        return print_usage("--head-sum must be exact or fast");
    if (strcmp(opt->prompt_sum, "exact") && strcmp(opt->prompt_sum, "fast"))
        return print_usage("--prompt-sum must be exact or fast");
    if (strcmp(opt->kv_dtype, "f16") && strcmp(opt->kv_dtype, "q8_0"))
        return print_usage("--kv-dtype must be f16 or q8_0");
    if (strcmp(opt->prefault, "on") && strcmp(opt->prefault, "off"))
        return print_usage("--prefault must be on or off");
    return 0;
}

/* The name clients see: the file name without directories and without ".gguf". */
static void model_name(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    const char *base = slash && slash[1] ? slash + 1 : path;
    snprintf(out, cap, "%s", base);
    const size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".gguf")) out[n - 5] = '\0';
}

/* Blocks SIGINT and SIGTERM in every thread (set before any is created) so that only sigwait
 * here sees them; SIGPIPE is ignored (a client that hangs up is an error value, not a signal). */
static void block_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void wait_for_jobs(void) {
    const double until = now_ms() + DRAIN_MS;
    while (job_live_count() > 0 && now_ms() < until) {
        struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

static int serve(const options *opt, tinfer_model *model, const sigset_t *signals) {
    const tinfer_tokenizer *tok = tinfer_model_tokenizer(model);
    if (!tok) return report_failure(PROGRAM, "the model has no tokenizer", TINFER_E_UNSUPPORTED);
    const scheduler_params sp = {.n_slots = (size_t)opt->parallel,
                                 .n_ctx = (size_t)opt->n_ctx,
                                 .n_threads = (size_t)opt->n_threads,
                                 .queue_cap = (size_t)opt->queue,
                                 .chunk = (size_t)opt->chunk,
                                 .n_cache_slots = (size_t)opt->cache_slots,
                                 .n_kv_tokens = (size_t)opt->kv_tokens,
                                 .cache_exact = !strcmp(opt->cache_reuse, "exact"),
                                 .fast_head = !strcmp(opt->head_sum, "fast"),
                                 .fast_prompt = !strcmp(opt->prompt_sum, "fast"),
                                 .kv_q8_0 = !strcmp(opt->kv_dtype, "q8_0"),
                                 .prefault = !strcmp(opt->prefault, "on")};
    scheduler *sched = NULL;
    tinfer_status status = scheduler_start(model, &sp, &sched);
    if (status != TINFER_OK) return report_failure(PROGRAM, "creating the context", status);
    char name[256], err[512];
    model_name(opt->model_path, name, sizeof name);
    const http_params hp = {.host = opt->host,
                            .port = (uint16_t)opt->port,
                            .api_key = opt->api_key,
                            .model_name = name,
                            .max_body_bytes = (size_t)opt->max_body,
                            .limits = {.tokenizer = tok,
                                       .n_ctx = (size_t)opt->n_ctx,
                                       /* a request without a seed: the library draws one */
                                       .default_seed = TINFER_SEED_RANDOM},
                            .scheduler = sched};
    http_server *http = http_start(&hp, err, sizeof err);
    if (!http) {
        fprintf(stderr, "%s: %s\n", PROGRAM, err);
        scheduler_stop(sched);
        scheduler_free(sched);
        return 1;
    }
    char caching[96] = "prefix caching off";
    if (opt->cache_slots > 0)
        snprintf(caching, sizeof caching, "prefix caching on: %ld entries, %s reuse",
                 opt->cache_slots, opt->cache_reuse);
    printf("%s: listening on http://%s:%u (model %s, %ld sequences of %ld tokens, %s KV cache%s, "
           "%s head sum, %s prompt sum, %s)\n",
           PROGRAM, opt->host, (unsigned)http_port(http), name, opt->parallel, opt->n_ctx,
           !strcmp(opt->kv_dtype, "q8_0") ? "Q8_0" : "F16",
           !strcmp(opt->prefault, "on") ? " (resident)" : "", opt->head_sum, opt->prompt_sum,
           caching);
    fflush(stdout);
    int signal_number = 0;
    while (sigwait(signals, &signal_number) != 0) {
    }
    fprintf(stderr, "%s: %s: stopping\n", PROGRAM, strsignal(signal_number));
    http_quiesce(http);    /* no new connections */
    scheduler_stop(sched); /* every job ends (503 for those in flight), the thread exits */
    wait_for_jobs();       /* their last bytes go out */
    http_stop(http);       /* the rest of the connections close */
    scheduler_free(sched);
    return 0;
}

int main(int argc, char **argv) {
    options opt = {.host = "127.0.0.1",
                   .port = 8080,
                   .parallel = 4,
                   .n_ctx = 4096,
                   .queue = 64,
                   .chunk = 256,
                   .max_body = 1 << 20,
                   .cache_slots = -1,
                   .cache_reuse = "exact",
                   .head_sum = "fast",
                   .prompt_sum = "exact",
                   .kv_dtype = "f16",
                   .prefault = "on"};
    int rc = parse_args(argc, argv, &opt);
    if (rc < 0) return close_stdout(PROGRAM, 0);
    if (rc != 0) return rc;
    sigset_t signals;
    block_signals(&signals);
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
    /* Each request's sampler holds a few n_vocab-sized arrays (about 4 MiB for a 262k vocabulary).
     * glibc raises its mmap threshold past a block's size once such a block is freed, after which
     * they come from the heap, whose freed middle is never returned: 16 concurrent requests then
     * left 76 MiB resident for good. A fixed threshold keeps them mappings, returned at free. */
    (void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    srand((unsigned)time(NULL));
    tinfer_model *model = NULL;
    tinfer_status status = tinfer_model_load(opt.model_path, NULL, 0, &model);
    if (status != TINFER_OK) return report_failure(PROGRAM, "loading the model", status);
    rc = serve(&opt, model, &signals);
    tinfer_model_free(model);
    return close_stdout(PROGRAM, rc);
}
