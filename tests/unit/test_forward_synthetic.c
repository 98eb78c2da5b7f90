/* Each architecture's switches and each weight dtype against llama.cpp. Tiny models of gemma3
 * (7 layers, sliding window 4 on all but layer 5, separate RoPE bases), llama, qwen2 (QKV biases)
 * and qwen3 (QK-norm), all with GQA 4:2, with their matrices in F32, F16, BF16, Q4_0, Q4_1, Q5_0,
 * Q5_1 and Q8_0; gemma3 with linear RoPE scaling (global layers only) and llama with a rope_freqs
 * tensor (Llama 3 frequency divisors) in F32 and Q8_0; and a one-layer llama with 256-wide rows
 * (GQA 4:2, head_dim 64) in Q2_K, Q3_K, Q4_K, Q5_K and Q6_K.
 * tests/data/golden/synthetic_logits.json holds llama.cpp's logits at every position of a 12-token
 * input fed one token per eval, as we feed it (one tinfer_prefill per token: llama.cpp's float order
 * depends on the batch size) (tests/conformance/llamacpp/make_synthetic_golden.py).
 * synthetic_model.h rebuilds the models in the legacy dtypes bit for bit (checked against a hash of
 * their tensor data, since a slightly different Q4_1 weight would pass unseen under its tolerance);
 * the k-quant models, quantized by llama.cpp itself, are committed under tests/data/synthetic/. We
 * compare every logit.
 *
 * Tolerances (logits span about [-15, 39], the k-quant model's [-36, 152]; the test prints every
 * model's max |diff|). Both engines use an F32 cache:
 *  - 6e-6 for Q4_0, Q5_0, Q8_0, Q4_K, Q5_K and Q6_K: every op sums in llama.cpp's float order
 *    (activations quantized to Q8_0/Q8_K as it does, its AVX2 lanes, its repacked Q4_0/Q4_K rows,
 *    its F32-cache attention dots — lib/backend/cpu/cpu_kernels.h), so the logits are identical and
 *    differ only by the JSON's 5-decimal rounding: observed max 5.0e-6 for every model.
 *  - 1e-4 for F32: the float-weight matrix products are ours (8 partial sums, or OpenBLAS for long
 *    prompts), not ggml's order, so the last bits differ: observed 7e-6 to 1.5e-5.
 *  - F16, BF16, Q4_1, Q5_1, Q2_K, Q3_K: we dequantize rows to float32 and take float dots, where
 *    llama.cpp rounds the activations first (to F16, BF16, Q8_1, Q8_1, Q8_K, Q8_K), an error
 *    relative to the logits of about 2^-11 for F16 and 2^-8 for the others. Observed max |diff|
 *    6.2e-3, 4.6e-2, 0.13, 0.14, 0.19, 0.21; tolerances about three times that. */
#include <inttypes.h>
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

/* A golden matrix_type: its GGML type and how far our logits may be from llama.cpp's. */
typedef struct dtype_tolerance {
    const char *name;
    uint32_t ggml_type;
    double tolerance;
} dtype_tolerance;

#define TOLERANCE_EXACT 6e-6 /* identical logits, compared with 5-decimal golden values */

static const dtype_tolerance DTYPES[] = {
    {"f32", 0, 1e-4},
    {"f16", 1, 2e-2},
    {"bf16", 30, 0.15},
    {"q4_0", 2, TOLERANCE_EXACT},
    {"q4_1", 3, 0.4},
    {"q5_0", 6, TOLERANCE_EXACT},
    {"q5_1", 7, 0.4},
    {"q8_0", 8, TOLERANCE_EXACT},
    {"q2_k", 10, 0.6},
    {"q3_k", 11, 0.6},
    {"q4_k", 12, TOLERANCE_EXACT},
    {"q5_k", 13, TOLERANCE_EXACT},
    {"q6_k", 14, TOLERANCE_EXACT},
};

