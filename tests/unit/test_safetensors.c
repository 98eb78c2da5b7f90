/* safetensors reader and shard index: round trips, the reference implementation's validation
 * rules, and malformed inputs (each with its exact status and a piece of its message). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "fixtures/safetensors_writer.h"
#include "format/safetensors.h"

typedef struct loaded {
    uint8_t *file;
    size_t size;
    tf_metadata meta;
    tf_tensor_table tensors;
} loaded;

static void loaded_free(loaded *l) {
    free(l->file);
    tf_metadata_free(&l->meta);
    tf_tensor_table_free(&l->tensors);
}

static void expect_message(const char *prefix, const char *substring) {
    const char *message = tinfer_last_error();
    if (strncmp(message, prefix, strlen(prefix)) != 0)
        fail_msg("message '%s' does not start with '%s'", message, prefix);
    if (!strstr(message, substring)) fail_msg("message '%s' lacks '%s'", message, substring);
}

/* Reads a file built from header text + data_len bytes; expects want and, on failure, a message
 * containing substring and an untouched table. */
static void expect_header(const char *header, size_t data_len, tinfer_status want,
                          const char *substring) {
    loaded l = {0};
    l.file = st_fixture_build_header(header, data_len, &l.size);
    assert_non_null(l.file);
    tf_error_clear();
    tinfer_status got = tf_safetensors_read(l.file, l.size, 0, &l.meta, &l.tensors);
    if (got != want)
        fail_msg("header %s: got %s (%s), want %s", header, tinfer_status_str(got),
                 tinfer_last_error(), tinfer_status_str(want));
    if (want != TINFER_OK) {
        expect_message("safetensors: ", substring);
        assert_int_equal(l.tensors.n_tensors, 0);
        assert_int_equal(l.meta.n_entries, 0);
    }
    loaded_free(&l);
}

static void expect_raw(const char *header, uint64_t declared_len, size_t data_len,
                       const char *substring) {
    loaded l = {0};
    l.file = st_fixture_build_raw(header, declared_len, data_len, &l.size);
    assert_non_null(l.file);
    assert_int_equal(tf_safetensors_read(l.file, l.size, 0, &l.meta, &l.tensors), TINFER_E_FORMAT);
    expect_message("safetensors: ", substring);
    loaded_free(&l);
}

/* ---- well-formed files ---- */

static void test_f32_round_trip(void **state) {
    (void)state;
    float values[6] = {0.0f, 1.0f, -2.5f, 3.25f, 1e-3f, 65504.0f};
    st_fixture_tensor t = {"model.embed_tokens.weight", "F32", 2, {2, 3}, values, sizeof values};
    loaded l = {0};
    l.file = st_fixture_build(&t, 1, NULL, 0, &l.size);
    assert_non_null(l.file);
    assert_int_equal(tf_safetensors_read(l.file, l.size, 7, &l.meta, &l.tensors), TINFER_OK);
    assert_int_equal(l.tensors.n_tensors, 1);
    const tf_tensor *got = tf_tensor_table_find(&l.tensors, "model.embed_tokens.weight");
    assert_non_null(got);
    assert_int_equal(got->dtype, TINFER_DTYPE_F32);
    assert_int_equal(got->n_dims, 2);
    assert_int_equal(got->shape[0], 2);
    assert_int_equal(got->shape[1], 3);
    assert_int_equal(got->shape[2], 1);
    assert_int_equal(got->n_elements, 6);
    assert_int_equal(got->n_bytes, 24);
    assert_int_equal(got->file_index, 7);
    uint64_t data_offset = st_fixture_data_offset(l.file);
    assert_int_equal(data_offset % 8, 0);
    assert_int_equal(got->file_offset, data_offset);
    assert_ptr_equal(got->data, l.file + data_offset);
    assert_memory_equal(got->data, values, sizeof values);
    assert_int_equal(tf_tensor_row_elems(got), 3);
    assert_int_equal(tf_tensor_n_rows(got), 2);
    assert_int_equal(l.meta.n_entries, 0);
    loaded_free(&l);
}

