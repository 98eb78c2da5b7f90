/* tinfer-run: generate text from a model and a prompt, streaming it as it is produced.
 *
 *   tinfer-run -m MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]
 *              [--seed S] [--chat] [--threads N] [--ctx N] [--head-sum exact|fast]
 *              [--prompt-sum exact|fast]
 *              [--device cpu|cuda] [--json]
 *
 * Without --chat the prompt is tokenized as llama.cpp does by default (BOS added when the model
 * says so, special-token text parsed); --chat wraps it as one user turn in the model's chat
 * template. Timings go to stderr at the end; --json prints one JSON object on stdout instead of
 * the text (prompt ids, generated ids, text, timings) so scripts can compare runs token by token.
 * When the context fills during generation (--ctx N), the run stops there like one that reached
 * -n: the text so far, the summary with "stopped: context full", exit status 0. A prompt that does
 * not fit the context at all is a failure.
 * Uses the public API only. Exit status: 0 ok (also when the context filled), 1 failure (including
 * output that could not be written, e.g. `> /dev/full`), 2 usage error. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "program_util.h"
#include "tinfer/tinfer.h"

static const char *const PROGRAM = "tinfer-run";

typedef struct options {
    const char *model_path;
    const char *prompt;
    long n_predict;
    long n_ctx;
    long n_threads;
    bool chat;
    bool json;
    bool fast_head;   /* --head-sum fast: TINFER_HEAD_SUM_FAST */
    bool fast_prompt; /* --prompt-sum fast: TINFER_PROMPT_SUM_FAST */
    bool cuda;        /* --device cuda: TINFER_DEVICE_CUDA (device 0) */
    tinfer_sampler_params sampling;
} options;

/* Why generation ended; the names are the JSON's stop_reason values. */
typedef enum stop_reason { STOP_N_PREDICT, STOP_EOG, STOP_CONTEXT_FULL, STOP_OUTPUT } stop_reason;
static const char *const STOP_NAMES[] = {"n_predict", "eog", "context_full", "output_error"};

typedef struct timings {
    double load_ms, prompt_ms, generate_ms;
    size_t n_prompt, n_generated, n_ctx;
    stop_reason stop;
} timings;

static int usage(const char *message) {
    if (message) fprintf(stderr, "tinfer-run: %s\n", message);
    fprintf(message ? stderr : stdout,
            "usage: tinfer-run -m MODEL -p PROMPT [options]\n"
            "  -n N          tokens to generate (default 128)\n"
            "  --temp T      temperature, 0 = greedy (default 0.8)\n"
            "  --top-k K     keep the K most likely tokens, 0 = off (default 40)\n"
            "  --top-p P     nucleus sampling threshold (default 0.95)\n"
            "  --min-p P     drop tokens below P times the best one's probability (default 0.05)\n"
            "  --seed S      random seed (default 0)\n"
            "  --chat        apply the model's chat template to the prompt\n"
            "  --threads N   worker threads (default: one per core)\n"
            "  --ctx N       context length (default: prompt + N)\n"
            "  --head-sum S  exact: the output head in llama.cpp's float order, bit for bit;\n"
            "                fast: its integer sum per block, tinfer-server's default\n"
            "                (default exact)\n"
            "  --prompt-sum S  exact: the prompt in llama.cpp's float order, bit for bit;\n"
            "                fast: its Q5_0/Q8_0 products' integer sum per block (default\n"
            "                exact)\n"
            "  --device D    cpu or cuda (device 0; default cpu)\n"
            "  --json        print one JSON object instead of streaming text\n");
    return message ? 2 : -1;
}

