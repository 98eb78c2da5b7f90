/* Pre-tokenizer splits (see pretok.h). */
#include "tokenizer/pretok.h"

#include "core/error.h"

#define MATCH_FLAG ((size_t)1 << (sizeof(size_t) * 8 - 1))

/* Unicode White_Space, which Oniguruma's \s matches. */
static const char WHITE_SPACE_CLASS[] = "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}";

static bool append(tf_bytes *b, const char *s, size_t n) { return tf_bytes_append(b, s, n); }

/* Rewrites \s and \S (outside and inside character classes) into White_Space classes. */
static bool rewrite_pattern(const char *p, size_t len, tf_bytes *out) {
    size_t class_depth = 0;
    const size_t ws_len = sizeof WHITE_SPACE_CLASS - 1;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < len) {
            char n = p[i + 1];
            bool ok;
            if (n == 's' && class_depth) ok = append(out, WHITE_SPACE_CLASS, ws_len);
            else if (n == 's')
                ok = append(out, "[", 1) && append(out, WHITE_SPACE_CLASS, ws_len) && append(out, "]", 1);
            else if (n == 'S' && !class_depth)
                ok = append(out, "[^", 2) && append(out, WHITE_SPACE_CLASS, ws_len) && append(out, "]", 1);
            else ok = append(out, p + i, 2); /* \S inside a class is left to PCRE2 */
            if (!ok) return false;
            i++;
            continue;
        }
        if (c == '[') {
            class_depth++;
            if (!append(out, p + i, 1)) return false;
            /* a ']' right after '[' or '[^' is a literal */
            if (i + 1 < len && p[i + 1] == '^') {
                if (!append(out, p + ++i, 1)) return false;
            }
            if (i + 1 < len && p[i + 1] == ']') {
                if (!append(out, p + ++i, 1)) return false;
            }
            continue;
        }
        if (c == ']' && class_depth) class_depth--;
        if (!append(out, p + i, 1)) return false;
    }
    return true;
}

tinfer_status tf_regex_compile(const char *pattern, size_t len, pcre2_code **out) {
    tf_bytes rewritten = {0};
    if (!rewrite_pattern(pattern, len, &rewritten))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    int err;
    PCRE2_SIZE err_off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(rewritten.data ? rewritten.data : ""),
                                   rewritten.len, PCRE2_UTF | PCRE2_UCP, &err, &err_off, NULL);
    free(rewritten.data);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return tf_error(TINFER_E_FORMAT, "tokenizer: pre-tokenizer regex /%.*s/: %s", (int)len,
                        pattern, (const char *)msg);
    }
    /* Without JIT (an unsupported CPU) the interpreter gives the same matches, only slower. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *out = re;
    return TINFER_OK;
}

void tf_pretok_scratch_free(tf_pretok_scratch *scratch) {
    pcre2_match_data_free(scratch->match);
    pcre2_match_context_free(scratch->context);
    pcre2_jit_stack_free(scratch->jit_stack);
    free(scratch->marks.data);
    free(scratch->tmp.data);
    memset(scratch, 0, sizeof *scratch);
}

/* A bigger JIT stack for patterns that need it on long inputs (32 KiB is PCRE2's default). */
static bool grow_jit_stack(tf_pretok_scratch *sc) {
    if (sc->jit_stack) return false;
    sc->context = pcre2_match_context_create(NULL);
    sc->jit_stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, NULL);
    if (!sc->context || !sc->jit_stack) return false;
    pcre2_jit_stack_assign(sc->context, NULL, sc->jit_stack);
    return true;
}

/* Marks s[0..len) as (offset, length|flag) runs: matches flagged, gaps not (find_matches). */
static tinfer_status find_regex(const tf_pretok_step *step, const char *s, size_t len,
                                tf_pretok_scratch *sc) {
    if (!sc->match && !(sc->match = pcre2_match_data_create(1, NULL)))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    size_t pos = 0, prev = 0;
    while (pos < len) {
        int rc = pcre2_match(step->regex, (PCRE2_SPTR)s, len, pos, PCRE2_NO_UTF_CHECK, sc->match,
                             sc->context);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && grow_jit_stack(sc)) continue;
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) return tf_error(TINFER_E_INVALID_ARG, "tokenizer: regex match failed (%d)", rc);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->match);
        size_t start = ov[0], end = ov[1];
        if (end == start) { /* an empty match splits nothing; step over one character */
            pos = start + 1;
            while (pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80) pos++;
            continue;
        }
        if (start > prev && !tf_spans_push(&sc->marks, prev, start - prev)) goto nomem;
        if (!tf_spans_push(&sc->marks, start, (end - start) | MATCH_FLAG)) goto nomem;
        prev = pos = end;
    }
    if (len > prev && !tf_spans_push(&sc->marks, prev, len - prev)) goto nomem;
    return TINFER_OK;
