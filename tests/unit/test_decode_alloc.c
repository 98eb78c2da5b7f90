/* "No allocation per token": after a context is created and a prompt prefilled, decode steps
 * (one sequence and several) and reading logits call no malloc, calloc or realloc from the
 * library. The test executable is linked with -Wl,--wrap for the three (tests/CMakeLists.txt), so
 * every call made from libtinfer's objects goes through the counters below; a quantized model
 * (Q8_0 matrices) exercises the integer-dot path with its activation buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

static size_t n_allocations;

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);

void *__wrap_malloc(size_t size) {
    n_allocations++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size) {
    n_allocations++;
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *ptr, size_t size) {
    n_allocations++;
    return __real_realloc(ptr, size);
}

static void decode_steps_do_not_allocate(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    spec.matrix_type = 8; /* Q8_0 */
    char path[4096];
    assert_non_null(synth_write(&spec, "alloc_gemma3_q8_0.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 128;
    params.n_seq_max = 3;
    tinfer_context *ctx = NULL;
    n_allocations = 0;
    assert_int_equal(tinfer_context_create(model, &params, sizeof params, &ctx), TINFER_OK);
    assert_true(n_allocations > 0); /* the counters do see the library's calls */
    const int32_t prompt[] = {1, 17, 42, 90, 5, 63, 7, 8, 21}; /* ids < n_vocab (96) */
    for (int32_t seq = 0; seq < 3; seq++)
        assert_int_equal(tinfer_prefill(ctx, seq, prompt, 9 - (size_t)seq), TINFER_OK);

    /* The first decode may size lazily-kept buffers; from then on, none. */
    const int32_t seq0 = 0, token0 = 11;
    assert_int_equal(tinfer_decode(ctx, &seq0, &token0, 1), TINFER_OK);
    n_allocations = 0;
    for (int step = 0; step < 40; step++) {
        const int32_t token = (int32_t)(step * 7 % (int)spec.n_vocab);
        assert_int_equal(tinfer_decode(ctx, &seq0, &token, 1), TINFER_OK);
        assert_non_null(tinfer_logits(ctx, 0));
        const int32_t seqs[3] = {0, 1, 2}, tokens[3] = {token, 3, 4};
        assert_int_equal(tinfer_decode(ctx, seqs, tokens, 3), TINFER_OK);
        for (int32_t seq = 0; seq < 3; seq++) assert_non_null(tinfer_logits(ctx, seq));
    }
    printf("allocations during 80 decode passes: %zu\n", n_allocations);
    assert_int_equal(n_allocations, 0);

    tinfer_context_free(ctx);
    tinfer_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_steps_do_not_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
