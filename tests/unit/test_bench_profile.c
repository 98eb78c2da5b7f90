/* The op profiler through the public API, on a small synthetic Gemma 3 (7 layers) and Qwen2 (QKV
 * biases): the Chrome trace parses as JSON and holds, for every step, an "X" event of every op of
 * every layer with its layer and shape, nested inside the step's own event; the summary lists the
 * ops; profiling leaves the logits unchanged; ending without beginning, and unwritable paths, are
 * errors. */
#define TINFER_EXPERIMENTAL /* tinfer_profile_begin/end: tinfer/experimental.h */
#include <jansson.h>
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

static const char *const GEMMA_LAYER_OPS[] = {
    "attn_norm",   "attn_qkv",  "q_norm",      "k_norm",         "rope_q",        "rope_k",
    "kv_store",    "attention", "attn_output", "post_attn_norm", "attn_residual", "ffn_norm",
    "ffn_gate_up", "ffn_act",   "ffn_down",    "post_ffn_norm",  "ffn_residual"};
static const char *const QWEN2_EXTRA_OPS[] = {"bias_q", "bias_k", "bias_v"};
static const char *const OUTSIDE_OPS[] = {"embed", "output_norm", "output"};

static tinfer_model *load_synthetic(synth_spec spec, const char *file) {
    char path[4096];
    tinfer_model *model = NULL;
    assert_non_null(synth_write(&spec, file, path, sizeof path));
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    return model;
}

static tinfer_context *new_context(const tinfer_model *model) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 64;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &params, sizeof params, &ctx), TINFER_OK);
    return ctx;
}

/* Prefill of 6 tokens, then 2 decode steps. */
static void run_steps(tinfer_context *ctx) {
    const int32_t prompt[] = {3, 9, 27, 81 % 90, 5, 7};
    assert_int_equal(tinfer_prefill(ctx, 0, prompt, 6), TINFER_OK);
    for (int32_t i = 0; i < 2; i++) {
        const int32_t seq = 0, token = 11 + i;
        assert_int_equal(tinfer_decode(ctx, &seq, &token, 1), TINFER_OK);
    }
}

static size_t count_events(json_t *events, const char *name, json_int_t layer, json_int_t rows) {
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *ph = json_string_value(json_object_get(e, "ph"));
        if (!ph || strcmp(ph, "X") || strcmp(json_string_value(json_object_get(e, "name")), name))
            continue;
        json_t *args = json_object_get(e, "args");
        json_t *shape = json_object_get(args, "shape");
        if (json_integer_value(json_object_get(args, "layer")) != layer) continue;
        if (rows >= 0 && json_integer_value(json_array_get(shape, 0)) != rows) continue;
        assert_true(json_number_value(json_object_get(e, "dur")) >= 0);
        assert_non_null(json_object_get(e, "ts"));
        assert_non_null(json_object_get(e, "pid"));
        assert_non_null(json_object_get(e, "tid"));
        n++;
    }
    return n;
}

/* Each op of each layer once per step: in the prefill with 6 rows, in each decode with 1. */
static void check_layer_ops(json_t *events, const char *const *ops, size_t n_ops,
                            uint32_t n_layer) {
    for (size_t k = 0; k < n_ops; k++)
        for (uint32_t l = 0; l < n_layer; l++) {
            if (count_events(events, ops[k], l, 6) != 1 || count_events(events, ops[k], l, 1) != 2)
                fail_msg("op %s of layer %u: %zu prefill and %zu decode events (want 1 and 2)",
                         ops[k], l, count_events(events, ops[k], l, 6),
                         count_events(events, ops[k], l, 1));
        }
}

/* Every op event lies inside a step event. */
static void check_nesting(json_t *events) {
    size_t i, j;
    json_t *e, *step;
    json_array_foreach(events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "ph")), "X")) continue;
        if (!strcmp(json_string_value(json_object_get(e, "cat")), "step")) continue;
        const double ts = json_number_value(json_object_get(e, "ts"));
        const double end = ts + json_number_value(json_object_get(e, "dur"));
        bool inside = false;
        json_array_foreach(events, j, step) {
            const char *cat = json_string_value(json_object_get(step, "cat"));
            if (!cat || strcmp(cat, "step")) continue;
            const double s0 = json_number_value(json_object_get(step, "ts"));
            const double s1 = s0 + json_number_value(json_object_get(step, "dur"));
            inside |= ts >= s0 - 1e-3 && end <= s1 + 1e-3;
        }
        assert_true(inside);
    }
}