static void test_f16_bf16_shapes(void **state) {
    (void)state;
    uint16_t half[2 * 2 * 3 * 2], bf[5];
    for (size_t i = 0; i < 24; i++) half[i] = (uint16_t)(0x3c00 + i);
    for (size_t i = 0; i < 5; i++) bf[i] = (uint16_t)(0x3f80 + 3 * i);
    uint16_t scalar = 0x4000;
    st_fixture_tensor list[] = {
        {"a.half", "F16", 4, {2, 2, 3, 2}, half, sizeof half},
        {"b.bf16", "BF16", 1, {5}, bf, sizeof bf},
        {"c.scalar", "BF16", 0, {0}, &scalar, sizeof scalar},
    };
    loaded l = {0};
    l.file = st_fixture_build(list, 3, NULL, 0, &l.size);
    assert_int_equal(tf_safetensors_read(l.file, l.size, 0, &l.meta, &l.tensors), TINFER_OK);
    assert_int_equal(l.tensors.n_tensors, 3);
    uint64_t base = st_fixture_data_offset(l.file);

    const tf_tensor *h = tf_tensor_table_find(&l.tensors, "a.half");
    assert_int_equal(h->dtype, TINFER_DTYPE_F16);
    assert_int_equal(h->n_dims, 4);
    int64_t want_shape[4] = {2, 2, 3, 2};
    assert_memory_equal(h->shape, want_shape, sizeof want_shape);
    assert_int_equal(h->n_elements, 24);
    assert_int_equal(h->n_bytes, 48);
    assert_ptr_equal(h->data, l.file + base);
    assert_memory_equal(h->data, half, sizeof half);

    const tf_tensor *b = tf_tensor_table_find(&l.tensors, "b.bf16");
    assert_int_equal(b->dtype, TINFER_DTYPE_BF16);
    assert_int_equal(b->n_dims, 1);
    assert_int_equal(b->file_offset, base + 48);
    assert_memory_equal(b->data, bf, sizeof bf);

    /* Rank 0 is a scalar: stored as one dimension of 1. */
    const tf_tensor *s = tf_tensor_table_find(&l.tensors, "c.scalar");
    assert_int_equal(s->n_dims, 1);
    assert_int_equal(s->shape[0], 1);
    assert_int_equal(s->n_elements, 1);
    assert_int_equal(s->n_bytes, 2);
    assert_ptr_equal(s->data, l.file + base + 58);
    assert_memory_equal(s->data, &scalar, 2);
    loaded_free(&l);
}

/* The reference sorts by data_offsets, so header order is free; the table follows file order. */
static void test_header_order_is_free(void **state) {
    (void)state;
    loaded l = {0};
    l.file = st_fixture_build_header(
        "{\"second\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
        "\"first\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}",
        12, &l.size);
    assert_int_equal(tf_safetensors_read(l.file, l.size, 0, &l.meta, &l.tensors), TINFER_OK);
    assert_int_equal(l.tensors.n_tensors, 2);
    assert_string_equal(l.tensors.tensors[0].name, "first");
    assert_string_equal(l.tensors.tensors[1].name, "second");
    uint64_t base = st_fixture_data_offset(l.file);
    assert_ptr_equal(tf_tensor_table_find(&l.tensors, "second")->data, l.file + base + 8);
    loaded_free(&l);
}

