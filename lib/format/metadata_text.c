/* Text rendering of metadata values with bounded output and an exact count of the bytes needed. */
#include "format/metadata_text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MAX_RENDER_DEPTH = 16 };

static void put_bytes(tf_text_out *out, const char *bytes, size_t n) {
    if (out->cap > 0 && out->len < out->cap - 1) {
        size_t room = out->cap - 1 - out->len;
        memcpy(out->buf + out->len, bytes, n < room ? n : room);
        out->buf[out->len + (n < room ? n : room)] = '\0';
    }
    out->len += n;
}

static void put_text(tf_text_out *out, const char *text) { put_bytes(out, text, strlen(text)); }

static void put_number(tf_text_out *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_number(tf_text_out *out, const char *fmt, ...) {
    char number[64];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(number, sizeof number, fmt, args);
    va_end(args);
    if (n > 0) put_bytes(out, number, (size_t)n < sizeof number ? (size_t)n : sizeof number - 1);
}

static bool is_float_type(tinfer_meta_type type) {
    return type == TINFER_META_F32 || type == TINFER_META_F64;
}

static bool is_unsigned_type(tinfer_meta_type type) {
    return type == TINFER_META_U8 || type == TINFER_META_U16 || type == TINFER_META_U32 ||
           type == TINFER_META_U64;
}

static void render_value(tf_text_out *out, const tf_meta_value *value, size_t max_elems,
                         int depth);

static void render_elem(tf_text_out *out, const tf_meta_array *array, uint64_t j,
                        size_t max_elems, int depth) {
    switch (array->elem_type) {
    case TINFER_META_STRING:
        put_bytes(out, array->strings[j].ptr, (size_t)array->strings[j].len);
        break;
    case TINFER_META_ARRAY:
        render_value(out, &array->nested[j], max_elems, depth + 1);
        break;
    case TINFER_META_BOOL:
        put_text(out, tf_meta_array_i64(array, j) ? "true" : "false");
        break;
    case TINFER_META_U64: {
        uint64_t v;
        memcpy(&v, array->raw + j * 8, 8);
        put_number(out, "%" PRIu64, v);
        break;
    }
    default:
        if (is_float_type(array->elem_type))
            put_number(out, "%.9g", tf_meta_array_f64(array, j));
        else
            put_number(out, "%" PRId64, tf_meta_array_i64(array, j));
    }
}

static void render_array(tf_text_out *out, const tf_meta_array *array, size_t max_elems,
                         int depth) {
    if (depth > MAX_RENDER_DEPTH) {
        put_text(out, "[…]");
        return;
    }
    put_text(out, "[");
    uint64_t shown = array->n_elems < max_elems ? array->n_elems : max_elems;
    for (uint64_t j = 0; j < shown; j++) {
        if (j) put_text(out, ", ");
        render_elem(out, array, j, max_elems, depth);
    }
    if (shown < array->n_elems) put_number(out, ", … (%" PRIu64 " total)", array->n_elems);
    put_text(out, "]");
}

static void render_value(tf_text_out *out, const tf_meta_value *value, size_t max_elems,
                         int depth) {
    if (value->type == TINFER_META_ARRAY)
        render_array(out, &value->as.array, max_elems, depth);
    else if (value->type == TINFER_META_STRING)
        put_bytes(out, value->as.str.ptr, (size_t)value->as.str.len);
    else if (value->type == TINFER_META_BOOL)
        put_text(out, value->as.boolean ? "true" : "false");
    else if (is_float_type(value->type))
        put_number(out, "%.9g", value->as.f64);
    else if (is_unsigned_type(value->type))
        put_number(out, "%" PRIu64, value->as.u64);
    else
        put_number(out, "%" PRId64, value->as.i64);
}

void tf_meta_value_render(tf_text_out *out, const tf_meta_value *value, size_t max_elems) {
    if (out->cap > 0) out->buf[0] = '\0';
    render_value(out, value, max_elems, 0);
}

void tf_meta_array_elem_render(tf_text_out *out, const tf_meta_array *array, uint64_t j,
                               size_t max_elems) {
    if (out->cap > 0) out->buf[0] = '\0';
    render_elem(out, array, j, max_elems, 0);
}
