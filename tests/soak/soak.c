/* Soak: a long decode run with KV churn on a tiny synthetic model, checking that memory stays flat
 * and that results stay what a fresh context computes. Not a ctest test (it runs for a while);
 * scripts/soak.sh builds and runs it, optionally under valgrind.
 *
 *   soak [--steps N] [--seqs S] [--n-ctx C] [--check-every K] [--warmup W] [--seed X]
 *        [--threads T] [--max-drift-kib D] [--churn-permille P] [--matrix-type GGML_TYPE]
 *        [--n-batch B]
 *
 * Each step decodes one token for every sequence in one tinfer_decode call; before it, each
 * sequence may (seeded, random) be truncated to a random shorter length (P*2/3 per mille of
 * steps, default 2%), cleared (the rest of P, 1%), or — when it is full — cut back. Every token the
 * cache holds for sequence s is kept in history[s], so at any point history[s] is exactly what s's
 * cache was computed from.
 *
 * Equality: every K steps one sequence (round robin) is checked against a fresh context that
 * decodes the same history one token at a time, and its logits must be bit-identical (memcmp): the
 * CPU path is deterministic, and with quantized weights (Q8_0 by default, --matrix-type) each row
 * of a batched decode is computed exactly as it is alone (activations quantized per token, integer
 * dots, llama.cpp's float order). A prefill would batch the prompt and round differently, so the
 * reference decodes too. A truncation that left stale rows, a ring slot reused wrongly, a sequence
 * reading another's cache, all show up as a difference. (F32/F16 weights with 8 or more tokens in
 * a pass go through OpenBLAS sgemm, whose rounding depends on the batch: --matrix-type 0 with
 * --seqs 8 fails the check by design.)
 *
 * Memory: the resident set (/proc/self/statm) is sampled every 100 steps; after the warm-up its
 * maximum may exceed the warm-up value by at most D KiB (default 1024). Reference contexts are
 * created and freed at every check, so their allocations churn too.
 *
 * Prints one summary line (steps/s, RSS at warm-up and end, checks, a checksum of every checked
 * logits row) and exits 0 when both hold, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/splitmix64.h"
#include "tinfer/tinfer.h"
#include "unit/synthetic_model.h"

typedef struct soak_options {
    long steps, warmup, check_every, max_drift_kib, churn_permille;
    uint32_t n_seq, n_ctx, n_threads, matrix_type, n_batch;
    uint64_t seed;
} soak_options;

typedef struct soak_state {
    soak_options opt;
    tinfer_model *model;
    tinfer_context *ctx;
    size_t n_vocab;
    int32_t **history; /* history[s][0 .. len[s]) */
    size_t *len;
    uint64_t rng;
    long n_truncate, n_truncate_refused, n_clear, n_full, n_checks;
    double check_seconds; /* spent in the reference contexts */
    uint64_t checksum;    /* FNV-1a over every checked logits row */
} soak_state;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f) return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

static uint32_t below(soak_state *st, uint32_t n) {
    return (uint32_t)(tf_splitmix64(&st->rng) % n);
}

static int fail(const char *what, tinfer_status status) {
    fprintf(stderr, "soak: %s: %s: %s\n", what, tinfer_status_str(status), tinfer_last_error());
    return 1;
}

static tinfer_status make_context(const soak_state *st, uint32_t n_seq, tinfer_context **out) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = st->opt.n_ctx;
    params.n_seq_max = n_seq;
    params.n_threads = st->opt.n_threads;
    params.n_batch = st->opt.n_batch > n_seq ? st->opt.n_batch : n_seq;
    return tinfer_context_create(st->model, &params, sizeof params, out);
}

/* The churn before a step: truncate, clear, or make room in a full sequence. */
static int churn(soak_state *st, uint32_t s) {
    const uint32_t roll = below(st, 1000);
    const bool full = st->len[s] + 1 >= st->opt.n_ctx;
    if (full) st->n_full++;
    const uint32_t truncate_below = (uint32_t)(st->opt.churn_permille * 2 / 3);
    if ((roll < truncate_below || full) && st->len[s] > 0) {
        size_t keep = below(st, (uint32_t)st->len[s]); /* strictly shorter */
        tinfer_status status = tinfer_kv_seq_truncate(st->ctx, (int32_t)s, keep);
        if (status == TINFER_E_UNSUPPORTED) { /* the sliding window no longer holds those rows */
            st->n_truncate_refused++;
            keep = 0;
            status = tinfer_kv_seq_clear(st->ctx, (int32_t)s);
        }
        if (status != TINFER_OK) return fail("truncate", status);
        st->len[s] = keep;
        st->n_truncate++;
    } else if (roll < (uint32_t)st->opt.churn_permille && st->len[s] > 0) {
        tinfer_status status = tinfer_kv_seq_clear(st->ctx, (int32_t)s);
        if (status != TINFER_OK) return fail("clear", status);
        st->len[s] = 0;
        st->n_clear++;
    }
    size_t held = 0;
    tinfer_status status = tinfer_kv_seq_len(st->ctx, (int32_t)s, &held);
    if (status != TINFER_OK) return fail("kv_seq_len", status);
    if (held != st->len[s]) {
        fprintf(stderr, "soak: sequence %u holds %zu tokens, expected %zu\n", s, held, st->len[s]);
        return 1;
    }
    return 0;
}

