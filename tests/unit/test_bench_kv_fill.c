/* tinfer_kv_seq_fill_random through the public API, on a small synthetic Gemma 3: filling to a
 * position then one decode step leaves the sequence at position + 1; the contents are really
 * written (the step's logits depend on the seed, and the same seed gives the same logits); the
 * cache refuses positions past n_ctx without changing; filling shrinks as well as grows; other
 * sequences are untouched. */
#define TINFER_EXPERIMENTAL /* tinfer_kv_seq_fill_random: tinfer/experimental.h */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

typedef struct fixture {
    tinfer_model *model;
    size_t n_vocab;
} fixture;

static int setup(void **state) {
    static fixture fx;
    synth_spec spec = synth_gemma3();
    char path[4096];
    if (!synth_write(&spec, "bench_fill_gemma3.gguf", path, sizeof path)) return -1;
    if (tinfer_model_load(path, NULL, 0, &fx.model) != TINFER_OK) return -1;
    fx.n_vocab = spec.n_vocab;
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    tinfer_model_free(fx->model);
    return 0;
}

static tinfer_context *new_context(const fixture *fx, uint32_t n_ctx, uint32_t n_seq_max,
                                   tinfer_kv_dtype kv_dtype) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = n_ctx;
    params.n_seq_max = n_seq_max;
    params.kv_dtype = kv_dtype;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(fx->model, &params, sizeof params, &ctx), TINFER_OK);
    return ctx;
}

static size_t seq_len(const tinfer_context *ctx, int32_t seq) {
    size_t n = 0;
    assert_int_equal(tinfer_kv_seq_len(ctx, seq, &n), TINFER_OK);
    return n;
}

static void decode_one(tinfer_context *ctx, int32_t seq, int32_t token) {
    assert_int_equal(tinfer_decode(ctx, &seq, &token, 1), TINFER_OK);
}

/* Positions across block edges (32 tokens), past the window (5) and at the last slot. */
static void fill_then_decode_is_at_position_plus_one(void **state) {
    fixture *fx = *state;
    const tinfer_kv_dtype dtypes[] = {TINFER_KV_F16, TINFER_KV_F32, TINFER_KV_Q8_0};
    const size_t positions[] = {0, 1, 31, 32, 33, 100, 127};
    for (size_t d = 0; d < 3; d++) {
        tinfer_context *ctx = new_context(fx, 128, 1, dtypes[d]);
        for (size_t i = 0; i < sizeof positions / sizeof *positions; i++) {
            assert_int_equal(tinfer_kv_seq_fill_random(ctx, 0, positions[i], 1), TINFER_OK);
            assert_int_equal(seq_len(ctx, 0), positions[i]);
            assert_null(tinfer_logits(ctx, 0)); /* the fill forgets the logits */
            decode_one(ctx, 0, 5);
            assert_int_equal(seq_len(ctx, 0), positions[i] + 1);
            const float *logits = tinfer_logits(ctx, 0);
            assert_non_null(logits);
            for (size_t v = 0; v < fx->n_vocab; v++) assert_true(isfinite(logits[v]));
        }
        tinfer_context_free(ctx);
    }
}

/* Logits of one decode step after filling 40 positions with seed. */
static void logits_after_fill(const fixture *fx, tinfer_context *ctx, uint64_t seed, float *out) {
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, 0, 40, seed), TINFER_OK);
    decode_one(ctx, 0, 7);
    memcpy(out, tinfer_logits(ctx, 0), fx->n_vocab * sizeof *out);
}

static void contents_depend_on_the_seed_only(void **state) {
    fixture *fx = *state;
    tinfer_context *ctx = new_context(fx, 64, 1, TINFER_KV_F16);
    float *a = malloc(fx->n_vocab * sizeof *a), *b = malloc(fx->n_vocab * sizeof *b),
          *c = malloc(fx->n_vocab * sizeof *c);
    logits_after_fill(fx, ctx, 11, a);
    logits_after_fill(fx, ctx, 12, b);
    logits_after_fill(fx, ctx, 11, c);
    assert_memory_equal(a, c, fx->n_vocab * sizeof *a);
    float diff = 0;
    for (size_t v = 0; v < fx->n_vocab; v++) diff = fmaxf(diff, fabsf(a[v] - b[v]));
    assert_true(diff > 1e-3f);
    free(a);
    free(b);
    free(c);
    tinfer_context_free(ctx);
}

static void past_n_ctx_is_refused_and_changes_nothing(void **state) {
    fixture *fx = *state;
    tinfer_context *ctx = new_context(fx, 64, 1, TINFER_KV_F16);
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, 0, 10, 1), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, 0, 65, 1), TINFER_E_CONTEXT_FULL);
    assert_int_equal(seq_len(ctx, 0), 10);
    /* the whole context is allowed; then a decode step has no room */
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, 0, 64, 1), TINFER_OK);
    const int32_t seq = 0, token = 1;
    assert_int_equal(tinfer_decode(ctx, &seq, &token, 1), TINFER_E_CONTEXT_FULL);
    assert_int_equal(seq_len(ctx, 0), 64);
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, 1, 4, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, -1, 4, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_kv_seq_fill_random(NULL, 0, 4, 1), TINFER_E_INVALID_ARG);
    tinfer_context_free(ctx);
}

/* A fill shrinks a sequence as well as grows it, and touches no other sequence. */
static void shrinks_and_leaves_other_sequences(void **state) {
    fixture *fx = *state;
    tinfer_context *ctx = new_context(fx, 96, 2, TINFER_KV_F16);
    const int32_t prompt[] = {1, 2, 3};
    assert_int_equal(tinfer_prefill(ctx, 1, prompt, 3), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, 0, 96, 3), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, 0, 33, 3), TINFER_OK);
    assert_int_equal(seq_len(ctx, 0), 33);
    assert_int_equal(seq_len(ctx, 1), 3);
    assert_non_null(tinfer_logits(ctx, 1));
    assert_int_equal(tinfer_kv_seq_fill_random(ctx, 1, 96, 4), TINFER_OK);
    assert_int_equal(seq_len(ctx, 1), 96);
    decode_one(ctx, 0, 2);
    assert_int_equal(seq_len(ctx, 0), 34);
    tinfer_context_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fill_then_decode_is_at_position_plus_one),
        cmocka_unit_test(contents_depend_on_the_seed_only),
        cmocka_unit_test(past_n_ctx_is_refused_and_changes_nothing),
        cmocka_unit_test(shrinks_and_leaves_other_sequences),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
