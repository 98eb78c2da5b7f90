/* GGUF reader: values and tensors round-trip through the fixture writer, and every malformed input
 * in the table below fails with the expected status and a message naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mapped_file.h"
#include "fixtures/gguf_writer.h"
#include "format/gguf.h"

enum { TEST_FILE_INDEX = 7 };

/* ---- parsing helpers ---- */

typedef struct parsed {
    uint8_t *bytes;
    size_t size;
    tf_metadata meta;
    tf_tensor_table tensors;
    uint32_t version;
    tinfer_status status;
} parsed;

/* Parses a copy of exactly size bytes, so AddressSanitizer sees any read past the end. */
static void parse_bytes(parsed *out, const uint8_t *bytes, size_t size) {
    memset(out, 0, sizeof *out);
    out->size = size;
    if (size) {
        out->bytes = malloc(size);
        assert_non_null(out->bytes);
        memcpy(out->bytes, bytes, size);
    }
    out->status =
        tf_gguf_read(out->bytes, size, TEST_FILE_INDEX, &out->meta, &out->tensors, &out->version);
}

static void parsed_free(parsed *p) {
    tf_metadata_free(&p->meta);
    tf_tensor_table_free(&p->tensors);
    free(p->bytes);
}

/* Builds w's file and parses it; the test checks p->status. */
static void parse_writer(parsed *out, gguf_writer *w) {
    size_t size;
    uint8_t *bytes = gw_build(w, &size);
    assert_non_null(bytes);
    parse_bytes(out, bytes, size);
    free(bytes);
}

static void parse_ok(parsed *out, gguf_writer *w) {
    parse_writer(out, w);
    if (out->status != TINFER_OK) fail_msg("parse failed: %s", tinfer_last_error());
}

static bool inside_file(const parsed *p, const void *ptr) {
    const uint8_t *at = ptr;
    return at >= p->bytes && at < p->bytes + p->size;
}

static const tf_meta_value *get_value(const parsed *p, const char *key, tinfer_meta_type type) {
    const tf_meta_value *value = tf_meta_get(&p->meta, key);
    if (!value) fail_msg("key '%s' missing", key);
    assert_int_equal(value->type, type);
    return value;
}

static const tf_tensor *get_tensor(const parsed *p, const char *name) {
    const tf_tensor *tensor = tf_tensor_table_find(&p->tensors, name);
    if (!tensor) fail_msg("tensor '%s' missing", name);
    return tensor;
}

/* ---- metadata round trips ---- */

static void test_has_magic(void **state) {
    (void)state;
    assert_true(tf_gguf_has_magic((const uint8_t *)"GGUF\3", 5));
    assert_true(tf_gguf_has_magic((const uint8_t *)"GGUF", 4));
    assert_false(tf_gguf_has_magic((const uint8_t *)"GGU", 3));
    assert_false(tf_gguf_has_magic((const uint8_t *)"GGML", 4));
    assert_false(tf_gguf_has_magic(NULL, 0));
}

static void test_scalar_values(void **state) {
    (void)state;
    gguf_writer *w = gw_new();
    gw_kv_u8(w, "v.u8", 250);
    gw_kv_i8(w, "v.i8", -128);
    gw_kv_u16(w, "v.u16", 65535);
    gw_kv_i16(w, "v.i16", -32768);
    gw_kv_u32(w, "v.u32", 4000000000u);
    gw_kv_i32(w, "v.i32", INT32_MIN);
    gw_kv_f32(w, "v.f32", 1.5f);
    gw_kv_bool(w, "v.bool", true);
    gw_kv_bool(w, "v.bool_false", false);
    gw_kv_str(w, "v.string", "h\xc3\xa9llo");
    gw_kv_str(w, "v.empty_string", "");
    gw_kv_u64(w, "v.u64", UINT64_MAX);
    gw_kv_i64(w, "v.i64", INT64_MIN);
    gw_kv_f64(w, "v.f64", -2.25);
    parsed p;
    parse_ok(&p, w);
    assert_int_equal(p.meta.n_entries, 14);
    assert_int_equal(p.tensors.n_tensors, 0);
    assert_int_equal(get_value(&p, "v.u8", TINFER_META_U8)->as.u64, 250);
    assert_int_equal(get_value(&p, "v.i8", TINFER_META_I8)->as.i64, -128);
    assert_int_equal(get_value(&p, "v.u16", TINFER_META_U16)->as.u64, 65535);
    assert_int_equal(get_value(&p, "v.i16", TINFER_META_I16)->as.i64, -32768);
    assert_int_equal(get_value(&p, "v.u32", TINFER_META_U32)->as.u64, 4000000000u);
    assert_true(get_value(&p, "v.i32", TINFER_META_I32)->as.i64 == INT32_MIN);
    assert_true(get_value(&p, "v.f32", TINFER_META_F32)->as.f64 == 1.5);
    assert_true(get_value(&p, "v.bool", TINFER_META_BOOL)->as.boolean);
    assert_false(get_value(&p, "v.bool_false", TINFER_META_BOOL)->as.boolean);
    assert_true(get_value(&p, "v.u64", TINFER_META_U64)->as.u64 == UINT64_MAX);
    assert_true(get_value(&p, "v.i64", TINFER_META_I64)->as.i64 == INT64_MIN);
    assert_true(get_value(&p, "v.f64", TINFER_META_F64)->as.f64 == -2.25);
    const tf_str text = get_value(&p, "v.string", TINFER_META_STRING)->as.str;
    assert_int_equal(text.len, 6);
    assert_string_equal(text.ptr, "h\xc3\xa9llo");
    assert_false(inside_file(&p, text.ptr)); /* a NUL-terminated copy */
    assert_string_equal(tf_meta_get_str(&p.meta, "v.empty_string"), "");
    assert_int_equal(p.version, 3);
    parsed_free(&p);
    gw_free(w);
}

