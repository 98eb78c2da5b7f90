/* Scalar dequantization and f16/bf16 conversion.
 *
 * The golden files in tests/data/dequant/ (written by scripts/gen_dequant_golden.py) hold random
 * blocks of every supported dtype and the values the PyPI `gguf` package's numpy dequantizers
 * compute for them; our decoders must reproduce those bit for bit. The only latitude: where the
 * reference value is a NaN, any NaN is accepted (which NaN an inf * 0 or a converted signalling
 * NaN becomes is the hardware's choice, not the format's). */
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
#include "quant/dtype.h"
#include "quant/fp16.h"

/* ---- golden files ---- */

enum { GOLDEN_HEADER_BYTES = 20, GOLDEN_VERSION = 1, CANARY_ELEMS = 64 };
static const uint32_t CANARY_BITS = 0xDEADBEEFu;

typedef struct golden {
    tinfer_dtype dtype;
    uint32_t n_elems;
    uint32_t n_raw_bytes;
    uint8_t *raw;     /* the encoded row */
    float *expected;  /* n_elems reference values */
    uint8_t *storage; /* the whole file */
} golden;

static uint32_t read_u32_le(const uint8_t *bytes) {
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
           (uint32_t)bytes[3] << 24;
}

static uint8_t *read_whole_file(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (!file) fail_msg("cannot open %s (run scripts/gen_dequant_golden.py?)", path);
    assert_int_equal(fseek(file, 0, SEEK_END), 0);
    const long file_size = ftell(file);
    assert_true(file_size >= 0);
    rewind(file);
    uint8_t *bytes = malloc((size_t)file_size + 1);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)file_size, file), (size_t)file_size);
    fclose(file);
    *size = (size_t)file_size;
    return bytes;
}

static void load_golden(const char *type_name, golden *out) {
    const char *source_dir = getenv("TINFER_SOURCE_DIR");
    if (!source_dir) fail_msg("TINFER_SOURCE_DIR is not set (run the test through ctest)");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/dequant/%s.bin", source_dir, type_name);
    size_t size;
    uint8_t *bytes = read_whole_file(path, &size);
    assert_true(size >= GOLDEN_HEADER_BYTES);
    assert_memory_equal(bytes, "TFDQ", 4);
    assert_int_equal(read_u32_le(bytes + 4), GOLDEN_VERSION);
    out->dtype = (tinfer_dtype)read_u32_le(bytes + 8);
    out->n_elems = read_u32_le(bytes + 12);
    out->n_raw_bytes = read_u32_le(bytes + 16);
    assert_int_equal(size,
                     GOLDEN_HEADER_BYTES + (size_t)out->n_raw_bytes + 4 * (size_t)out->n_elems);
    out->storage = bytes;
    out->raw = bytes + GOLDEN_HEADER_BYTES;
    out->expected = malloc(4 * (size_t)out->n_elems);
    assert_non_null(out->expected);
    memcpy(out->expected, out->raw + out->n_raw_bytes, 4 * (size_t)out->n_elems);
}

static void free_golden(golden *g) {
    free(g->storage);
    free(g->expected);
}

/* ---- comparisons ---- */

static void assert_same_values(const float *got, const float *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        const uint32_t got_bits = tf_f32_to_bits(got[i]), want_bits = tf_f32_to_bits(want[i]);
        const int same = isnan(want[i]) ? isnan(got[i]) : got_bits == want_bits;
        if (!same)
            fail_msg("%s: element %zu: got 0x%08x (%.9g), want 0x%08x (%.9g)", what, i,
                     (unsigned)got_bits, (double)got[i], (unsigned)want_bits, (double)want[i]);
    }
}

/* A float buffer of n values followed by CANARY_ELEMS guard values that must survive. */
static float *alloc_guarded(size_t n) {
    float *buf = malloc((n + CANARY_ELEMS) * sizeof(float));
    assert_non_null(buf);
    for (size_t i = 0; i < n + CANARY_ELEMS; i++) buf[i] = tf_f32_from_bits(CANARY_BITS);
    return buf;
}

static void assert_guard_intact(const float *buf, size_t n) {
    for (size_t i = n; i < n + CANARY_ELEMS; i++)
        assert_int_equal(tf_f32_to_bits(buf[i]), CANARY_BITS);
}

/* ---- golden tests: one per file, the file name is the prestate ---- */

static void check_whole_row(const golden *g) {
    float *dst = alloc_guarded(g->n_elems);
    assert_int_equal(tf_dequantize_row(g->dtype, g->raw, dst, g->n_elems), TINFER_OK);
    assert_same_values(dst, g->expected, g->n_elems, tinfer_dtype_name(g->dtype));
    assert_guard_intact(dst, g->n_elems);
    free(dst);
}