/* Options that take a value; returns false for an unknown option or a bad value. */
static bool parse_valued(options *opt, const char *name, const char *value) {
    double number;
    if (!strcmp(name, "-m")) opt->model_path = value;
    else if (!strcmp(name, "-p")) opt->prompt = value;
    else if (!strcmp(name, "--head-sum")) {
        if (strcmp(value, "exact") && strcmp(value, "fast")) return false;
        opt->fast_head = !strcmp(value, "fast");
    } else if (!strcmp(name, "--prompt-sum")) {
        if (strcmp(value, "exact") && strcmp(value, "fast")) return false;
        opt->fast_prompt = !strcmp(value, "fast");
    } else if (!strcmp(name, "--device")) {
        if (strcmp(value, "cpu") && strcmp(value, "cuda")) return false;
        opt->cuda = !strcmp(value, "cuda");
    } else if (!parse_number(value, &number)) return false;
    else if (!strcmp(name, "-n")) opt->n_predict = (long)number;
    else if (!strcmp(name, "--temp")) opt->sampling.temperature = (float)number;
    else if (!strcmp(name, "--top-k")) opt->sampling.top_k = (int32_t)number;
    else if (!strcmp(name, "--top-p")) opt->sampling.top_p = (float)number;
    else if (!strcmp(name, "--min-p")) opt->sampling.min_p = (float)number;
    else if (!strcmp(name, "--seed")) opt->sampling.seed = (uint64_t)number;
    else if (!strcmp(name, "--threads")) opt->n_threads = (long)number;
    else if (!strcmp(name, "--ctx")) opt->n_ctx = (long)number;
    else return false;
    return true;
}

static int parse_args(int argc, char **argv, options *opt) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--chat")) opt->chat = true;
        else if (!strcmp(argv[i], "--json")) opt->json = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(NULL);
        else if (i + 1 >= argc || !parse_valued(opt, argv[i], argv[i + 1]))
            return usage("unknown option, missing value or bad number");
        else i++;
    }
    if (!opt->model_path || !opt->prompt) return usage("-m MODEL and -p PROMPT are required");
    if (opt->n_predict < 0 || opt->n_predict > 1000000) return usage("-n is out of range");
    if (opt->n_ctx < 0 || opt->n_ctx > (1L << 24)) return usage("--ctx is out of range");
    if (opt->n_threads < 0 || opt->n_threads > 4096) return usage("--threads is out of range");
    return 0;
}

/* The prompt as token ids in a malloc'ed array. */
static tinfer_status tokenize_prompt(const tinfer_tokenizer *tok, const options *opt, int32_t **out,
                                     size_t *n_out) {
    char *text = NULL;
    const char *source = opt->prompt;
    uint32_t flags = TINFER_TOKENIZE_DEFAULT;
    if (opt->chat) {
        const tinfer_chat_msg msg = {.role = "user", .content = opt->prompt};
        size_t len = 0;
        tinfer_status status = tinfer_chat_apply(tok, &msg, 1, sizeof msg, true, NULL, 0, &len);
        if (status != TINFER_E_BUFFER_TOO_SMALL && status != TINFER_OK) return status;
        if (!(text = malloc(len + 1))) return TINFER_E_NOMEM;
        if ((status = tinfer_chat_apply(tok, &msg, 1, sizeof msg, true, text, len + 1, &len)) !=
            TINFER_OK) {
            free(text);
            return status;
        }
        source = text;
        flags = TINFER_TOKENIZE_PARSE_SPECIAL; /* the template already holds BOS */
    }
    const size_t len = strlen(source), cap = tinfer_tokenize_bound(tok, len);
    int32_t *ids = malloc((cap ? cap : 1) * sizeof *ids);
    tinfer_status status =
        ids ? tinfer_tokenize(tok, source, len, flags, ids, cap, n_out) : TINFER_E_NOMEM;
    free(text);
    if (status != TINFER_OK) {
        free(ids);
        return status;
    }
    *out = ids;
    return TINFER_OK;
}

/* Appends the text of one token to the output: streamed to stdout, kept for --json. */
static tinfer_status emit(tinfer_detok_stream *stream, int32_t token, bool flush, char **text,
                          size_t *text_len, bool print) {
    char piece[256];
    size_t len = 0;
    tinfer_status status = flush
                               ? tinfer_detok_stream_flush(stream, piece, sizeof piece, &len)
                               : tinfer_detok_stream_push(stream, token, piece, sizeof piece, &len);
    if (status != TINFER_OK) return status;
    char *grown = realloc(*text, *text_len + len + 1);
    if (!grown) return TINFER_E_NOMEM;
    memcpy(grown + *text_len, piece, len + 1);
    *text = grown;
    *text_len += len;
    if (print) {
        fputs(piece, stdout);
        fflush(stdout);
    }
    return TINFER_OK;
}

