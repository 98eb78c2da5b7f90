/* The tensor table: a growable array with a name index; names live in the table's arena. */
#include "format/tensor_table.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

tinfer_status tf_tensor_table_add(tf_tensor_table *table, const char *name, size_t name_len,
                                  const tf_tensor *tensor) {
    if (name_len == 0) return tf_error(TINFER_E_FORMAT, "tensor with an empty name");
    if (memchr(name, '\0', name_len))
        return tf_error(TINFER_E_FORMAT, "tensor name contains a NUL byte");
    if (table->n_tensors == table->cap_tensors) {
        size_t cap = table->cap_tensors ? table->cap_tensors * 2 : 64;
        tf_tensor *bigger = realloc(table->tensors, cap * sizeof *bigger);
        if (!bigger) return tf_error(TINFER_E_NOMEM, "out of memory for %zu tensors", cap);
        table->tensors = bigger;
        table->cap_tensors = cap;
    }
    char *name_copy = tf_arena_strndup(&table->names, name, name_len);
    if (!name_copy) return tf_error(TINFER_E_NOMEM, "out of memory for a tensor name");
    bool duplicate;
    if (!tf_name_index_put(&table->by_name, name_copy, table->n_tensors, &duplicate))
        return tf_error(TINFER_E_NOMEM, "out of memory for the tensor index");
    if (duplicate) return tf_error(TINFER_E_FORMAT, "duplicate tensor name '%s'", name_copy);
    tf_tensor *slot = &table->tensors[table->n_tensors++];
    *slot = *tensor;
    slot->name = name_copy;
    return TINFER_OK;
}

const tf_tensor *tf_tensor_table_find(const tf_tensor_table *table, const char *name) {
    size_t position;
    if (!tf_name_index_get(&table->by_name, name, &position)) return NULL;
    return &table->tensors[position];
}

void tf_tensor_table_free(tf_tensor_table *table) {
    free(table->tensors);
    tf_name_index_free(&table->by_name);
    tf_arena_free(&table->names);
    memset(table, 0, sizeof *table);
}