static void test_numeric_arrays(void **state) {
    (void)state;
    const uint8_t u8s[] = {1, 2, 255};
    const int8_t i8s[] = {-1, 0, 127};
    const uint16_t u16s[] = {1, 65535, 2};
    const int16_t i16s[] = {-32768, 0, 5};
    const uint32_t u32s[] = {0, 4000000000u, 3};
    const int32_t i32s[] = {-7, INT32_MAX, 0};
    const float f32s[] = {0.5f, -1.25f, 3.0f};
    const uint8_t bools[] = {1, 0, 1};
    const uint64_t u64s[] = {UINT64_MAX, 0, 1};
    const int64_t i64s[] = {INT64_MIN, -1, 42};
    const double f64s[] = {1e300, -0.5, 0.0};
    const struct {
        const char *key;
        tinfer_meta_type type;
        const void *elems;
        size_t elem_bytes;
    } arrays[] = {
        {"a.u8", TINFER_META_U8, u8s, 1},    {"a.i8", TINFER_META_I8, i8s, 1},
        {"a.u16", TINFER_META_U16, u16s, 2}, {"a.i16", TINFER_META_I16, i16s, 2},
        {"a.u32", TINFER_META_U32, u32s, 4}, {"a.i32", TINFER_META_I32, i32s, 4},
        {"a.f32", TINFER_META_F32, f32s, 4}, {"a.bool", TINFER_META_BOOL, bools, 1},
        {"a.u64", TINFER_META_U64, u64s, 8}, {"a.i64", TINFER_META_I64, i64s, 8},
        {"a.f64", TINFER_META_F64, f64s, 8},
    };
    size_t n_arrays = sizeof arrays / sizeof arrays[0];
    gguf_writer *w = gw_new();
    for (size_t i = 0; i < n_arrays; i++)
        gw_kv_array(w, arrays[i].key, arrays[i].type, 3, arrays[i].elems);
    gw_kv_array(w, "a.empty", TINFER_META_F32, 0, NULL);
    parsed p;
    parse_ok(&p, w);
    for (size_t i = 0; i < n_arrays; i++) {
        const tf_meta_array *array = &get_value(&p, arrays[i].key, TINFER_META_ARRAY)->as.array;
        assert_int_equal(array->elem_type, arrays[i].type);
        assert_int_equal(array->n_elems, 3);
        assert_true(inside_file(&p, array->raw)); /* numeric arrays stay in the file */
        assert_memory_equal(array->raw, arrays[i].elems, 3 * arrays[i].elem_bytes);
    }
    const tf_meta_array *i8_array = &tf_meta_get(&p.meta, "a.i8")->as.array;
    assert_true(tf_meta_array_i64(i8_array, 0) == -1);
    const tf_meta_array *i64_array = &tf_meta_get(&p.meta, "a.i64")->as.array;
    assert_true(tf_meta_array_i64(i64_array, 0) == INT64_MIN);
    const tf_meta_array *f32_array = &tf_meta_get(&p.meta, "a.f32")->as.array;
    assert_true(tf_meta_array_f64(f32_array, 1) == -1.25);
    const tf_meta_array *empty = &get_value(&p, "a.empty", TINFER_META_ARRAY)->as.array;
    assert_int_equal(empty->elem_type, TINFER_META_F32);
    assert_int_equal(empty->n_elems, 0);
    parsed_free(&p);
    gw_free(w);
}

static void test_string_array(void **state) {
    (void)state;
    const char *const tokens[] = {"", "a", "h\xc3\xa9llo", "tok with space"};
    gguf_writer *w = gw_new();
    gw_kv_str_array(w, "tokenizer.ggml.tokens", 4, tokens);
    gw_kv_str_array(w, "a.no_strings", 0, NULL);
    parsed p;
    parse_ok(&p, w);
    const tf_meta_array *array =
        &get_value(&p, "tokenizer.ggml.tokens", TINFER_META_ARRAY)->as.array;
    assert_int_equal(array->elem_type, TINFER_META_STRING);
    assert_int_equal(array->n_elems, 4);
    for (size_t j = 0; j < 4; j++) {
        assert_int_equal(array->strings[j].len, strlen(tokens[j]));
        assert_true(inside_file(&p, array->strings[j].ptr)); /* views into the file */
        assert_memory_equal(array->strings[j].ptr, tokens[j], strlen(tokens[j]));
    }
    const tf_meta_array *none = &get_value(&p, "a.no_strings", TINFER_META_ARRAY)->as.array;
    assert_int_equal(none->n_elems, 0);
    parsed_free(&p);
    gw_free(w);
}

/* Encodes an array value: element type, count, and n elements (u8 or strings). */
static void put_u8_array(gw_buf *buf, size_t n, const uint8_t *elems) {
    gw_buf_u32(buf, TINFER_META_U8);
    gw_buf_u64(buf, n);
    gw_buf_bytes(buf, elems, n);
}

static void put_str_array(gw_buf *buf, size_t n, const char *const *strings) {
    gw_buf_u32(buf, TINFER_META_STRING);
    gw_buf_u64(buf, n);
    for (size_t i = 0; i < n; i++) gw_buf_str(buf, strings[i]);
}

/* An array nested depth levels deep (1 is a flat array) holding a single u8. */
static void put_deep_array(gw_buf *buf, unsigned depth) {
    for (unsigned d = 1; d < depth; d++) {
        gw_buf_u32(buf, TINFER_META_ARRAY);
        gw_buf_u64(buf, 1);
    }
    put_u8_array(buf, 1, (const uint8_t[]){5});
}

static void kv_buf(gguf_writer *w, const char *key, gw_buf *value) {
    assert_false(value->failed);
    gw_kv_raw(w, key, strlen(key), TINFER_META_ARRAY, value->data, value->len);
    gw_buf_free(value);
}

static void add_nested_u8(gguf_writer *w, const char *key) {
    gw_buf value = {0}; /* [[1, 2], [3]] */
    gw_buf_u32(&value, TINFER_META_ARRAY);
    gw_buf_u64(&value, 2);
    put_u8_array(&value, 2, (const uint8_t[]){1, 2});
    put_u8_array(&value, 1, (const uint8_t[]){3});
    kv_buf(w, key, &value);
}

