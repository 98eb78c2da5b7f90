/* tinfer-perplexity: the perplexity of a model on a text, computed as llama.cpp's `perplexity`
 * program computes it (examples/perplexity/perplexity.cpp, its default mode):
 *  - the whole text is tokenized with the tokenizer's special tokens (BOS) and without reading
 *    special-token text, then cut into chunks of n_ctx tokens (the rest is left out; at least
 *    two chunks are needed, as there);
 *  - each chunk is evaluated from an empty cache with its first token replaced by BOS (when the
 *    tokenizer adds one), in passes of min(n_ctx, 512) tokens (llama.cpp's n_ubatch), so that
 *    the logits round as llama.cpp's do;
 *  - the second half of each chunk is scored: with first = n_ctx / 2, the logits of tokens
 *    first .. n_ctx - 2 predict tokens first + 1 .. n_ctx - 1, each scored by its negative
 *    log-likelihood -log softmax(logits)[next], with llama.cpp's arithmetic (the maximum in
 *    float, the sum of expf(logit - max) in double, the log in double);
 *  - after each chunk "[i]ppl," goes to stderr (ppl = exp(mean nll so far)); at the end
 *    "Final estimate: PPL = x +/- y" goes to stdout, y = ppl × sqrt((E[nll²] - E[nll]²) / (N - 1))
 *    over the N scored tokens, and --json FILE writes a summary.
 * --stride S (S in [1, n_ctx - 1]) is llama.cpp's --ppl-stride mode: windows of n_ctx tokens
 * starting every S tokens, ((tokens - n_ctx + S - 1) / S of them), each scored on its last S
 * predictions (the logits of window tokens n_ctx - S - 1 .. n_ctx - 2). As in the default mode
 * each window starts with BOS (llama.cpp's strided code writes BOS into the token array only
 * after decoding the window's first batch, so there the window starts with the text's own token),
 * and the nll is the same log-softmax (llama.cpp takes -log of a float softmax there). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program_util.h"
#include "tinfer/tinfer.h"

static const char *PROGRAM = "tinfer-perplexity";

typedef struct options {
    const char *model, *text, *json;
    long n_ctx, stride, n_threads, n_logits_max;
    tinfer_kv_dtype kv_dtype;
    tinfer_prompt_sum prompt_sum;
} options;

static int usage(FILE *out, int status) {
    fprintf(out,
            "usage: %s -m MODEL -f TEXT [--ctx N] [--stride S] [--threads T] [--kv-dtype D]\n"
            "       [--prompt-sum exact|fast] [--json FILE]\n"
            "  --ctx N       tokens per chunk (default 512); the second half of each is scored\n"
            "  --stride S    llama.cpp's strided mode: a window of N tokens every S tokens,\n"
            "                scored on its last S predictions (default: off)\n"
            "  --threads T   threads to compute with (default 0: one per core)\n"
            "  --logits-rows R  logits rows the output head computes at once (default 32)\n"
            "  --kv-dtype f16|f32|q8_0  the KV cache's element type (default f16)\n"
            "  --prompt-sum exact|fast  the chunks' float order over Q5_0/Q8_0 matrices\n"
            "                (default exact: llama.cpp's; fast: TINFER_PROMPT_SUM_FAST)\n"
            "  --json FILE   write a JSON summary there\n",
            PROGRAM);
    return status;
}

static bool parse_args(int argc, char **argv, options *o) {
    *o = (options){.n_ctx = 512, .n_logits_max = 32};
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *number = NULL;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) o->text = v;
        else if (!strcmp(a, "--json")) o->json = v;
        else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) number = &o->n_ctx;
        else if (!strcmp(a, "--stride")) number = &o->stride;
        else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) number = &o->n_threads;
        else if (!strcmp(a, "--logits-rows")) number = &o->n_logits_max;
        else if (!strcmp(a, "--kv-dtype")) {
            if (v && !parse_kv_dtype(v, &o->kv_dtype)) {
                fprintf(stderr, "%s: --kv-dtype must be f16, f32 or q8_0\n", PROGRAM);
                return false;
            }
        } else if (!strcmp(a, "--prompt-sum")) {
            if (v && strcmp(v, "exact") && strcmp(v, "fast")) {
                fprintf(stderr, "%s: --prompt-sum must be exact or fast\n", PROGRAM);
                return false;
            }
            o->prompt_sum =
                v && !strcmp(v, "fast") ? TINFER_PROMPT_SUM_FAST : TINFER_PROMPT_SUM_EXACT;
        } else {
            fprintf(stderr, "%s: unknown option %s\n", PROGRAM, a);
            return false;
        }
        if (!v) {
            fprintf(stderr, "%s: %s needs a value\n", PROGRAM, a);
            return false;
        }
        if (number && !parse_long(v, number)) {
            fprintf(stderr, "%s: %s wants a number, not '%s'\n", PROGRAM, a, v);
            return false;
        }
    }
    if (!o->model || !o->text) {
        fprintf(stderr, "%s: -m MODEL and -f TEXT are required\n", PROGRAM);
        return false;
    }
    if (o->n_ctx < 4 || o->n_ctx > (1L << 20) || o->n_threads < 0 || o->n_threads > 256 ||
        o->n_logits_max < 1 || o->n_logits_max > 65536 || o->stride < 0 || o->stride >= o->n_ctx) {
        fprintf(stderr,
                "%s: --ctx must be in [4, 2^20], --threads in [0, 256], --logits-rows in "
                "[1, 65536], --stride in [1, ctx - 1]\n",
                PROGRAM);
        return false;
    }
    return true;
}

/* The whole file, NUL-terminated; *len its length. */
static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1))) {
        *len = fread(text, 1, (size_t)size, f);
        text[*len] = '\0';
        if (*len != (size_t)size) {
            free(text);
            text = NULL;
        }
    }
    fclose(f);
    return text;
}

