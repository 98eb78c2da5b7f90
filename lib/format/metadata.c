/* The metadata store: an array of entries, a name index over it, an arena for their bytes. */
#include "format/metadata.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"

static const struct {
    const char *name;
    size_t size;
} META_TYPES[] = {
    [TINFER_META_U8] = {"u8", 1},    [TINFER_META_I8] = {"i8", 1},
    [TINFER_META_U16] = {"u16", 2},  [TINFER_META_I16] = {"i16", 2},
    [TINFER_META_U32] = {"u32", 4},  [TINFER_META_I32] = {"i32", 4},
    [TINFER_META_F32] = {"f32", 4},  [TINFER_META_BOOL] = {"bool", 1},
    [TINFER_META_STRING] = {"string", 0}, [TINFER_META_ARRAY] = {"array", 0},
    [TINFER_META_U64] = {"u64", 8},  [TINFER_META_I64] = {"i64", 8},
    [TINFER_META_F64] = {"f64", 8},
};

size_t tf_meta_scalar_size(uint32_t type) {
    return type < sizeof META_TYPES / sizeof META_TYPES[0] ? META_TYPES[type].size : 0;
}

const char *tf_meta_type_name(uint32_t type) {
    return type < sizeof META_TYPES / sizeof META_TYPES[0] ? META_TYPES[type].name : NULL;
}

void *tf_meta_alloc(tf_metadata *meta, size_t size) { return tf_arena_alloc(&meta->arena, size); }

char *tf_meta_strndup(tf_metadata *meta, const char *text, size_t len) {
    return tf_arena_strndup(&meta->arena, text, len);
}

static tinfer_status grow_entries(tf_metadata *meta) {
    if (meta->n_entries < meta->cap_entries) return TINFER_OK;
    size_t cap = meta->cap_entries ? meta->cap_entries * 2 : 32;
    tf_meta_entry *bigger = realloc(meta->entries, cap * sizeof *bigger);
    if (!bigger) return tf_error(TINFER_E_NOMEM, "metadata: out of memory for %zu entries", cap);
    meta->entries = bigger;
    meta->cap_entries = cap;
    return TINFER_OK;
}

tinfer_status tf_meta_add(tf_metadata *meta, const char *key, size_t key_len,
                          const tf_meta_value *value) {
    if (key_len == 0) return tf_error(TINFER_E_FORMAT, "metadata: empty key");
    if (memchr(key, '\0', key_len))
        return tf_error(TINFER_E_FORMAT, "metadata: key contains a NUL byte");
    tinfer_status status = grow_entries(meta);
    if (status != TINFER_OK) return status;
    char *key_copy = tf_meta_strndup(meta, key, key_len);
    if (!key_copy) return tf_error(TINFER_E_NOMEM, "metadata: out of memory for a key");
    bool duplicate;
    if (!tf_name_index_put(&meta->by_key, key_copy, meta->n_entries, &duplicate))
        return tf_error(TINFER_E_NOMEM, "metadata: out of memory for the key index");
    if (duplicate) return tf_error(TINFER_E_FORMAT, "metadata: duplicate key '%s'", key_copy);
    meta->entries[meta->n_entries++] = (tf_meta_entry){key_copy, *value};
    return TINFER_OK;
}

tinfer_status tf_meta_set(tf_metadata *meta, const char *key, const tf_meta_value *value) {
    size_t position;
    if (tf_name_index_get(&meta->by_key, key, &position)) {
        meta->entries[position].value = *value;
        return TINFER_OK;
    }
    return tf_meta_add(meta, key, strlen(key), value);
}

const tf_meta_value *tf_meta_get(const tf_metadata *meta, const char *key) {
    size_t position;
    if (!tf_name_index_get(&meta->by_key, key, &position)) return NULL;
    return &meta->entries[position].value;
}