typedef struct run_state {
    tinfer_model *model;
    tinfer_context *ctx;
    tinfer_sampler *sampler;
    tinfer_detok_stream *stream;
    int32_t *prompt_ids;
    int32_t *generated;
    char *text;
    size_t text_len;
} run_state;

static void free_run(run_state *r) {
    tinfer_detok_stream_free(r->stream);
    tinfer_sampler_free(r->sampler);
    tinfer_context_free(r->ctx);
    tinfer_model_free(r->model);
    free(r->prompt_ids);
    free(r->generated);
    free(r->text);
}

static int generate(const options *opt, run_state *r, const tinfer_tokenizer *tok, timings *t) {
    const size_t n_vocab = tinfer_context_n_vocab(r->ctx);
    tinfer_status status;
    double start = now_ms();
    status = tinfer_prefill(r->ctx, 0, r->prompt_ids, t->n_prompt);
    if (status == TINFER_E_CONTEXT_FULL) {
        fprintf(stderr, "%s: the prompt's %zu tokens do not fit the context of %zu (--ctx)\n",
                PROGRAM, t->n_prompt, t->n_ctx);
        return 1;
    }
    if (status != TINFER_OK) return report_failure(PROGRAM, "prefill", status);
    t->prompt_ms = now_ms() - start;
    start = now_ms();
    t->stop = STOP_N_PREDICT;
    for (long i = 0; i < opt->n_predict; i++) {
        int32_t token;
        if ((status = tinfer_sampler_sample(r->sampler, tinfer_logits(r->ctx, 0), n_vocab,
                                            &token)) != TINFER_OK)
            return report_failure(PROGRAM, "sampling", status);
        if (tinfer_tokenizer_is_eog(tok, token)) {
            t->stop = STOP_EOG;
            break;
        }
        r->generated[t->n_generated++] = token;
        tinfer_sampler_accept(r->sampler, token);
        if ((status = emit(r->stream, token, false, &r->text, &r->text_len, !opt->json)))
            return report_failure(PROGRAM, "detokenize", status);
        if (ferror(stdout)) { /* nobody reads the rest; close_stdout reports it */
            t->stop = STOP_OUTPUT;
            break;
        }
        const int32_t seq = 0;
        if (i + 1 < opt->n_predict) status = tinfer_decode(r->ctx, &seq, &token, 1);
        if (status == TINFER_E_CONTEXT_FULL) { /* the last token is kept: it was sampled */
            t->stop = STOP_CONTEXT_FULL;
            break;
        }
        if (status != TINFER_OK) return report_failure(PROGRAM, "decode", status);
    }
    t->generate_ms = now_ms() - start;
    if ((status = emit(r->stream, 0, true, &r->text, &r->text_len, !opt->json)))
        return report_failure(PROGRAM, "detokenize", status);
    return 0;
}

static json_t *id_array(const int32_t *ids, size_t n) {
    json_t *array = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(array, json_integer(ids[i]));
    return array;
}

