/* Weights are bound once per model and copied once per model and device: the model's weight
 * regions cover every matrix and vector the forward pass hands a backend; a backend that uploads
 * (a device's) gets one copy per device however many contexts ask, and the model frees it. The
 * uploading backend here is a test device: a table of the seam's weight ops over host memory,
 * since this machine has no GPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "model/device_weights.h"
#include "model/network.h"
#include "synthetic_model.h"
#include "tinfer/tinfer.h"

static int n_uploads, n_releases;
static size_t uploaded_bytes;
static void *bound_copy;

static tinfer_status test_upload(tf_backend *be, const tf_weight_regions *regions, void **copy) {
    (void)be;
    n_uploads++;
    for (size_t i = 0; i < regions->n; i++) uploaded_bytes += regions->regions[i].bytes;
    *copy = malloc(1);
    return *copy ? TINFER_OK : TINFER_E_NOMEM;
}

static void test_release(void *copy) {
    n_releases++;
    free(copy);
}

static void test_use(tf_backend *be, void *copy) {
    (void)be;
    bound_copy = copy;
}

static const tf_backend_ops TEST_DEVICE_OPS = {
    .name = "test-device",
    .upload_weights = test_upload,
    .release_weights = test_release,
    .use_weights = test_use,
};

static tinfer_model *load_gemma3(void) {
    synth_spec spec = synth_gemma3();
    spec.matrix_type = 8; /* Q8_0 */
    char path[512];
    assert_non_null(synth_write(&spec, "device_weights_gemma3.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    return model;
}

static bool inside(const tf_weight_region *r, size_t n, const void *p, size_t bytes) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *base = r[i].host;
        if ((const uint8_t *)p >= base && (const uint8_t *)p + bytes <= base + r[i].bytes)
            return true;
    }
    return false;
}

static void assert_matrix_inside(const tf_weight_region *r, size_t n, const tf_matrix *m) {
    assert_true(inside(r, n, m->data, (size_t)m->n_rows * m->row_bytes));
}

static void regions_cover_every_weight(void **state) {
    (void)state;
    tinfer_model *model = load_gemma3();
    const tf_network *net = NULL;
    assert_int_equal(tf_model_network(model, &net), TINFER_OK);
    tf_weight_region regions[8];
    const size_t n = tf_model_weight_regions(model, regions, 8);
    assert_int_equal(n, 2); /* the file's tensor data, the norm copies */
    const tf_weights *w = &net->weights;
    const size_t n_embd = model->hparams.n_embd;
    assert_matrix_inside(regions, n, &w->token_embd);
    assert_matrix_inside(regions, n, &w->output);
    assert_true(inside(regions, n, w->output_norm, n_embd * sizeof(float)));
    for (uint32_t l = 0; l < w->n_layer; l++) {
        const tf_layer_weights *lw = &w->layers[l];
        const tf_matrix *matrices[] = {&lw->wq,       &lw->wk,     &lw->wv,      &lw->wo,
                                       &lw->ffn_gate, &lw->ffn_up, &lw->ffn_down};
        for (size_t i = 0; i < 7; i++) assert_matrix_inside(regions, n, matrices[i]);
        assert_true(inside(regions, n, lw->attn_norm, n_embd * sizeof(float)));
        assert_true(inside(regions, n, lw->post_ffn_norm, n_embd * sizeof(float)));
        assert_true(inside(regions, n, lw->q_norm, model->hparams.head_dim * sizeof(float)));
    }
    /* The regions are no bigger than what they hold: tensor data plus the norm copies. */
    uint64_t tensor_bytes = 0;
    for (size_t i = 0; i < model->tensors.n_tensors; i++)
        tensor_bytes += model->tensors.tensors[i].n_bytes;
    assert_true(regions[0].bytes >= tensor_bytes && regions[0].bytes < tensor_bytes + 4096);
    tinfer_model_free(model);
}

static void one_copy_per_model_and_device(void **state) {
    (void)state;
    n_uploads = n_releases = 0;
    tinfer_model *model = load_gemma3();
    tf_backend device0 = {.ops = &TEST_DEVICE_OPS, .device = TINFER_DEVICE_CUDA};
    tf_backend device0_again = device0;
    tf_backend device1 = {.ops = &TEST_DEVICE_OPS, .device = TINFER_DEVICE_CUDA, .device_index = 1};
    assert_int_equal(tf_model_bind_device(model, &device0), TINFER_OK);
    void *first = bound_copy;
    assert_int_equal(tf_model_bind_device(model, &device0_again), TINFER_OK);
    assert_ptr_equal(bound_copy, first);
    assert_int_equal(n_uploads, 1);
    assert_int_equal(tf_model_bind_device(model, &device1), TINFER_OK);
    assert_ptr_not_equal(bound_copy, first);
    assert_int_equal(n_uploads, 2);
    assert_true(uploaded_bytes > 0);
    /* A CPU context reads the weights in place: no copy. */
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, NULL, 0, &ctx), TINFER_OK);
    assert_int_equal(n_uploads, 2);
    tinfer_context_free(ctx);
    assert_int_equal(n_releases, 0);
    tinfer_model_free(model);
    assert_int_equal(n_releases, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regions_cover_every_weight),
        cmocka_unit_test(one_copy_per_model_and_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
