/* Helpers shared by the tokenizer tests: reading the committed zstd-compressed corpus and
 * reference outputs (tests/data/tokenizers/, see its README). Header-only: each test program
 * includes it once. */
#ifndef TINFER_TEST_TOKENIZER_UTIL_H
#define TINFER_TEST_TOKENIZER_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "tinfer/tinfer.h"

/* The whole decompressed content of a .zst file, NUL-terminated; NULL on failure. */
static inline char *tt_read_zst(const char *path, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *src = malloc((size_t)size + 1);
    if (!src || fread(src, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(src);
        return NULL;
    }
    fclose(f);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    size_t cap = (size_t)size * 8 + 4096, len = 0;
    char *out = malloc(cap + 1);
    ZSTD_inBuffer in = {src, (size_t)size, 0};
    while (out) {
        if (len == cap) {
            cap *= 2;
            char *grown = realloc(out, cap + 1);
            if (!grown) {
                free(out);
                out = NULL;
                break;
            }
            out = grown;
        }
        ZSTD_outBuffer o = {out, cap, len};
        size_t ret = ZSTD_decompressStream(dctx, &o, &in);
        len = o.pos;
        if (ZSTD_isError(ret)) {
            free(out);
            out = NULL;
            break;
        }
        if (ret == 0 && in.pos == in.size) break;
        if (in.pos == in.size && o.pos < o.size) break;
    }
    ZSTD_freeDCtx(dctx);
    free(src);
    if (out) {
        out[len] = '\0';
        *out_len = len;
    }
    return out;
}

/* Source-tree path of a test data file. */
static inline void tt_data_path(char *buf, size_t cap, const char *rel) {
    const char *src = getenv("TINFER_SOURCE_DIR");
    snprintf(buf, cap, "%s/tests/data/tokenizers/%s", src ? src : ".", rel);
}

/* The corpus as byte strings: texts[i][0..lens[i]). */
typedef struct tt_corpus {
    char **texts;
    size_t *lens;
    size_t n;
} tt_corpus;

static inline int tt_hex(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Splits JSONL text into parsed objects; returns the count (≤ cap). */
static inline size_t tt_parse_jsonl(char *text, json_t **objs, size_t cap) {
    size_t n = 0;
    for (char *line = text; *line && n < cap;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len) {
            json_error_t err;
            objs[n++] = json_loadb(line, len, JSON_ALLOW_NUL, &err);
        }
        line += len + (end ? 1 : 0);
    }
    return n;
}

static inline bool tt_load_corpus(tt_corpus *c) {
    char path[4096];
    size_t len;
    tt_data_path(path, sizeof path, "corpus.jsonl.zst");
    char *text = tt_read_zst(path, &len);
    if (!text) return false;
    json_t **objs = malloc(100000 * sizeof *objs);
    c->n = tt_parse_jsonl(text, objs, 100000);
    c->texts = calloc(c->n, sizeof *c->texts);
    c->lens = calloc(c->n, sizeof *c->lens);
    for (size_t i = 0; i < c->n; i++) {
        const json_t *t = json_object_get(objs[i], "text"), *h = json_object_get(objs[i], "hex");
        if (t) {
            c->lens[i] = json_string_length(t);
            c->texts[i] = malloc(c->lens[i] + 1);
            memcpy(c->texts[i], json_string_value(t), c->lens[i] + 1);
        } else {
            const char *hex = json_string_value(h);
            c->lens[i] = strlen(hex) / 2;
            c->texts[i] = malloc(c->lens[i] + 1);
            for (size_t k = 0; k < c->lens[i]; k++)
                c->texts[i][k] = (char)(tt_hex(hex[2 * k]) * 16 + tt_hex(hex[2 * k + 1]));
        }
        json_decref(objs[i]);
    }
    free(objs);
    free(text);
    return c->n > 0;
}

static inline void tt_free_corpus(tt_corpus *c) {
    for (size_t i = 0; i < c->n; i++) free(c->texts[i]);
    free(c->texts);
    free(c->lens);
}

/* Reference ids and decodes of one tokenizer. */
typedef struct tt_reference {
    json_t **lines; /* {"ids": [...], "decode": "..."} */
    size_t n;
} tt_reference;

static inline bool tt_load_reference(const char *name, tt_reference *r) {
    char rel[256], path[4096];
    size_t len;
    snprintf(rel, sizeof rel, "%s/reference.jsonl.zst", name);
    tt_data_path(path, sizeof path, rel);
    char *text = tt_read_zst(path, &len);
    if (!text) return false;
    r->lines = malloc(100000 * sizeof *r->lines);
    r->n = tt_parse_jsonl(text, r->lines, 100000);
    free(text);
    return r->n > 0;
}

static inline void tt_free_reference(tt_reference *r) {
    for (size_t i = 0; i < r->n; i++) json_decref(r->lines[i]);
    free(r->lines);
}

static inline tinfer_tokenizer *tt_load_tokenizer(const char *name) {
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "%s", name);
    tt_data_path(path, sizeof path, rel);
    tinfer_tokenizer *t = NULL;
    if (tinfer_tokenizer_load(path, &t) != TINFER_OK) {
        fprintf(stderr, "load %s: %s\n", path, tinfer_last_error());
        return NULL;
    }
    return t;
}

#endif