static void test_nested_arrays(void **state) {
    (void)state;
    gguf_writer *w = gw_new();
    add_nested_u8(w, "n.u8");
    gw_buf strings = {0}; /* [["x"], ["yz", "w"]] */
    gw_buf_u32(&strings, TINFER_META_ARRAY);
    gw_buf_u64(&strings, 2);
    put_str_array(&strings, 1, (const char *const[]){"x"});
    put_str_array(&strings, 2, (const char *const[]){"yz", "w"});
    kv_buf(w, "n.strings", &strings);
    gw_buf deepest = {0};
    put_deep_array(&deepest, 8); /* the deepest nesting accepted */
    kv_buf(w, "n.depth8", &deepest);
    parsed p;
    parse_ok(&p, w);
    const tf_meta_array *outer = &get_value(&p, "n.u8", TINFER_META_ARRAY)->as.array;
    assert_int_equal(outer->elem_type, TINFER_META_ARRAY);
    assert_int_equal(outer->n_elems, 2);
    assert_int_equal(outer->nested[0].type, TINFER_META_ARRAY);
    assert_int_equal(outer->nested[0].as.array.n_elems, 2);
    assert_int_equal(outer->nested[0].as.array.raw[1], 2);
    assert_int_equal(outer->nested[1].as.array.n_elems, 1);
    assert_int_equal(outer->nested[1].as.array.raw[0], 3);
    const tf_meta_array *by_strings = &get_value(&p, "n.strings", TINFER_META_ARRAY)->as.array;
    const tf_meta_array *second = &by_strings->nested[1].as.array;
    assert_int_equal(second->elem_type, TINFER_META_STRING);
    assert_int_equal(second->n_elems, 2);
    assert_memory_equal(second->strings[0].ptr, "yz", 2);
    const tf_meta_array *level = &get_value(&p, "n.depth8", TINFER_META_ARRAY)->as.array;
    for (int d = 1; d < 8; d++) level = &level->nested[0].as.array;
    assert_int_equal(level->elem_type, TINFER_META_U8);
    assert_int_equal(level->raw[0], 5);
    parsed_free(&p);
    gw_free(w);
}

/* ---- tensors ---- */

/* Block geometry from ggml's ggml-common.h, written out independently of lib/quant/dtype.c. */
static const struct {
    uint32_t id;
    const char *name;
    uint32_t block_elems;
    uint32_t block_bytes;
} DTYPES[] = {
    {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},    {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84},  {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {24, "I8", 1, 1},       {25, "I16", 1, 2},
    {26, "I32", 1, 4},      {27, "I64", 1, 8},      {28, "F64", 1, 8},      {30, "BF16", 1, 2},
};
enum { N_DTYPES = sizeof DTYPES / sizeof DTYPES[0] };

static void fill_pattern(uint8_t *data, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 7 + seed * 13 + 1);
}

/* Each dtype as a [3, 2 blocks] tensor: checks id, shape, size, and that data points at its bytes.
 */
static void test_every_dtype(void **state) {
    (void)state;
    gguf_writer *w = gw_new();
    uint8_t data[3 * 2 * 292];
    for (size_t i = 0; i < N_DTYPES; i++) {
        char name[32];
        snprintf(name, sizeof name, "t.%s", DTYPES[i].name);
        size_t n_bytes = 3u * 2u * DTYPES[i].block_bytes;
        fill_pattern(data, n_bytes, (unsigned)i);
        uint64_t ne[2] = {2u * DTYPES[i].block_elems, 3};
        gw_tensor(w, name, DTYPES[i].id, 2, ne, data, n_bytes);
    }
    parsed p;
    parse_ok(&p, w);
    assert_int_equal(p.tensors.n_tensors, N_DTYPES);
    for (size_t i = 0; i < N_DTYPES; i++) {
        char name[32];
        snprintf(name, sizeof name, "t.%s", DTYPES[i].name);
        const tf_tensor *t = get_tensor(&p, name);
        size_t n_bytes = 3u * 2u * DTYPES[i].block_bytes;
        assert_int_equal(t->dtype, DTYPES[i].id);
        assert_string_equal(tinfer_dtype_name(t->dtype), DTYPES[i].name);
        assert_int_equal(t->n_dims, 2);
        assert_int_equal(t->shape[0], 3);
        assert_int_equal(t->shape[1], 2 * DTYPES[i].block_elems);
        assert_int_equal(t->shape[2], 1);
        assert_int_equal(t->shape[3], 1);
        assert_int_equal(t->n_elements, 6u * DTYPES[i].block_elems);
        assert_int_equal(t->n_bytes, n_bytes);
        assert_int_equal(t->file_offset, gw_offset(w, GW_T_DATA, i));
        assert_int_equal(t->file_offset % 32, 0);
        assert_ptr_equal(t->data, p.bytes + t->file_offset);
        assert_int_equal(t->file_index, TEST_FILE_INDEX);
        fill_pattern(data, n_bytes, (unsigned)i);
        assert_memory_equal(t->data, data, n_bytes);
    }
    parsed_free(&p);
    gw_free(w);
}

static void test_shapes_are_reversed(void **state) {
    (void)state;
    uint8_t data[120 * 4] = {0};
    gguf_writer *w = gw_new();
    gw_tensor(w, "d1", 0, 1, (const uint64_t[]){5}, data, 5 * 4);
    gw_tensor(w, "d3", 0, 3, (const uint64_t[]){4, 3, 2}, data, 24 * 4);
    gw_tensor(w, "d4", 0, 4, (const uint64_t[]){2, 3, 4, 5}, data, 120 * 4);
    parsed p;
    parse_ok(&p, w);
    const tf_tensor *d1 = get_tensor(&p, "d1"), *d3 = get_tensor(&p, "d3"),
                    *d4 = get_tensor(&p, "d4");
    assert_int_equal(d1->n_dims, 1);
    assert_true(d1->shape[0] == 5 && d1->shape[1] == 1 && d1->shape[3] == 1);
    assert_int_equal(d3->n_dims, 3);
    assert_true(d3->shape[0] == 2 && d3->shape[1] == 3 && d3->shape[2] == 4 && d3->shape[3] == 1);
    assert_int_equal(d3->n_elements, 24);
    assert_int_equal(tf_tensor_row_elems(d3), 4);
    assert_int_equal(tf_tensor_n_rows(d3), 6);
    assert_true(d4->shape[0] == 5 && d4->shape[1] == 4 && d4->shape[2] == 3 && d4->shape[3] == 2);
    assert_int_equal(d4->n_bytes, 480);
    parsed_free(&p);
    gw_free(w);
}

