/* Hostile model files through the public API.
 * Hyper-parameters a file may lie with, each refused with E_FORMAT at context creation (the model
 * still loads, for inspection) before anything is sized from it:
 *  - head counts whose 32-bit products with head_dim wrap around to the tensors' real shape
 *    (2^29 + 2 heads of 8 → 16 rows), which would size the cache and scratch for 2^33 rows;
 *  - a block_count far above the file's tensor count (2^25 + 1 layers in a ~10 KB file).
 * Non-finite weights (a NaN or infinite Q8_0 scale in the embedding) are not rejected, but every
 * float → int conversion they reach is defined: the step succeeds and the logits are NaN (the
 * sanitizer builds check that no undefined conversion happens on the way). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

/* keys from `keys`, tensors of `tensors` (so the two may disagree) */
static const char *write_mixed(const synth_spec *keys, const synth_spec *tensors, const char *name,
                               char *path, size_t cap) {
    gguf_writer *w = gw_new();
    assert_non_null(w);
    synth_keys(w, keys);
    synth_tensor(w, tensors, "token_embd.weight", tensors->n_vocab, tensors->n_embd, false, 1.0f,
                 0);
    synth_tensor(w, tensors, "output_norm.weight", 1, tensors->n_embd, true, 0.1f, 1.0f);
    for (uint32_t l = 0; l < tensors->n_layer; l++) synth_layer(w, tensors, l);
    test_tmp_path(path, cap, name);
    assert_true(gw_write_file(w, path));
    gw_free(w);
    return path;
}

static synth_spec small_llama(void) {
    synth_spec s = synth_gemma3();
    s.arch = "llama";
    s.sliding_window = 0;
    s.n_layer = 1;
    return s;
}

static void refused_with(const char *path, const char *needle) {
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, NULL, 0, &ctx), TINFER_E_FORMAT);
    assert_null(ctx);
    assert_non_null(strstr(tinfer_last_error(), needle));
    tinfer_model_free(model);
}

static void wrapping_head_products_are_refused(void **state) {
    (void)state;
    /* As the fuzzer found it: the tensors are written with the wrapped row count. */
    synth_spec s = small_llama();
    s.n_head = s.n_head_kv = (1u << 29) + 2;
    s.head_dim = 8;
    char path[512];
    assert_non_null(synth_write(&s, "hostile_heads.gguf", path, sizeof path));
    refused_with(path, "head_count");
}

static void block_count_beyond_the_tensors_is_refused(void **state) {
    (void)state;
    const synth_spec tensors = small_llama();
    synth_spec keys = tensors;
    keys.n_layer = (1u << 25) + 1;
    char path[512];
    write_mixed(&keys, &tensors, "hostile_layers.gguf", path, sizeof path);
    refused_with(path, "block_count");
}

/* Writes a Q8_0 model, then overwrites the f16 scale of token 0's first embedding block. */
static void write_with_embedding_scale(uint16_t scale_bits, const char *name, char *path,
                                       size_t cap) {
    synth_spec s = small_llama();
    s.matrix_type = 8; /* Q8_0 */
    assert_non_null(synth_write(&s, name, path, cap));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    size_t index;
    assert_int_equal(tinfer_model_tensor_find(model, "token_embd.weight", &index), TINFER_OK);
    tinfer_tensor_info info;
    assert_int_equal(tinfer_model_tensor(model, index, &info, sizeof info), TINFER_OK);
    assert_int_equal(info.dtype, TINFER_DTYPE_Q8_0);
    const uint64_t offset = info.file_offset;
    tinfer_model_free(model);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)offset, SEEK_SET), 0);
    assert_int_equal(fwrite(&scale_bits, sizeof scale_bits, 1, f), 1);
    assert_int_equal(fclose(f), 0);
}

static void non_finite_weights_give_nan_logits(void **state) {
    (void)state;
    const uint16_t scales[] = {0x7E00 /* NaN */, 0x7C00 /* +inf */};
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        write_with_embedding_scale(scales[i], i ? "hostile_inf.gguf" : "hostile_nan.gguf", path,
                                   sizeof path);
        tinfer_model *model = NULL;
        assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
        tinfer_context *ctx = NULL;
        assert_int_equal(tinfer_context_create(model, NULL, 0, &ctx), TINFER_OK);
        const int32_t tokens[] = {0, 1, 0};
        assert_int_equal(tinfer_prefill(ctx, 0, tokens, 3), TINFER_OK);
        const int32_t seq = 0, next = 0;
        assert_int_equal(tinfer_decode(ctx, &seq, &next, 1), TINFER_OK);
        const float *logits = tinfer_logits(ctx, 0);
        assert_non_null(logits);
        assert_true(isnan(logits[0]));
        tinfer_context_free(ctx);
        tinfer_model_free(model);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrapping_head_products_are_refused),
        cmocka_unit_test(block_count_beyond_the_tensors_is_refused),
        cmocka_unit_test(non_finite_weights_give_nan_logits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
