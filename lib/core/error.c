/* Status names and the per-thread error message behind tinfer_last_error(). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { ERROR_TEXT_CAP = 1024 };

static _Thread_local char error_text[ERROR_TEXT_CAP];

tinfer_status tf_error(tinfer_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(error_text, sizeof error_text, fmt, args);
    va_end(args);
    return status;
}

void tf_error_prefix(const char *prefix) {
    /* "prefix: " then as much of the old message as still fits */
    size_t prefix_len = strlen(prefix);
    if (prefix_len > ERROR_TEXT_CAP - 3) prefix_len = ERROR_TEXT_CAP - 3;
    size_t old_len = strnlen(error_text, ERROR_TEXT_CAP - 1);
    size_t kept_len = ERROR_TEXT_CAP - 1 - (prefix_len + 2);
    if (old_len > kept_len) old_len = kept_len;
    memmove(error_text + prefix_len + 2, error_text, old_len);
    memcpy(error_text, prefix, prefix_len);
    memcpy(error_text + prefix_len, ": ", 2);
    error_text[prefix_len + 2 + old_len] = '\0';
}

void tf_error_clear(void) { error_text[0] = '\0'; }

TINFER_API const char *tinfer_last_error(void) { return error_text; }

TINFER_API const char *tinfer_status_str(tinfer_status status) {
    switch (status) {
#define TINFER_STATUS_NAME_(name, value) \
    case TINFER_##name:                  \
        return "TINFER_" #name;
        TINFER_STATUS_MAP(TINFER_STATUS_NAME_)
#undef TINFER_STATUS_NAME_
    }
    return "TINFER_E_UNKNOWN";
}

TINFER_API int tinfer_version_number(void) { return TINFER_VERSION_NUMBER; }

#define TF_STR2_(x) #x
#define TF_STR_(x) TF_STR2_(x)
TINFER_API const char *tinfer_version_string(void) {
    return TF_STR_(TINFER_VERSION_MAJOR) "." TF_STR_(TINFER_VERSION_MINOR) "." TF_STR_(
        TINFER_VERSION_PATCH);
}