/* Three small tensors (4, 3 and 8 bytes) laid out with alignment; checks every data position. */
static void check_layout(uint32_t alignment, bool with_key) {
    gguf_writer *w = gw_new();
    gw_kv_str(w, "general.name", "x"); /* leaves the tensor infos at an unaligned end */
    if (with_key) gw_set_alignment(w, alignment);
    gw_tensor(w, "a", 0, 1, (const uint64_t[]){1}, "\1\2\3\4", 4);
    gw_tensor(w, "b", 24, 1, (const uint64_t[]){3}, "\5\6\7", 3);
    gw_tensor(w, "c", 27, 1, (const uint64_t[]){1}, "\10\11\12\13\14\15\16\17", 8);
    parsed p;
    parse_ok(&p, w);
    uint64_t data_start = gw_offset(w, GW_DATA_START, 0);
    assert_int_equal(data_start % alignment, 0);
    assert_true(data_start - gw_offset(w, GW_INFOS_END, 0) < alignment);
    uint64_t expected = data_start;
    const char *names[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++) {
        const tf_tensor *t = get_tensor(&p, names[i]);
        assert_int_equal(t->file_offset, expected);
        assert_ptr_equal(t->data, p.bytes + expected);
        expected += (t->n_bytes + alignment - 1) / alignment * alignment;
    }
    assert_int_equal(get_tensor(&p, "c")->data[7], 15);
    parsed_free(&p);
    gw_free(w);
}

static void test_default_alignment(void **state) {
    (void)state;
    check_layout(32, false);
}

static void test_custom_alignment(void **state) {
    (void)state;
    check_layout(64, true);
    check_layout(1, true);
    check_layout(8, true);
    check_layout(1u << 20, true); /* the largest accepted */
}

static void test_versions_2_and_3(void **state) {
    (void)state;
    for (uint32_t version = 2; version <= 3; version++) {
        gguf_writer *w = gw_new();
        gw_set_version(w, version);
        gw_kv_str(w, "general.architecture", "llama");
        gw_tensor(w, "t", 0, 1, (const uint64_t[]){2}, "abcdefgh", 8);
        parsed p;
        parse_ok(&p, w);
        assert_int_equal(p.version, version);
        assert_string_equal(tf_meta_get_str(&p.meta, "general.architecture"), "llama");
        assert_memory_equal(get_tensor(&p, "t")->data, "abcdefgh", 8);
        parsed_free(&p);
        gw_free(w);
    }
}

/* A file may end right after its last tensor's data, or, without tensors, right after the keys. */
static void test_files_without_trailing_padding(void **state) {
    (void)state;
    gguf_writer *w = gw_new();
    gw_kv_u8(w, "k", 1);
    size_t size;
    uint8_t *bytes = gw_build(w, &size);
    assert_non_null(bytes);
    assert_int_not_equal(gw_offset(w, GW_INFOS_END, 0) % 32, 0);
    parsed p;
    parse_bytes(&p, bytes, gw_offset(w, GW_INFOS_END, 0));
    assert_int_equal(p.status, TINFER_OK);
    parsed_free(&p);
    free(bytes);
    gw_tensor(w, "t", 24, 1, (const uint64_t[]){3}, "xyz", 3);
    bytes = gw_build(w, &size);
    assert_non_null(bytes);
    parse_bytes(&p, bytes, gw_offset(w, GW_T_DATA, 0) + 3);
    assert_int_equal(p.status, TINFER_OK);
    assert_memory_equal(get_tensor(&p, "t")->data, "xyz", 3);
    parsed_free(&p);
    free(bytes);
    gw_free(w);
}

/* Shards of one model share a table; each call adds its own tensors with its file index. */
static void test_shards_share_a_table(void **state) {
    (void)state;
    gguf_writer *first = gw_new(), *second = gw_new();
    gw_tensor(first, "a", 0, 1, (const uint64_t[]){1}, "AAAA", 4);
    gw_kv_str(second, "general.name", "second shard");
    gw_tensor(second, "b", 0, 1, (const uint64_t[]){1}, "BBBB", 4);
    size_t size_a, size_b;
    uint8_t *bytes_a = gw_build(first, &size_a), *bytes_b = gw_build(second, &size_b);
    assert_true(bytes_a && bytes_b);
    tf_tensor_table table = {0};
    tf_metadata meta_a = {0}, meta_b = {0};
    assert_int_equal(tf_gguf_read(bytes_a, size_a, 0, &meta_a, &table, NULL), TINFER_OK);
    assert_int_equal(tf_gguf_read(bytes_b, size_b, 1, &meta_b, &table, NULL), TINFER_OK);
    assert_int_equal(table.n_tensors, 2);
    const tf_tensor *a = tf_tensor_table_find(&table, "a"), *b = tf_tensor_table_find(&table, "b");
    assert_true(a && b);
    assert_int_equal(a->file_index, 0);
    assert_int_equal(b->file_index, 1);
    assert_ptr_equal(a->data, bytes_a + a->file_offset);
    assert_ptr_equal(b->data, bytes_b + b->file_offset);
    assert_memory_equal(b->data, "BBBB", 4);
    tf_tensor_table_free(&table);
    tf_metadata_free(&meta_a);
    tf_metadata_free(&meta_b);
    free(bytes_a);
    free(bytes_b);
    gw_free(first);
    gw_free(second);
}

/* ---- the real model, when present ---- */