static int step(soak_state *st, int32_t *seqs, int32_t *tokens) {
    for (uint32_t s = 0; s < st->opt.n_seq; s++) {
        if (churn(st, s)) return 1;
        seqs[s] = (int32_t)s;
        tokens[s] = (int32_t)below(st, (uint32_t)st->n_vocab);
    }
    tinfer_status status = tinfer_decode(st->ctx, seqs, tokens, st->opt.n_seq);
    if (status != TINFER_OK) return fail("decode", status);
    for (uint32_t s = 0; s < st->opt.n_seq; s++) st->history[s][st->len[s]++] = tokens[s];
    return 0;
}

/* Sequence s's logits against a fresh single-sequence context decoding its history. */
static int check(soak_state *st, uint32_t s) {
    if (st->len[s] == 0) return 0;
    tinfer_context *fresh = NULL;
    tinfer_status status = make_context(st, 1, &fresh);
    if (status != TINFER_OK) return fail("reference context", status);
    const int32_t seq = 0;
    for (size_t i = 0; i < st->len[s] && status == TINFER_OK; i++)
        status = tinfer_decode(fresh, &seq, &st->history[s][i], 1);
    int bad = status != TINFER_OK ? fail("reference decode", status) : 0;
    const float *want = bad ? NULL : tinfer_logits(fresh, 0);
    const float *got = bad ? NULL : tinfer_logits(st->ctx, (int32_t)s);
    if (!bad && (!want || !got)) {
        fprintf(stderr, "soak: no logits for sequence %u\n", s);
        bad = 1;
    }
    if (!bad && memcmp(want, got, st->n_vocab * sizeof *want) != 0) {
        size_t j = 0;
        while (memcmp(&want[j], &got[j], sizeof *want) == 0) j++;
        fprintf(stderr,
                "soak: sequence %u (%zu tokens): logit %zu is %.9g, a fresh context gives %.9g\n",
                s, st->len[s], j, (double)got[j], (double)want[j]);
        bad = 1;
    }
    if (!bad) {
        const uint8_t *bytes = (const uint8_t *)got;
        for (size_t i = 0; i < st->n_vocab * sizeof *got; i++)
            st->checksum = (st->checksum ^ bytes[i]) * 1099511628211u;
        st->n_checks++;
    }
    tinfer_context_free(fresh);
    return bad;
}

static int parse_options(int argc, char **argv, soak_options *opt) {
    *opt = (soak_options){.steps = 10000,
                          .warmup = 1000,
                          .check_every = 50,
                          .max_drift_kib = 1024,
                          .churn_permille = 30,
                          .n_seq = 8,
                          .n_ctx = 256,
                          .n_threads = 1,
                          .matrix_type = 8,
                          .n_batch = 8,
                          .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "soak: %s needs a value\n", name);
            return 1;
        }
        const long value = strtol(argv[++i], NULL, 10);
        if (!strcmp(name, "--steps")) opt->steps = value;
        else if (!strcmp(name, "--warmup")) opt->warmup = value;
        else if (!strcmp(name, "--check-every")) opt->check_every = value;
        else if (!strcmp(name, "--max-drift-kib")) opt->max_drift_kib = value;
        else if (!strcmp(name, "--churn-permille")) opt->churn_permille = value;
        else if (!strcmp(name, "--seqs")) opt->n_seq = (uint32_t)value;
        else if (!strcmp(name, "--n-ctx")) opt->n_ctx = (uint32_t)value;
        else if (!strcmp(name, "--threads")) opt->n_threads = (uint32_t)value;
        else if (!strcmp(name, "--matrix-type")) opt->matrix_type = (uint32_t)value;
        else if (!strcmp(name, "--n-batch")) opt->n_batch = (uint32_t)value;
        else if (!strcmp(name, "--seed")) opt->seed = (uint64_t)value;
        else {
            fprintf(stderr, "soak: unknown option %s (see the comment at the top of soak.c)\n",
                    name);
            return 1;
        }
    }
    if (opt->steps < 1 || opt->check_every < 1 || opt->n_seq < 1 || opt->n_ctx < 4 ||
        opt->warmup < 0) {
        fprintf(stderr, "soak: steps, check-every, seqs ≥ 1, n-ctx ≥ 4, warmup ≥ 0\n");
        return 1;
    }
    if (opt->warmup >= opt->steps) opt->warmup = opt->steps / 2;
    return 0;
}

