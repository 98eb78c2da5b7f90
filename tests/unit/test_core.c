/* Core helpers: checked size math, the arena, the name index, error text, status names. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/name_index.h"
#include "tinfer/tinfer.h"

static void checked_math_detects_overflow(void **state) {
    (void)state;
    size_t out;
    assert_true(tinfer_mul_size(1u << 20, 1u << 20, &out));
    assert_int_equal(out, (size_t)1 << 40);
    assert_false(tinfer_mul_size(SIZE_MAX / 2 + 1, 2, &out));
    assert_false(tinfer_add_size(SIZE_MAX, 1, &out));
    uint64_t aligned;
    assert_true(tinfer_align_u64(33, 32, &aligned));
    assert_int_equal(aligned, 64);
    assert_true(tinfer_align_u64(64, 32, &aligned));
    assert_int_equal(aligned, 64);
    assert_false(tinfer_align_u64(UINT64_MAX - 3, 32, &aligned));
    assert_true(tinfer_range_ok(10, 0, 10));
    assert_true(tinfer_range_ok(0, 10, 10));
    assert_false(tinfer_range_ok(11, 0, 10));
    assert_false(tinfer_range_ok(5, UINT64_MAX - 2, 10)); /* would wrap */
}

static void arena_allocations_are_aligned_and_distinct(void **state) {
    (void)state;
    tf_arena arena = {0};
    char *small = tf_arena_alloc(&arena, 3);
    char *big = tf_arena_alloc(&arena, 1 << 20); /* its own chunk */
    char *after = tf_arena_alloc(&arena, 5);
    assert_non_null(small);
    assert_non_null(big);
    assert_non_null(after);
    assert_int_equal((uintptr_t)small % 16, 0);
    assert_int_equal((uintptr_t)after % 16, 0);
    memset(big, 0xAB, 1 << 20);
    assert_int_equal(small[0], 0);
    assert_ptr_not_equal(small, after);
    assert_null(tf_arena_alloc(&arena, SIZE_MAX));
    char *copy = tf_arena_strndup(&arena, "abcdef", 3);
    assert_string_equal(copy, "abc");
    tf_arena_free(&arena);
    tf_arena_free(&arena); /* second free is a no-op */
}

static void name_index_finds_and_rejects_duplicates(void **state) {
    (void)state;
    tf_name_index index = {0};
    char names[500][16];
    bool duplicate;
    for (size_t i = 0; i < 500; i++) {
        snprintf(names[i], sizeof names[i], "blk.%zu.w", i);
        assert_true(tf_name_index_put(&index, names[i], i, &duplicate));
        assert_false(duplicate);
    }
    assert_true(tf_name_index_put(&index, "blk.7.w", 99, &duplicate));
    assert_true(duplicate);
    size_t position;
    for (size_t i = 0; i < 500; i++) {
        assert_true(tf_name_index_get(&index, names[i], &position));
        assert_int_equal(position, i);
    }
    assert_false(tf_name_index_get(&index, "missing", &position));
    tf_name_index_free(&index);
    assert_false(tf_name_index_get(&index, "blk.0.w", &position));
}

static void error_text_is_thread_local_and_prefixed(void **state) {
    (void)state;
    assert_int_equal(tf_error(TINFER_E_FORMAT, "bad %s at %d", "field", 7), TINFER_E_FORMAT);
    assert_string_equal(tinfer_last_error(), "bad field at 7");
    tf_error_prefix("model.gguf");
    assert_string_equal(tinfer_last_error(), "model.gguf: bad field at 7");
    char long_prefix[3000];
    memset(long_prefix, 'p', sizeof long_prefix - 1);
    long_prefix[sizeof long_prefix - 1] = '\0';
    tf_error_prefix(long_prefix); /* truncated, still NUL-terminated */
    assert_true(strlen(tinfer_last_error()) < 1024);
    tf_error_clear();
    assert_string_equal(tinfer_last_error(), "");
}

static void *set_error_in_thread(void *arg) {
    (void)arg;
    tf_error(TINFER_E_IO, "other thread");
    return NULL;
}

static void error_text_does_not_cross_threads(void **state) {
    (void)state;
    tf_error(TINFER_E_FORMAT, "main thread");
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, set_error_in_thread, NULL), 0);
    pthread_join(thread, NULL);
    assert_string_equal(tinfer_last_error(), "main thread");
}

static void status_names_and_version(void **state) {
    (void)state;
    assert_string_equal(tinfer_status_str(TINFER_OK), "TINFER_OK");
    assert_string_equal(tinfer_status_str(TINFER_E_FORMAT), "TINFER_E_FORMAT");
    assert_string_equal(tinfer_status_str(TINFER_E_TYPE), "TINFER_E_TYPE");
    assert_string_equal(tinfer_status_str((tinfer_status)12345), "TINFER_E_UNKNOWN");
    assert_int_equal(TINFER_E_CONTEXT_FULL, 7); /* pinned values */
    assert_int_equal(tinfer_version_number(), TINFER_VERSION_NUMBER);
    char version[32]; /* the header's macros are the one place the version is written */
    snprintf(version, sizeof version, "%d.%d.%d", TINFER_VERSION_MAJOR, TINFER_VERSION_MINOR,
             TINFER_VERSION_PATCH);
    assert_string_equal(tinfer_version_string(), version);
    assert_string_equal(tinfer_dtype_name(TINFER_DTYPE_Q4_K), "Q4_K");
    assert_null(tinfer_dtype_name((tinfer_dtype)4)); /* removed Q4_2: not a type */
    assert_null(tinfer_dtype_name((tinfer_dtype)1000));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checked_math_detects_overflow),
        cmocka_unit_test(arena_allocations_are_aligned_and_distinct),
        cmocka_unit_test(name_index_finds_and_rejects_duplicates),
        cmocka_unit_test(error_text_is_thread_local_and_prefixed),
        cmocka_unit_test(error_text_does_not_cross_threads),
        cmocka_unit_test(status_names_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
