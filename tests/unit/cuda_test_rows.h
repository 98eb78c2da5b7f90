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
#include "quant/fp16.h"

static uint64_t next_random(uint64_t *state) { /* xorshift64* */
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

/* The offsets of a block's half-precision scales (d, and dmin or m), set to small finite values
 * so that the products are ordinary numbers. */
static size_t scale_offsets(int dtype, size_t offsets[2]) {
    switch (dtype) {
    case TINFER_DTYPE_Q4_0:
    case TINFER_DTYPE_Q5_0:
    case TINFER_DTYPE_Q8_0:
        offsets[0] = 0;
        return 1;
    case TINFER_DTYPE_Q4_1:
        offsets[0] = 0;
        offsets[1] = TFC_Q4_1_M;
        return 2;
    case TINFER_DTYPE_Q5_1:
        offsets[0] = 0;
        offsets[1] = TFC_Q5_1_M;
        return 2;
    case TINFER_DTYPE_Q2_K:
        offsets[0] = TFC_Q2_K_D;
        offsets[1] = TFC_Q2_K_DMIN;
        return 2;
    case TINFER_DTYPE_Q3_K:
        offsets[0] = TFC_Q3_K_D;
        return 1;
    case TINFER_DTYPE_Q4_K:
        offsets[0] = 0;
        offsets[1] = TFC_Q4_K_DMIN;
        return 2;
    case TINFER_DTYPE_Q5_K:
        offsets[0] = 0;
        offsets[1] = TFC_Q5_K_DMIN;
        return 2;
    case TINFER_DTYPE_Q6_K:
        offsets[0] = TFC_Q6_K_D;
        return 1;
    default:
        return 0;
    }
}

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