/* Gemma 3 with its sliding window (5 positions) and GQA. Its sliding layers keep a ring of whole
 * 32-token blocks covering window + n_batch (3 blocks with n_batch 8, the default here), so with
 * n_ctx 256 the ring wraps within a sequence and deep truncations meet its limit (refused, then
 * cleared). */
static int load_model(soak_state *st) {
    synth_spec spec = synth_gemma3();
    spec.matrix_type = st->opt.matrix_type;
    char path[512];
    if (!synth_write(&spec, "soak_gemma3.gguf", path, sizeof path)) {
        fprintf(stderr, "soak: cannot write the synthetic model\n");
        return 1;
    }
    tinfer_status status = tinfer_model_load(path, NULL, 0, &st->model);
    if (status != TINFER_OK) return fail("model load", status);
    if ((status = make_context(st, st->opt.n_seq, &st->ctx)) != TINFER_OK)
        return fail("context", status);
    st->n_vocab = tinfer_context_n_vocab(st->ctx);
    st->history = calloc(st->opt.n_seq, sizeof *st->history);
    st->len = calloc(st->opt.n_seq, sizeof *st->len);
    if (!st->history || !st->len) return 1;
    for (uint32_t s = 0; s < st->opt.n_seq; s++)
        if (!(st->history[s] = calloc(st->opt.n_ctx, sizeof **st->history))) return 1;
    return 0;
}

static void release(soak_state *st) {
    for (uint32_t s = 0; st->history && s < st->opt.n_seq; s++) free(st->history[s]);
    free(st->history);
    free(st->len);
    tinfer_context_free(st->ctx);
    tinfer_model_free(st->model);
}

static int run(soak_state *st) {
    int32_t *seqs = calloc(st->opt.n_seq, sizeof *seqs);
    int32_t *tokens = calloc(st->opt.n_seq, sizeof *tokens);
    if (!seqs || !tokens) return 1;
    uint64_t rss_warm = 0, rss_max = 0, rss_start = rss_kib();
    const double t0 = now_s();
    int bad = 0;
    uint32_t next_checked = 0;
    for (long i = 1; i <= st->opt.steps && !bad; i++) {
        bad = step(st, seqs, tokens);
        if (!bad && i % st->opt.check_every == 0) {
            const double t_check = now_s();
            bad = check(st, next_checked);
            st->check_seconds += now_s() - t_check;
            next_checked = (next_checked + 1) % st->opt.n_seq;
        }
        if (i == st->opt.warmup) {
            rss_warm = rss_max = rss_kib();
        } else if (i > st->opt.warmup && (i % 100 == 0 || i == st->opt.steps)) {
            const uint64_t rss = rss_kib();
            if (rss > rss_max) rss_max = rss;
        }
    }
    const double seconds = now_s() - t0;
    const uint64_t rss_end = rss_kib();
    if (!st->opt.warmup) rss_warm = rss_start;
    const uint64_t drift = rss_max > rss_warm ? rss_max - rss_warm : 0;
    const double decode_seconds = seconds - st->check_seconds;
    printf("soak: %ld steps x %u sequences in %.2f s, %.2f s of them decoding (%.0f steps/s, %.0f "
           "tokens/s), %.2f s in %ld checks equal to a fresh context, checksum %016" PRIx64 "\n",
           st->opt.steps, st->opt.n_seq, seconds, decode_seconds,
           (double)st->opt.steps / decode_seconds,
           (double)st->opt.steps * st->opt.n_seq / decode_seconds, st->check_seconds, st->n_checks,
           st->checksum);
    printf("soak: churn: %ld truncations (%ld refused by the sliding window, cleared instead), "
           "%ld clears, %ld full\n",
           st->n_truncate, st->n_truncate_refused, st->n_clear, st->n_full);
    printf("soak: RSS %" PRIu64 " KiB at start, %" PRIu64
           " KiB after %ld warm-up steps, max %" PRIu64 " KiB after, %" PRIu64
           " KiB at the end: drift %" PRIu64 " KiB (allowed %ld)\n",
           rss_start, rss_warm, st->opt.warmup, rss_max, rss_end, drift, st->opt.max_drift_kib);
    if (!bad && drift > (uint64_t)st->opt.max_drift_kib) {
        fprintf(stderr, "soak: resident memory grew by %" PRIu64 " KiB after the warm-up\n", drift);
        bad = 1;
    }
    free(seqs);
    free(tokens);
    return bad;
}

int main(int argc, char **argv) {
    soak_state st = {0};
    if (parse_options(argc, argv, &st.opt)) return 2;
    st.rng = st.opt.seed;
    st.checksum = 14695981039346656037u;
    int bad = load_model(&st);
    if (!bad) bad = run(&st);
    release(&st);
    printf("soak: %s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
}
