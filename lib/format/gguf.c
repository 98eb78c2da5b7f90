/* GGUF reader: walks header, key/values and tensor infos with a bounds-checked cursor, then places
 * each tensor in the data section. Every count, length, type id and offset comes from a file we do
 * not trust, so each is checked against the bytes that are left before it is used or allocated. */
#include "format/gguf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "quant/dtype.h"

enum {
    GGUF_DEFAULT_ALIGNMENT = 32,
    GGUF_MAX_ALIGNMENT = 1 << 20, /* real files use 32; anything above a MiB is a corrupt field */
    GGUF_MAX_ARRAY_DEPTH = 8,     /* nested arrays recurse; a bound keeps the stack safe */
    /* Smallest encodings, to bound a count by the bytes left before anything is allocated: a kv
     * is key length, a key byte, type and a u8; a tensor info is name length, a name byte, n_dims,
     * one ne, type and offset; a string is its length; an array is its element type and count. */
    MIN_KV_BYTES = 8 + 1 + 4 + 1,
    MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8,
    MIN_STRING_BYTES = 8,
    MIN_ARRAY_BYTES = 4 + 8,
    WHERE_CAP = 192,
    SHOWN_NAME_CHARS = 96, /* a hostile name is cut short in messages */
};

#define GGUF_TRY(expr)                                    \
    do {                                                  \
        tinfer_status try_status_ = (expr);               \
        if (try_status_ != TINFER_OK) return try_status_; \
    } while (0)

/* ---- cursor: reads that fail cleanly, leaving the position unchanged ---- */

typedef struct gguf_cursor {
    const uint8_t *bytes;
    uint64_t size;
    uint64_t pos;
} gguf_cursor;

static uint64_t cursor_left(const gguf_cursor *cur) { return cur->size - cur->pos; }

/* The next n bytes, or NULL when fewer are left. */
static const uint8_t *cursor_take(gguf_cursor *cur, uint64_t n) {
    if (n > cursor_left(cur)) return NULL;
    const uint8_t *at = cur->bytes + cur->pos;
    cur->pos += n;
    return at;
}

/* GGUF is little-endian whatever the host is. */
static uint64_t load_le(const uint8_t *bytes, size_t n_bytes) {
    uint64_t value = 0;
    for (size_t i = 0; i < n_bytes; i++) value |= (uint64_t)bytes[i] << (8 * i);
    return value;
}

static bool cursor_u32(gguf_cursor *cur, uint32_t *out) {
    const uint8_t *at = cursor_take(cur, 4);
    if (at) *out = (uint32_t)load_le(at, 4);
    return at != NULL;
}

static bool cursor_u64(gguf_cursor *cur, uint64_t *out) {
    const uint8_t *at = cursor_take(cur, 8);
    if (at) *out = load_le(at, 8);
    return at != NULL;
}

/* A GGUF string: u64 length, then that many bytes, no NUL. */
static bool cursor_str(gguf_cursor *cur, tf_str *out) {
    uint64_t start = cur->pos, len;
    const uint8_t *text = cursor_u64(cur, &len) ? cursor_take(cur, len) : NULL;
    if (!text) {
        cur->pos = start;
        return false;
    }
    *out = (tf_str){(const char *)text, len};
    return true;
}

/* ---- parser state and messages ---- */

typedef struct gguf_parser {
    gguf_cursor cur;
    tf_metadata *meta;
    tf_tensor_table *tensors;
    uint32_t file_index;
    uint64_t alignment;
    uint64_t n_kv;
    uint64_t n_tensors;
    char where[WHERE_CAP]; /* "gguf: kv[3] 'general.alignment'": the start of every message */
} gguf_parser;

static int shown_len(tf_str name) {
    return name.len < SHOWN_NAME_CHARS ? (int)name.len : SHOWN_NAME_CHARS;
}