static void test_real_model(void **state) {
    (void)state;
    const char *path = getenv("TINFER_DEFAULT_MODEL");
    if (!path || !*path) path = "/tmp/models/gemma-3-270m-q4_k_m.gguf";
    tf_mapped_file file;
    if (tf_mapped_file_open(path, true, &file) != TINFER_OK) skip();
    tf_metadata meta = {0};
    tf_tensor_table tensors = {0};
    uint32_t version = 0;
    tinfer_status status = tf_gguf_read(file.bytes, file.size, 0, &meta, &tensors, &version);
    if (status != TINFER_OK) fail_msg("%s: %s", path, tinfer_last_error());
    assert_int_equal(version, 3);
    assert_int_equal(tensors.n_tensors, 236);
    assert_string_equal(tf_meta_get_str(&meta, "general.architecture"), "gemma3");
    const tf_meta_value *tokens = tf_meta_get(&meta, "tokenizer.ggml.tokens");
    assert_non_null(tokens);
    assert_int_equal(tokens->as.array.elem_type, TINFER_META_STRING);
    assert_int_equal(tokens->as.array.n_elems, 262144);
    const tf_tensor *embd = tf_tensor_table_find(&tensors, "token_embd.weight");
    assert_non_null(embd);
    assert_int_equal(embd->dtype, TINFER_DTYPE_Q8_0);
    assert_int_equal(embd->n_dims, 2);
    assert_int_equal(embd->shape[0], 262144);
    assert_int_equal(embd->shape[1], 640);
    assert_int_equal(embd->n_bytes, 262144ull * 640 / 32 * 34);
    for (size_t i = 0; i < tensors.n_tensors; i++) {
        const tf_tensor *t = &tensors.tensors[i];
        assert_ptr_equal(t->data, file.bytes + t->file_offset);
        assert_true(t->file_offset + t->n_bytes <= file.size);
    }
    tf_tensor_table_free(&tensors);
    tf_metadata_free(&meta);
    tf_mapped_file_close(&file);
}

/* ---- malformed inputs ---- */

/* The standard file the edits below start from. kv0 is a long string so that, after a cut
 * further on, enough bytes remain that the header's count bounds don't fire first. */
enum { KV_DESC, KV_ARCH, KV_ALIGN, KV_TOKENS, KV_ROPE, KV_NESTED, KV_CTX, N_STD_KVS };
enum { T_EMBD, T_ATTN_Q, N_STD_TENSORS };

static void build_std(gguf_writer *w) {
    char description[161];
    memset(description, 'x', 160);
    description[160] = '\0';
    gw_kv_str(w, "general.description", description);
    gw_kv_str(w, "general.architecture", "llama");
    gw_set_alignment(w, 32);
    gw_kv_str_array(w, "tokenizer.ggml.tokens", 2, (const char *const[]){"a", "bc"});
    gw_kv_array(w, "llama.rope.dims", TINFER_META_I32, 3, (const int32_t[]){1, 2, 3});
    add_nested_u8(w, "test.nested");
    gw_kv_u64(w, "llama.context_length", 4096);
    uint8_t data[68];
    fill_pattern(data, sizeof data, 1);
    gw_tensor(w, "token_embd.weight", TINFER_DTYPE_F32, 2, (const uint64_t[]){4, 2}, data, 32);
    gw_tensor(w, "blk.0.attn_q.weight", TINFER_DTYPE_Q8_0, 2, (const uint64_t[]){32, 2}, data, 68);
}

static void build_empty_key(gguf_writer *w) {
    build_std(w);
    gw_kv_raw(w, "", 0, TINFER_META_U8, "\1", 1);
}

static void build_duplicate_key(gguf_writer *w) {
    build_std(w);
    gw_kv_u32(w, "general.architecture", 1);
}

static void build_nul_in_key(gguf_writer *w) {
    build_std(w);
    gw_kv_raw(w, "a\0b", 3, TINFER_META_U8, "\1", 1);
}

static void build_depth_9(gguf_writer *w) {
    build_std(w);
    gw_buf value = {0};
    put_deep_array(&value, 9);
    gw_kv_raw(w, "deep", 4, TINFER_META_ARRAY, value.data, value.len);
    gw_buf_free(&value);
}

static void build_alignment_string(gguf_writer *w) {
    gw_kv_str(w, "general.name", "x");
    gw_kv_str(w, "general.alignment", "32");
}

static void build_alignment_u64(gguf_writer *w) {
    gw_kv_str(w, "general.name", "x");
    gw_kv_u64(w, "general.alignment", 32);
}

static void build_empty_tensor_name(gguf_writer *w) {
    build_std(w);
    gw_tensor(w, "", TINFER_DTYPE_F32, 1, (const uint64_t[]){1}, "abcd", 4);
}

static void build_duplicate_tensor(gguf_writer *w) {
    build_std(w);
    gw_tensor(w, "token_embd.weight", TINFER_DTYPE_F32, 1, (const uint64_t[]){1}, "abcd", 4);
}

static void build_4d_overflow(gguf_writer *w) {
    build_std(w);
    const uint64_t ne[4] = {1u << 16, 1u << 16, 1u << 16, 1u << 16};
    gw_tensor(w, "huge", TINFER_DTYPE_F32, 4, ne, NULL, 0);
}

typedef enum { EDIT_NONE, EDIT_CUT, EDIT_U8, EDIT_U32, EDIT_U64 } edit_kind;

typedef struct malformed_case {
    const char *name;
    void (*build)(gguf_writer *w);
    edit_kind edit;
    gw_field field; /* the edit lands at this field of kv/tensor `item`, plus delta bytes */
    size_t item;
    size_t delta;
    uint64_t value; /* what a patch stores */
    tinfer_status status;
    const char *expect; /* a substring of tinfer_last_error() */
} malformed_case;

#define F TINFER_E_FORMAT
#define U TINFER_E_UNSUPPORTED
#define CUT(name, field, item, delta, expect) \
    { name, build_std, EDIT_CUT, field, item, delta, 0, F, expect }
#define P8(name, field, item, delta, value, status, expect) \
    { name, build_std, EDIT_U8, field, item, delta, value, status, expect }
#define P32(name, field, item, delta, value, status, expect) \
    { name, build_std, EDIT_U32, field, item, delta, value, status, expect }
#define P64(name, field, item, delta, value, status, expect) \
    { name, build_std, EDIT_U64, field, item, delta, value, status, expect }
#define BASE(name, build, status, expect) \
    { name, build, EDIT_NONE, GW_MAGIC, 0, 0, 0, status, expect }

