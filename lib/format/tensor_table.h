/* The tensor table: name → dtype, shape and bytes, whichever file format the tensor came from. */
#ifndef TINFER_FORMAT_TENSOR_TABLE_H
#define TINFER_FORMAT_TENSOR_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/name_index.h"
#include "tinfer/tinfer.h"

typedef struct tf_tensor {
    const char *name; /* NUL-terminated, owned by the table */
    tinfer_dtype dtype;
    uint32_t n_dims;
    int64_t shape[TINFER_MAX_DIMS]; /* row-major, outermost first; unused dims are 1 */
    uint64_t n_elements;
    uint64_t n_bytes;
    uint64_t file_offset;   /* offset of the data in its file */
    const uint8_t *data;    /* points into the file's bytes */
    uint32_t file_index;    /* which file of a sharded model */
} tf_tensor;

typedef struct tf_tensor_table {
    tf_tensor *tensors;
    size_t n_tensors;
    size_t cap_tensors;
    tf_name_index by_name;
    tf_arena names;
} tf_tensor_table;

/* Appends a tensor, copying name_len bytes of name. E_FORMAT for an empty name, a name with a
 * NUL byte, or a duplicate name (message names it); E_NOMEM. tensor->name is ignored. */
tinfer_status tf_tensor_table_add(tf_tensor_table *table, const char *name, size_t name_len,
                                  const tf_tensor *tensor);
/* NULL when absent. */
const tf_tensor *tf_tensor_table_find(const tf_tensor_table *table, const char *name);
void tf_tensor_table_free(tf_tensor_table *table);

/* Length of the contiguous rows (the last shape entry) and number of rows. */
static inline uint64_t tf_tensor_row_elems(const tf_tensor *t) { return (uint64_t)t->shape[t->n_dims - 1]; }
static inline uint64_t tf_tensor_n_rows(const tf_tensor *t) {
    uint64_t row_elems = tf_tensor_row_elems(t); /* 0 for safetensors' zero-element tensors */
    return row_elems ? t->n_elements / row_elems : 0;
}

#endif