/* Zero-element tensors are valid in the reference (test_zero_sized_tensor). */
static void test_zero_element_tensor(void **state) {
    (void)state;
    loaded l = {0};
    l.file = st_fixture_build_header(
        "{\"empty\":{\"dtype\":\"F32\",\"shape\":[2,0],\"data_offsets\":[0,0]},"
        "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        4, &l.size);
    assert_int_equal(tf_safetensors_read(l.file, l.size, 0, &l.meta, &l.tensors), TINFER_OK);
    const tf_tensor *e = tf_tensor_table_find(&l.tensors, "empty");
    assert_non_null(e);
    assert_int_equal(e->n_elements, 0);
    assert_int_equal(e->n_bytes, 0);
    assert_int_equal(e->shape[1], 0);
    loaded_free(&l);
}

/* A header of "{}" padded with JSON whitespace is a valid file with no tensors. */
static void test_empty_file_and_padding(void **state) {
    (void)state;
    expect_header("{}\r \t\n", 0, TINFER_OK, NULL);
    expect_header("{\"__metadata__\":{}}", 0, TINFER_OK, NULL);
}

static void test_metadata_and_second_shard(void **state) {
    (void)state;
    float one = 1.0f, two = 2.0f;
    st_fixture_tensor a = {"a", "F32", 1, {1}, &one, 4}, b = {"b", "F32", 1, {1}, &two, 4};
    st_fixture_meta meta[] = {{"format", "pt"}, {"note", "q\"uote"}};
    size_t size_a, size_b;
    uint8_t *file_a = st_fixture_build(&a, 1, meta, 2, &size_a);
    uint8_t *file_b = st_fixture_build(&b, 1, meta, 1, &size_b);
    tf_metadata md = {0};
    tf_tensor_table tensors = {0};
    assert_int_equal(tf_safetensors_read(file_a, size_a, 0, &md, &tensors), TINFER_OK);
    assert_string_equal(tf_meta_get_str(&md, "safetensors.format"), "pt");
    assert_string_equal(tf_meta_get_str(&md, "safetensors.note"), "q\"uote");
    assert_int_equal(tf_meta_get(&md, "safetensors.format")->as.str.len, 2);
    /* The second shard repeats format=pt: accepted, not duplicated. */
    assert_int_equal(tf_safetensors_read(file_b, size_b, 1, &md, &tensors), TINFER_OK);
    assert_int_equal(md.n_entries, 2);
    assert_int_equal(tensors.n_tensors, 2);
    assert_int_equal(tf_tensor_table_find(&tensors, "b")->file_index, 1);
    assert_ptr_equal(tf_tensor_table_find(&tensors, "b")->data,
                     file_b + st_fixture_data_offset(file_b));
    free(file_a);
    free(file_b);
    tf_metadata_free(&md);
    tf_tensor_table_free(&tensors);
}

static void test_file_on_disk(void **state) {
    (void)state;
    uint16_t data[8];
    for (int i = 0; i < 8; i++) data[i] = (uint16_t)(i * 1000);
    st_fixture_tensor t = {"w", "BF16", 2, {2, 4}, data, sizeof data};
    size_t size;
    uint8_t *bytes = st_fixture_build(&t, 1, NULL, 0, &size);
    char path[512];
    st_fixture_tmp_path("test_safetensors_disk.safetensors", path, sizeof path);
    assert_int_equal(st_fixture_write_file(path, bytes, size), 0);
    tf_mapped_file file;
    assert_int_equal(tf_mapped_file_open(path, true, &file), TINFER_OK);
    assert_int_equal(file.size, size);
    tf_metadata md = {0};
    tf_tensor_table tensors = {0};
    assert_int_equal(tf_safetensors_read(file.bytes, file.size, 0, &md, &tensors), TINFER_OK);
    const tf_tensor *w = tf_tensor_table_find(&tensors, "w");
    assert_ptr_equal(w->data, file.bytes + w->file_offset);
    assert_memory_equal(w->data, data, sizeof data);
    tf_metadata_free(&md);
    tf_tensor_table_free(&tensors);
    tf_mapped_file_close(&file);
    remove(path);
    free(bytes);
}

/* ---- malformed: header length ---- */

static void test_file_shorter_than_8(void **state) {
    (void)state;
    uint8_t bytes[5] = {2, 0, 0, 0, 0};
    tf_metadata md = {0};
    tf_tensor_table tensors = {0};
    assert_int_equal(tf_safetensors_read(bytes, sizeof bytes, 0, &md, &tensors), TINFER_E_FORMAT);
    expect_message("safetensors: ", "shorter than the 8-byte header length");
    assert_int_equal(tf_safetensors_read(NULL, 0, 0, &md, &tensors), TINFER_E_FORMAT);
    expect_message("safetensors: ", "file is 0 bytes");
}

static void test_header_length_bounds(void **state) {
    (void)state;
    expect_raw("{}", 0, 0, "header length is 0");
    expect_raw("{}", 1000, 16, "header length 1000 runs past the end of the 26-byte file");
    expect_raw("{}", 100000001, 0, "exceeds the limit of 100000000 bytes");
    expect_raw("{}", UINT64_MAX - 3, 0, "header length 18446744073709551612 exceeds the limit");
    expect_raw("{}", UINT64_MAX, 0, "exceeds the limit");
}

/* ---- malformed: the JSON itself ---- */

static void test_bad_json(void **state) {
    (void)state;
    expect_header("{\"a\": ", 0, TINFER_E_FORMAT, "header is not valid JSON");
    expect_header("[1, 2]  ", 0, TINFER_E_FORMAT, "header must be a JSON object");
    expect_header("{}x", 0, TINFER_E_FORMAT, "not valid JSON");
    expect_header("{\"\xff\xfe\":1}", 0, TINFER_E_FORMAT, "not valid JSON");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                  8, TINFER_E_FORMAT, "duplicate");
}

/* ---- malformed: offsets and sizes ---- */

