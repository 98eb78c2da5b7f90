/* tinfer-tokenize: the command-line face of the tokenizer API, for people and for scripts that
 * check us against Hugging Face.
 *
 *   tinfer-tokenize -t PATH [--jsonl] [--no-add-special] [--no-parse-special]
 *   tinfer-tokenize -t PATH --decode [--keep-special]
 *
 * PATH is a tokenizer.json, its directory, or a .gguf file. By default the whole of stdin is one
 * text and the ids are printed on one line, separated by spaces, as Hugging Face's
 * Tokenizer.encode(text) gives them (post-processor special tokens added, special-token text
 * parsed). --jsonl reads JSON Lines — each a JSON string or an object with a "text" field — and
 * writes one JSON array of ids per line. --decode reads one JSON array of ids per line and writes
 * one JSON string per line (special tokens skipped, as decode(skip_special_tokens=True), unless
 * --keep-special). Bad input: exit status 1 and one line on stderr. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinfer/tinfer.h"

typedef struct options {
    const char *path;
    bool jsonl, decode, keep_special;
    uint32_t flags;
} options;

static int fail(const char *fmt, const char *detail) {
    fprintf(stderr, "tinfer-tokenize: ");
    fprintf(stderr, fmt, detail);
    fputc('\n', stderr);
    return 1;
}

static int usage(void) {
    return fail("%s", "usage: tinfer-tokenize -t PATH [--jsonl] [--no-add-special] "
                      "[--no-parse-special] | -t PATH --decode [--keep-special]");
}

static bool parse_args(int argc, char **argv, options *o) {
    *o = (options){.flags = TINFER_TOKENIZE_DEFAULT};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-t") == 0 || strcmp(a, "--tokenizer") == 0) && i + 1 < argc)
            o->path = argv[++i];
        else if (strcmp(a, "--jsonl") == 0) o->jsonl = true;
        else if (strcmp(a, "--decode") == 0) o->decode = true;
        else if (strcmp(a, "--keep-special") == 0) o->keep_special = true;
        else if (strcmp(a, "--no-add-special") == 0) o->flags &= ~TINFER_TOKENIZE_ADD_SPECIAL;
        else if (strcmp(a, "--no-parse-special") == 0) o->flags &= ~TINFER_TOKENIZE_PARSE_SPECIAL;
        else return false;
    }
    return o->path != NULL;
}

/* Tokenizes text and writes the ids: a JSON array, or space-separated. */
static int encode_text(const tinfer_tokenizer *t, const char *text, size_t len, uint32_t flags,
                       bool as_json) {
    size_t cap = tinfer_tokenize_bound(t, len), n = 0;
    int32_t *ids = malloc((cap ? cap : 1) * sizeof *ids);
    if (!ids) return fail("%s", "out of memory");
    tinfer_status st = tinfer_tokenize(t, text, len, flags, ids, cap, &n);
    if (st != TINFER_OK) {
        free(ids);
        return fail("%s", tinfer_last_error());
    }
    if (as_json) putchar('[');
    for (size_t i = 0; i < n; i++) printf(i ? (as_json ? ", %d" : " %d") : "%d", (int)ids[i]);
    puts(as_json ? "]" : "");
    free(ids);
    return 0;
}

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *grown = realloc(buf, cap *= 2);
        if (!grown) free(buf);
        buf = grown;
    }
    *len = n;
    return buf;
}

static int run_plain(const tinfer_tokenizer *t, const options *o) {
    size_t len;
    char *text = read_all(stdin, &len);
    if (!text) return fail("%s", "out of memory");
    int rc = encode_text(t, text, len, o->flags, false);
    free(text);
    return rc;
}

static int jsonl_line(const tinfer_tokenizer *t, const options *o, const char *line, size_t len,
                      size_t line_no) {
    json_error_t err;
    json_t *v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    char where[64];
    snprintf(where, sizeof where, "%zu", line_no);
    if (!v) return fail("line %s: not JSON", where);
    int rc;
    if (o->decode) {
        size_t n = json_array_size(v), text_len = 0;
        int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
        bool ok = json_is_array(v) && ids;
        for (size_t i = 0; ok && i < n; i++) {
            const json_t *item = json_array_get(v, i);
            ok = json_is_integer(item) && json_integer_value(item) >= 0 &&
                 json_integer_value(item) <= INT32_MAX;
            if (ok) ids[i] = (int32_t)json_integer_value(item);
        }
        uint32_t flags = o->keep_special ? 0 : TINFER_DETOKENIZE_SKIP_SPECIAL;
        tinfer_status st =
            ok ? tinfer_detokenize(t, ids, n, flags, NULL, 0, &text_len) : TINFER_E_INVALID_ARG;
        char *text = st == TINFER_E_BUFFER_TOO_SMALL ? malloc(text_len + 1) : NULL;
        if (text) st = tinfer_detokenize(t, ids, n, flags, text, text_len + 1, &text_len);
        if (!ok) rc = fail("line %s: expected a JSON array of token ids", where);
        else if (st != TINFER_OK) rc = fail("%s", tinfer_last_error());
        else {
            json_t *s = json_stringn_nocheck(text, text_len);
            char *out = json_dumps(s, JSON_ENCODE_ANY);
            rc = out ? (puts(out), 0) : fail("%s", "out of memory");
            free(out);
            json_decref(s);
        }
        free(text);
        free(ids);
    } else {
        const json_t *text = json_is_string(v) ? v : json_object_get(v, "text");
        rc = json_is_string(text)
                 ? encode_text(t, json_string_value(text), json_string_length(text), o->flags, true)
                 : fail("line %s: expected a JSON string or an object with a \"text\" string",
                        where);
    }
    json_decref(v);
    return rc;
}

static int run_jsonl(const tinfer_tokenizer *t, const options *o) {
    char *line = NULL;
    size_t cap = 0, line_no = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
        line_no++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (n == 0) continue;
        rc = jsonl_line(t, o, line, (size_t)n, line_no);
    }
    free(line);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    if (!parse_args(argc, argv, &o)) return usage();
    tinfer_tokenizer *t = NULL;
    if (tinfer_tokenizer_load(o.path, &t) != TINFER_OK) return fail("%s", tinfer_last_error());
    int rc = (o.jsonl || o.decode) ? run_jsonl(t, &o) : run_plain(t, &o);
    tinfer_tokenizer_free(t);
    if (fflush(stdout) != 0) rc = fail("%s", "cannot write the output");
    return rc;
}