static tinfer_status fail(const gguf_parser *p, tinfer_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static tinfer_status fail(const gguf_parser *p, tinfer_status status, const char *fmt, ...) {
    char detail[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(detail, sizeof detail, fmt, args);
    va_end(args);
    return tf_error(status, "%s: %s", p->where, detail);
}

static tinfer_status fail_truncated(const gguf_parser *p, const char *what, uint64_t need) {
    return fail(p, TINFER_E_FORMAT,
                "%s truncated at byte %" PRIu64 " (needs %" PRIu64 " bytes, %" PRIu64 " left)",
                what, p->cur.pos, need, cursor_left(&p->cur));
}

static tinfer_status read_u32(gguf_parser *p, const char *what, uint32_t *out) {
    return cursor_u32(&p->cur, out) ? TINFER_OK : fail_truncated(p, what, 4);
}

static tinfer_status read_u64(gguf_parser *p, const char *what, uint64_t *out) {
    return cursor_u64(&p->cur, out) ? TINFER_OK : fail_truncated(p, what, 8);
}

static tinfer_status read_str(gguf_parser *p, const char *what, tf_str *out) {
    uint64_t start = p->cur.pos, len;
    if (!cursor_u64(&p->cur, &len)) {
        char label[48];
        snprintf(label, sizeof label, "%s length", what);
        return fail_truncated(p, label, 8);
    }
    p->cur.pos = start;
    if (cursor_str(&p->cur, out)) return TINFER_OK;
    return fail(p, TINFER_E_FORMAT,
                "%s length %" PRIu64 " at byte %" PRIu64 " runs past the end of the file (%" PRIu64
                " bytes left)",
                what, len, start, cursor_left(&p->cur) - 8);
}

/* A count of elements each at least min_bytes long must fit in what is left: this bounds every
 * allocation by the file's size, whatever the count field claims. */
static tinfer_status check_count(gguf_parser *p, const char *what, uint64_t count,
                                 uint64_t min_bytes) {
    if (count <= cursor_left(&p->cur) / min_bytes) return TINFER_OK;
    return fail(p, TINFER_E_FORMAT,
                "%s %" PRIu64 " at byte %" PRIu64 " cannot fit in the %" PRIu64
                " bytes left (each needs at least %" PRIu64 ")",
                what, count, p->cur.pos, cursor_left(&p->cur), min_bytes);
}

/* ---- header ---- */

bool tf_gguf_has_magic(const uint8_t *bytes, size_t size) {
    return bytes && size >= 4 && memcmp(bytes, "GGUF", 4) == 0;
}

static tinfer_status check_version(const gguf_parser *p, uint32_t version) {
    if (version == 2 || version == 3) return TINFER_OK; /* v3 only added big-endian files */
    if (version == 0) return fail(p, TINFER_E_FORMAT, "version 0 is not a GGUF version");
    /* A big-endian writer stores 3 as 03 00 00 00 read backwards: the low half is zero. */
    if ((version & 0xFFFFu) == 0)
        return fail(p, TINFER_E_UNSUPPORTED,
                    "big-endian GGUF is not supported (version field reads 0x%08" PRIx32 ")",
                    version);
    if (version == 1)
        return fail(p, TINFER_E_UNSUPPORTED,
                    "version 1 is not supported (its counts are 32-bit; convert to version 3)");
    return fail(p, TINFER_E_UNSUPPORTED,
                "version %" PRIu32 " is newer than the supported versions 2 and 3", version);
}

static tinfer_status read_header(gguf_parser *p, uint32_t *version) {
    if (!tf_gguf_has_magic(p->cur.bytes, p->cur.size))
        return fail(p, TINFER_E_FORMAT,
                    p->cur.size < 4 ? "file of %" PRIu64 " bytes is too short for the magic"
                                    : "bad magic in a file of %" PRIu64
                                      " bytes (expected \"GGUF\")",
                    p->cur.size);
    p->cur.pos = 4;
    GGUF_TRY(read_u32(p, "version", version));
    GGUF_TRY(check_version(p, *version));
    GGUF_TRY(read_u64(p, "tensor_count", &p->n_tensors));
    GGUF_TRY(read_u64(p, "kv_count", &p->n_kv));
    GGUF_TRY(check_count(p, "kv_count", p->n_kv, MIN_KV_BYTES));
    return check_count(p, "tensor_count", p->n_tensors, MIN_TENSOR_INFO_BYTES);
}

/* ---- values ---- */

static tinfer_status read_array(gguf_parser *p, unsigned depth, tf_meta_array *out);

static void decode_scalar(uint32_t type, const uint8_t *bytes, size_t size, tf_meta_value *out) {
    uint64_t bits = load_le(bytes, size);
    switch (type) {
    case TINFER_META_I8:
        out->as.i64 = (int8_t)bits;
        break;
    case TINFER_META_I16:
        out->as.i64 = (int16_t)bits;
        break;
    case TINFER_META_I32:
        out->as.i64 = (int32_t)bits;
        break;
    case TINFER_META_I64:
        out->as.i64 = (int64_t)bits;
        break;
    case TINFER_META_BOOL: /* writers store 0 or 1; any other byte reads as true */
        out->as.boolean = bits != 0;
        break;
    case TINFER_META_F32: {
        uint32_t bits32 = (uint32_t)bits;
        float value;
        memcpy(&value, &bits32, sizeof value);
        out->as.f64 = value;
        break;
    }
    case TINFER_META_F64:
        memcpy(&out->as.f64, &bits, sizeof out->as.f64);
        break;
    default: /* U8 U16 U32 U64 */
        out->as.u64 = bits;
        break;
    }
}

static tinfer_status read_string_value(gguf_parser *p, tf_str *out) {
    tf_str text;
    GGUF_TRY(read_str(p, "value", &text));
    size_t with_nul; /* text.len <= size, so this holds; checked anyway */
    if (!tinfer_add_size((size_t)text.len, 1, &with_nul))
        return fail(p, TINFER_E_FORMAT, "string of %" PRIu64 " bytes is too long", text.len);
    char *copy = tf_meta_strndup(p->meta, text.ptr, (size_t)text.len);
    if (!copy)
        return fail(p, TINFER_E_NOMEM, "out of memory for a %" PRIu64 "-byte string", text.len);
    *out = (tf_str){copy, text.len};
    return TINFER_OK;
}

static tinfer_status read_value(gguf_parser *p, uint32_t type, tf_meta_value *out) {
    memset(out, 0, sizeof *out);
    out->type = (tinfer_meta_type)type;
    if (type == TINFER_META_STRING) return read_string_value(p, &out->as.str);
    if (type == TINFER_META_ARRAY) return read_array(p, 1, &out->as.array);
    size_t size = tf_meta_scalar_size(type); /* 0 for ids outside the table */
    if (size == 0)
        return fail(p, TINFER_E_FORMAT,
                    "unknown value type %" PRIu32 " (value at byte %" PRIu64 ")", type, p->cur.pos);
    const uint8_t *bytes = cursor_take(&p->cur, size);
    if (!bytes) return fail_truncated(p, "value", size);
    decode_scalar(type, bytes, size, out);
    return TINFER_OK;
}

/* Numeric and bool elements stay in the file: raw points at them. */
static tinfer_status read_raw_elems(gguf_parser *p, tf_meta_array *out) {
    uint64_t n_bytes;
    const uint8_t *raw = NULL;
    if (tinfer_mul_u64(out->n_elems, tf_meta_scalar_size(out->elem_type), &n_bytes))
        raw = cursor_take(&p->cur, n_bytes);
    if (!raw)
        return fail(p, TINFER_E_FORMAT,
                    "array of %" PRIu64 " %s elements at byte %" PRIu64
                    " runs past the end of the file (%" PRIu64 " bytes left)",
                    out->n_elems, tf_meta_type_name(out->elem_type), p->cur.pos,
                    cursor_left(&p->cur));
    out->raw = raw;
    return TINFER_OK;
}

static void *alloc_elems(gguf_parser *p, uint64_t count, size_t elem_bytes) {
    size_t total;
    if (!tinfer_mul_size((size_t)count, elem_bytes, &total)) return NULL;
    return tf_meta_alloc(p->meta, total);
}

/* String elements point into the file (not NUL-terminated); only the tf_str array is allocated. */
static tinfer_status read_string_elems(gguf_parser *p, tf_meta_array *out) {
    GGUF_TRY(check_count(p, "array count", out->n_elems, MIN_STRING_BYTES));
    if (out->n_elems == 0) return TINFER_OK;
    out->strings = alloc_elems(p, out->n_elems, sizeof *out->strings);
    if (!out->strings)
        return fail(p, TINFER_E_NOMEM, "out of memory for %" PRIu64 " strings", out->n_elems);
    for (uint64_t j = 0; j < out->n_elems; j++) {
        if (cursor_str(&p->cur, &out->strings[j])) continue;
        return fail(p, TINFER_E_FORMAT,
                    "string element %" PRIu64 " at byte %" PRIu64
                    " runs past the end of the file (%" PRIu64 " bytes left)",
                    j, p->cur.pos, cursor_left(&p->cur));
    }
    return TINFER_OK;
}

/* Elements of an array of arrays carry no type tag of their own: each is type, count, elements. */
static tinfer_status read_nested_elems(gguf_parser *p, unsigned depth, tf_meta_array *out) {
    GGUF_TRY(check_count(p, "array count", out->n_elems, MIN_ARRAY_BYTES));
    if (out->n_elems == 0) return TINFER_OK;
    out->nested = alloc_elems(p, out->n_elems, sizeof *out->nested);
    if (!out->nested)
        return fail(p, TINFER_E_NOMEM, "out of memory for %" PRIu64 " arrays", out->n_elems);
    for (uint64_t j = 0; j < out->n_elems; j++) {
        out->nested[j].type = TINFER_META_ARRAY;
        GGUF_TRY(read_array(p, depth + 1, &out->nested[j].as.array));
    }
    return TINFER_OK;
}

static tinfer_status read_array(gguf_parser *p, unsigned depth, tf_meta_array *out) {
    if (depth > GGUF_MAX_ARRAY_DEPTH)
        return fail(p, TINFER_E_FORMAT, "arrays nested deeper than %d at byte %" PRIu64,
                    GGUF_MAX_ARRAY_DEPTH, p->cur.pos);
    uint32_t elem_type = 0;
    GGUF_TRY(read_u32(p, "array element type", &elem_type));
    if (!tf_meta_type_name(elem_type))
        return fail(p, TINFER_E_FORMAT, "unknown array element type %" PRIu32 " at byte %" PRIu64,
                    elem_type, p->cur.pos - 4);
    memset(out, 0, sizeof *out);
    out->elem_type = (tinfer_meta_type)elem_type;
    GGUF_TRY(read_u64(p, "array count", &out->n_elems));
    if (elem_type == TINFER_META_STRING) return read_string_elems(p, out);
    if (elem_type == TINFER_META_ARRAY) return read_nested_elems(p, depth, out);
    return read_raw_elems(p, out);
}

/* ---- key/values ---- */

static bool str_is(tf_str text, const char *literal) {
    return text.len == strlen(literal) && memcmp(text.ptr, literal, text.len) == 0;
}

/* The data section's alignment: llama.cpp reads it as u32 (and aborts on another type); we refuse
 * other types, zero, non-powers of two, and sizes no writer uses (they only inflate padding). */
static tinfer_status take_alignment(gguf_parser *p, const tf_meta_value *value) {
    if (value->type != TINFER_META_U32)
        return fail(p, TINFER_E_FORMAT, "type %s, expected u32", tf_meta_type_name(value->type));
    uint64_t alignment = value->as.u64;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > GGUF_MAX_ALIGNMENT)
        return fail(p, TINFER_E_FORMAT, "alignment %" PRIu64 " is not a power of two in [1, %d]",
                    alignment, GGUF_MAX_ALIGNMENT);
    p->alignment = alignment;
    return TINFER_OK;
}

static tinfer_status read_kv(gguf_parser *p, uint64_t index) {
    snprintf(p->where, sizeof p->where, "gguf: kv[%" PRIu64 "]", index);
    uint64_t key_at = p->cur.pos;
    tf_str key;
    GGUF_TRY(read_str(p, "key", &key));
    if (key.len == 0) return fail(p, TINFER_E_FORMAT, "empty key at byte %" PRIu64, key_at);
    snprintf(p->where, sizeof p->where, "gguf: kv[%" PRIu64 "] '%.*s'", index, shown_len(key),
             key.ptr);
    uint32_t type = 0;
    GGUF_TRY(read_u32(p, "value type", &type));
    tf_meta_value value;
    GGUF_TRY(read_value(p, type, &value));
    if (str_is(key, "general.alignment")) GGUF_TRY(take_alignment(p, &value));
    tinfer_status status = tf_meta_add(p->meta, key.ptr, (size_t)key.len, &value);
    if (status != TINFER_OK) tf_error_prefix(p->where); /* empty, NUL byte or duplicate */
    return status;
}

/* ---- tensor infos ---- */

/* GGUF lists ne[0] (the contiguous row) first; the table wants outermost first, so reverse. */
static tinfer_status read_shape(gguf_parser *p, tf_tensor *tensor) {
    uint32_t n_dims = 0;
    GGUF_TRY(read_u32(p, "n_dims", &n_dims));
    if (n_dims == 0 || n_dims > TINFER_MAX_DIMS)
        return fail(p, TINFER_E_FORMAT, "n_dims %" PRIu32 " is outside 1..%d", n_dims,
                    TINFER_MAX_DIMS);
    uint64_t n_elements = 1;
    for (uint32_t j = 0; j < n_dims; j++) {
        char what[16];
        snprintf(what, sizeof what, "ne[%" PRIu32 "]", j);
        uint64_t ne = 0;
        GGUF_TRY(read_u64(p, what, &ne));
        if (ne == 0 || ne > INT64_MAX) /* ggml's ne is int64_t: >= 2^63 is negative */
            return fail(p, TINFER_E_FORMAT, "%s = %" PRIu64 " is outside 1..2^63-1", what, ne);
        if (!tinfer_mul_u64(n_elements, ne, &n_elements) || n_elements > INT64_MAX)
            return fail(p, TINFER_E_FORMAT, "element count overflows at %s = %" PRIu64, what, ne);
        tensor->shape[n_dims - 1 - j] = (int64_t)ne;
    }
    for (uint32_t j = n_dims; j < TINFER_MAX_DIMS; j++) tensor->shape[j] = 1;
    tensor->n_dims = n_dims;
    tensor->n_elements = n_elements;
    return TINFER_OK;
}

static tinfer_status read_dtype(gguf_parser *p, tf_tensor *tensor) {
    uint32_t type_id = 0;
    GGUF_TRY(read_u32(p, "type", &type_id));
    if (!tf_dtype_traits_of(type_id))
        return fail(p, TINFER_E_UNSUPPORTED, "unsupported ggml type id %" PRIu32, type_id);
    tensor->dtype = (tinfer_dtype)type_id;
    uint64_t row_elems = tf_tensor_row_elems(tensor);
    return tf_dtype_tensor_bytes(tensor->dtype, row_elems, tensor->n_elements / row_elems, p->where,
                                 &tensor->n_bytes);
}

/* Like llama.cpp's gguf.cpp, each offset must equal the running sum of the earlier tensors' sizes,
 * each padded to the alignment: tensors are stored in info order, so overlaps and holes are both
 * rejected, and no two tensors can alias the same bytes. */
static tinfer_status check_offset(gguf_parser *p, const tf_tensor *tensor, uint64_t offset,
                                  uint64_t *expected_offset) {
    if (offset % p->alignment != 0)
        return fail(p, TINFER_E_FORMAT,
                    "offset %" PRIu64 " is not a multiple of the alignment %" PRIu64, offset,
                    p->alignment);
    if (offset != *expected_offset)
        return fail(p, TINFER_E_FORMAT,
                    "offset %" PRIu64 ", expected %" PRIu64 " (tensors follow "
                    "each other in order, padded to the alignment, without overlaps or gaps)",
                    offset, *expected_offset);
    /* A first bound before the data section's start is known; it keeps the running sum small. */
    uint64_t padded;
    if (!tinfer_range_ok(offset, tensor->n_bytes, p->cur.size) ||
        !tinfer_align_u64(tensor->n_bytes, p->alignment, &padded) ||
        !tinfer_add_u64(offset, padded, expected_offset))
        return fail(p, TINFER_E_FORMAT,
                    "data of %" PRIu64 " bytes at offset %" PRIu64
                    " cannot fit in a file of %" PRIu64 " bytes",
                    tensor->n_bytes, offset, p->cur.size);
    return TINFER_OK;
}

static tinfer_status read_tensor_info(gguf_parser *p, uint64_t index, uint64_t *expected_offset) {
    snprintf(p->where, sizeof p->where, "gguf: tensor[%" PRIu64 "]", index);
    tf_str name;
    GGUF_TRY(read_str(p, "name", &name));
    if (name.len == 0) return fail(p, TINFER_E_FORMAT, "empty name");
    snprintf(p->where, sizeof p->where, "gguf: tensor '%.*s'", shown_len(name), name.ptr);
    tf_tensor tensor = {0};
    GGUF_TRY(read_shape(p, &tensor));
    GGUF_TRY(read_dtype(p, &tensor));
    uint64_t offset = 0;
    GGUF_TRY(read_u64(p, "offset", &offset));
    GGUF_TRY(check_offset(p, &tensor, offset, expected_offset));
    tensor.file_offset = offset; /* relative to the data section until place_tensors */
    tensor.file_index = p->file_index;
    tinfer_status status = tf_tensor_table_add(p->tensors, name.ptr, (size_t)name.len, &tensor);
    if (status != TINFER_OK) tf_error_prefix(p->where); /* NUL byte or duplicate name */
    return status;
}

/* The data section starts after the infos, padded to the alignment; every tensor must lie inside
 * the file. A file without tensors may end before the padding. */
static tinfer_status place_tensors(gguf_parser *p, size_t first) {
    uint64_t data_start;
    if (!tinfer_align_u64(p->cur.pos, p->alignment, &data_start))
        return tf_error(TINFER_E_FORMAT, "gguf: data section start overflows");
    for (size_t i = first; i < p->tensors->n_tensors; i++) {
        tf_tensor *tensor = &p->tensors->tensors[i];
        uint64_t start;
        if (!tinfer_add_u64(data_start, tensor->file_offset, &start) ||
            !tinfer_range_ok(start, tensor->n_bytes, p->cur.size))
            return tf_error(TINFER_E_FORMAT,
                            "gguf: tensor '%s': data of %" PRIu64 " bytes at byte %" PRIu64
                            " (data section at %" PRIu64 ") lies past the end of the file (%" PRIu64
                            " bytes)",
                            tensor->name, tensor->n_bytes, data_start + tensor->file_offset,
                            data_start, p->cur.size);
        tensor->file_offset = start;
        tensor->data = p->cur.bytes + start;
    }
    return TINFER_OK;
}

tinfer_status tf_gguf_read(const uint8_t *bytes, size_t size, uint32_t file_index,
                           tf_metadata *meta, tf_tensor_table *tensors, uint32_t *out_version) {
    if ((!bytes && size) || !meta || !tensors)
        return tf_error(TINFER_E_INVALID_ARG, "gguf: NULL bytes, metadata or tensor table");
    gguf_parser p = {.cur = {bytes, size, 0},
                     .meta = meta,
                     .tensors = tensors,
                     .file_index = file_index,
                     .alignment = GGUF_DEFAULT_ALIGNMENT};
    snprintf(p.where, sizeof p.where, "gguf");
    uint32_t version = 0;
    GGUF_TRY(read_header(&p, &version));
    for (uint64_t i = 0; i < p.n_kv; i++) GGUF_TRY(read_kv(&p, i));
    size_t first = tensors->n_tensors; /* the table may already hold other shards' tensors */
    uint64_t expected_offset = 0;
    for (uint64_t i = 0; i < p.n_tensors; i++) GGUF_TRY(read_tensor_info(&p, i, &expected_offset));
    GGUF_TRY(place_tensors(&p, first));
    if (out_version) *out_version = version;
    return TINFER_OK;
}