static bool is_unsigned(tinfer_meta_type type) {
    return type == TINFER_META_U8 || type == TINFER_META_U16 || type == TINFER_META_U32 ||
           type == TINFER_META_U64;
}

static bool is_signed(tinfer_meta_type type) {
    return type == TINFER_META_I8 || type == TINFER_META_I16 || type == TINFER_META_I32 ||
           type == TINFER_META_I64;
}

bool tf_meta_get_u64(const tf_metadata *meta, const char *key, uint64_t *out) {
    const tf_meta_value *value = tf_meta_get(meta, key);
    if (!value) return false;
    if (is_unsigned(value->type)) *out = value->as.u64;
    else if (is_signed(value->type) && value->as.i64 >= 0) *out = (uint64_t)value->as.i64;
    else if (value->type == TINFER_META_BOOL) *out = value->as.boolean;
    else return false;
    return true;
}

bool tf_meta_get_i64(const tf_metadata *meta, const char *key, int64_t *out) {
    const tf_meta_value *value = tf_meta_get(meta, key);
    if (!value) return false;
    if (is_signed(value->type)) *out = value->as.i64;
    else if (is_unsigned(value->type) && value->as.u64 <= INT64_MAX) *out = (int64_t)value->as.u64;
    else if (value->type == TINFER_META_BOOL) *out = value->as.boolean;
    else return false;
    return true;
}

bool tf_meta_get_f64(const tf_metadata *meta, const char *key, double *out) {
    const tf_meta_value *value = tf_meta_get(meta, key);
    if (!value) return false;
    if (value->type == TINFER_META_F32 || value->type == TINFER_META_F64) *out = value->as.f64;
    else if (is_unsigned(value->type)) *out = (double)value->as.u64;
    else if (is_signed(value->type)) *out = (double)value->as.i64;
    else return false;
    return true;
}

const char *tf_meta_get_str(const tf_metadata *meta, const char *key) {
    const tf_meta_value *value = tf_meta_get(meta, key);
    return value && value->type == TINFER_META_STRING ? value->as.str.ptr : NULL;
}

/* double → int64 truncating toward zero, defined for every input (a file's float may be NaN or
 * past int64's range, where a plain cast is undefined): NaN gives 0, the rest saturates. */
static int64_t saturate_i64(double v) {
    if (!(v == v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX; /* 2^63: the first double above INT64_MAX */
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

int64_t tf_meta_array_i64(const tf_meta_array *array, uint64_t j) {
    const uint8_t *p = array->raw + j * tf_meta_scalar_size(array->elem_type);
    switch (array->elem_type) {
    case TINFER_META_U8: return p[0];
    case TINFER_META_I8: return (int8_t)p[0];
    case TINFER_META_BOOL: return p[0] != 0;
    case TINFER_META_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case TINFER_META_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case TINFER_META_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case TINFER_META_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case TINFER_META_U64: { uint64_t v; memcpy(&v, p, 8); return (int64_t)v; }
    case TINFER_META_I64: { int64_t v; memcpy(&v, p, 8); return v; }
    case TINFER_META_F32: { float v; memcpy(&v, p, 4); return saturate_i64(v); }
    case TINFER_META_F64: { double v; memcpy(&v, p, 8); return saturate_i64(v); }
    default: return 0;
    }
}

double tf_meta_array_f64(const tf_meta_array *array, uint64_t j) {
    const uint8_t *p = array->raw + j * tf_meta_scalar_size(array->elem_type);
    if (array->elem_type == TINFER_META_F32) { float v; memcpy(&v, p, 4); return v; }
    if (array->elem_type == TINFER_META_F64) { double v; memcpy(&v, p, 8); return v; }
    if (array->elem_type == TINFER_META_U64) { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    return (double)tf_meta_array_i64(array, j);
}

void tf_metadata_free(tf_metadata *meta) {
    free(meta->entries);
    tf_name_index_free(&meta->by_key);
    tf_arena_free(&meta->arena);
    memset(meta, 0, sizeof *meta);
}