static void report(const options *opt, const run_state *r, const timings *t) {
    const double prompt_tps = t->prompt_ms > 0 ? t->n_prompt * 1e3 / t->prompt_ms : 0;
    const double gen_tps = t->generate_ms > 0 ? t->n_generated * 1e3 / t->generate_ms : 0;
    if (opt->json) {
        json_t *out = json_pack(
            "{s:o, s:o, s:s, s:s, s:s, s:I, s:{s:f, s:f, s:f, s:f, s:f}}", "prompt_ids",
            id_array(r->prompt_ids, t->n_prompt), "generated_ids",
            id_array(r->generated, t->n_generated), "text", r->text ? r->text : "", "cpu_kernels",
            tinfer_cpu_kernels(), "stop_reason", STOP_NAMES[t->stop], "n_ctx", (json_int_t)t->n_ctx,
            "timings", "load_ms", t->load_ms, "prompt_ms", t->prompt_ms, "generate_ms",
            t->generate_ms, "prompt_tokens_per_s", prompt_tps, "generate_tokens_per_s", gen_tps);
        char *dump = out ? json_dumps(out, JSON_ENSURE_ASCII) : NULL;
        if (dump) puts(dump);
        free(dump);
        json_decref(out);
    } else {
        putchar('\n');
    }
    fprintf(stderr,
            "\nload: %.0f ms | prompt: %zu tokens, %.1f ms, %.2f tokens/s | generation: %zu "
            "tokens, %.1f ms, %.2f tokens/s | %s CPU kernels\n",
            t->load_ms, t->n_prompt, t->prompt_ms, prompt_tps, t->n_generated, t->generate_ms,
            gen_tps, tinfer_cpu_kernels());
    if (t->stop == STOP_CONTEXT_FULL)
        fprintf(stderr, "stopped: context full (%zu positions, --ctx)\n", t->n_ctx);
}

static int run(const options *opt, run_state *r) {
    timings t = {0};
    double start = now_ms();
    tinfer_status status = tinfer_model_load(opt->model_path, NULL, 0, &r->model);
    if (status != TINFER_OK) return report_failure(PROGRAM, "loading the model", status);
    t.load_ms = now_ms() - start;
    const tinfer_tokenizer *tok = tinfer_model_tokenizer(r->model);
    if (!tok) return report_failure(PROGRAM, "the model has no tokenizer", TINFER_E_UNSUPPORTED);
    if ((status = tokenize_prompt(tok, opt, &r->prompt_ids, &t.n_prompt)) != TINFER_OK)
        return report_failure(PROGRAM, "tokenizing the prompt", status);
    if (t.n_prompt == 0)
        return report_failure(PROGRAM, "the prompt is empty", TINFER_E_INVALID_ARG);
    tinfer_context_params cp;
    tinfer_context_params_init(&cp, sizeof cp);
    cp.n_ctx =
        (uint32_t)(opt->n_ctx ? (size_t)opt->n_ctx : t.n_prompt + (size_t)opt->n_predict + 1);
    cp.n_threads = (uint32_t)opt->n_threads;
    cp.head_sum = opt->fast_head ? TINFER_HEAD_SUM_FAST : TINFER_HEAD_SUM_EXACT;
    cp.prompt_sum = opt->fast_prompt ? TINFER_PROMPT_SUM_FAST : TINFER_PROMPT_SUM_EXACT;
    cp.device = opt->cuda ? TINFER_DEVICE_CUDA : TINFER_DEVICE_CPU;
    t.n_ctx = cp.n_ctx;
    if ((status = tinfer_context_create(r->model, &cp, sizeof cp, &r->ctx)) != TINFER_OK)
        return report_failure(PROGRAM, "creating the context", status);
    if ((status = tinfer_sampler_create(&opt->sampling, sizeof opt->sampling,
                                        tinfer_context_n_vocab(r->ctx), &r->sampler)) != TINFER_OK)
        return report_failure(PROGRAM, "sampler", status);
    for (size_t i = 0; i < t.n_prompt; i++) tinfer_sampler_accept(r->sampler, r->prompt_ids[i]);
    if ((status = tinfer_detok_stream_create(tok, 0, &r->stream)) != TINFER_OK)
        return report_failure(PROGRAM, "detokenizer", status);
    if (!(r->generated = malloc(((size_t)opt->n_predict + 1) * sizeof *r->generated)))
        return report_failure(PROGRAM, "out of memory", TINFER_E_NOMEM);
    int rc = generate(opt, r, tok, &t);
    if (rc == 0) report(opt, r, &t);
    return rc;
}

int main(int argc, char **argv) {
    options opt = {.n_predict = 128};
    tinfer_sampler_params_init(&opt.sampling, sizeof opt.sampling);
    int rc = parse_args(argc, argv, &opt);
    if (rc < 0) return close_stdout(PROGRAM, 0); /* --help */
    if (rc != 0) return rc;
    run_state r = {0};
    rc = run(&opt, &r);
    free_run(&r);
    return close_stdout(PROGRAM, rc);
}