/* The per-dtype function from the table gives the same values; so does a prefix of the row. */
static void check_table_fn_and_prefix(const golden *g, const tf_dtype_traits *traits) {
    const tf_dequant_fn decode = tf_dequant_fn_of(g->dtype);
    assert_non_null(decode);
    const uint32_t n_blocks = g->n_elems / traits->block_elems;
    const uint32_t prefix_elems = (n_blocks / 2) * traits->block_elems;
    float *dst = alloc_guarded(prefix_elems);
    decode(g->raw, dst, prefix_elems);
    assert_same_values(dst, g->expected, prefix_elems, "prefix through tf_dequant_fn_of");
    assert_guard_intact(dst, prefix_elems);
    free(dst);
}

/* Blocks in a file are only byte-aligned: decode from every misalignment of the source. */
static void check_unaligned_sources(const golden *g) {
    uint8_t *shifted = malloc(g->n_raw_bytes + 8);
    float *dst = alloc_guarded(g->n_elems);
    assert_non_null(shifted);
    for (size_t offset = 1; offset < 8; offset++) {
        memcpy(shifted + offset, g->raw, g->n_raw_bytes);
        assert_int_equal(tf_dequantize_row(g->dtype, shifted + offset, dst, g->n_elems), TINFER_OK);
        assert_same_values(dst, g->expected, g->n_elems, "unaligned source");
    }
    assert_guard_intact(dst, g->n_elems);
    free(dst);
    free(shifted);
}

/* The file name is the dtype's name in lower case, so a mislabelled file cannot slip by. */
static void assert_name_matches_file(const char *dtype_name, const char *file_stem) {
    char lower[16] = {0};
    for (size_t i = 0; dtype_name[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)(dtype_name[i] >= 'A' && dtype_name[i] <= 'Z' ? dtype_name[i] + 32
                                                                       : dtype_name[i]);
    assert_string_equal(lower, file_stem);
}

static void test_golden_file(void **state) {
    golden g;
    load_golden((const char *)*state, &g);
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)g.dtype);
    assert_non_null(traits);
    assert_name_matches_file(traits->name, (const char *)*state);
    assert_int_equal(g.n_elems % traits->block_elems, 0);
    assert_int_equal((uint64_t)g.n_raw_bytes,
                     (uint64_t)g.n_elems / traits->block_elems * traits->block_bytes);
    check_whole_row(&g);
    check_table_fn_and_prefix(&g, traits);
    check_unaligned_sources(&g);
    free_golden(&g);
}

/* ---- error paths and the dispatch table ---- */

static void test_rejects_partial_blocks(void **state) {
    (void)state;
    static const uint8_t zeros[512];
    float dst[512];
    assert_int_equal(tf_dequantize_row(TINFER_DTYPE_Q4_K, zeros, dst, 255), TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "multiple"));
    assert_int_equal(tf_dequantize_row(TINFER_DTYPE_Q4_K, zeros, dst, 257), TINFER_E_INVALID_ARG);
    assert_int_equal(tf_dequantize_row(TINFER_DTYPE_Q8_0, zeros, dst, 33), TINFER_E_INVALID_ARG);
    assert_int_equal(tf_dequantize_row(TINFER_DTYPE_Q4_0, zeros, dst, 16), TINFER_E_INVALID_ARG);
    /* plain types have one-element blocks: any count is whole */
    assert_int_equal(tf_dequantize_row(TINFER_DTYPE_F16, zeros, dst, 3), TINFER_OK);
    assert_int_equal(tf_dequantize_row(TINFER_DTYPE_Q4_K, zeros, dst, 256), TINFER_OK);
}

static void assert_unsupported(int dtype_id) {
    static const uint8_t zeros[512];
    float dst[256];
    const tinfer_dtype dtype = (tinfer_dtype)dtype_id;
    assert_null(tf_dequant_fn_of(dtype));
    assert_int_equal(tf_dequantize_row(dtype, zeros, dst, 256), TINFER_E_UNSUPPORTED);
    assert_non_null(strstr(tinfer_last_error(), "no decoder"));
}

