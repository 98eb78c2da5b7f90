/* A growable byte buffer, always NUL-terminated: the server's output text and response bodies.
 * Header-only (static inline). A failed allocation leaves the buffer as it was and returns
 * false. */
#ifndef TINFER_SERVER_BUF_H
#define TINFER_SERVER_BUF_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
} buf;

/* Makes room for at least cap bytes in all (the NUL included). */
static inline bool buf_reserve(buf *b, size_t cap) {
    if (cap <= b->cap) return true;
    size_t grown_cap = b->cap ? b->cap : 256;
    while (grown_cap < cap) grown_cap *= 2;
    char *grown = realloc(b->data, grown_cap);
    if (!grown) return false;
    b->data = grown;
    b->cap = grown_cap;
    return true;
}

static inline bool buf_append(buf *b, const char *bytes, size_t n) {
    if (!buf_reserve(b, b->len + n + 1)) return false;
    if (n) memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static inline bool buf_append_str(buf *b, const char *text) {
    return buf_append(b, text, strlen(text));
}

/* Drops the first n bytes (n ≤ len). */
static inline void buf_consume(buf *b, size_t n) {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    if (b->data) b->data[b->len] = '\0';
}

static inline void buf_free(buf *b) {
    free(b->data);
    *b = (buf){0};
}

#endif
