/* Each architecture's switches against llama.cpp: tiny models of gemma3 (7 layers, sliding window
 * 4 on all but layer 5, separate RoPE bases), llama, qwen2 (QKV biases) and qwen3 (QK-norm), all
 * with GQA 4:2, plus gemma3 with linear RoPE scaling (global layers only) and llama with a
 * rope_freqs tensor (Llama 3 frequency divisors), each in F32 and Q8_0.
 * tests/data/golden/synthetic_logits.json holds llama.cpp's logits at every position of a 12-token
 * input (tests/conformance/llamacpp/make_synthetic_golden.py); synthetic_model.h rebuilds the same
 * models bit for bit, and we compare every logit.
 *
 * Tolerance: both engines use an F32 cache here and the weights are not amplified by a huge
 * residual stream, so the only differences are the order of float additions and, for GELU,
 * llama.cpp's float16 table (which we reproduce). Logits span about [-15, 39]; observed max |diff|
 * (printed by the test): 6.2e-4 for gemma3 F32 (a GELU input on a float16 rounding boundary),
 * 1.3e-5 or less for every other model. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

#define TOLERANCE_F32 2e-3
#define TOLERANCE_Q8_0 2e-3

static uint32_t json_u32(json_t *object, const char *key) {
    return (uint32_t)json_integer_value(json_object_get(object, key));
}

static synth_spec spec_of(json_t *golden, json_t *entry) {
    static char arch[32];
    snprintf(arch, sizeof arch, "%s", json_string_value(json_object_get(entry, "arch")));
    const char *type = json_string_value(json_object_get(entry, "matrix_type"));
    return (synth_spec){
        .arch = arch,
        .n_vocab = json_u32(golden, "n_vocab"),
        .n_embd = json_u32(golden, "n_embd"),
        .n_layer = json_u32(entry, "n_layer"),
        .n_head = json_u32(golden, "n_head"),
        .n_head_kv = json_u32(golden, "n_head_kv"),
        .head_dim = json_u32(golden, "head_dim"),
        .n_ff = json_u32(golden, "n_ff"),
        .sliding_window = json_u32(entry, "sliding_window"),
        .matrix_type = strcmp(type, "q8_0") == 0 ? 8u : 0u,
        .rope_freq_base = (float)json_number_value(json_object_get(entry, "rope_freq_base")),
        .rope_scaling_linear =
            (float)json_number_value(json_object_get(entry, "rope_scaling_linear")),
        .rope_freqs = json_is_true(json_object_get(entry, "rope_freqs")),
    };
}

/* Max |ours - llama.cpp| over every position and logit of one model. */
static double compare_model(json_t *golden, json_t *entry) {
    synth_spec spec = spec_of(golden, entry);
    char path[4096];
    assert_non_null(synth_write(&spec, "synthetic_golden.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, &model), TINFER_OK);
    tinfer_context_params params = tinfer_context_default_params();
    params.n_ctx = 64;
    params.kv_dtype = TINFER_KV_F32;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &params, &ctx), TINFER_OK);
    json_t *tokens = json_object_get(golden, "tokens");
    json_t *logits = json_object_get(entry, "logits");
    double worst = 0;
    for (size_t p = 0; p < json_array_size(tokens); p++) {
        const int32_t token = (int32_t)json_integer_value(json_array_get(tokens, p));
        assert_int_equal(tinfer_prefill(ctx, 0, &token, 1), TINFER_OK);
        const float *ours = tinfer_logits(ctx, 0);
        json_t *row = json_array_get(logits, p);
        assert_int_equal(json_array_size(row), spec.n_vocab);
        for (size_t v = 0; v < spec.n_vocab; v++)
            worst = fmax(worst, fabs((double)ours[v] - json_number_value(json_array_get(row, v))));
    }
    tinfer_context_free(ctx);
    tinfer_model_free(model);
    return worst;
}

static void synthetic_models_match_llamacpp(void **state) {
    (void)state;
    char golden_path[4096];
    if (!test_source_path(golden_path, sizeof golden_path,
                          "tests/data/golden/synthetic_logits.json"))
        skip();
    json_error_t error;
    json_t *golden = json_load_file(golden_path, 0, &error);
    assert_non_null(golden);
    json_t *models = json_object_get(golden, "models");
    assert_int_equal(json_array_size(models), 12);
    for (size_t m = 0; m < json_array_size(models); m++) {
        json_t *entry = json_array_get(models, m);
        const char *arch = json_string_value(json_object_get(entry, "name"));
        const char *type = json_string_value(json_object_get(entry, "matrix_type"));
        const double worst = compare_model(golden, entry);
        const double tolerance = strcmp(type, "q8_0") == 0 ? TOLERANCE_Q8_0 : TOLERANCE_F32;
        printf("synthetic %s %s: max |diff| %.2e (tolerance %.0e)\n", arch, type, worst, tolerance);
        if (!(worst <= tolerance)) fail_msg("%s %s: logits differ by %g", arch, type, worst);
    }
    json_decref(golden);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(synthetic_models_match_llamacpp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