static json_t *profile_run(tinfer_context *ctx, const char *trace_name, const char *stats_name,
                           char *stats_path, size_t cap) {
    char trace_path[4096];
    test_tmp_path(trace_path, sizeof trace_path, trace_name);
    test_tmp_path(stats_path, cap, stats_name);
    assert_int_equal(tinfer_profile_begin(ctx), TINFER_OK);
    run_steps(ctx);
    assert_int_equal(tinfer_profile_end(ctx, trace_path, stats_path), TINFER_OK);
    json_error_t error;
    json_t *root = json_load_file(trace_path, 0, &error);
    if (!root) fail_msg("trace does not parse: %s (line %d)", error.text, error.line);
    return root;
}

static void gemma3_trace_has_every_layer_and_op(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    tinfer_model *model = load_synthetic(spec, "profile_gemma3.gguf");
    tinfer_context *ctx = new_context(model);
    char stats_path[4096];
    json_t *root = profile_run(ctx, "profile_gemma3.trace.json", "profile_gemma3.txt", stats_path,
                               sizeof stats_path);
    json_t *events = json_object_get(root, "traceEvents");
    assert_true(json_is_array(events));
    check_layer_ops(events, GEMMA_LAYER_OPS, sizeof GEMMA_LAYER_OPS / sizeof *GEMMA_LAYER_OPS,
                    spec.n_layer);
    for (size_t k = 0; k < sizeof OUTSIDE_OPS / sizeof *OUTSIDE_OPS; k++)
        assert_int_equal(count_events(events, OUTSIDE_OPS[k], -1, -1), 3);
    assert_int_equal(count_events(events, "prefill", -1, 6), 1);
    assert_int_equal(count_events(events, "decode", -1, 1), 2);
    assert_int_equal(count_events(events, "attn_qkv", (json_int_t)spec.n_layer, -1), 0);
    check_nesting(events);
    json_decref(root);

    FILE *f = fopen(stats_path, "r");
    assert_non_null(f);
    char text[8192] = {0};
    assert_true(fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    assert_non_null(strstr(text, "total_ms"));
    assert_non_null(strstr(text, "\nattention "));
    assert_non_null(strstr(text, "\nffn_down "));
    tinfer_context_free(ctx);
    tinfer_model_free(model);
}

static void qwen2_trace_has_bias_ops(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    spec.arch = "qwen2";
    spec.sliding_window = 0;
    tinfer_model *model = load_synthetic(spec, "profile_qwen2.gguf");
    tinfer_context *ctx = new_context(model);
    char stats_path[4096];
    json_t *root = profile_run(ctx, "profile_qwen2.trace.json", "profile_qwen2.txt", stats_path,
                               sizeof stats_path);
    json_t *events = json_object_get(root, "traceEvents");
    check_layer_ops(events, QWEN2_EXTRA_OPS, 3, spec.n_layer);
    assert_int_equal(count_events(events, "q_norm", 0, -1), 0); /* qwen2 has no QK norm */
    json_decref(root);
    tinfer_context_free(ctx);
    tinfer_model_free(model);
}

/* The same steps with and without profiling give the same logits bit for bit. */
static void profiling_does_not_change_results(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    tinfer_model *model = load_synthetic(spec, "profile_same.gguf");
    tinfer_context *plain = new_context(model), *profiled = new_context(model);
    run_steps(plain);
    assert_int_equal(tinfer_profile_begin(profiled), TINFER_OK);
    run_steps(profiled);
    assert_int_equal(tinfer_profile_end(profiled, NULL, NULL), TINFER_OK);
    assert_memory_equal(tinfer_logits(plain, 0), tinfer_logits(profiled, 0),
                        spec.n_vocab * sizeof(float));
    tinfer_context_free(plain);
    tinfer_context_free(profiled);
    tinfer_model_free(model);
}

static void misuse_is_reported(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    tinfer_model *model = load_synthetic(spec, "profile_misuse.gguf");
    tinfer_context *ctx = new_context(model);
    assert_int_equal(tinfer_profile_end(ctx, NULL, NULL), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_profile_begin(NULL), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_profile_end(NULL, NULL, NULL), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_profile_begin(ctx), TINFER_OK);
    assert_int_equal(tinfer_profile_begin(ctx), TINFER_OK); /* restarting is allowed */
    run_steps(ctx);
    assert_int_equal(tinfer_profile_end(ctx, "/nonexistent-dir/trace.json", NULL), TINFER_E_IO);
    assert_non_null(strstr(tinfer_last_error(), "/nonexistent-dir/trace.json"));
    assert_int_equal(tinfer_profile_end(ctx, NULL, NULL), TINFER_E_INVALID_ARG); /* stopped */
    tinfer_context_free(ctx);
    tinfer_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemma3_trace_has_every_layer_and_op),
        cmocka_unit_test(qwen2_trace_has_bias_ops),
        cmocka_unit_test(profiling_does_not_change_results),
        cmocka_unit_test(misuse_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