/* -log softmax(logits)[next] with llama.cpp's arithmetic (its log_softmax). */
static double nll_of(const float *logits, size_t n_vocab, int32_t next) {
    float max_logit = logits[0];
    for (size_t i = 1; i < n_vocab; i++) max_logit = logits[i] > max_logit ? logits[i] : max_logit;
    double sum_exp = 0.0;
    for (size_t i = 0; i < n_vocab; i++) sum_exp += expf(logits[i] - max_logit);
    return -((double)(logits[next] - max_logit) - log(sum_exp));
}

typedef struct run {
    tinfer_context *ctx;
    size_t n_vocab, n_batch;
    float *rows;   /* n_batch rows of logits */
    uint8_t *want; /* n_batch flags */
    double nll, nll2;
    size_t count;
} run;

/* Evaluates window[0 .. n_ctx) from an empty cache and scores the logits of tokens
 * [score_first, n_ctx - 1) against their successors; adds to r's sums. */
static tinfer_status score_window(run *r, const int32_t *window, size_t n_ctx, size_t score_first,
                                  double *chunk_nll) {
    tinfer_status status = tinfer_kv_seq_clear(r->ctx, 0);
    *chunk_nll = 0;
    for (size_t done = 0; status == TINFER_OK && done < n_ctx; done += r->n_batch) {
        const size_t n = n_ctx - done < r->n_batch ? n_ctx - done : r->n_batch;
        size_t n_rows = 0;
        for (size_t i = 0; i < n; i++) {
            const size_t t = done + i;
            r->want[i] = t >= score_first && t + 1 < n_ctx;
            n_rows += r->want[i];
        }
        status = tinfer_prefill_logits(r->ctx, 0, window + done, n, r->want, r->rows,
                                       n_rows * r->n_vocab);
        for (size_t i = 0, row = 0; status == TINFER_OK && i < n; i++) {
            if (!r->want[i]) continue;
            const double v = nll_of(r->rows + row++ * r->n_vocab, r->n_vocab, window[done + i + 1]);
            r->nll += v;
            r->nll2 += v * v;
            r->count++;
            *chunk_nll += v;
        }
    }
    return status;
}

static int write_json(const options *o, json_t *summary) {
    if (!o->json) return 0;
    if (json_dump_file(summary, o->json, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0) {
        fprintf(stderr, "%s: cannot write %s\n", PROGRAM, o->json);
        return 1;
    }
    return 0;
}

static int evaluate(const options *o, tinfer_context *ctx, int32_t *tokens, size_t n_tokens,
                    bool add_bos, int32_t bos) {
    const size_t n_ctx = (size_t)o->n_ctx, stride = (size_t)o->stride;
    const size_t n_chunk = stride ? (n_tokens - n_ctx + stride - 1) / stride : n_tokens / n_ctx;
    const size_t first = stride ? n_ctx - stride - 1 : n_ctx / 2;
    run r = {.ctx = ctx, .n_vocab = tinfer_context_n_vocab(ctx)};
    tinfer_context_info info;
    tinfer_context_get_info(ctx, &info, sizeof info);
    r.n_batch = info.n_batch;
    r.rows = malloc(r.n_batch * r.n_vocab * sizeof(float));
    r.want = malloc(r.n_batch);
    int32_t *window = malloc(n_ctx * sizeof *window);
    json_t *chunks = json_array();
    if (!r.rows || !r.want || !window || !chunks) {
        fprintf(stderr, "%s: out of memory for %zu rows of logits\n", PROGRAM, r.n_batch);
        return 1;
    }
    fprintf(stderr, "%s: %zu tokens, %zu chunks of %zu, scoring from token %zu, passes of %zu\n",
            PROGRAM, n_tokens, n_chunk, n_ctx, first, r.n_batch);
    const double t0 = now_ms();
    tinfer_status status = TINFER_OK;
    for (size_t c = 0; c < n_chunk && status == TINFER_OK; c++) {
        memcpy(window, tokens + c * (stride ? stride : n_ctx), n_ctx * sizeof *window);
        if (add_bos) window[0] = bos;
        double chunk_nll;
        const size_t before = r.count;
        status = score_window(&r, window, n_ctx, first, &chunk_nll);
        if (status != TINFER_OK) break;
        const double ppl = exp(r.nll / (double)r.count);
        fprintf(stderr, "[%zu]%.4f,", c + 1, ppl);
        json_array_append_new(chunks, json_pack("{s:I, s:f, s:f}", "chunk", (json_int_t)(c + 1),
                                                "ppl_running", ppl, "nll_mean",
                                                chunk_nll / (double)(r.count - before)));
    }
    fprintf(stderr, "\n");
    int exit_status = 0;
    if (status != TINFER_OK) {
        exit_status = report_failure(PROGRAM, "evaluating a chunk", status);
    } else {
        const double mean = r.nll / (double)r.count, ppl = exp(mean);
        double spread = r.nll2 / (double)r.count - mean * mean;
        spread = spread > 0 ? sqrt(spread / (double)(r.count - 1)) * ppl : NAN;
        printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, spread);
        json_t *summary = json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:f, s:f, s:f, s:f, s:I, s:o}", "model",
            o->model, "text", o->text, "n_ctx", (json_int_t)n_ctx, "n_batch", (json_int_t)r.n_batch,
            "stride", (json_int_t)stride, "n_tokens", (json_int_t)n_tokens, "n_chunks",
            (json_int_t)n_chunk, "add_bos", add_bos, "scored_tokens", (json_int_t)r.count, "ppl",
            ppl, "ppl_stderr", spread, "nll_mean", mean, "seconds", (now_ms() - t0) / 1e3,
            "threads_used", (json_int_t)threads_used(ctx), "chunks", chunks);
        chunks = NULL;
        if (!summary || write_json(o, summary)) exit_status = 1;
        json_decref(summary);
    }
    json_decref(chunks);
    free(window);
    free(r.want);
    free(r.rows);
    return exit_status;
}

