/* Stop strings: see stop.h. */
#define _GNU_SOURCE /* memmem */
#include "stop.h"

#include <string.h>

void stop_init(stop_matcher *m, char *const *strings, size_t n_strings) {
    *m = (stop_matcher){.strings = strings, .n_strings = n_strings};
}

/* Length of the longest end of text that is a proper start of some stop string. */
static size_t partial_suffix(const stop_matcher *m, const char *text, size_t len) {
    size_t best = 0;
    for (size_t i = 0; i < m->n_strings; i++) {
        const size_t n = strlen(m->strings[i]);
        if (n == 0) continue;
        for (size_t k = (n - 1 < len ? n - 1 : len); k > best; k--) {
            if (!memcmp(text + len - k, m->strings[i], k)) {
                best = k;
                break;
            }
        }
    }
    return best;
}

/* Offset of the earliest stop string in text, or len when none occurs. */
static size_t first_stop(const stop_matcher *m, const char *text, size_t len) {
    size_t cut = len;
    for (size_t i = 0; i < m->n_strings; i++) {
        const size_t n = strlen(m->strings[i]);
        if (n == 0 || n > len) continue;
        const char *at = memmem(text, len, m->strings[i], n);
        if (at && (size_t)(at - text) < cut) cut = (size_t)(at - text);
    }
    return cut;
}

bool stop_push(stop_matcher *m, const char *text, size_t len, buf *out) {
    if (m->stopped) return true;
    if (!buf_append(&m->held, text, len)) return false;
    const char *pending = m->held.data ? m->held.data : "";
    const size_t n_pending = m->held.len;
    const size_t cut = first_stop(m, pending, n_pending);
    if (cut < n_pending) {
        m->stopped = true;
        const bool ok = buf_append(out, pending, cut);
        m->held.len = 0;
        return ok;
    }
    const size_t keep = partial_suffix(m, pending, n_pending);
    if (!buf_append(out, pending, n_pending - keep)) return false;
    buf_consume(&m->held, n_pending - keep);
    return true;
}

bool stop_flush(stop_matcher *m, buf *out) {
    bool ok = true;
    if (!m->stopped && m->held.len) ok = buf_append(out, m->held.data, m->held.len);
    m->held.len = 0;
    return ok;
}

void stop_free(stop_matcher *m) { buf_free(&m->held); }