static const malformed_case CASES[] = {
    /* truncation at every structural boundary */
    CUT("empty file", GW_MAGIC, 0, 0, "gguf: file of 0 bytes is too short for the magic"),
    CUT("cut inside the magic", GW_MAGIC, 0, 2, "gguf: file of 2 bytes is too short for the magic"),
    CUT("cut inside the version", GW_VERSION, 0, 2, "gguf: version truncated at byte 4"),
    CUT("cut inside tensor_count", GW_TENSOR_COUNT, 0, 4, "gguf: tensor_count truncated at byte 8"),
    CUT("cut inside kv_count", GW_KV_COUNT, 0, 7, "gguf: kv_count truncated at byte 16"),
    CUT("cut right after the header", GW_KV_KEY_LEN, 0, 0,
        "gguf: kv_count 7 at byte 24 cannot fit"),
    CUT("cut inside a key length", GW_KV_KEY_LEN, KV_CTX, 3, "gguf: kv[6]: key length truncated"),
    CUT("cut inside key bytes", GW_KV_KEY, KV_CTX, 5, "gguf: kv[6]: key length 20 at byte"),
    CUT("cut inside a value type", GW_KV_TYPE, KV_CTX, 2,
        "kv[6] 'llama.context_length': value type truncated"),
    CUT("cut inside a scalar value", GW_KV_VALUE, KV_CTX, 4,
        "kv[6] 'llama.context_length': value truncated"),
    CUT("cut inside a string value's length", GW_KV_VALUE, KV_ARCH, 3,
        "kv[1] 'general.architecture': value length truncated"),
    CUT("cut inside a string value's bytes", GW_KV_VALUE, KV_ARCH, 10,
        "kv[1] 'general.architecture': value length 5 at byte"),
    CUT("cut inside an array's element type", GW_KV_VALUE, KV_TOKENS, 2,
        "kv[3] 'tokenizer.ggml.tokens': array element type truncated"),
    CUT("cut inside an array's count", GW_KV_VALUE, KV_TOKENS, 7,
        "kv[3] 'tokenizer.ggml.tokens': array count truncated"),
    CUT("cut inside a string element", GW_KV_VALUE, KV_TOKENS, 12 + 9 + 9,
        "kv[3] 'tokenizer.ggml.tokens': string element 1 at byte"),
    CUT("cut inside numeric array elements", GW_KV_VALUE, KV_ROPE, 12 + 5,
        "kv[4] 'llama.rope.dims': array of 3 i32 elements at byte"),
    CUT("cut inside a nested array's header", GW_KV_VALUE, KV_NESTED, 12 + 14 + 2,
        "kv[5] 'test.nested': array count 2 at byte"),
    CUT("cut inside a nested array's elements", GW_KV_VALUE, KV_NESTED, 12 + 14 + 12,
        "kv[5] 'test.nested': array of 1 u8 elements"),
    CUT("cut inside a tensor name length", GW_T_NAME_LEN, T_EMBD, 4,
        "gguf: tensor[0]: name length truncated"),
    CUT("cut inside a tensor name", GW_T_NAME, T_EMBD, 3,
        "gguf: tensor[0]: name length 17 at byte"),
    CUT("cut inside n_dims", GW_T_N_DIMS, T_ATTN_Q, 2,
        "tensor 'blk.0.attn_q.weight': n_dims truncated"),
    CUT("cut inside a dimension", GW_T_DIMS, T_ATTN_Q, 8 + 3,
        "tensor 'blk.0.attn_q.weight': ne[1] truncated"),
    CUT("cut inside a tensor type", GW_T_TYPE, T_ATTN_Q, 1,
        "tensor 'blk.0.attn_q.weight': type truncated"),
    CUT("cut inside a tensor offset", GW_T_OFFSET, T_ATTN_Q, 5,
        "tensor 'blk.0.attn_q.weight': offset truncated"),
    CUT("cut before the data section", GW_INFOS_END, 0, 0,
        "tensor 'token_embd.weight': data of 32 bytes at byte"),
    CUT("cut inside the first tensor's data", GW_T_DATA, T_EMBD, 31,
        "tensor 'token_embd.weight': data of 32 bytes at byte"),
    CUT("cut inside the last tensor's data", GW_T_DATA, T_ATTN_Q, 67,
        "tensor 'blk.0.attn_q.weight': data of 68 bytes at byte"),
    /* header */
    P32("bad magic", GW_MAGIC, 0, 0, 0x58554747u /* GGUX */, F, "gguf: bad magic"),
    P32("version 0", GW_VERSION, 0, 0, 0, F, "gguf: version 0"),
    P32("version 1", GW_VERSION, 0, 0, 1, U, "gguf: version 1 is not supported"),
    P32("version 4", GW_VERSION, 0, 0, 4, U, "gguf: version 4 is newer"),
    P32("big-endian v3", GW_VERSION, 0, 0, 0x03000000u, U,
        "gguf: big-endian GGUF is not supported"),
    P32("big-endian v2", GW_VERSION, 0, 0, 0x02000000u, U, "big-endian GGUF is not supported"),
    P64("2^40 tensors in a tiny file", GW_TENSOR_COUNT, 0, 0, 1ull << 40, F,
        "gguf: tensor_count 1099511627776 at byte 24 cannot fit"),
    P64("2^40 keys in a tiny file", GW_KV_COUNT, 0, 0, 1ull << 40, F,
        "gguf: kv_count 1099511627776"),
    P64("2^64-1 keys", GW_KV_COUNT, 0, 0, UINT64_MAX, F, "gguf: kv_count 18446744073709551615"),
    /* keys */
    P64("key length 2^64-1 (length + 1 wraps)", GW_KV_KEY_LEN, KV_CTX, 0, UINT64_MAX, F,
        "gguf: kv[6]: key length 18446744073709551615 at byte"),
    P64("key length past the end", GW_KV_KEY_LEN, KV_CTX, 0, 1000000, F,
        "kv[6]: key length 1000000"),
    BASE("empty key", build_empty_key, F, "gguf: kv[7]: empty key at byte"),
    BASE("duplicate key", build_duplicate_key, F, "duplicate key 'general.architecture'"),
    BASE("NUL byte in a key", build_nul_in_key, F, "NUL byte"),
    /* values */
    P32("unknown value type 13", GW_KV_TYPE, KV_CTX, 0, 13, F,
        "kv[6] 'llama.context_length': unknown value type 13"),
    P32("value type 2^32-1", GW_KV_TYPE, KV_CTX, 0, UINT32_MAX, F, "unknown value type 4294967295"),
    P64("string length 2^64-1 (length + 1 wraps)", GW_KV_VALUE, KV_ARCH, 0, UINT64_MAX, F,
        "kv[1] 'general.architecture': value length 18446744073709551615"),
    P32("unknown array element type", GW_KV_VALUE, KV_ROPE, 0, 13, F,
        "kv[4] 'llama.rope.dims': unknown array element type 13"),
    P32("array element type 2^31", GW_KV_VALUE, KV_ROPE, 0, 0x80000000u, F,
        "'llama.rope.dims': unknown array element type 2147483648"),
    P64("array count x element size wraps", GW_KV_VALUE, KV_ROPE, 4, (1ull << 62) + 1, F,
        "'llama.rope.dims': array of 4611686018427387905 i32 elements"),
    P64("array count 2^64-1", GW_KV_VALUE, KV_ROPE, 4, UINT64_MAX, F,
        "'llama.rope.dims': array of 18446744073709551615 i32 elements"),
    P64("2^40 strings in a tiny file", GW_KV_VALUE, KV_TOKENS, 4, 1ull << 40, F,
        "'tokenizer.ggml.tokens': array count 1099511627776 at byte"),
    P64("string count whose allocation wraps", GW_KV_VALUE, KV_TOKENS, 4, 1ull << 60, F,
        "'tokenizer.ggml.tokens': array count 1152921504606846976"),
    P64("string element length 2^64-1", GW_KV_VALUE, KV_TOKENS, 12, UINT64_MAX, F,
        "'tokenizer.ggml.tokens': string element 0 at byte"),
    P64("2^40 nested arrays in a tiny file", GW_KV_VALUE, KV_NESTED, 4, 1ull << 40, F,
        "'test.nested': array count 1099511627776"),
    P32("unknown element type in a nested array", GW_KV_VALUE, KV_NESTED, 12, 13, F,
        "'test.nested': unknown array element type 13"),
    P64("nested array count 2^63", GW_KV_VALUE, KV_NESTED, 16, 1ull << 63, F,
        "'test.nested': array of 9223372036854775808 u8 elements"),
    BASE("arrays nested 9 deep", build_depth_9, F, "kv[7] 'deep': arrays nested deeper than 8"),
    /* general.alignment */
    P32("alignment 0", GW_KV_VALUE, KV_ALIGN, 0, 0, F,
        "kv[2] 'general.alignment': alignment 0 is not a power of two"),
    P32("alignment 48", GW_KV_VALUE, KV_ALIGN, 0, 48, F, "'general.alignment': alignment 48"),
    P32("alignment 2^31", GW_KV_VALUE, KV_ALIGN, 0, 1u << 31, F,
        "'general.alignment': alignment 2147483648"),
    P32("alignment 2 MiB", GW_KV_VALUE, KV_ALIGN, 0, 1u << 21, F,
        "'general.alignment': alignment 2097152"),
    P32("alignment 2^32-1", GW_KV_VALUE, KV_ALIGN, 0, UINT32_MAX, F,
        "'general.alignment': alignment 4294967295"),
    P32("alignment of type i32", GW_KV_TYPE, KV_ALIGN, 0, TINFER_META_I32, F,
        "kv[2] 'general.alignment': type i32, expected u32"),
    P32("alignment of type f32", GW_KV_TYPE, KV_ALIGN, 0, TINFER_META_F32, F,
        "'general.alignment': type f32, expected u32"),
    BASE("alignment of type string", build_alignment_string, F,
         "kv[1] 'general.alignment': type string, expected u32"),
    BASE("alignment of type u64", build_alignment_u64, F,
         "'general.alignment': type u64, expected u32"),
    P32("offsets laid out for another alignment", GW_KV_VALUE, KV_ALIGN, 0, 64, F,
        "tensor 'blk.0.attn_q.weight': offset 32 is not a multiple of the alignment 64"),
    /* tensor names */
    P64("tensor name length 2^64-1", GW_T_NAME_LEN, T_EMBD, 0, UINT64_MAX, F,
        "gguf: tensor[0]: name length 18446744073709551615"),
    BASE("empty tensor name", build_empty_tensor_name, F, "gguf: tensor[2]: empty name"),
    BASE("duplicate tensor name", build_duplicate_tensor, F,
         "duplicate tensor name 'token_embd.weight'"),
    P8("NUL byte in a tensor name", GW_T_NAME, T_EMBD, 5, 0, F, "NUL byte"),
    /* shapes */
    P32("n_dims 0", GW_T_N_DIMS, T_ATTN_Q, 0, 0, F,
        "tensor 'blk.0.attn_q.weight': n_dims 0 is outside 1..4"),
    P32("n_dims 5", GW_T_N_DIMS, T_ATTN_Q, 0, 5, F, "tensor 'blk.0.attn_q.weight': n_dims 5"),
    P32("n_dims 2^32-1", GW_T_N_DIMS, T_ATTN_Q, 0, UINT32_MAX, F, "n_dims 4294967295"),
    P64("zero dimension", GW_T_DIMS, T_EMBD, 8, 0, F,
        "tensor 'token_embd.weight': ne[1] = 0 is outside"),
    P64("negative dimension (2^63)", GW_T_DIMS, T_EMBD, 0, 1ull << 63, F,
        "tensor 'token_embd.weight': ne[0] = 9223372036854775808 is outside"),
    P64("dimension 2^64-1", GW_T_DIMS, T_EMBD, 8, UINT64_MAX, F, "ne[1] = 18446744073709551615"),
    P64("element count wraps 64 bits", GW_T_DIMS, T_EMBD, 8, 1ull << 62, F,
        "tensor 'token_embd.weight': element count overflows at ne[1]"),
    P64("element count above 2^63-1", GW_T_DIMS, T_EMBD, 8, 1ull << 61, F,
        "tensor 'token_embd.weight': element count overflows at ne[1]"),
    BASE("4-d element count wraps", build_4d_overflow, F,
         "tensor 'huge': element count overflows at ne[3]"),
    P64("byte size wraps 64 bits", GW_T_DIMS, T_EMBD, 8, (1ull << 61) - 1, F,
        "tensor 'token_embd.weight': data size overflows"),
    P64("byte size larger than the file", GW_T_DIMS, T_EMBD, 8, 1ull << 40, F,
        "tensor 'token_embd.weight': data of 17592186044416 bytes at offset 0 cannot fit"),
    P64("row length not a multiple of the block", GW_T_DIMS, T_ATTN_Q, 0, 33, F,
        "tensor 'blk.0.attn_q.weight': row length 33 is not a multiple of the Q8_0 block size 32"),
    /* tensor types */
    P32("unknown tensor type 99", GW_T_TYPE, T_ATTN_Q, 0, 99, U,
        "tensor 'blk.0.attn_q.weight': unsupported ggml type id 99"),
    P32("removed tensor type 4 (Q4_2)", GW_T_TYPE, T_ATTN_Q, 0, 4, U,
        "tensor 'blk.0.attn_q.weight': unsupported ggml type id 4"),
    P32("unsupported tensor type 16 (IQ2_XXS)", GW_T_TYPE, T_ATTN_Q, 0, 16, U,
        "unsupported ggml type id 16"),
    P32("tensor type 2^32-1", GW_T_TYPE, T_ATTN_Q, 0, UINT32_MAX, U,
        "unsupported ggml type id 4294967295"),
    /* offsets */
    P64("offset not a multiple of the alignment", GW_T_OFFSET, T_ATTN_Q, 0, 33, F,
        "tensor 'blk.0.attn_q.weight': offset 33 is not a multiple of the alignment 32"),
    P64("gap between tensors", GW_T_OFFSET, T_ATTN_Q, 0, 64, F,
        "tensor 'blk.0.attn_q.weight': offset 64, expected 32"),
    P64("overlapping tensors", GW_T_OFFSET, T_ATTN_Q, 0, 0, F,
        "tensor 'blk.0.attn_q.weight': offset 0, expected 32"),
    P64("offset + size wraps back into the file", GW_T_OFFSET, T_ATTN_Q, 0, UINT64_MAX - 31, F,
        "tensor 'blk.0.attn_q.weight': offset 18446744073709551584, expected 32"),
    P64("first tensor not at offset 0", GW_T_OFFSET, T_EMBD, 0, 32, F,
        "tensor 'token_embd.weight': offset 32, expected 0"),
};
enum { N_CASES = sizeof CASES / sizeof CASES[0] };

