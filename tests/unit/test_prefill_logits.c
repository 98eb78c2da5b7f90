/* tinfer_prefill_logits: the logits of any or every prompt token into the caller's buffer.
 *  - a row is bit-identical (memcmp) to the logits of a plain tinfer_prefill that ends at that
 *    token with the same passes: for every token when n_batch = 1, and for the tokens that end a
 *    pass otherwise (a token's hidden state rounds with its pass, as in llama.cpp);
 *  - any n_logits_max (the head's group of rows) and any want mask give the same bits;
 *  - tinfer_logits holds the last token's row afterwards, wanted or not;
 *  - failures (buffer too small, bad token, full context, abort) change nothing;
 *  - the same on the default model (skipped without TINFER_DEFAULT_MODEL). */
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

static tinfer_model *synth;

static int setup(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    spec.matrix_type = 8; /* Q8_0 */
    char path[512];
    if (!synth_write(&spec, "prefill_logits_gemma3.gguf", path, sizeof path)) return -1;
    return tinfer_model_load(path, NULL, 0, &synth) == TINFER_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tinfer_model_free(synth);
    return 0;
}

typedef struct abort_flag {
    int calls, limit; /* stop on the limit-th question; 0: never */
} abort_flag;

static bool stop_at(void *user_data) {
    abort_flag *a = user_data;
    return a->limit > 0 && ++a->calls >= a->limit;
}

static tinfer_context *new_context(const tinfer_model *model, uint32_t n_batch,
                                   uint32_t n_logits_max, abort_flag *a) {
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = 64;
    p.n_batch = n_batch;
    p.n_logits_max = n_logits_max;
    p.n_threads = 2;
    p.abort_callback = a ? stop_at : NULL;
    p.abort_user_data = a;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_OK);
    return ctx;
}

static void tokens_of(int32_t *tokens, size_t n, uint32_t n_vocab) {
    for (size_t i = 0; i < n; i++) tokens[i] = (int32_t)((i * 37 + 11) % n_vocab);
}

/* The logits a fresh context holds after a plain prefill of tokens[0..i]. */
static void plain_logits(const tinfer_model *model, uint32_t n_batch, const int32_t *tokens,
                         size_t i, float *out, size_t n_vocab) {
    tinfer_context *ctx = new_context(model, n_batch, 8, NULL);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, i + 1), TINFER_OK);
    memcpy(out, tinfer_logits(ctx, 0), n_vocab * sizeof(float));
    tinfer_context_free(ctx);
}

static float *all_rows(const tinfer_model *model, uint32_t n_batch, uint32_t n_logits_max,
                       const int32_t *tokens, size_t n, size_t n_vocab) {
    float *rows = malloc(n * n_vocab * sizeof(float));
    assert_non_null(rows);
    tinfer_context *ctx = new_context(model, n_batch, n_logits_max, NULL);
    assert_int_equal(tinfer_prefill_logits(ctx, 0, tokens, n, NULL, rows, n * n_vocab), TINFER_OK);
    assert_memory_equal(tinfer_logits(ctx, 0), rows + (n - 1) * n_vocab, n_vocab * sizeof(float));
    size_t len = 0;
    assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len), TINFER_OK);
    assert_int_equal(len, n);
    tinfer_context_free(ctx);
    return rows;
}

enum { N = 20, V = 96 };

static void every_row_equals_a_plain_prefill(void **state) {
    (void)state;
    int32_t tokens[N];
    tokens_of(tokens, N, V);
    float plain[V];
    /* One token per pass: every row is a pass's end. */
    float *rows = all_rows(synth, 1, 3, tokens, N, V);
    for (size_t i = 0; i < N; i++) {
        plain_logits(synth, 1, tokens, i, plain, V);
        assert_memory_equal(rows + i * V, plain, sizeof plain);
    }
    free(rows);
    /* Passes of 8: rows 7, 15 and 19 end one. */
    rows = all_rows(synth, 8, 3, tokens, N, V);
    const size_t ends[] = {7, 15, 19};
    for (size_t e = 0; e < 3; e++) {
        plain_logits(synth, 8, tokens, ends[e], plain, V);
        assert_memory_equal(rows + ends[e] * V, plain, sizeof plain);
    }
    /* A plain prefill over the same passes leaves the last row exactly. */
    free(rows);
}