static const dtype_tolerance *dtype_named(const char *name) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (!strcmp(DTYPES[i].name, name)) return &DTYPES[i];
    fail_msg("unknown matrix_type %s", name);
    return NULL;
}

/* The entry's value of key, else the file-wide one (the k-quant model has its own widths). */
static uint32_t json_u32(json_t *golden, json_t *entry, const char *key) {
    json_t *value = json_object_get(entry, key);
    if (!value) value = json_object_get(golden, key);
    return (uint32_t)json_integer_value(value);
}

static synth_spec spec_of(json_t *golden, json_t *entry) {
    static char arch[32];
    snprintf(arch, sizeof arch, "%s", json_string_value(json_object_get(entry, "arch")));
    const char *type = json_string_value(json_object_get(entry, "matrix_type"));
    return (synth_spec){
        .arch = arch,
        .n_vocab = json_u32(golden, entry, "n_vocab"),
        .n_embd = json_u32(golden, entry, "n_embd"),
        .n_layer = json_u32(golden, entry, "n_layer"),
        .n_head = json_u32(golden, entry, "n_head"),
        .n_head_kv = json_u32(golden, entry, "n_head_kv"),
        .head_dim = json_u32(golden, entry, "head_dim"),
        .n_ff = json_u32(golden, entry, "n_ff"),
        .sliding_window = json_u32(golden, entry, "sliding_window"),
        .matrix_type = dtype_named(type)->ggml_type,
        .rope_freq_base = (float)json_number_value(json_object_get(entry, "rope_freq_base")),
        .rope_scaling_linear =
            (float)json_number_value(json_object_get(entry, "rope_scaling_linear")),
        .rope_freqs = json_is_true(json_object_get(entry, "rope_freqs")),
    };
}

/* The model's path: the committed file the entry names, else one rebuilt by synthetic_model.h,
 * whose tensor data must be byte for byte the file llama.cpp ran. */
static const char *model_path(json_t *entry, const synth_spec *spec, char *path, size_t cap) {
    const char *file = json_string_value(json_object_get(entry, "file"));
    if (file) return test_source_path(path, cap, file);
    uint32_t hash = 0;
    assert_true(synth_data_fnv1a(spec, &hash));
    const uint32_t golden_hash = (uint32_t)json_integer_value(json_object_get(entry, "data_fnv1a"));
    if (hash != golden_hash)
        fail_msg("%s %s: the rebuilt tensor data differ from gguf-py's (FNV-1a %08" PRIx32
                 ", not %08" PRIx32 ")",
                 json_string_value(json_object_get(entry, "name")),
                 json_string_value(json_object_get(entry, "matrix_type")), hash, golden_hash);
    return synth_write(spec, "synthetic_golden.gguf", path, cap);
}

/* Max |ours - llama.cpp| over every position and logit of one model. */
static double compare_model(json_t *golden, json_t *entry) {
    synth_spec spec = spec_of(golden, entry);
    char path[4096];
    assert_non_null(model_path(entry, &spec, path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 64;
    params.kv_dtype = TINFER_KV_F32;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &params, sizeof params, &ctx), TINFER_OK);
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
    assert_int_equal(json_array_size(models), 4 * 8 + 2 * 2 + 5);
    bool all_within = true;
    for (size_t m = 0; m < json_array_size(models); m++) {
        json_t *entry = json_array_get(models, m);
        const char *name = json_string_value(json_object_get(entry, "name"));
        const char *type = json_string_value(json_object_get(entry, "matrix_type"));
        const double worst = compare_model(golden, entry);
        const double tolerance = dtype_named(type)->tolerance;
        const bool within = worst <= tolerance;
        printf("synthetic %-13s %-4s: max |diff| %.2e (tolerance %.2g)%s\n", name, type, worst,
               tolerance, within ? "" : "  FAILED");
        all_within = all_within && within;
    }
    json_decref(golden);
    if (!all_within) fail_msg("logits differ from llama.cpp's beyond the tolerance (above)");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(synthetic_models_match_llamacpp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
