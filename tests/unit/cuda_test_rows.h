/* Test data for the CUDA kernel tests (test_cuda_matvec.c, test_cuda_ops.c): weight rows of
 * random blocks with ordinary scales, and host buffers copied to the device. Included only in a
 * build with CUDA (TINFER_HAVE_CUDA), after cmocka.h (the helpers assert). */
#ifndef TINFER_TESTS_UNIT_CUDA_TEST_ROWS_H
#define TINFER_TESTS_UNIT_CUDA_TEST_ROWS_H

#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_quant.h"
#include "block_test_data.h"
#include "quant/fp16.h"

static uint16_t small_half(uint64_t *seed) {
    return tf_f32_to_f16((float)((int)(next_random(seed) % 2001) - 1000) / 8192.0f);
}

/* n_rows × n_cols weights of dtype: random codes, ordinary scales (floats: small values). */
static uint8_t *random_rows(int dtype, uint32_t n_rows, uint32_t n_cols, size_t *row_bytes,
                            uint64_t seed) {
    uint32_t elems = 0, bytes = 0;
    assert_true(tfc_block_shape(dtype, &elems, &bytes));
    *row_bytes = (size_t)n_cols / elems * bytes;
    uint8_t *w = malloc(*row_bytes * n_rows);
    assert_non_null(w);
    for (size_t i = 0; i < *row_bytes * n_rows; i++) w[i] = (uint8_t)next_random(&seed);
    const size_t n_blocks = (size_t)n_rows * (n_cols / elems);
    for (size_t b = 0; b < n_blocks; b++) {
        uint8_t *block = w + b * bytes;
        if (dtype == TINFER_DTYPE_F32) {
            const float value = tf_f16_to_f32(small_half(&seed));
            memcpy(block, &value, sizeof value);
        } else if (dtype == TINFER_DTYPE_F16) {
            const uint16_t half = small_half(&seed);
            memcpy(block, &half, sizeof half);
        } else if (dtype == TINFER_DTYPE_BF16) {
            const uint16_t bf16 = tf_f32_to_bf16(tf_f16_to_f32(small_half(&seed)));
            memcpy(block, &bf16, sizeof bf16);
        }
        size_t offsets[2];
        const size_t n = scale_offsets(dtype, offsets);
        for (size_t h = 0; h < n; h++) {
            const uint16_t half = small_half(&seed);
            memcpy(block + offsets[h], &half, sizeof half);
        }
    }
    return w;
}

static void *to_device(const void *host, size_t bytes) {
    void *device = NULL;
    assert_int_equal(cudaMalloc(&device, bytes), cudaSuccess);
    assert_int_equal(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), cudaSuccess);
    return device;
}

#endif