static uint8_t *build_case(const malformed_case *c, size_t *size) {
    gguf_writer *w = gw_new();
    assert_non_null(w);
    c->build(w);
    uint8_t *bytes = gw_build(w, size);
    assert_non_null(bytes);
    size_t at = gw_offset(w, c->field, c->item) + c->delta;
    gw_free(w);
    size_t edit_bytes[] = {
        [EDIT_NONE] = 0, [EDIT_CUT] = 0, [EDIT_U8] = 1, [EDIT_U32] = 4, [EDIT_U64] = 8};
    assert_true(at <= *size && edit_bytes[c->edit] <= *size - at);
    if (c->edit == EDIT_CUT) *size = at;
    if (c->edit == EDIT_U8) bytes[at] = (uint8_t)c->value;
    if (c->edit == EDIT_U32) gw_patch_u32(bytes, at, (uint32_t)c->value);
    if (c->edit == EDIT_U64) gw_patch_u64(bytes, at, c->value);
    return bytes;
}

static void test_malformed_case(void **state) {
    const malformed_case *c = *state;
    size_t size;
    uint8_t *bytes = build_case(c, &size);
    parsed p;
    parse_bytes(&p, bytes, size);
    free(bytes);
    const char *message = tinfer_last_error();
    if (p.status != c->status || !strstr(message, c->expect))
        fail_msg("%s: got %s \"%s\"; expected %s with \"%s\"", c->name, tinfer_status_str(p.status),
                 message, tinfer_status_str(c->status), c->expect);
    parsed_free(&p);
}