static void test_rejects_unsupported_dtypes(void **state) {
    (void)state;
    /* ids ggml retired (4, 5) and numbers no type has */
    const int unknown_ids[] = {4, 5, 16, 23, 29, 31, 99, -1, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown_ids / sizeof unknown_ids[0]; i++)
        assert_unsupported(unknown_ids[i]);
    /* types that exist but are not weight formats */
    const tinfer_dtype non_weights[] = {TINFER_DTYPE_Q8_1, TINFER_DTYPE_Q8_K, TINFER_DTYPE_I8,
                                        TINFER_DTYPE_I16,  TINFER_DTYPE_I32,  TINFER_DTYPE_I64,
                                        TINFER_DTYPE_F64};
    for (size_t i = 0; i < sizeof non_weights / sizeof non_weights[0]; i++)
        assert_unsupported((int)non_weights[i]);
}

static void test_null_pointers(void **state) {
    (void)state;
    static const uint8_t zeros[64];
    float dst[32];
    assert_int_equal(tf_dequantize_row(TINFER_DTYPE_Q8_0, NULL, dst, 32), TINFER_E_INVALID_ARG);
    assert_int_equal(tf_dequantize_row(TINFER_DTYPE_Q8_0, zeros, NULL, 32), TINFER_E_INVALID_ARG);
    /* nothing to decode: nothing is read or written */
    assert_int_equal(tf_dequantize_row(TINFER_DTYPE_Q8_0, NULL, NULL, 0), TINFER_OK);
}

static void test_table_maps_each_dtype_to_its_decoder(void **state) {
    (void)state;
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_F32), tf_dequant_row_f32);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_F16), tf_dequant_row_f16);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_BF16), tf_dequant_row_bf16);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q4_0), tf_dequant_row_q4_0);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q4_1), tf_dequant_row_q4_1);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q5_0), tf_dequant_row_q5_0);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q5_1), tf_dequant_row_q5_1);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q8_0), tf_dequant_row_q8_0);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q2_K), tf_dequant_row_q2_k);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q3_K), tf_dequant_row_q3_k);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q4_K), tf_dequant_row_q4_k);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q5_K), tf_dequant_row_q5_k);
    assert_ptr_equal(tf_dequant_fn_of(TINFER_DTYPE_Q6_K), tf_dequant_row_q6_k);
}

/* ---- f16 / bf16 conversions, against the formats' definitions ---- */

/* The value of a finite half from its fields: (-1)^s * m * 2^(e - 25), m with the implicit bit. */
static double half_value_by_definition(uint16_t half) {
    const int exponent = (half >> 10) & 0x1F, mantissa = half & 0x3FF;
    const double magnitude =
        exponent ? ldexp(1024 + mantissa, exponent - 25) : ldexp(mantissa, -24);
    return (half & 0x8000) ? -magnitude : magnitude;
}

static void test_f16_to_f32_every_pattern(void **state) {
    (void)state;
    for (uint32_t half = 0; half <= 0xFFFF; half++) {
        const float got = tf_f16_to_f32((uint16_t)half);
        uint32_t want_bits;
        if ((half & 0x7C00) == 0x7C00) /* inf or NaN: same sign, payload moved up, not quieted */
            want_bits = (half & 0x8000u) << 16 | 0x7F800000u | (half & 0x3FFu) << 13;
        else want_bits = tf_f32_to_bits((float)half_value_by_definition((uint16_t)half));
        if (tf_f32_to_bits(got) != want_bits)
            fail_msg("half 0x%04x: got 0x%08x want 0x%08x", (unsigned)half,
                     (unsigned)tf_f32_to_bits(got), (unsigned)want_bits);
    }
}

static void test_f32_to_f16_round_trips_every_half(void **state) {
    (void)state;
    for (uint32_t half = 0; half <= 0xFFFF; half++) {
        const uint16_t back = tf_f32_to_f16(tf_f16_to_f32((uint16_t)half));
        const int is_nan = (half & 0x7C00) == 0x7C00 && (half & 0x3FF);
        /* a NaN comes back quiet (bit 9 set) with its sign and payload */
        const uint16_t want = (uint16_t)(is_nan ? half | 0x200 : half);
        if (back != want) fail_msg("half 0x%04x came back as 0x%04x", (unsigned)half, back);
    }
}

/* The float next to a nonzero value, one step further from or closer to zero. */
static float next_float_out(float value) { return tf_f32_from_bits(tf_f32_to_bits(value) + 1); }
static float next_float_in(float value) { return tf_f32_from_bits(tf_f32_to_bits(value) - 1); }

/* Between every two neighbouring halves lo < hi: the exact midpoint goes to the even one, the float
 * next to it nearer zero to lo, the one further out to hi (2^16 stands for the step past 65504). */