/* Tokenizes the text; *add_bos says whether the tokenizer put BOS (*bos) in front. */
static tinfer_status tokenize_text(const tinfer_model *model, const char *text, size_t len,
                                   int32_t **out, size_t *n, bool *add_bos, int32_t *bos) {
    const tinfer_tokenizer *tok = tinfer_model_tokenizer(model);
    const size_t cap = tinfer_tokenize_bound(tok, len);
    int32_t *ids = malloc((cap ? cap : 1) * sizeof *ids);
    if (!ids) return TINFER_E_NOMEM;
    tinfer_status status =
        tinfer_tokenize(tok, text, len, TINFER_TOKENIZE_ADD_SPECIAL, ids, cap, n);
    if (status != TINFER_OK) {
        free(ids);
        return status;
    }
    *add_bos = tinfer_tokenizer_special(tok, TINFER_TOKEN_BOS, bos) == TINFER_OK && *n > 0 &&
               ids[0] == *bos;
    *out = ids;
    return TINFER_OK;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return close_stdout(PROGRAM, usage(stdout, 0));
    options o;
    if (!parse_args(argc, argv, &o)) return usage(stderr, 2);
    size_t len = 0;
    char *text = read_text(o.text, &len);
    if (!text) {
        fprintf(stderr, "%s: cannot read %s\n", PROGRAM, o.text);
        return 1;
    }
    tinfer_model *model = NULL;
    tinfer_context *ctx = NULL;
    int32_t *tokens = NULL;
    size_t n_tokens = 0;
    bool add_bos = false;
    int32_t bos = -1;
    int exit_status = 1;
    tinfer_status status = tinfer_model_load(o.model, NULL, 0, &model);
    if (status != TINFER_OK) {
        exit_status = report_failure(PROGRAM, "loading the model", status);
        goto done;
    }
    if ((status = tokenize_text(model, text, len, &tokens, &n_tokens, &add_bos, &bos))) {
        exit_status = report_failure(PROGRAM, "tokenizing the text", status);
        goto done;
    }
    if (n_tokens < 2 * (size_t)o.n_ctx) {
        fprintf(stderr, "%s: the text has %zu tokens; a context of %ld needs at least %ld\n",
                PROGRAM, n_tokens, o.n_ctx, 2 * o.n_ctx);
        goto done;
    }
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = (uint32_t)o.n_ctx;
    p.n_batch = o.n_ctx < 512 ? (uint32_t)o.n_ctx : 512; /* llama.cpp's n_ubatch */
    p.n_threads = (uint32_t)o.n_threads;
    p.n_logits_max = (uint32_t)o.n_logits_max;
    p.kv_dtype = o.kv_dtype;
    p.prompt_sum = o.prompt_sum;
    if ((status = tinfer_context_create(model, &p, sizeof p, &ctx))) {
        exit_status = report_failure(PROGRAM, "creating the context", status);
        goto done;
    }
    exit_status = evaluate(&o, ctx, tokens, n_tokens, add_bos, bos);
done:
    tinfer_context_free(ctx);
    tinfer_model_free(model);
    free(tokens);
    free(text);
    return close_stdout(PROGRAM, exit_status);
}
