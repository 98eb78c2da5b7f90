/* Any thread count gives the same logits, bit for bit (memcmp), as one thread: the CPU backend
 * splits each op's rows, heads or elements over its threads without changing any sum's order.
 * And the packed copy of the weights gives the same logits as the file's rows.
 *
 * The synthetic Gemma 3 (tests/unit/synthetic_model.h: GQA 4:2, sliding-window layers) with
 * Q8_0 matrices (the integer-dot path) and F32 matrices (row dots for decode, OpenBLAS tiles for
 * the prompt), each with an F16, an F32 and a Q8_0 cache: two sequences prefilled with 40 tokens
 * (one prompt pass each), then 5 steps decoding both together, on 1, 2, 3 and 4 threads. With
 * TINFER_DEFAULT_MODEL set, the default model on 1 and 2 threads: a 20-token prompt and 10
 * greedy decode steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#define TINFER_EXPERIMENTAL /* tinfer_kv_seq_fill_random */
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_ops.h"
#include "context/context.h"
#include "fixtures/logits_util.h"
#include "synthetic_model.h"
#include "tinfer/tinfer.h"

enum { PROMPT_TOKENS = 40, DECODE_STEPS = 5, N_SEQS = 2 };
/* Every cache type: the Q8_0 one sums a span in fixed ranges of keys and merges them in order
 * (cpu_attention_q8.c), over the threads (3 and 4 threads, one decode token, below) or not. */
static const tinfer_kv_dtype KV_DTYPES[] = {TINFER_KV_F16, TINFER_KV_F32, TINFER_KV_Q8_0};
static const char *const KV_NAMES[] = {"F16", "F32", "Q8_0"};
enum { N_KV_DTYPES = 3 };
/* Logits rows one run keeps: after each prompt, then each sequence at each decode step. */
enum { N_ROWS = N_SEQS + DECODE_STEPS * N_SEQS };

static tinfer_context *make_context_n(const tinfer_model *model, uint32_t n_threads,
                                      tinfer_kv_dtype kv_dtype, uint32_t n_seq_max,
                                      uint32_t n_ctx) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = n_ctx;
    params.n_seq_max = n_seq_max;
    params.n_threads = n_threads;
    params.kv_dtype = kv_dtype;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &params, sizeof params, &ctx), TINFER_OK);
    /* The backend runs on as many threads as asked (the pool exists). */
    assert_int_equal(ctx->backend->n_threads, n_threads);
    tinfer_context_info info;
    assert_int_equal(tinfer_context_get_info(ctx, &info, sizeof info), TINFER_OK);
    assert_int_equal(info.n_threads, n_threads);
    return ctx;
}

static tinfer_context *make_context(const tinfer_model *model, uint32_t n_threads,
                                    tinfer_kv_dtype kv_dtype, uint32_t n_seq_max) {
    return make_context_n(model, n_threads, kv_dtype, n_seq_max, 128);
}

/* The N_ROWS logits rows of one run, [N_ROWS][n_vocab]. */
static float *run_synthetic(const tinfer_model *model, uint32_t n_threads, tinfer_kv_dtype kv_dtype,
                            size_t n_vocab) {
    tinfer_context *ctx = make_context(model, n_threads, kv_dtype, N_SEQS);
    float *rows = calloc((size_t)N_ROWS * n_vocab, sizeof(float));
    assert_non_null(rows);
    size_t row = 0;
    for (int32_t seq = 0; seq < N_SEQS; seq++) {
        int32_t prompt[PROMPT_TOKENS];
        for (int i = 0; i < PROMPT_TOKENS; i++)
            prompt[i] = (int32_t)((i * 37 + seq * 11 + 5) % (int)n_vocab);
        assert_int_equal(tinfer_prefill(ctx, seq, prompt, PROMPT_TOKENS), TINFER_OK);
        memcpy(rows + row++ * n_vocab, tinfer_logits(ctx, seq), n_vocab * sizeof(float));
    }
    for (int step = 0; step < DECODE_STEPS; step++) {
        const int32_t seqs[N_SEQS] = {0, 1};
        const int32_t tokens[N_SEQS] = {(int32_t)((step * 13 + 3) % (int)n_vocab),
                                        (int32_t)((step * 29 + 60) % (int)n_vocab)};
        assert_int_equal(tinfer_decode(ctx, seqs, tokens, N_SEQS), TINFER_OK);
        for (int32_t seq = 0; seq < N_SEQS; seq++)
            memcpy(rows + row++ * n_vocab, tinfer_logits(ctx, seq), n_vocab * sizeof(float));
    }
    tinfer_context_free(ctx);
    return rows;
}

