/* Metadata key/values: GGUF's typed values, and what safetensors and config.json carry, in one
 * store keyed by GGUF names. The store owns every byte it hands out except `raw` numeric arrays,
 * which point into the model file (little-endian, possibly unaligned: read them with memcpy). */
#ifndef TINFER_FORMAT_METADATA_H
#define TINFER_FORMAT_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/name_index.h"
#include "tinfer/tinfer.h"

typedef struct tf_str {
    const char *ptr; /* not NUL-terminated unless stated */
    uint64_t len;
} tf_str;

typedef struct tf_meta_value tf_meta_value;

typedef struct tf_meta_array {
    tinfer_meta_type elem_type;
    uint64_t n_elems;
    const uint8_t *raw;    /* numeric and bool elements, packed little-endian */
    tf_str *strings;       /* STRING elements */
    tf_meta_value *nested; /* ARRAY elements */
} tf_meta_array;

struct tf_meta_value {
    tinfer_meta_type type;
    union {
        uint64_t u64;  /* U8 U16 U32 U64 */
        int64_t i64;   /* I8 I16 I32 I64 */
        double f64;    /* F32 F64 */
        bool boolean;  /* BOOL */
        tf_str str;    /* STRING: NUL-terminated copy owned by the store */
        tf_meta_array array;
    } as;
};

typedef struct tf_meta_entry {
    const char *key; /* NUL-terminated, owned by the store */
    tf_meta_value value;
} tf_meta_entry;

typedef struct tf_metadata {
    tf_meta_entry *entries;
    size_t n_entries;
    size_t cap_entries;
    tf_name_index by_key;
    tf_arena arena; /* keys, strings, arrays */
} tf_metadata;

/* Adds an entry; the key is copied. E_FORMAT for an empty key or a key already present (the
 * message names it), E_NOMEM. Values whose strings/arrays were allocated with tf_meta_alloc or
 * tf_meta_strndup live as long as the store. */
tinfer_status tf_meta_add(tf_metadata *meta, const char *key, size_t key_len,
                          const tf_meta_value *value);
/* Like tf_meta_add, but replaces the value when the key exists (for derived keys). */
tinfer_status tf_meta_set(tf_metadata *meta, const char *key, const tf_meta_value *value);

/* Arena allocation tied to the store's lifetime; NULL when out of memory. */
void *tf_meta_alloc(tf_metadata *meta, size_t size);
char *tf_meta_strndup(tf_metadata *meta, const char *text, size_t len);

/* Lookups; NULL when absent. */
const tf_meta_value *tf_meta_get(const tf_metadata *meta, const char *key);
/* Typed getters: false when absent or of another kind. Integer getters accept every integer
 * type and bool; tf_meta_get_f64 also accepts integers. */
bool tf_meta_get_u64(const tf_metadata *meta, const char *key, uint64_t *out);
bool tf_meta_get_i64(const tf_metadata *meta, const char *key, int64_t *out);
bool tf_meta_get_f64(const tf_metadata *meta, const char *key, double *out);
const char *tf_meta_get_str(const tf_metadata *meta, const char *key);

/* Element size in bytes of a numeric/bool meta type; 0 for STRING, ARRAY and unknown types. */
size_t tf_meta_scalar_size(uint32_t type);
/* "u32", "string", …; NULL for unknown types. */
const char *tf_meta_type_name(uint32_t type);

/* Numeric element j of a raw array as int64/uint64/double (j must be < n_elems). */
int64_t tf_meta_array_i64(const tf_meta_array *array, uint64_t j);
double tf_meta_array_f64(const tf_meta_array *array, uint64_t j);

void tf_metadata_free(tf_metadata *meta);

#endif
