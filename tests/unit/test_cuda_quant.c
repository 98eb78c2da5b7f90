/* The CUDA kernels' element decoders (backend/cuda/cuda_quant.h), compiled here for the host:
 * every element of random rows of every format, bit for bit against the reference dequantizers
 * (quant/dequant.h, themselves held to gguf-py's numpy dequantizers by test_dequant.c); every
 * half and bfloat16 value; the field offsets against quant/blocks.h's structs. Runs on any
 * machine: what needs a GPU is only the kernels that call these. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/cuda/cuda_quant.h"
#include "block_test_data.h"
#include "quant/blocks.h"
#include "quant/dequant.h"
#include "quant/fp16.h"

/* Same bits, or both NaN (which NaN an inf · 0 gives is the hardware's choice). */
static void assert_same_float(float expected, float actual, int dtype, uint32_t e) {
    if (isnan(expected) && isnan(actual)) return;
    uint32_t want, got;
    memcpy(&want, &expected, sizeof want);
    memcpy(&got, &actual, sizeof got);
    if (want != got)
        fail_msg("%s element %u: reference %a (0x%08x), CUDA decoder %a (0x%08x)",
                 tinfer_dtype_name((tinfer_dtype)dtype), e, (double)expected, want, (double)actual,
                 got);
}

/* A row of n_blocks random blocks; finite_scales: scale fields (every f16 here) set to finite
 * values, so the row also checks ordinary numbers and not mostly NaN and inf. */
static void check_format(int dtype, uint32_t n_blocks, uint64_t seed) {
    uint32_t elems = 0, bytes = 0;
    assert_true(tfc_block_shape(dtype, &elems, &bytes));
    const uint32_t n = n_blocks * elems;
    /* one spare byte in front: the row starts at an odd address, as a file may place it */
    uint8_t *storage = malloc((size_t)n_blocks * bytes + 1);
    float *reference = malloc((size_t)n * sizeof *reference);
    assert_non_null(storage);
    assert_non_null(reference);
    uint8_t *row = storage + 1;
    for (uint32_t i = 0; i < n_blocks * bytes; i++) row[i] = (uint8_t)next_random(&seed);
    tf_dequant_fn decode = tf_dequant_fn_of((tinfer_dtype)dtype);
    assert_non_null(decode);
    decode(row, reference, n);
    for (uint32_t e = 0; e < n; e++)
        assert_same_float(reference[e], tfc_decode(dtype, row, e), dtype, e);
    free(reference);
    free(storage);
}

static const int FORMATS[] = {
    TINFER_DTYPE_F32,  TINFER_DTYPE_F16,  TINFER_DTYPE_BF16, TINFER_DTYPE_Q4_0, TINFER_DTYPE_Q4_1,
    TINFER_DTYPE_Q5_0, TINFER_DTYPE_Q5_1, TINFER_DTYPE_Q8_0, TINFER_DTYPE_Q2_K, TINFER_DTYPE_Q3_K,
    TINFER_DTYPE_Q4_K, TINFER_DTYPE_Q5_K, TINFER_DTYPE_Q6_K};

static void every_format_matches_the_reference(void **state) {
    (void)state;
    for (size_t f = 0; f < sizeof FORMATS / sizeof FORMATS[0]; f++)
        for (uint64_t seed = 1; seed <= 8; seed++) check_format(FORMATS[f], 64, seed * 7919 + f);
}

/* Random bytes make mostly huge or non-finite f16 scales; rows whose scales are small and finite
 * check the ordinary arithmetic too (sub-block scale × code − min). */
static void ordinary_scales_match_the_reference(void **state) {
    (void)state;
    for (size_t f = 0; f < sizeof FORMATS / sizeof FORMATS[0]; f++) {
        uint32_t elems = 0, bytes = 0;
        assert_true(tfc_block_shape(FORMATS[f], &elems, &bytes));
        if (elems == 1) continue;
        uint64_t seed = 1234 + f;
        enum { N_BLOCKS = 32 };
        uint8_t row[N_BLOCKS * 210];
        float reference[N_BLOCKS * 256];
        for (uint32_t i = 0; i < N_BLOCKS * bytes; i++) row[i] = (uint8_t)next_random(&seed);
        /* every half-precision field of the block: d (and dmin / m), set to a finite value */
        size_t halves[2];
        const size_t n_halves = scale_offsets(FORMATS[f], halves);
        for (uint32_t b = 0; b < N_BLOCKS; b++)
            for (size_t h = 0; h < n_halves; h++) {
                const float value = (float)((int)(next_random(&seed) % 2001) - 1000) / 4096.0f;
                const uint16_t half = tf_f32_to_f16(value);
                row[b * bytes + halves[h]] = (uint8_t)half;
                row[b * bytes + halves[h] + 1] = (uint8_t)(half >> 8);
            }
        tf_dequant_fn_of((tinfer_dtype)FORMATS[f])(row, reference, N_BLOCKS * elems);
        for (uint32_t e = 0; e < N_BLOCKS * elems; e++) {
            assert_false(isnan(reference[e]));
            assert_same_float(reference[e], tfc_decode(FORMATS[f], row, e), FORMATS[f], e);
        }
    }
}

