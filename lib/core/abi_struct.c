/* Size-stated public structs: params over defaults, info into a caller's buffer. */
#include "core/abi_struct.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

static size_t first_version_size(const tf_abi_layout *layout) {
    const tf_abi_field *last = &layout->fields[layout->n_fields_first - 1];
    return last->offset + last->size;
}

static size_t known_end(const tf_abi_layout *layout) {
    const tf_abi_field *last = &layout->fields[layout->n_fields - 1];
    return last->offset + last->size;
}

/* A size a caller can have compiled: at least the first version, not absurd, and (when smaller
 * than this library's struct) ending between fields, not inside one. */
static tinfer_status check_size(const tf_abi_layout *layout, size_t size, const char *who,
                                const char *size_name) {
    const char *type = layout->type_name;
    if (size < first_version_size(layout))
        return tf_error(TINFER_E_INVALID_ARG,
                        "%s: %s = %zu is smaller than the first version of %s (%zu bytes); pass "
                        "sizeof(%s)",
                        who, size_name, size, type, first_version_size(layout), type);
    if (size > TF_ABI_MAX_STRUCT_SIZE)
        return tf_error(TINFER_E_INVALID_ARG,
                        "%s: %s = %zu is larger than any struct of this API (%d bytes); pass "
                        "sizeof(%s)",
                        who, size_name, size, TF_ABI_MAX_STRUCT_SIZE, type);
    for (size_t i = 0; i < layout->n_fields; i++) {
        const tf_abi_field *f = &layout->fields[i];
        if (size > f->offset && size < f->offset + f->size)
            return tf_error(TINFER_E_INVALID_ARG,
                            "%s: %s = %zu ends inside %s.%s (bytes %zu..%zu); pass sizeof(%s)", who,
                            size_name, size, type, f->name, f->offset, f->offset + f->size, type);
    }
    return TINFER_OK;
}

/* Bytes of a newer caller's struct past every field this library knows must be zero. what is
 * "params" or an array element ("msgs[3]"). */
static tinfer_status check_unknown_tail(const tf_abi_layout *layout, const void *src,
                                        size_t src_size, const char *who, const char *what) {
    if (src_size <= layout->size) return TINFER_OK;
    const unsigned char *bytes = src;
    for (size_t i = known_end(layout); i < src_size; i++) {
        if (!bytes[i]) continue;
        return tf_error(TINFER_E_UNSUPPORTED,
                        "%s: %s carr%s fields this library does not know (byte %zu of %zu is not "
                        "zero; %s has %zu bytes in libtinfer %s); use a library at least as new "
                        "as the header the program was compiled with",
                        who, what, strcmp(what, "params") ? "ies" : "y", i, src_size,
                        layout->type_name, layout->size, tinfer_version_string());
    }
    return TINFER_OK;
}

void tf_abi_params_init(const tf_abi_layout *layout, const void *defaults, void *dst,
                        size_t dst_size, const char *who) {
    if (!dst) return;
    if (dst_size > TF_ABI_MAX_STRUCT_SIZE) {
        tf_error(TINFER_E_INVALID_ARG,
                 "%s: size = %zu is larger than any struct of this API; "
                 "nothing was written (pass sizeof(%s))",
                 who, dst_size, layout->type_name);
        return;
    }
    memset(dst, 0, dst_size);
    for (size_t i = 0; i < layout->n_fields; i++) {
        const tf_abi_field *f = &layout->fields[i];
        if (f->offset + f->size <= dst_size)
            memcpy((unsigned char *)dst + f->offset, (const unsigned char *)defaults + f->offset,
                   f->size);
    }
}

tinfer_status tf_abi_params_read(const tf_abi_layout *layout, const void *src, size_t src_size,
                                 void *dst, const char *who) {
    if (!src) return TINFER_OK;
    tinfer_status status = check_size(layout, src_size, who, "params_size");
    if (status == TINFER_OK) status = check_unknown_tail(layout, src, src_size, who, "params");
    if (status == TINFER_OK) memcpy(dst, src, min_size(src_size, layout->size));
    return status;
}

tinfer_status tf_abi_array_read(const tf_abi_layout *layout, const void *src, size_t n,
                                size_t stride, void *dst, const char *who, const char *array_name,
                                const char *stride_name) {
    tinfer_status status = check_size(layout, stride, who, stride_name);
    for (size_t i = 0; i < n && status == TINFER_OK; i++) {
        const unsigned char *elem = (const unsigned char *)src + i * stride;
        char what[64];
        snprintf(what, sizeof what, "%s[%zu]", array_name, i);
        status = check_unknown_tail(layout, elem, stride, who, what);
        if (status == TINFER_OK)
            memcpy((unsigned char *)dst + i * layout->size, elem, min_size(stride, layout->size));
    }
    return status;
}

tinfer_status tf_abi_info_write(const void *info, size_t info_size, void *out, size_t out_size,
                                const char *who) {
    if (out_size == 0 || out_size > TF_ABI_MAX_STRUCT_SIZE)
        return tf_error(TINFER_E_INVALID_ARG,
                        "%s: out_size = %zu is not a struct size (1..%d); pass sizeof the struct",
                        who, out_size, TF_ABI_MAX_STRUCT_SIZE);
    memcpy(out, info, min_size(out_size, info_size));
    if (out_size > info_size) memset((unsigned char *)out + info_size, 0, out_size - info_size);
    return TINFER_OK;
}
