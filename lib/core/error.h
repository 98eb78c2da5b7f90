/* Status values and the thread-local error message: how every internal function reports failure. */
#ifndef TINFER_CORE_ERROR_H
#define TINFER_CORE_ERROR_H

#include "tinfer/tinfer.h"

/* Records a formatted message for tinfer_last_error() and returns status, so a failure path reads
 * `return tf_error(TINFER_E_FORMAT, "gguf: tensor '%s': …", name);` */
tinfer_status tf_error(tinfer_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "prefix: " (for adding a file name on the way out). */
void tf_error_prefix(const char *prefix);

/* Clears the message (public entry points call it on entry). */
void tf_error_clear(void);

/* The argument check of public entry points: returns TINFER_E_INVALID_ARG with the message when
 * cond is false, e.g. `TF_CHECK_ARG(ctx, "tinfer_prefill: ctx is NULL");` */
#define TF_CHECK_ARG(cond, ...)                                          \
    do {                                                                 \
        if (!(cond)) return tf_error(TINFER_E_INVALID_ARG, __VA_ARGS__); \
    } while (0)

#endif
