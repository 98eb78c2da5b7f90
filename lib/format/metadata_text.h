/* Metadata values rendered as text, for inspection tools and bindings. */
#ifndef TINFER_FORMAT_METADATA_TEXT_H
#define TINFER_FORMAT_METADATA_TEXT_H

#include "format/metadata.h"

/* Output buffer with snprintf semantics: writes what fits (always NUL-terminated when cap > 0)
 * and counts every byte that would have been written. */
typedef struct tf_text_out {
    char *buf;
    size_t cap;
    size_t len; /* bytes needed so far, excluding the NUL */
} tf_text_out;

/* Renders a value: numbers in decimal (floats with %.9g), bools as true/false, strings as their
 * bytes, arrays as [a, b, …] with at most max_elems elements followed by ", … (N total)". */
void tf_meta_value_render(tf_text_out *out, const tf_meta_value *value, size_t max_elems);
/* Renders element j of an array value (j < n_elems). */
void tf_meta_array_elem_render(tf_text_out *out, const tf_meta_array *array, uint64_t j,
                               size_t max_elems);

#endif