nomem:
    return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
}

static tinfer_status find_literal(const tf_pretok_step *step, const char *s, size_t len,
                                  tf_pretok_scratch *sc) {
    size_t prev = 0, i = 0, n = step->literal_len;
    while (n && i + n <= len) {
        if (memcmp(s + i, step->literal, n) != 0) {
            i++;
            continue;
        }
        if (i > prev && !tf_spans_push(&sc->marks, prev, i - prev)) goto nomem;
        if (!tf_spans_push(&sc->marks, i, n | MATCH_FLAG)) goto nomem;
        prev = i = i + n;
    }
    if (len > prev && !tf_spans_push(&sc->marks, prev, len - prev)) goto nomem;
    return TINFER_OK;
nomem:
    return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
}

/* Turns the marks of one piece (at base) into pieces by the step's behaviour. */
static bool apply_behavior(const tf_pretok_step *step, const tf_spans *marks, size_t base,
                           tf_spans *out) {
    bool prev_match = false, have_prev = false;
    size_t first_out = out->len;
    for (size_t k = 0; k < marks->len; k++) {
        size_t i = step->behavior == TF_SPLIT_MERGED_WITH_NEXT ? marks->len - 1 - k : k;
        tf_span m = marks->data[i];
        bool is_match = ((m.len & MATCH_FLAG) != 0) != step->invert;
        size_t off = base + m.off, len = m.len & ~MATCH_FLAG;
        bool has_last = out->len > first_out;
        tf_span *last = has_last ? &out->data[out->len - 1] : NULL;
        switch (step->behavior) {
        case TF_SPLIT_ISOLATED:
            if (!tf_spans_push(out, off, len)) return false;
            break;
        case TF_SPLIT_REMOVED:
            if (!is_match && !tf_spans_push(out, off, len)) return false;
            break;
        case TF_SPLIT_MERGED_WITH_PREVIOUS:
            if (is_match && !prev_match && last) last->len = off + len - last->off;
            else if (!tf_spans_push(out, off, len)) return false;
            break;
        case TF_SPLIT_MERGED_WITH_NEXT: /* walked backwards, reversed below */
            if (is_match && !prev_match && last) {
                last->len = last->off + last->len - off;
                last->off = off;
            } else if (!tf_spans_push(out, off, len)) return false;
            break;
        case TF_SPLIT_CONTIGUOUS:
            if (have_prev && is_match == prev_match && last) last->len = off + len - last->off;
            else if (!tf_spans_push(out, off, len)) return false;
            break;
        }
        prev_match = is_match;
        have_prev = true;
    }
    if (step->behavior == TF_SPLIT_MERGED_WITH_NEXT)
        for (size_t a = first_out, b = out->len; a + 1 < b; a++, b--) {
            tf_span swap = out->data[a];
            out->data[a] = out->data[b - 1];
            out->data[b - 1] = swap;
        }
    return true;
}

tinfer_status tf_pretokenize(const tinfer_tokenizer *t, const char *s, size_t len, tf_spans *out,
                             tf_pretok_scratch *sc) {
    out->len = 0;
    if (!tf_spans_push(out, 0, len)) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    for (size_t k = 0; k < t->n_pretok; k++) {
        const tf_pretok_step *step = &t->pretok[k];
        sc->tmp.len = 0;
        for (size_t p = 0; p < out->len; p++) {
            tf_span piece = out->data[p];
            if (piece.len == 0) continue;
            sc->marks.len = 0;
            tinfer_status st = step->regex ? find_regex(step, s + piece.off, piece.len, sc)
                                           : find_literal(step, s + piece.off, piece.len, sc);
            if (st != TINFER_OK) return st;
            if (!apply_behavior(step, &sc->marks, piece.off, &sc->tmp))
                return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
        }
        tf_spans swap = *out;
        *out = sc->tmp;
        sc->tmp = swap;
    }
    return TINFER_OK;
}
