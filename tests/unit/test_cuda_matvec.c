/* The CUDA weight-row product (backend/cuda/cuda_matvec.cu) against the reference: every dtype
 * the kernels decode, one token and a prompt's many, rows of random blocks with ordinary scales,
 * each output within a float32 summation bound of a double-precision dot over the reference
 * dequantizer's values. Skips, saying why, in a build without CUDA or on a machine without a GPU
 * (this one); runs in scripts/device/check.sh's ctest on a machine with one. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quant/dequant.h"
#include "quant/fp16.h"

#if TINFER_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_device.h"
#include "backend/cuda/cuda_kernels.h"
#include "cuda_test_rows.h"
#endif

#if TINFER_HAVE_CUDA
static void check_dtype(int dtype, uint32_t n_tokens) {
    enum { N_ROWS = 70, N_COLS = 512 }; /* 70: the last block of warps is partly empty */
    size_t row_bytes;
    uint64_t seed = 99 + (uint64_t)dtype * 31 + n_tokens;
    uint8_t *w = random_rows(dtype, N_ROWS, N_COLS, &row_bytes, seed);
    float *x = malloc(sizeof(float) * n_tokens * N_COLS),
          *y = malloc(sizeof(float) * n_tokens * N_ROWS);
    float *row = malloc(sizeof(float) * N_COLS);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(row);
    for (size_t i = 0; i < (size_t)n_tokens * N_COLS; i++)
        x[i] = (float)((int)(next_random(&seed) % 2001) - 1000) / 1000.0f;
    void *w_dev = to_device(w, row_bytes * N_ROWS),
         *x_dev = to_device(x, sizeof(float) * n_tokens * N_COLS);
    void *y_dev = NULL;
    assert_int_equal(cudaMalloc(&y_dev, sizeof(float) * n_tokens * N_ROWS), cudaSuccess);
    assert_int_equal(
        tfc_matvec(dtype, w_dev, row_bytes, N_ROWS, N_COLS, x_dev, n_tokens, y_dev, NULL), 0);
    assert_int_equal(
        cudaMemcpy(y, y_dev, sizeof(float) * n_tokens * N_ROWS, cudaMemcpyDeviceToHost),
        cudaSuccess);
    tf_dequant_fn decode = tf_dequant_fn_of((tinfer_dtype)dtype);
    for (uint32_t r = 0; r < N_ROWS; r++) {
        decode(w + r * row_bytes, row, N_COLS);
        for (uint32_t t = 0; t < n_tokens; t++) {
            double dot = 0, magnitude = 0;
            for (uint32_t e = 0; e < N_COLS; e++) {
                dot += (double)row[e] * x[(size_t)t * N_COLS + e];
                magnitude += fabs((double)row[e] * x[(size_t)t * N_COLS + e]);
            }
            /* float32 sums of N_COLS terms in any order: within N_COLS · 2^-24 of the magnitude */
            const double bound = magnitude * N_COLS * 0x1p-24 + 1e-30;
            const double got = y[(size_t)t * N_ROWS + r];
            if (fabs(got - dot) > bound)
                fail_msg("%s, %u tokens: row %u token %u: %.9g, reference %.9g (bound %.3g)",
                         tinfer_dtype_name((tinfer_dtype)dtype), n_tokens, r, t, got, dot, bound);
        }
    }
    cudaFree(w_dev);
    cudaFree(x_dev);
    cudaFree(y_dev);
    free(row);
    free(y);
    free(x);
    free(w);
}
#endif

static void products_match_the_reference(void **state) {
    (void)state;
#if TINFER_HAVE_CUDA
    if (tf_cuda_device_count() == 0) {
        fprintf(stderr, "test_cuda_matvec: no CUDA device on this machine: skipped\n");
        skip();
    }
    static const int DTYPES[] = {TINFER_DTYPE_F32,  TINFER_DTYPE_F16,  TINFER_DTYPE_BF16,
                                 TINFER_DTYPE_Q4_0, TINFER_DTYPE_Q4_1, TINFER_DTYPE_Q5_0,
                                 TINFER_DTYPE_Q5_1, TINFER_DTYPE_Q8_0, TINFER_DTYPE_Q2_K,
                                 TINFER_DTYPE_Q3_K, TINFER_DTYPE_Q4_K, TINFER_DTYPE_Q5_K,
                                 TINFER_DTYPE_Q6_K};
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++) {
        check_dtype(DTYPES[i], 1);
        check_dtype(DTYPES[i], 11); /* a prompt: two passes of eight tokens, the second partial */
    }
    assert_int_equal(tfc_matvec(TINFER_DTYPE_Q8_K, NULL, 0, 1, 256, NULL, 1, NULL, NULL),
                     TFC_E_DTYPE);
#else
    fprintf(stderr, "test_cuda_matvec: built without CUDA: skipped\n");
    skip();
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(products_match_the_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
