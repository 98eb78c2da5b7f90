/* Growable arrays for one tokenize/detokenize call: bytes, token ids, spans. */
#ifndef TINFER_TOKENIZER_TOK_BUF_H
#define TINFER_TOKENIZER_TOK_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

typedef struct tf_bytes {
    char *data;
    size_t len, cap;
} tf_bytes;

typedef struct tf_ids {
    int32_t *data;
    size_t len, cap;
} tf_ids;

typedef struct tf_span {
    size_t off, len;
} tf_span;

typedef struct tf_spans {
    tf_span *data;
    size_t len, cap;
} tf_spans;

/* Makes room for n more elements of elem_size bytes; false when out of memory. */
static inline bool tf_grow(void **data, size_t *cap, size_t len, size_t n, size_t elem_size) {
    size_t need, bytes;
    if (!tinfer_add_size(len, n, &need)) return false;
    if (need <= *cap) return true;
    size_t cap_new = *cap ? *cap : 64;
    while (cap_new < need)
        if (!tinfer_mul_size(cap_new, 2, &cap_new)) return false;
    if (!tinfer_mul_size(cap_new, elem_size, &bytes)) return false;
    void *grown = realloc(*data, bytes);
    if (!grown) return false;
    *data = grown;
    *cap = cap_new;
    return true;
}

static inline bool tf_bytes_reserve(tf_bytes *b, size_t n) {
    return tf_grow((void **)&b->data, &b->cap, b->len, n, 1);
}
static inline bool tf_bytes_append(tf_bytes *b, const void *src, size_t n) {
    if (!tf_bytes_reserve(b, n)) return false;
    if (n) memcpy(b->data + b->len, src, n);
    b->len += n;
    return true;
}
static inline bool tf_ids_push(tf_ids *ids, int32_t id) {
    if (ids->len == ids->cap && !tf_grow((void **)&ids->data, &ids->cap, ids->len, 1, sizeof(int32_t)))
        return false;
    ids->data[ids->len++] = id;
    return true;
}
static inline bool tf_spans_push(tf_spans *s, size_t off, size_t len) {
    if (s->len == s->cap && !tf_grow((void **)&s->data, &s->cap, s->len, 1, sizeof(tf_span)))
        return false;
    s->data[s->len++] = (tf_span){off, len};
    return true;
}

#endif