static void group_size_and_mask_change_no_bits(void **state) {
    (void)state;
    int32_t tokens[N];
    tokens_of(tokens, N, V);
    float *ref = all_rows(synth, 8, 1, tokens, N, V);
    const uint32_t groups[] = {2, 3, 8, 64};
    for (size_t g = 0; g < 4; g++) {
        float *rows = all_rows(synth, 8, groups[g], tokens, N, V);
        assert_memory_equal(rows, ref, (size_t)N * V * sizeof(float));
        free(rows);
    }
    /* Every third token, the last one not among them. */
    uint8_t want[N] = {0};
    size_t n_want = 0;
    for (size_t i = 0; i < N; i += 3) want[i] = 1, n_want++;
    assert_int_equal(want[N - 1], 0);
    float *some = malloc(n_want * V * sizeof(float));
    tinfer_context *ctx = new_context(synth, 8, 2, NULL);
    assert_int_equal(tinfer_prefill_logits(ctx, 0, tokens, N, want, some, n_want * V), TINFER_OK);
    for (size_t i = 0, r = 0; i < N; i++)
        if (want[i]) assert_memory_equal(some + r++ * V, ref + i * V, V * sizeof(float));
    assert_memory_equal(tinfer_logits(ctx, 0), ref + (N - 1) * V, V * sizeof(float));
    /* No token wanted: a plain prefill, logits may be NULL. */
    const uint8_t none[4] = {0};
    assert_int_equal(tinfer_prefill_logits(ctx, 0, tokens, 4, none, NULL, 0), TINFER_OK);
    free(some);
    tinfer_context_free(ctx);
    free(ref);
}

/* A second prefill_logits continues the sequence like a second prefill. */
static void continues_a_sequence(void **state) {
    (void)state;
    int32_t tokens[N];
    tokens_of(tokens, N, V);
    float *ref = all_rows(synth, 1, 8, tokens, N, V);
    tinfer_context *ctx = new_context(synth, 1, 8, NULL);
    float rows[5 * V];
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 15), TINFER_OK);
    assert_int_equal(tinfer_prefill_logits(ctx, 0, tokens + 15, 5, NULL, rows, 5 * V), TINFER_OK);
    assert_memory_equal(rows, ref + 15 * V, sizeof rows);
    tinfer_context_free(ctx);
    free(ref);
}

static void failures_change_nothing(void **state) {
    (void)state;
    int32_t tokens[N];
    tokens_of(tokens, N, V);
    float before[V], rows[N * V];
    abort_flag a = {0};
    tinfer_context *ctx = new_context(synth, 8, 4, &a);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 5), TINFER_OK);
    memcpy(before, tinfer_logits(ctx, 0), sizeof before);
    const int32_t bad[3] = {1, V, 2};
    const struct {
        const int32_t *tokens;
        size_t n, cap;
        float *logits;
        tinfer_status want;
    } cases[] = {
        {tokens, N, N * V - 1, rows, TINFER_E_INVALID_ARG}, /* one float short */
        {tokens, N, N * V, NULL, TINFER_E_INVALID_ARG},     /* no buffer */
        {bad, 3, N * V, rows, TINFER_E_INVALID_ARG},        /* a token outside the vocabulary */
        {tokens, N, N * V, rows, TINFER_E_CONTEXT_FULL},    /* 5 + 20 + 20 + 20 > 64 after two */
    };
    assert_int_equal(tinfer_prefill_logits(ctx, 0, tokens, N, NULL, rows, N * V), TINFER_OK);
    assert_int_equal(tinfer_prefill_logits(ctx, 0, tokens, N, NULL, rows, N * V), TINFER_OK);
    memcpy(before, tinfer_logits(ctx, 0), sizeof before);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(tinfer_prefill_logits(ctx, 0, cases[c].tokens, cases[c].n, NULL,
                                               cases[c].logits, cases[c].cap),
                         cases[c].want);
        size_t len = 0;
        assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len), TINFER_OK);
        assert_int_equal(len, 45);
        assert_memory_equal(tinfer_logits(ctx, 0), before, sizeof before);
    }
    assert_int_equal(tinfer_prefill_logits(NULL, 0, tokens, 1, NULL, rows, V),
                     TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_prefill_logits(ctx, 1, tokens, 1, NULL, rows, V), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_prefill_logits(ctx, 0, tokens, 0, NULL, rows, V), TINFER_E_INVALID_ARG);

    /* Aborted in the second pass: nothing changes, and the retry gives the uninterrupted rows. */
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 0), TINFER_OK);
    float *ref = malloc((size_t)N * V * sizeof(float));
    tinfer_context *plain = new_context(synth, 8, 4, NULL);
    assert_int_equal(tinfer_prefill(plain, 0, tokens, 5), TINFER_OK);
    assert_int_equal(tinfer_prefill_logits(plain, 0, tokens, N, NULL, ref, N * V), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 5), TINFER_OK);
    a = (abort_flag){.limit = 10};
    assert_int_equal(tinfer_prefill_logits(ctx, 0, tokens, N, NULL, rows, N * V), TINFER_E_ABORTED);
    size_t len = 0;
    assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len), TINFER_OK);
    assert_int_equal(len, 5);
    a = (abort_flag){0};
    assert_int_equal(tinfer_prefill_logits(ctx, 0, tokens, N, NULL, rows, N * V), TINFER_OK);
    assert_memory_equal(rows, ref, (size_t)N * V * sizeof(float));
    free(ref);
    tinfer_context_free(plain);
    tinfer_context_free(ctx);
}

