/* Public structs that travel with their size, read and written by one set of rules: a caller's
 * params struct is copied over the library's defaults (an older caller's smaller struct is never
 * read past its end; a newer caller's extra fields must be zero), and an info struct is written
 * into a caller's buffer of stated size (a larger buffer has its tail zeroed). Every public entry
 * point that takes or gives such a struct goes through here. */
#ifndef TINFER_CORE_ABI_STRUCT_H
#define TINFER_CORE_ABI_STRUCT_H

#include <stddef.h>

#include "tinfer/tinfer.h"

/* No public struct will ever be this large: a bigger stated size is a caller's mistake (a count
 * or a pointer passed for a size), refused before anything is read or written. */
#define TF_ABI_MAX_STRUCT_SIZE 4096

typedef struct tf_abi_field {
    const char *name;
    size_t offset, size;
} tf_abi_field;

#define TF_ABI_FIELD(type, field) \
    { #field, offsetof(type, field), sizeof(((type *)0)->field) }

/* A public struct's layout in this library: every field in order, and how many of them its
 * first public version had (the smallest struct a caller can have been compiled with). */
typedef struct tf_abi_layout {
    const char *type_name; /* "tinfer_context_params" */
    size_t size;           /* sizeof in this library */
    const tf_abi_field *fields;
    size_t n_fields;
    size_t n_fields_first;
} tf_abi_layout;

/* Fills the first dst_size bytes of a caller's struct: the fields of defaults that fit whole,
 * zero everywhere else (padding, a field cut by dst_size, fields of a newer header). Writes
 * nothing past dst_size, and nothing at all when dst is NULL or dst_size exceeds
 * TF_ABI_MAX_STRUCT_SIZE (then tinfer_last_error() says so; the create call will refuse it). */
void tf_abi_params_init(const tf_abi_layout *layout, const void *defaults, void *dst,
                        size_t dst_size, const char *who);

/* Copies a caller's struct of src_size bytes over dst (layout->size bytes holding the defaults),
 * so the fields an older caller does not know keep their defaults. src NULL leaves the defaults.
 * E_INVALID_ARG when src_size is smaller than the first version, cuts a field, or exceeds
 * TF_ABI_MAX_STRUCT_SIZE; E_UNSUPPORTED when a newer caller's bytes past this library's fields
 * are not all zero. who names the function ("tinfer_context_create"). */
tinfer_status tf_abi_params_read(const tf_abi_layout *layout, const void *src, size_t src_size,
                                 void *dst, const char *who);

/* The same rules for an array of n caller structs stride bytes apart: checks stride once and
 * every element's unknown tail, then copies element i over dst[i] (n × layout->size bytes,
 * holding the defaults). Messages name the array and its stride argument ("msgs", "msg_size"). */
tinfer_status tf_abi_array_read(const tf_abi_layout *layout, const void *src, size_t n,
                                size_t stride, void *dst, const char *who, const char *array_name,
                                const char *stride_name);

/* Writes info (info_size bytes) into a caller's buffer of out_size bytes: the prefix that fits,
 * and zeros past info_size when the caller's struct is larger (a newer header's fields read as
 * "absent"). E_INVALID_ARG for out_size 0 or above TF_ABI_MAX_STRUCT_SIZE. */
tinfer_status tf_abi_info_write(const void *info, size_t info_size, void *out, size_t out_size,
                                const char *who);

#endif
