/* tinfer_context_step_bytes, the roofline's numerator, against the file's own tensor sizes: a
 * decode step reads every tensor once (the tied output head is the embedding, read whole) plus one
 * embedding row, and the K/V rows of position + 1 positions in global layers and of at most the
 * window in sliding-window ones. */
#define TINFER_EXPERIMENTAL
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

static void step_bytes_match_the_file(void **state) {
    (void)state;
    const synth_spec spec = synth_gemma3(); /* 7 layers, layer 5 global, window 5, F32 */
    char path[512];
    assert_non_null(synth_write(&spec, "step_bytes_gemma3.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    uint64_t file_tensor_bytes = 0;
    for (size_t i = 0; i < tinfer_model_tensor_count(model); i++) {
        tinfer_tensor_info t;
        assert_int_equal(tinfer_model_tensor(model, i, &t, sizeof t), TINFER_OK);
        file_tensor_bytes += t.n_bytes;
    }
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = 128;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_OK);

    const uint64_t embd_row = (uint64_t)spec.n_embd * sizeof(float);
    const uint64_t kv_row = 2ull * spec.n_head_kv * spec.head_dim * 2; /* K and V, F16 */
    const size_t positions[] = {0, 3, 4, 100};
    for (size_t i = 0; i < 4; i++) {
        const uint64_t pos = positions[i];
        const uint64_t local = pos + 1 < spec.sliding_window ? pos + 1 : spec.sliding_window;
        tinfer_step_bytes bytes;
        assert_int_equal(tinfer_context_step_bytes(ctx, pos, &bytes, sizeof bytes), TINFER_OK);
        assert_int_equal(bytes.weights, file_tensor_bytes + embd_row);
        assert_int_equal(bytes.kv, (6 * local + 1 * (pos + 1)) * kv_row);
    }
    tinfer_step_bytes bytes;
    assert_int_equal(tinfer_context_step_bytes(ctx, 128, &bytes, sizeof bytes),
                     TINFER_E_INVALID_ARG);
    tinfer_context_free(ctx);
    tinfer_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(step_bytes_match_the_file)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