static void test_bad_offsets(void **state) {
    (void)state;
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                  12, TINFER_E_FORMAT, "tensor 'b': data_offsets [4, 12) overlap tensor 'a'");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                  20, TINFER_E_FORMAT, "tensor 'b': data_offsets begin 12 leaves a hole of 4");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12,
                  TINFER_E_FORMAT, "tensors cover 8 bytes but the data section holds 12");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 6,
                  TINFER_E_FORMAT, "data_offsets end 8 is past the end of the 6-byte");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
                  TINFER_E_FORMAT, "tensor 'a': data_offsets end 4 is before begin 8");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                  TINFER_E_FORMAT, "span 8 bytes but shape and dtype F32 need 12");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,4]}}", 8,
                  TINFER_E_FORMAT, "tensor 'a': data_offsets[0] must be a non-negative integer");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
                  TINFER_E_FORMAT, "tensor 'a': data_offsets must be an array of 2 integers");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
                  TINFER_E_FORMAT, "data_offsets must be an array of 2 integers");
}

static void test_bad_shapes(void **state) {
    (void)state;
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                  "\"data_offsets\":[0,16]}}",
                  16, TINFER_E_FORMAT, "tensor 'a': shape element count overflows 64 bits");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,9223372036854775807],"
                  "\"data_offsets\":[0,16]}}",
                  16, TINFER_E_FORMAT, "tensor 'a': byte size overflows 64 bits");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,8]}}", 8,
                  TINFER_E_FORMAT, "tensor 'a': shape[1] must be a non-negative integer");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8,
                  TINFER_E_FORMAT, "tensor 'a': shape[0] must be a non-negative integer");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
                  TINFER_E_FORMAT, "shape[0] must be a non-negative integer");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8,
                  TINFER_E_FORMAT, "tensor 'a': shape must be an array");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}", 8,
                  TINFER_E_UNSUPPORTED, "tensor 'a': rank 5, at most 4 dimensions are supported");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,2],"
                  "\"data_offsets\":[0,8]}}",
                  8, TINFER_E_UNSUPPORTED, "tensor 'a': rank 10, at most 4 dimensions");
    /* A malformed layout is reported before the rank. */
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,3],\"data_offsets\":[0,8]}}", 8,
                  TINFER_E_FORMAT, "need 12");
}

/* ---- malformed: dtypes and entries ---- */

static void test_bad_dtypes(void **state) {
    (void)state;
    expect_header("{\"q\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
                  TINFER_E_UNSUPPORTED, "tensor 'q': dtype I8 is not supported");
    expect_header("{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
                  TINFER_E_UNSUPPORTED, "tensor 'q': dtype F8_E4M3 is not supported");
    expect_header("{\"q\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
                  TINFER_E_UNSUPPORTED, "dtype U8 is not supported");
    expect_header("{\"q\":{\"dtype\":\"Q9_X\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
                  TINFER_E_FORMAT, "tensor 'q': unknown dtype 'Q9_X'");
    expect_header("{\"q\":{\"dtype\":32,\"shape\":[4],\"data_offsets\":[0,16]}}", 16,
                  TINFER_E_FORMAT, "tensor 'q': dtype must be a string");
    /* A malformed layout is reported before an unsupported dtype. */
    expect_header("{\"q\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,5]}}", 5,
                  TINFER_E_FORMAT, "need 4");
    /* Sub-byte dtypes must fill whole bytes (the reference's MisalignedSlice). */
    expect_header("{\"q\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2,
                  TINFER_E_FORMAT, "3 F4 elements do not fill whole bytes");
}

static void test_bad_entries(void **state) {
    (void)state;
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4,
                  TINFER_E_FORMAT, "tensor 'a': unknown field 'extra'");
    expect_header("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TINFER_E_FORMAT,
                  "tensor 'a': missing field 'dtype'");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, TINFER_E_FORMAT,
                  "tensor 'a': missing field 'data_offsets'");
    expect_header("{\"a\":[1,2,3]}", 0, TINFER_E_FORMAT, "tensor 'a': entry must be an object");
    expect_header("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                  TINFER_E_FORMAT, "empty tensor name");
    expect_header("{\"__metadata__\":{\"format\":\"pt\",\"n\":3}}", 0, TINFER_E_FORMAT,
                  "__metadata__ entry 'n' must be a string");
    expect_header("{\"__metadata__\":[\"pt\"]}", 0, TINFER_E_FORMAT,
                  "__metadata__ must be an object of strings");
}

/* ---- malformed: across shards ---- */

