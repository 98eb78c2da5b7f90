/* The few string operations chat templates use (Python's str.strip, split, in), on borrowed
 * slices, and the output writer the renderers append to. Internal to the chat_*.c files. */
#ifndef TINFER_CHAT_CHAT_TEXT_H
#define TINFER_CHAT_CHAT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* A borrowed byte range; never NUL-terminated by contract. */
typedef struct tf_chat_str {
    const char *ptr;
    size_t len;
} tf_chat_str;

tf_chat_str tf_chat_str_of(const char *text); /* NULL gives the empty slice */

/* Python str.strip() / lstrip() / rstrip() with no argument (Jinja's `trim` filter): removes
 * characters Python calls whitespace — general category Zs or bidi class B, S or WS — decoded as
 * UTF-8. Bytes that are not valid UTF-8 are never whitespace. */
tf_chat_str tf_chat_strip_space(tf_chat_str s);
tf_chat_str tf_chat_lstrip_space(tf_chat_str s);
tf_chat_str tf_chat_rstrip_space(tf_chat_str s);

/* Python str.strip('\n') and friends: removes newline bytes only. */
tf_chat_str tf_chat_lstrip_newlines(tf_chat_str s);
tf_chat_str tf_chat_rstrip_newlines(tf_chat_str s);

/* Finds the first / last occurrence of needle (non-empty) in s: its offset in *at, or false when
 * absent. */
bool tf_chat_find_first(tf_chat_str s, const char *needle, size_t *at);
bool tf_chat_find_last(tf_chat_str s, const char *needle, size_t *at);

bool tf_chat_starts_with(tf_chat_str s, const char *prefix);
bool tf_chat_ends_with(tf_chat_str s, const char *suffix);

/* Appends to a buffer, or only counts while measuring (buf NULL). Storing is all-or-nothing per
 * render: the caller measures first and renders into buf only when everything fits. */
typedef struct tf_chat_out {
    char *buf;     /* NULL while measuring */
    size_t cap;    /* bytes available at buf */
    size_t len;    /* bytes produced so far, stored or not */
    bool overflow; /* len no longer fits in size_t */
} tf_chat_out;

void tf_chat_put(tf_chat_out *out, tf_chat_str s);
void tf_chat_put_cstr(tf_chat_out *out, const char *text);

/* Appends the concatenation of parts[0..n) with Python-whitespace stripped from both ends of the
 * whole (templates that strip a concatenation, e.g. ('<<SYS>>\n' + sys + … + content).strip()). */
void tf_chat_put_stripped(tf_chat_out *out, const tf_chat_str *parts, size_t n);

#endif