static void n_logits_max_is_checked(void **state) {
    (void)state;
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    assert_int_equal(p.n_logits_max, 8);
    p.n_ctx = 64;
    tinfer_context *ctx = NULL;
    p.n_logits_max = 0;
    assert_int_equal(tinfer_context_create(synth, &p, sizeof p, &ctx), TINFER_E_INVALID_ARG);
    p.n_logits_max = 65537;
    assert_int_equal(tinfer_context_create(synth, &p, sizeof p, &ctx), TINFER_E_INVALID_ARG);
    /* The scratch grows with the head's rows (capped at the batch). */
    tinfer_context_info small, large;
    p.n_logits_max = 1;
    assert_int_equal(tinfer_context_estimate(synth, &p, sizeof p, &small, sizeof small), TINFER_OK);
    p.n_logits_max = 9;
    assert_int_equal(tinfer_context_estimate(synth, &p, sizeof p, &large, sizeof large), TINFER_OK);
    assert_true(large.scratch_bytes - small.scratch_bytes == 8 * (V + 64) * sizeof(float));
}

/* The default model: passes of 16 over 40 tokens (rows 15, 31, 39 end a pass), and one token
 * per pass over 10 tokens, against plain prefills; a different group size changes no bits. */
static void default_model_rows_equal_plain_prefills(void **state) {
    (void)state;
    const char *path = test_default_model();
    if (!path) skip();
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    tinfer_context *probe = new_context(model, 1, 1, NULL);
    const size_t n_vocab = tinfer_context_n_vocab(probe), n = 40;
    tinfer_context_free(probe);
    int32_t tokens[40];
    for (size_t i = 0; i < n; i++) tokens[i] = (int32_t)(2 + (i * 7919 + 13) % 20000);
    float *plain = malloc(n_vocab * sizeof(float));
    float *rows = all_rows(model, 16, 8, tokens, n, n_vocab);
    float *rows3 = all_rows(model, 16, 3, tokens, n, n_vocab);
    assert_memory_equal(rows, rows3, n * n_vocab * sizeof(float));
    const size_t ends[] = {15, 31, 39};
    for (size_t e = 0; e < 3; e++) {
        plain_logits(model, 16, tokens, ends[e], plain, n_vocab);
        assert_memory_equal(rows + ends[e] * n_vocab, plain, n_vocab * sizeof(float));
    }
    /* A row inside a pass rounds with that pass (its pass of 8 tokens takes the tiled Q6_K
     * kernel, a 5-token pass does not): near, not the same bits. The perplexity test holds the
     * rows against llama.cpp's logits_all. */
    plain_logits(model, 16, tokens, 20, plain, n_vocab);
    float max_diff = 0;
    for (size_t j = 0; j < n_vocab; j++) {
        const float d = rows[20 * n_vocab + j] - plain[j];
        max_diff = d > max_diff ? d : -d > max_diff ? -d : max_diff;
    }
    printf("default model: row 20 (inside a pass of 16) vs a prefill ending there: max |diff| "
           "%.3g\n",
           (double)max_diff);
    assert_true(max_diff > 0 && max_diff < 4.0f);
    free(rows3);
    free(rows);
    /* One token per pass: every row, against the same tokens prefilled one at a time. */
    const size_t n1 = 10;
    rows = all_rows(model, 1, 4, tokens, n1, n_vocab);
    tinfer_context *ctx = new_context(model, 1, 8, NULL);
    for (size_t i = 0; i < n1; i++) {
        assert_int_equal(tinfer_prefill(ctx, 0, tokens + i, 1), TINFER_OK);
        assert_memory_equal(rows + i * n_vocab, tinfer_logits(ctx, 0), n_vocab * sizeof(float));
    }
    tinfer_context_free(ctx);
    free(rows);
    free(plain);
    tinfer_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_equals_a_plain_prefill),
        cmocka_unit_test(group_size_and_mask_change_no_bits),
        cmocka_unit_test(continues_a_sequence),
        cmocka_unit_test(failures_change_nothing),
        cmocka_unit_test(n_logits_max_is_checked),
        cmocka_unit_test(default_model_rows_equal_plain_prefills),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
