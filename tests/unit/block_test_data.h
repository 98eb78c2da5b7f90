/* Random weight blocks for the tests of the CUDA kernels' decoders and products
 * (test_cuda_quant.c, and through cuda_test_rows.h the GPU tests): a seeded generator and where
 * each block format keeps its half-precision scales. Needs no CUDA. */
#ifndef TINFER_TESTS_UNIT_BLOCK_TEST_DATA_H
#define TINFER_TESTS_UNIT_BLOCK_TEST_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "backend/cuda/cuda_quant.h"

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

#endif