/* The edits start from a valid file, so each failure comes from its edit alone. */
static void test_standard_file_is_valid(void **state) {
    (void)state;
    assert_true(N_CASES >= 40);
    gguf_writer *w = gw_new();
    build_std(w);
    parsed p;
    parse_ok(&p, w);
    assert_int_equal(p.meta.n_entries, N_STD_KVS);
    assert_int_equal(p.tensors.n_tensors, N_STD_TENSORS);
    assert_int_equal(get_tensor(&p, "blk.0.attn_q.weight")->file_offset,
                     gw_offset(w, GW_T_DATA, T_ATTN_Q));
    parsed_free(&p);
    gw_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_has_magic),
        cmocka_unit_test(test_scalar_values),
        cmocka_unit_test(test_numeric_arrays),
        cmocka_unit_test(test_string_array),
        cmocka_unit_test(test_nested_arrays),
        cmocka_unit_test(test_every_dtype),
        cmocka_unit_test(test_shapes_are_reversed),
        cmocka_unit_test(test_default_alignment),
        cmocka_unit_test(test_custom_alignment),
        cmocka_unit_test(test_versions_2_and_3),
        cmocka_unit_test(test_files_without_trailing_padding),
        cmocka_unit_test(test_shards_share_a_table),
        cmocka_unit_test(test_real_model),
        cmocka_unit_test(test_standard_file_is_valid),
    };
    static struct CMUnitTest malformed[N_CASES];
    for (size_t i = 0; i < N_CASES; i++)
        malformed[i] =
            (struct CMUnitTest){CASES[i].name, test_malformed_case, NULL, NULL, (void *)&CASES[i]};
    int failures = cmocka_run_group_tests_name("gguf", tests, NULL, NULL);
    return failures + _cmocka_run_group_tests("gguf_malformed", malformed, N_CASES, NULL, NULL);
}