static void test_shard_conflicts(void **state) {
    (void)state;
    st_fixture_tensor t = {"w", "F32", 1, {1}, NULL, 4};
    st_fixture_meta pt = {"format", "pt"}, np = {"format", "np"};
    size_t size_a, size_b, size_c;
    uint8_t *a = st_fixture_build(&t, 1, &pt, 1, &size_a);
    st_fixture_tensor u = {"u", "F32", 1, {1}, NULL, 4};
    uint8_t *b = st_fixture_build(&u, 1, &np, 1, &size_b);
    uint8_t *c = st_fixture_build(&t, 1, NULL, 0, &size_c);
    tf_metadata md = {0};
    tf_tensor_table tensors = {0};
    assert_int_equal(tf_safetensors_read(a, size_a, 0, &md, &tensors), TINFER_OK);
    assert_int_equal(tf_safetensors_read(b, size_b, 1, &md, &tensors), TINFER_E_FORMAT);
    expect_message("safetensors: ", "__metadata__ entry 'format' conflicts with an earlier shard");
    assert_int_equal(tensors.n_tensors, 1); /* nothing of the failed shard was added */
    assert_int_equal(tf_safetensors_read(c, size_c, 2, &md, &tensors), TINFER_E_FORMAT);
    expect_message("safetensors: ", "tensor 'w' already appears in an earlier shard");
    free(a);
    free(b);
    free(c);
    tf_metadata_free(&md);
    tf_tensor_table_free(&tensors);
}

/* ---- model.safetensors.index.json ---- */

static void test_index_files_in_order(void **state) {
    (void)state;
    const char *text =
        "{\"metadata\":{\"total_size\":123456},\"weight_map\":{"
        "\"lm_head.weight\":\"model-00002-of-00002.safetensors\","
        "\"model.embed_tokens.weight\":\"model-00001-of-00002.safetensors\","
        "\"model.norm.weight\":\"model-00002-of-00002.safetensors\","
        "\"model.layers.0.mlp.up_proj.weight\":\"model-00001-of-00002.safetensors\"}}";
    char **files = NULL;
    size_t n_files = 0;
    assert_int_equal(tf_safetensors_index_read(text, strlen(text), &files, &n_files), TINFER_OK);
    assert_int_equal(n_files, 2);
    assert_string_equal(files[0], "model-00002-of-00002.safetensors");
    assert_string_equal(files[1], "model-00001-of-00002.safetensors");
    tf_safetensors_index_free(files, n_files);
    tf_safetensors_index_free(NULL, 0);
}

static void expect_index_error(const char *text, const char *substring) {
    char **files = (char **)0x1;
    size_t n_files = 99;
    assert_int_equal(tf_safetensors_index_read(text, strlen(text), &files, &n_files),
                     TINFER_E_FORMAT);
    expect_message("safetensors index: ", substring);
    assert_ptr_equal(files, (char **)0x1); /* outputs untouched on failure */
    assert_int_equal(n_files, 99);
}

static void test_index_malformed(void **state) {
    (void)state;
    expect_index_error("{\"weight_map\":{\"a\":\"ok.safetensors\",\"b\":\"../x.safetensors\"}}",
                       "tensor 'b' maps to '../x.safetensors', which is not a plain file name");
    expect_index_error("{\"weight_map\":{\"a\":\"sub/x.safetensors\"}}", "not a plain file name");
    expect_index_error("{\"weight_map\":{\"a\":\"..\\\\x.safetensors\"}}", "not a plain file name");
    expect_index_error("{\"weight_map\":{\"a\":\"..\"}}", "maps to '..'");
    expect_index_error("{\"weight_map\":{\"a\":\".\"}}", "maps to '.'");
    expect_index_error("{\"weight_map\":{\"a\":\"\"}}", "maps to ''");
    expect_index_error("{\"metadata\":{}}", "missing field 'weight_map'");
    expect_index_error("{\"weight_map\":[\"a.safetensors\"]}", "'weight_map' must be an object");
    expect_index_error("{\"weight_map\":{\"a\":3}}", "weight_map entry 'a' must be a string");
    expect_index_error("{\"weight_map\":{}}", "'weight_map' is empty");
    expect_index_error("{\"metadata\":3,\"weight_map\":{\"a\":\"x\"}}",
                       "'metadata' must be an object");
    expect_index_error("{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}", "duplicate");
    expect_index_error("{\"weight_map\":", "not valid JSON");
    expect_index_error("[]", "top level must be a JSON object");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_round_trip),
        cmocka_unit_test(test_f16_bf16_shapes),
        cmocka_unit_test(test_header_order_is_free),
        cmocka_unit_test(test_zero_element_tensor),
        cmocka_unit_test(test_empty_file_and_padding),
        cmocka_unit_test(test_metadata_and_second_shard),
        cmocka_unit_test(test_file_on_disk),
        cmocka_unit_test(test_file_shorter_than_8),
        cmocka_unit_test(test_header_length_bounds),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_offsets),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_bad_dtypes),
        cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_shard_conflicts),
        cmocka_unit_test(test_index_files_in_order),
        cmocka_unit_test(test_index_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
