/* A hash index from names to positions in an array, for metadata keys and tensor names. */
#ifndef TINFER_CORE_NAME_INDEX_H
#define TINFER_CORE_NAME_INDEX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tf_name_index {
    const char **names; /* borrowed; one per slot, NULL when empty */
    size_t *positions;
    size_t n_slots;     /* a power of two, or 0 */
    size_t n_used;
} tf_name_index;

/* Inserts name → position. Returns false when out of memory; *duplicate is set (and nothing is
 * inserted) when the name is already present. The name must outlive the index. */
bool tf_name_index_put(tf_name_index *index, const char *name, size_t position, bool *duplicate);
/* Looks a name up; false when absent. */
bool tf_name_index_get(const tf_name_index *index, const char *name, size_t *position);
void tf_name_index_free(tf_name_index *index);

#endif
