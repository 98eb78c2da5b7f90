/* Bad input on the way into the forward pass: missing or mis-shaped tensors, architectures we do
 * not run, bad parameters — each a clear status and a message naming the problem. Also: every
 * runnable architecture and weight dtype produces finite logits from a synthetic model. */
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

/* Loads the spec's model and tries to make a context; returns the status, the message in msg. */
static tinfer_status try_context(const synth_spec *spec, char *msg, size_t cap) {
    char path[4096];
    assert_non_null(synth_write(spec, "errors_model.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    tinfer_context *ctx = NULL;
    tinfer_status status = tinfer_context_create(model, NULL, 0, &ctx);
    snprintf(msg, cap, "%s", tinfer_last_error());
    if (status == TINFER_OK) assert_non_null(ctx);
    else assert_null(ctx);
    tinfer_context_free(ctx);
    tinfer_model_free(model);
    return status;
}

static void missing_tensor_is_named(void **state) {
    (void)state;
    const char *names[] = {"blk.3.attn_q_norm.weight", "blk.0.ffn_down.weight", "token_embd.weight",
                           "output_norm.weight", "blk.6.post_ffw_norm.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        synth_spec spec = synth_gemma3();
        spec.omit = names[i];
        char msg[512];
        assert_int_equal(try_context(&spec, msg, sizeof msg), TINFER_E_FORMAT);
        if (!strstr(msg, names[i]) || !strstr(msg, "missing")) fail_msg("message: %s", msg);
    }
}

static void misshaped_tensor_is_named(void **state) {
    (void)state;
    const char *names[] = {"blk.2.attn_k.weight", "blk.1.attn_norm.weight",
                           "blk.4.attn_output.weight", "blk.0.ffn_gate.weight",
                           "blk.5.attn_q_norm.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        synth_spec spec = synth_gemma3();
        spec.misshape = names[i];
        char msg[512];
        assert_int_equal(try_context(&spec, msg, sizeof msg), TINFER_E_FORMAT);
        if (!strstr(msg, names[i]) || !strstr(msg, "shape")) fail_msg("message: %s", msg);
    }
}

static void qwen2_requires_its_biases(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    spec.arch = "qwen2";
    spec.sliding_window = 0;
    spec.omit = "blk.1.attn_v.bias";
    char msg[512];
    assert_int_equal(try_context(&spec, msg, sizeof msg), TINFER_E_FORMAT);
    assert_non_null(strstr(msg, "blk.1.attn_v.bias"));
}

static void unsupported_architecture_is_refused(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    spec.arch = "gpt2";
    char msg[512];
    assert_int_equal(try_context(&spec, msg, sizeof msg), TINFER_E_UNSUPPORTED);
    assert_non_null(strstr(msg, "gpt2"));
}

static void bad_context_params_are_refused(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    char path[4096];
    assert_non_null(synth_write(&spec, "errors_params.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    tinfer_context *ctx = NULL;
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = 0;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "n_ctx"));
    tinfer_context_params_init(&p, sizeof p);
    p.n_seq_max = 0;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_E_INVALID_ARG);
    tinfer_context_params_init(&p, sizeof p);
    p.kv_dtype = (tinfer_kv_dtype)7;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "kv_dtype"));
    /* A Q8_0 cache needs head dimensions in whole 32-element blocks. */
    synth_spec narrow = synth_gemma3();
    narrow.head_dim = 16;
    char narrow_path[4096];
    assert_non_null(
        synth_write(&narrow, "errors_narrow_heads.gguf", narrow_path, sizeof narrow_path));
    tinfer_model *narrow_model = NULL;
    assert_int_equal(tinfer_model_load(narrow_path, NULL, 0, &narrow_model), TINFER_OK);
    tinfer_context_params_init(&p, sizeof p);
    p.kv_dtype = TINFER_KV_Q8_0;
    assert_int_equal(tinfer_context_create(narrow_model, &p, sizeof p, &ctx), TINFER_E_UNSUPPORTED);
    assert_non_null(strstr(tinfer_last_error(), "multiples of 32"));
    assert_null(ctx);
    p.kv_dtype = TINFER_KV_F16; /* the same model with another cache type runs */
    assert_int_equal(tinfer_context_create(narrow_model, &p, sizeof p, &ctx), TINFER_OK);
    tinfer_context_free(ctx);
    ctx = NULL;
    tinfer_model_free(narrow_model);
    tinfer_context_params_init(&p, sizeof p);
    p.head_sum = (tinfer_head_sum)2;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "head_sum"));
    tinfer_context_params_init(&p, sizeof p);
    p.prompt_sum = (tinfer_prompt_sum)-1;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "prompt_sum"));
    assert_int_equal(tinfer_context_create(NULL, NULL, 0, &ctx), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_context_create(model, NULL, 0, NULL), TINFER_E_INVALID_ARG);
    assert_null(ctx);
    assert_int_equal(tinfer_prefill(NULL, 0, (const int32_t[]){1}, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_decode(NULL, (const int32_t[]){0}, (const int32_t[]){1}, 1),
                     TINFER_E_INVALID_ARG);
    size_t len;
    assert_int_equal(tinfer_kv_seq_len(NULL, 0, &len), TINFER_E_INVALID_ARG);
    assert_null(tinfer_logits(NULL, 0));
    tinfer_context_free(NULL);
    tinfer_model_free(model);
}

/* Every architecture × weight dtype runs and gives finite, token-dependent logits. */
static void every_architecture_and_dtype_runs(void **state) {
    (void)state;
    const char *archs[] = {"gemma3", "llama", "qwen2", "qwen3"};
    const uint32_t types[] = {0, 1, 30, 8};
    for (size_t a = 0; a < 4; a++)
        for (size_t t = 0; t < 4; t++) {
            synth_spec spec = synth_gemma3();
            spec.arch = archs[a];
            spec.matrix_type = types[t];
            if (strcmp(archs[a], "gemma3") != 0) spec.sliding_window = 0;
            char path[4096];
            assert_non_null(synth_write(&spec, "errors_archs.gguf", path, sizeof path));
            tinfer_model *model = NULL;
            assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
            tinfer_context_params p;
            tinfer_context_params_init(&p, sizeof p);
            p.n_ctx = 64;
            p.n_seq_max = 2;
            tinfer_context *ctx = NULL;
            if (tinfer_context_create(model, &p, sizeof p, &ctx) != TINFER_OK)
                fail_msg("%s type %u: %s", archs[a], types[t], tinfer_last_error());
            const int32_t one[3] = {1, 2, 3}, two[3] = {1, 2, 4};
            assert_int_equal(tinfer_prefill(ctx, 0, one, 3), TINFER_OK);
            assert_int_equal(tinfer_prefill(ctx, 1, two, 3), TINFER_OK);
            const float *l0 = tinfer_logits(ctx, 0), *l1 = tinfer_logits(ctx, 1);
            float diff = 0;
            for (size_t i = 0; i < spec.n_vocab; i++) {
                assert_true(isfinite(l0[i]) && isfinite(l1[i]));
                diff = fmaxf(diff, fabsf(l0[i] - l1[i]));
            }
            assert_true(diff > 1e-4f);
            tinfer_context_free(ctx);
            tinfer_model_free(model);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_tensor_is_named),
        cmocka_unit_test(misshaped_tensor_is_named),
        cmocka_unit_test(qwen2_requires_its_biases),
        cmocka_unit_test(unsupported_architecture_is_refused),
        cmocka_unit_test(bad_context_params_are_refused),
        cmocka_unit_test(every_architecture_and_dtype_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