static void synthetic_same_on_any_threads(uint32_t matrix_type, const char *file) {
    synth_spec spec = synth_gemma3();
    spec.matrix_type = matrix_type;
    char path[4096];
    assert_non_null(synth_write(&spec, file, path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    const size_t n_vocab = spec.n_vocab;
    for (size_t k = 0; k < N_KV_DTYPES; k++) {
        float *one = run_synthetic(model, 1, KV_DTYPES[k], n_vocab);
        for (uint32_t n_threads = 2; n_threads <= 4; n_threads++) {
            float *many = run_synthetic(model, n_threads, KV_DTYPES[k], n_vocab);
            for (size_t r = 0; r < N_ROWS; r++)
                if (memcmp(one + r * n_vocab, many + r * n_vocab, n_vocab * sizeof(float)))
                    fail_msg("%s, %s cache: logits row %zu differ between 1 and %u threads", file,
                             KV_NAMES[k], r, n_threads);
            free(many);
        }
        free(one);
    }
    tinfer_model_free(model);
}

static void q8_0_same_on_any_threads(void **state) {
    (void)state;
    synthetic_same_on_any_threads(8, "threads_gemma3_q8_0.gguf");
}

static void f32_same_on_any_threads(void **state) {
    (void)state;
    synthetic_same_on_any_threads(0, "threads_gemma3_f32.gguf");
}

/* The CPU's packed copy of the weights (cpu_packed.c: made for a mapped model where this CPU's best
 * kernel table reads it, never for one read into memory) gives the bits of the file's rows: the
 * same synthetic model loaded both ways, Q8_0 and Q5_0, every prompt and decode row compared. */
static void packed_same_as_file_rows_for(uint32_t matrix_type, const char *file) {
    synth_spec spec = synth_gemma3();
    spec.matrix_type = matrix_type;
    char path[4096];
    assert_non_null(synth_write(&spec, file, path, sizeof path));
    tinfer_model_params mp;
    tinfer_model_params_init(&mp, sizeof mp);
    mp.use_mmap = false;
    tinfer_model *mapped = NULL, *read_in = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &mapped), TINFER_OK);
    assert_int_equal(tinfer_model_load(path, &mp, sizeof mp, &read_in), TINFER_OK);
    unsetenv("TINFER_CPU");
    unsetenv("TINFER_FORCE_GENERIC");
    tinfer_context *probe = make_context(mapped, 2, TINFER_KV_F16, 1);
    const bool packs = tf_cpu_kernels_read_packed(tf_cpu_kernels_for(TF_CPU_PATH_AUTO));
    const tf_cpu_state *state = probe->backend->state;
    assert_int_equal(state->packed != NULL, packs); /* the copy is there where it can be read */
    tinfer_context_free(probe);
    float *a = run_synthetic(mapped, 2, TINFER_KV_F16, spec.n_vocab);
    float *b = run_synthetic(read_in, 2, TINFER_KV_F16, spec.n_vocab);
    for (size_t r = 0; r < N_ROWS; r++)
        if (memcmp(a + r * spec.n_vocab, b + r * spec.n_vocab, spec.n_vocab * sizeof(float)))
            fail_msg("%s: logits row %zu differ between packed and file rows", file, r);
    free(a);
    free(b);
    tinfer_model_free(mapped);
    tinfer_model_free(read_in);
}

static void packed_same_as_file_rows(void **state) {
    (void)state;
    packed_same_as_file_rows_for(8, "packed_gemma3_q8_0.gguf");
    packed_same_as_file_rows_for(6, "packed_gemma3_q5_0.gguf");
}

/* One sequence with LONG_SPAN random cached positions, then LONG_STEPS decode steps: a decode
 * token over a long span with fewer KV heads than threads (3 and 4 threads here) takes the
 * attention split over the span (cpu_attention.c), which must give the same bits. */
enum { LONG_SPAN = 1500, LONG_STEPS = 3 };