static void test_f32_to_f16_rounds_to_nearest_even(void **state) {
    (void)state;
    for (uint16_t lo = 0; lo < 0x7C00; lo++) {
        const double lo_value = half_value_by_definition(lo);
        const double hi_value = lo == 0x7BFF ? 65536.0 : half_value_by_definition(lo + 1);
        const float mid = (float)((lo_value + hi_value) / 2); /* 12 significant bits: exact */
        assert_true((double)mid == (lo_value + hi_value) / 2);
        const uint16_t hi = (uint16_t)(lo + 1), even = (lo & 1) ? hi : lo;
        for (int negative = 0; negative < 2; negative++) {
            const uint16_t sign = negative ? 0x8000 : 0;
            const float signed_mid = negative ? -mid : mid;
            assert_int_equal(tf_f32_to_f16(signed_mid), sign | even);
            assert_int_equal(tf_f32_to_f16(next_float_in(signed_mid)), sign | lo);
            assert_int_equal(tf_f32_to_f16(next_float_out(signed_mid)), sign | hi);
        }
    }
}

static void test_f32_to_f16_special_values(void **state) {
    (void)state;
    assert_int_equal(tf_f32_to_f16(INFINITY), 0x7C00);
    assert_int_equal(tf_f32_to_f16(-INFINITY), 0xFC00);
    assert_int_equal(tf_f32_to_f16(3.4028235e38f), 0x7C00);
    assert_int_equal(tf_f32_to_f16(65519.996f), 0x7BFF);
    assert_int_equal(tf_f32_to_f16(1e-30f), 0x0000);
    assert_int_equal(tf_f32_to_f16(-1e-30f), 0x8000);
    assert_int_equal(tf_f32_to_f16(tf_f32_from_bits(0x00000001u)), 0x0000); /* f32 subnormal */
    /* a NaN whose payload lives only in the dropped low bits must stay NaN, not become inf */
    assert_int_equal(tf_f32_to_f16(tf_f32_from_bits(0x7F800001u)), 0x7E00);
    assert_int_equal(tf_f32_to_f16(tf_f32_from_bits(0xFFC00000u)), 0xFE00);
}

static void test_bf16_conversions(void **state) {
    (void)state;
    for (uint32_t bf16 = 0; bf16 <= 0xFFFF; bf16++) {
        const float value = tf_bf16_to_f32((uint16_t)bf16);
        assert_int_equal(tf_f32_to_bits(value), bf16 << 16);
        const int is_nan = (bf16 & 0x7F80) == 0x7F80 && (bf16 & 0x7F);
        assert_int_equal(tf_f32_to_bf16(value), is_nan ? bf16 | 0x40 : bf16);
        /* bf16 is the top half of a float: the midpoint to the next one is bit 15 */
        if ((bf16 & 0x7F80) == 0x7F80) continue;
        const uint32_t mid_bits = bf16 << 16 | 0x8000u, up = (bf16 + 1) & 0xFFFF;
        const uint32_t even = (bf16 & 1) ? up : bf16;
        assert_int_equal(tf_f32_to_bf16(tf_f32_from_bits(mid_bits)), even);
        assert_int_equal(tf_f32_to_bf16(tf_f32_from_bits(mid_bits - 1)), bf16);
        assert_int_equal(tf_f32_to_bf16(tf_f32_from_bits(mid_bits + 1)), up);
    }
    assert_int_equal(tf_f32_to_bf16(tf_f32_from_bits(0x7F800001u)), 0x7FC0);
}

#define GOLDEN(stem) \
    { .name = "test_golden_" stem, .test_func = test_golden_file, .initial_state = (void *)stem }

int main(void) {
    const struct CMUnitTest tests[] = {
        GOLDEN("f32"),
        GOLDEN("f16"),
        GOLDEN("bf16"),
        GOLDEN("q4_0"),
        GOLDEN("q4_1"),
        GOLDEN("q5_0"),
        GOLDEN("q5_1"),
        GOLDEN("q8_0"),
        GOLDEN("q2_k"),
        GOLDEN("q3_k"),
        GOLDEN("q4_k"),
        GOLDEN("q5_k"),
        GOLDEN("q6_k"),
        cmocka_unit_test(test_rejects_partial_blocks),
        cmocka_unit_test(test_rejects_unsupported_dtypes),
        cmocka_unit_test(test_null_pointers),
        cmocka_unit_test(test_table_maps_each_dtype_to_its_decoder),
        cmocka_unit_test(test_f16_to_f32_every_pattern),
        cmocka_unit_test(test_f32_to_f16_round_trips_every_half),
        cmocka_unit_test(test_f32_to_f16_rounds_to_nearest_even),
        cmocka_unit_test(test_f32_to_f16_special_values),
        cmocka_unit_test(test_bf16_conversions),
    };
    return cmocka_run_group_tests_name("dequant", tests, NULL, NULL);
}
