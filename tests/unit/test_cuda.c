/* The device choice behind tinfer_context_params.device: the CPU always; CUDA refused with a
 * message that says why (built without it, no such device, or — until the CUDA forward pass
 * has run on a GPU — a device that is present, unless TINFER_CUDA_UNTESTED=1 asks for it); and tinfer_has_cuda() telling the truth about the build:
 * the shared library (loaded here with dlopen) must say it has CUDA exactly when loading it
 * brought the CUDA runtime into the process. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

static int find_cudart(struct dl_phdr_info *info, size_t size, void *found) {
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "libcudart")) *(bool *)found = true;
    return 0;
}

static void has_cuda_matches_the_linked_runtime(void **state) {
    (void)state;
    const char *path = getenv("TINFER_SHARED_LIBRARY"); /* set by tests/CMakeLists.txt */
    if (!path) {
        skip();
        return;
    }
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(library);
    bool (*has_cuda)(void) = (bool (*)(void))dlsym(library, "tinfer_has_cuda");
    int (*device_count)(void) = (int (*)(void))dlsym(library, "tinfer_cuda_device_count");
    assert_non_null(has_cuda);
    assert_non_null(device_count);
    bool cudart_loaded = false;
    dl_iterate_phdr(find_cudart, &cudart_loaded);
    assert_int_equal(has_cuda(), cudart_loaded);
    const int n_devices = device_count();
    assert_true(n_devices >= 0);
    if (!has_cuda()) assert_int_equal(n_devices, 0);
    dlclose(library);
}

static tinfer_model *tiny_model(void) {
    synth_spec spec = synth_gemma3();
    char path[512];
    assert_non_null(synth_write(&spec, "device_gemma3.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    return model;
}

static tinfer_status create_on(tinfer_model *model, tinfer_device_kind device, int32_t index,
                               tinfer_context **ctx) {
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = 64;
    p.device = device;
    p.device_index = index;
    return tinfer_context_create(model, &p, sizeof p, ctx);
}

static void devices_are_chosen_or_refused_clearly(void **state) {
    (void)state;
    tinfer_model *model = tiny_model();
    tinfer_context *ctx = NULL;
    assert_int_equal(create_on(model, TINFER_DEVICE_CPU, 0, &ctx), TINFER_OK);
    const int32_t token = 1;
    assert_int_equal(tinfer_prefill(ctx, 0, &token, 1), TINFER_OK);
    tinfer_context_free(ctx);

    ctx = NULL;
    assert_int_equal(create_on(model, TINFER_DEVICE_CPU, 1, &ctx), TINFER_E_UNSUPPORTED);
    assert_null(ctx);
    assert_non_null(strstr(tinfer_last_error(), "one device"));

    /* a CUDA forward pass not yet run on a GPU is refused unless asked for by name */
    unsetenv("TINFER_CUDA_UNTESTED");
    assert_int_equal(create_on(model, TINFER_DEVICE_CUDA, 0, &ctx), TINFER_E_UNSUPPORTED);
    assert_null(ctx);
    const char *why = !tinfer_has_cuda()                ? "built without the CUDA backend"
                      : tinfer_cuda_device_count() == 0 ? "CUDA devices are usable here"
                                                        : "set TINFER_CUDA_UNTESTED=1";
    assert_non_null(strstr(tinfer_last_error(), why));

    assert_int_equal(create_on(model, (tinfer_device_kind)7, 0, &ctx), TINFER_E_INVALID_ARG);
    assert_int_equal(create_on(model, TINFER_DEVICE_CPU, -1, &ctx), TINFER_E_INVALID_ARG);
    tinfer_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(has_cuda_matches_the_linked_runtime),
        cmocka_unit_test(devices_are_chosen_or_refused_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
