/* String slices with Python's strip/find semantics, and the output writer for chat rendering. */
#include "chat/chat_text.h"

#include <string.h>
#include <utf8proc.h>

#include "core/checked.h"

tf_chat_str tf_chat_str_of(const char *text) {
    tf_chat_str s = {text ? text : "", text ? strlen(text) : 0};
    return s;
}

/* Python's str.isspace() for one code point. utf8proc's tables give exactly CPython's set
 * (checked over all code points: U+0009–000D, 001C–001F, 0020, 0085, 00A0, 1680, 2000–200A,
 * 2028, 2029, 202F, 205F, 3000), so no hand-written table is needed. */
static bool is_python_space(utf8proc_int32_t cp) {
    const utf8proc_property_t *prop = utf8proc_get_property(cp);
    return prop->category == UTF8PROC_CATEGORY_ZS || prop->bidi_class == UTF8PROC_BIDI_CLASS_B ||
           prop->bidi_class == UTF8PROC_BIDI_CLASS_S || prop->bidi_class == UTF8PROC_BIDI_CLASS_WS;
}

/* Byte length of the whitespace character that starts at p (avail > 0 bytes), or 0. */
static size_t space_len_at(const char *p, size_t avail) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t used =
        utf8proc_iterate((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)avail, &cp);
    return used > 0 && is_python_space(cp) ? (size_t)used : 0;
}

/* Byte length of the whitespace character that ends p[0..len) (len > 0), or 0. */
static size_t space_len_before(const char *p, size_t len) {
    size_t back = 1;
    while (back < 4 && back < len && ((unsigned char)p[len - back] & 0xC0) == 0x80) back++;
    return space_len_at(p + len - back, back) == back ? back : 0;
}

tf_chat_str tf_chat_lstrip_space(tf_chat_str s) {
    size_t step;
    while (s.len > 0 && (step = space_len_at(s.ptr, s.len)) > 0) {
        s.ptr += step;
        s.len -= step;
    }
    return s;
}

tf_chat_str tf_chat_rstrip_space(tf_chat_str s) {
    size_t step;
    while (s.len > 0 && (step = space_len_before(s.ptr, s.len)) > 0) s.len -= step;
    return s;
}

tf_chat_str tf_chat_strip_space(tf_chat_str s) {
    return tf_chat_rstrip_space(tf_chat_lstrip_space(s));
}

tf_chat_str tf_chat_lstrip_newlines(tf_chat_str s) {
    while (s.len > 0 && s.ptr[0] == '\n') {
        s.ptr++;
        s.len--;
    }
    return s;
}

tf_chat_str tf_chat_rstrip_newlines(tf_chat_str s) {
    while (s.len > 0 && s.ptr[s.len - 1] == '\n') s.len--;
    return s;
}

bool tf_chat_find_first(tf_chat_str s, const char *needle, size_t *at) {
    size_t n = strlen(needle);
    if (n == 0 || n > s.len) return false;
    for (size_t i = 0; i + n <= s.len; i++) {
        if (memcmp(s.ptr + i, needle, n) == 0) {
            *at = i;
            return true;
        }
    }
    return false;
}

bool tf_chat_find_last(tf_chat_str s, const char *needle, size_t *at) {
    size_t n = strlen(needle);
    if (n == 0 || n > s.len) return false;
    for (size_t i = s.len - n + 1; i-- > 0;) {
        if (memcmp(s.ptr + i, needle, n) == 0) {
            *at = i;
            return true;
        }
    }
    return false;
}

bool tf_chat_starts_with(tf_chat_str s, const char *prefix) {
    size_t n = strlen(prefix);
    return n <= s.len && memcmp(s.ptr, prefix, n) == 0;
}

bool tf_chat_ends_with(tf_chat_str s, const char *suffix) {
    size_t n = strlen(suffix);
    return n <= s.len && memcmp(s.ptr + s.len - n, suffix, n) == 0;
}

void tf_chat_put(tf_chat_out *out, tf_chat_str s) {
    size_t end;
    if (out->overflow) return;
    if (!tinfer_add_size(out->len, s.len, &end)) {
        out->overflow = true;
        return;
    }
    /* While rendering for real the caller has measured first, so this always fits; the check
     * keeps a miscounting renderer from writing past cap. */
    if (out->buf != NULL && end < out->cap && s.len > 0) memcpy(out->buf + out->len, s.ptr, s.len);
    out->len = end;
}

void tf_chat_put_cstr(tf_chat_out *out, const char *text) {
    tf_chat_put(out, tf_chat_str_of(text));
}

void tf_chat_put_stripped(tf_chat_out *out, const tf_chat_str *parts, size_t n) {
    size_t first = 0, last = n;
    tf_chat_str head = {"", 0}, tail = {"", 0};
    /* Skip whole parts that are all whitespace from each end; the part where text starts (ends)
     * is trimmed on that side only. */
    for (; first < n; first++) {
        head = tf_chat_lstrip_space(parts[first]);
        if (head.len > 0) break;
    }
    if (first == n) return;
    for (; last-- > first;) {
        tail = tf_chat_rstrip_space(last == first ? head : parts[last]);
        if (tail.len > 0) break;
    }
    if (last == first) {
        tf_chat_put(out, tail);
        return;
    }
    tf_chat_put(out, head);
    for (size_t i = first + 1; i < last; i++) tf_chat_put(out, parts[i]);
    tf_chat_put(out, tail);
}