static void every_half_and_bfloat16(void **state) {
    (void)state;
    for (uint32_t bits = 0; bits < 65536; bits++) {
        assert_same_float(tf_f16_to_f32((uint16_t)bits), tfc_f16(bits), TINFER_DTYPE_F16, bits);
        assert_same_float(tf_bf16_to_f32((uint16_t)bits), tfc_bf16(bits), TINFER_DTYPE_BF16, bits);
    }
}

static void offsets_are_the_block_structs(void **state) {
    (void)state;
    assert_int_equal(TFC_Q4_0_BYTES, sizeof(tf_block_q4_0));
    assert_int_equal(TFC_Q4_0_QS, offsetof(tf_block_q4_0, qs));
    assert_int_equal(TFC_Q4_1_BYTES, sizeof(tf_block_q4_1));
    assert_int_equal(TFC_Q4_1_M, offsetof(tf_block_q4_1, m));
    assert_int_equal(TFC_Q4_1_QS, offsetof(tf_block_q4_1, qs));
    assert_int_equal(TFC_Q5_0_BYTES, sizeof(tf_block_q5_0));
    assert_int_equal(TFC_Q5_0_QH, offsetof(tf_block_q5_0, qh));
    assert_int_equal(TFC_Q5_0_QS, offsetof(tf_block_q5_0, qs));
    assert_int_equal(TFC_Q5_1_BYTES, sizeof(tf_block_q5_1));
    assert_int_equal(TFC_Q5_1_M, offsetof(tf_block_q5_1, m));
    assert_int_equal(TFC_Q5_1_QH, offsetof(tf_block_q5_1, qh));
    assert_int_equal(TFC_Q5_1_QS, offsetof(tf_block_q5_1, qs));
    assert_int_equal(TFC_Q8_0_BYTES, sizeof(tf_block_q8_0));
    assert_int_equal(TFC_Q8_0_QS, offsetof(tf_block_q8_0, qs));
    assert_int_equal(TFC_Q2_K_BYTES, sizeof(tf_block_q2_k));
    assert_int_equal(TFC_Q2_K_SCALES, offsetof(tf_block_q2_k, scales));
    assert_int_equal(TFC_Q2_K_QS, offsetof(tf_block_q2_k, qs));
    assert_int_equal(TFC_Q2_K_D, offsetof(tf_block_q2_k, d));
    assert_int_equal(TFC_Q2_K_DMIN, offsetof(tf_block_q2_k, dmin));
    assert_int_equal(TFC_Q3_K_BYTES, sizeof(tf_block_q3_k));
    assert_int_equal(TFC_Q3_K_HMASK, offsetof(tf_block_q3_k, hmask));
    assert_int_equal(TFC_Q3_K_QS, offsetof(tf_block_q3_k, qs));
    assert_int_equal(TFC_Q3_K_SCALES, offsetof(tf_block_q3_k, scales));
    assert_int_equal(TFC_Q3_K_D, offsetof(tf_block_q3_k, d));
    assert_int_equal(TFC_Q4_K_BYTES, sizeof(tf_block_q4_k));
    assert_int_equal(TFC_Q4_K_DMIN, offsetof(tf_block_q4_k, dmin));
    assert_int_equal(TFC_Q4_K_SCALES, offsetof(tf_block_q4_k, scales));
    assert_int_equal(TFC_Q4_K_QS, offsetof(tf_block_q4_k, qs));
    assert_int_equal(TFC_Q5_K_BYTES, sizeof(tf_block_q5_k));
    assert_int_equal(TFC_Q5_K_DMIN, offsetof(tf_block_q5_k, dmin));
    assert_int_equal(TFC_Q5_K_SCALES, offsetof(tf_block_q5_k, scales));
    assert_int_equal(TFC_Q5_K_QH, offsetof(tf_block_q5_k, qh));
    assert_int_equal(TFC_Q5_K_QS, offsetof(tf_block_q5_k, qs));
    assert_int_equal(TFC_Q6_K_BYTES, sizeof(tf_block_q6_k));
    assert_int_equal(TFC_Q6_K_QL, offsetof(tf_block_q6_k, ql));
    assert_int_equal(TFC_Q6_K_QH, offsetof(tf_block_q6_k, qh));
    assert_int_equal(TFC_Q6_K_SCALES, offsetof(tf_block_q6_k, scales));
    assert_int_equal(TFC_Q6_K_D, offsetof(tf_block_q6_k, d));
}

static void unknown_dtype_has_no_shape(void **state) {
    (void)state;
    uint32_t elems = 7, bytes = 7;
    assert_false(tfc_block_shape(TINFER_DTYPE_Q8_K, &elems, &bytes));
    assert_false(tfc_block_shape(TINFER_DTYPE_I32, &elems, &bytes));
    assert_false(tfc_block_shape(-1, &elems, &bytes));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_format_matches_the_reference),
        cmocka_unit_test(ordinary_scales_match_the_reference),
        cmocka_unit_test(every_half_and_bfloat16),
        cmocka_unit_test(offsets_are_the_block_structs),
        cmocka_unit_test(unknown_dtype_has_no_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