static float *run_long_span(const tinfer_model *model, uint32_t n_threads, tinfer_kv_dtype kv_dtype,
                            size_t n_vocab) {
    tinfer_context *ctx = make_context_n(model, n_threads, kv_dtype, 1, 2048);
    float *rows = calloc((size_t)LONG_STEPS * n_vocab, sizeof(float));
    assert_non_null(rows);
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, 0, LONG_SPAN, 42), TINFER_OK);
    for (int step = 0; step < LONG_STEPS; step++) {
        const int32_t seq = 0, token = (int32_t)((step * 17 + 5) % (int)n_vocab);
        assert_int_equal(tinfer_decode(ctx, &seq, &token, 1), TINFER_OK);
        memcpy(rows + (size_t)step * n_vocab, tinfer_logits(ctx, 0), n_vocab * sizeof(float));
    }
    tinfer_context_free(ctx);
    return rows;
}

static void long_span_same_on_any_threads(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    spec.matrix_type = 8;
    char path[4096];
    assert_non_null(synth_write(&spec, "threads_long_gemma3_q8_0.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    const size_t n_vocab = spec.n_vocab;
    for (size_t k = 0; k < N_KV_DTYPES; k++) {
        float *one = run_long_span(model, 1, KV_DTYPES[k], n_vocab);
        for (uint32_t n_threads = 2; n_threads <= 4; n_threads++) {
            float *many = run_long_span(model, n_threads, KV_DTYPES[k], n_vocab);
            for (size_t r = 0; r < LONG_STEPS; r++)
                if (memcmp(one + r * n_vocab, many + r * n_vocab, n_vocab * sizeof(float)))
                    fail_msg("%s cache, span %d: logits of step %zu differ between 1 and %u "
                             "threads",
                             KV_NAMES[k], LONG_SPAN, r, n_threads);
            free(many);
        }
        free(one);
    }
    tinfer_model_free(model);
}

enum { DEFAULT_PROMPT = 20, DEFAULT_STEPS = 10 };

/* [1 + DEFAULT_STEPS][n_vocab] logits: after the prompt, then after each greedy step. */
static float *run_default(const tinfer_model *model, uint32_t n_threads, size_t *n_vocab_out) {
    tinfer_context *ctx = make_context(model, n_threads, TINFER_KV_F16, 1);
    const size_t n_vocab = tinfer_context_n_vocab(ctx);
    float *rows = calloc((size_t)(1 + DEFAULT_STEPS) * n_vocab, sizeof(float));
    assert_non_null(rows);
    int32_t prompt[DEFAULT_PROMPT];
    for (int i = 0; i < DEFAULT_PROMPT; i++) prompt[i] = 2 + i * 997 % 20000;
    assert_int_equal(tinfer_prefill(ctx, 0, prompt, DEFAULT_PROMPT), TINFER_OK);
    memcpy(rows, tinfer_logits(ctx, 0), n_vocab * sizeof(float));
    for (int step = 1; step <= DEFAULT_STEPS; step++) {
        const int32_t seq = 0;
        const int32_t token = (int32_t)logits_argmax(rows + (size_t)(step - 1) * n_vocab, n_vocab);
        assert_int_equal(tinfer_decode(ctx, &seq, &token, 1), TINFER_OK);
        memcpy(rows + (size_t)step * n_vocab, tinfer_logits(ctx, 0), n_vocab * sizeof(float));
    }
    tinfer_context_free(ctx);
    *n_vocab_out = n_vocab;
    return rows;
}

static void default_model_same_on_two_threads(void **state) {
    (void)state;
    const char *path = test_default_model();
    if (!path) skip();
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    size_t n_vocab = 0, n_vocab2 = 0;
    float *one = run_default(model, 1, &n_vocab);
    float *two = run_default(model, 2, &n_vocab2);
    assert_int_equal(n_vocab, n_vocab2);
    for (size_t r = 0; r <= DEFAULT_STEPS; r++)
        if (memcmp(one + r * n_vocab, two + r * n_vocab, n_vocab * sizeof(float)))
            fail_msg("default model: logits after %s %zu differ between 1 and 2 threads",
                     r ? "decode step" : "the prompt", r);
    free(one);
    free(two);
    tinfer_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(q8_0_same_on_any_threads),
        cmocka_unit_test(f32_same_on_any_threads),
        cmocka_unit_test(long_span_same_on_any_threads),
        cmocka_unit_test(packed_same_as_file_rows),
        cmocka_unit_test(default_model_same_on_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
