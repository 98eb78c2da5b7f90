/* What the tokenizer fuzz targets do with a tokenizer once it loads: tokenize text, detokenize
 * ids whole and through the stream, and abort() when the two detokenizations disagree (the
 * header promises they are equal, but for a Strip decoder's trailing strip, which the stream
 * does not apply). Header-only (static functions). */
#ifndef TINFER_FUZZ_TOKENIZER_CHECK_H
#define TINFER_FUZZ_TOKENIZER_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinfer/tinfer.h"
#include "tokenizer/tok_struct.h"
#include "tokenizer/utf8.h"

static void fuzz_fail(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "fuzz: %s; ids:", what);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, "\n");
    abort();
}

/* Streams ids[0..n) into a malloc'd text; each push first measures (cap 0), then writes. */
static char *fuzz_stream(const tinfer_tokenizer *t, uint32_t flags, const int32_t *ids, size_t n,
                         bool want_utf8, size_t *out_len) {
    tinfer_detok_stream *s;
    if (tinfer_detok_stream_create(t, flags, &s) != TINFER_OK) fuzz_fail("stream_create", ids, 0);
    size_t len = 0, cap = 64;
    char *all = malloc(cap);
    for (size_t i = 0; i <= n && all; i++) {
        size_t need;
        tinfer_status st = i < n ? tinfer_detok_stream_push(s, ids[i], NULL, 0, &need)
                                 : tinfer_detok_stream_flush(s, NULL, 0, &need);
        if (st != TINFER_E_BUFFER_TOO_SMALL) fuzz_fail("stream did not measure", ids, n);
        char *piece = malloc(need + 1);
        size_t got;
        st = i < n ? tinfer_detok_stream_push(s, ids[i], piece, need + 1, &got)
                   : tinfer_detok_stream_flush(s, piece, need + 1, &got);
        if (st != TINFER_OK || got != need) fuzz_fail("stream push", ids, n);
        if (want_utf8 && !tf_utf8_valid((const uint8_t *)piece, got))
            fuzz_fail("stream piece is not UTF-8", ids, i + 1);
        if (len + got + 1 > cap) {
            while (len + got + 1 > cap) cap *= 2;
            char *grown = realloc(all, cap);
            if (!grown) free(all);
            all = grown;
        }
        if (all) memcpy(all + len, piece, got);
        len += got;
        free(piece);
    }
    tinfer_detok_stream_free(s);
    *out_len = len;
    return all;
}

/* Whole and streamed detokenization of ids (holes in the vocabulary left out) must agree. */
static void fuzz_check_detok(const tinfer_tokenizer *t, uint32_t flags, int32_t *ids, size_t n,
                             bool want_utf8) {
    size_t kept = 0, len;
    for (size_t i = 0; i < n; i++)
        if (tinfer_token_piece(t, ids[i], NULL, 0, &len) == TINFER_E_BUFFER_TOO_SMALL)
            ids[kept++] = ids[i];
    n = kept;
    size_t whole_len;
    if (tinfer_detokenize(t, ids, n, flags, NULL, 0, &whole_len) != TINFER_E_BUFFER_TOO_SMALL)
        fuzz_fail("detokenize did not measure", ids, n);
    char *whole = malloc(whole_len + 1);
    if (!whole) return;
    if (tinfer_detokenize(t, ids, n, flags, whole, whole_len + 1, &len) != TINFER_OK ||
        len != whole_len)
        fuzz_fail("detokenize", ids, n);
    size_t stream_len;
    char *stream = fuzz_stream(t, flags, ids, n, want_utf8, &stream_len);
    if (stream) {
        /* the stream keeps what a Strip decoder would cut from the end: at most strip_stop
         * copies of strip_char after the whole text */
        bool same = stream_len >= whole_len && memcmp(stream, whole, whole_len) == 0 &&
                    stream_len - whole_len <= (t->decoder.strip_char ? t->decoder.strip_stop : 0);
        for (size_t i = whole_len; same && i < stream_len; i++)
            same = (unsigned char)stream[i] == t->decoder.strip_char;
        if (!same) {
            fprintf(stderr, "whole (%zu) and stream (%zu) differ\n", whole_len, stream_len);
            fuzz_fail("whole and streamed detokenization differ", ids, n);
        }
    }
    free(stream);
    free(whole);
}

/* Tokenizes text with flags and checks the ids; detokenizes them both ways. */
static void fuzz_check_tokenize(const tinfer_tokenizer *t, const char *text, size_t len,
                                uint32_t flags, bool want_utf8) {
    size_t cap = tinfer_tokenize_bound(t, len), n = 0;
    if (cap > ((size_t)1 << 24)) fuzz_fail("tokenize_bound is huge", NULL, 0);
    int32_t *ids = malloc((cap ? cap : 1) * sizeof *ids);
    if (!ids) return;
    tinfer_status st = tinfer_tokenize(t, text, len, flags, ids, cap, &n);
    if (st == TINFER_OK) {
        if (n > cap) fuzz_fail("more tokens than the bound", ids, 0);
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= tinfer_tokenizer_n_vocab(t))
                fuzz_fail("token id out of range", ids, n);
        fuzz_check_detok(t, flags & 1 ? TINFER_DETOKENIZE_SKIP_SPECIAL : 0, ids, n, want_utf8);
    } else if (st != TINFER_E_NOMEM && st != TINFER_E_INVALID_ARG) {
        fuzz_fail(tinfer_last_error(), ids, 0);
    }
    free(ids);
}

/* Ids from bytes: each pair of bytes little-endian, modulo the vocabulary. */
static size_t fuzz_ids_from_bytes(const tinfer_tokenizer *t, const uint8_t *data, size_t size,
                                  int32_t *ids, size_t cap) {
    size_t n_vocab = tinfer_tokenizer_n_vocab(t), n = 0;
    for (size_t i = 0; i + 1 < size && n < cap; i += 2)
        ids[n++] = (int32_t)(((size_t)data[i] | (size_t)data[i + 1] << 8) % n_vocab);
    return n;
}

#endif
