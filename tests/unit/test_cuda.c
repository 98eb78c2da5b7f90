/* The CUDA path: built and linked whenever the build has CUDA; run only where a GPU is present,
 * checked against the same sum computed on the CPU. Without a GPU the tests skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tinfer/tinfer.h"
#if TINFER_HAVE_CUDA
#include "backend/cuda/cuda_device.h"
#endif

static void build_reports_cuda_consistently(void **state) {
    (void)state;
    assert_int_equal(tinfer_has_cuda(), TINFER_HAVE_CUDA != 0);
    int n_devices = tinfer_cuda_device_count();
    assert_true(n_devices >= 0);
    if (!tinfer_has_cuda()) assert_int_equal(n_devices, 0);
}

static void vector_add_matches_cpu(void **state) {
    (void)state;
#if TINFER_HAVE_CUDA
    if (tinfer_cuda_device_count() == 0) {
        skip();
        return;
    }
    enum { N = 100003 }; /* not a multiple of the block size: exercises the bounds check */
    static float a[N], b[N], out[N];
    for (int i = 0; i < N; i++) {
        a[i] = (float)i * 0.5f;
        b[i] = (float)(N - i) * 0.25f;
    }
    assert_int_equal(tf_cuda_vector_add(a, b, out, N), 0);
    for (int i = 0; i < N; i++) assert_true(out[i] == a[i] + b[i]); /* one IEEE add: exact */
#else
    skip();
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_reports_cuda_consistently),
        cmocka_unit_test(vector_add_matches_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
