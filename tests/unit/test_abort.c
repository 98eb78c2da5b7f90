/* The abort callback (tinfer_context_params.abort_callback): asked between layers, it stops a
 * prefill or a decode with TINFER_E_ABORTED, and the cache is as it was — the lengths unchanged,
 * the logits of the previous step still there, and the same step run again afterwards gives
 * exactly the logits of a context that was never interrupted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

typedef struct abort_after {
    int calls;
    int limit; /* stop on the limit-th question; 0: never */
} abort_after;

static bool stop_after(void *user_data) {
    abort_after *a = user_data;
    a->calls++;
    return a->limit > 0 && a->calls >= a->limit;
}

static tinfer_model *model;
static size_t n_vocab;

static int setup(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    spec.matrix_type = 8; /* Q8_0 */
    char path[512];
    if (!synth_write(&spec, "abort_gemma3.gguf", path, sizeof path)) return -1;
    return tinfer_model_load(path, NULL, 0, &model) == TINFER_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tinfer_model_free(model);
    return 0;
}

static tinfer_context *new_context(abort_after *a) {
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = 128;
    p.n_seq_max = 2;
    p.n_batch = 16;
    p.abort_callback = a ? stop_after : NULL;
    p.abort_user_data = a;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_OK);
    n_vocab = tinfer_context_n_vocab(ctx);
    return ctx;
}

static void tokens_of(int32_t *tokens, size_t n, uint32_t salt) {
    for (size_t i = 0; i < n; i++) tokens[i] = (int32_t)((i * 31 + salt * 7 + 3) % 96);
}

static void aborted_prefill_leaves_the_cache(void **state) {
    (void)state;
    int32_t prompt[40];
    tokens_of(prompt, 40, 1);
    tinfer_context *plain = new_context(NULL);
    assert_int_equal(tinfer_prefill(plain, 0, prompt, 40), TINFER_OK);

    abort_after a = {.limit = 10}; /* 7 layers a pass: inside the second of three passes */
    tinfer_context *ctx = new_context(&a);
    assert_int_equal(tinfer_prefill(ctx, 0, prompt, 40), TINFER_E_ABORTED);
    assert_non_null(strstr(tinfer_last_error(), "abort callback"));
    assert_int_equal(a.calls, 10);
    size_t len = 99;
    assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len), TINFER_OK);
    assert_int_equal(len, 0);
    assert_null(tinfer_logits(ctx, 0));

    a = (abort_after){0}; /* never again */
    assert_int_equal(tinfer_prefill(ctx, 0, prompt, 40), TINFER_OK);
    assert_int_equal(a.calls, 3 * 7);
    assert_memory_equal(tinfer_logits(ctx, 0), tinfer_logits(plain, 0), n_vocab * sizeof(float));
    tinfer_context_free(ctx);
    tinfer_context_free(plain);
}

static void aborted_decode_leaves_the_cache(void **state) {
    (void)state;
    int32_t prompts[2][12];
    tokens_of(prompts[0], 12, 2);
    tokens_of(prompts[1], 12, 3);
    const int32_t seqs[2] = {0, 1}, next[2] = {5, 9};
    tinfer_context *plain = new_context(NULL);
    abort_after a = {0};
    tinfer_context *ctx = new_context(&a);
    for (int32_t s = 0; s < 2; s++) {
        assert_int_equal(tinfer_prefill(plain, s, prompts[s], 12), TINFER_OK);
        assert_int_equal(tinfer_prefill(ctx, s, prompts[s], 12), TINFER_OK);
    }
    float before[2][96];
    for (int32_t s = 0; s < 2; s++) memcpy(before[s], tinfer_logits(ctx, s), sizeof before[s]);

    a = (abort_after){.limit = 3};
    assert_int_equal(tinfer_decode(ctx, seqs, next, 2), TINFER_E_ABORTED);
    for (int32_t s = 0; s < 2; s++) {
        size_t len = 0;
        assert_int_equal(tinfer_kv_seq_len(ctx, s, &len), TINFER_OK);
        assert_int_equal(len, 12);
        assert_memory_equal(tinfer_logits(ctx, s), before[s], sizeof before[s]);
    }

    a = (abort_after){0};
    assert_int_equal(tinfer_decode(ctx, seqs, next, 2), TINFER_OK);
    assert_int_equal(tinfer_decode(plain, seqs, next, 2), TINFER_OK);
    for (int32_t s = 0; s < 2; s++)
        assert_memory_equal(tinfer_logits(ctx, s), tinfer_logits(plain, s),
                            n_vocab * sizeof(float));
    tinfer_context_free(ctx);
    tinfer_context_free(plain);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aborted_prefill_leaves_the_cache),
        cmocka_unit_test(aborted_decode_leaves_the_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
