/* Metadata array elements read as integers: a file's float elements may be NaN or far outside
 * int64's range, where a plain C conversion is undefined (found by fuzz_tokenizer_gguf): they
 * saturate (NaN reads as 0), and in-range values truncate toward zero as before. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "format/metadata.h"

static void float_elements_read_as_integers_are_defined(void **state) {
    (void)state;
    const float f32[] = {1.8e28f, -1.8e28f, NAN, INFINITY, -INFINITY, 3.9f, -3.9f, 0.0f};
    const int64_t want32[] = {INT64_MAX, INT64_MIN, 0, INT64_MAX, INT64_MIN, 3, -3, 0};
    tf_meta_array array = {.elem_type = TINFER_META_F32, .n_elems = 8, .raw = (const uint8_t *)f32};
    for (uint64_t j = 0; j < 8; j++) assert_int_equal(tf_meta_array_i64(&array, j), want32[j]);

    const double f64[] = {9.3e18, -9.3e18, 9.2e18, NAN, -1.5};
    const int64_t want64[] = {INT64_MAX, INT64_MIN, 9200000000000000000, 0, -1};
    array =
        (tf_meta_array){.elem_type = TINFER_META_F64, .n_elems = 5, .raw = (const uint8_t *)f64};
    for (uint64_t j = 0; j < 5; j++) assert_int_equal(tf_meta_array_i64(&array, j), want64[j]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(float_elements_read_as_integers_are_defined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
