/* Normalizers (see normalize.h). NFC comes from utf8proc; ASCII text is already NFC, which skips
 * the library call for most of English and code. */
#include "tokenizer/normalize.h"

#include <utf8proc.h>

#include "core/error.h"

static bool is_ascii(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

static tinfer_status nfc(const char *in, size_t len, tf_bytes *out) {
    out->len = 0;
    if (is_ascii(in, len)) {
        return tf_bytes_append(out, in, len) ? TINFER_OK
                                             : tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    }
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)len, &mapped,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0) {
        free(mapped);
        return tf_error(TINFER_E_INVALID_ARG, "tokenizer: NFC failed: %s", utf8proc_errmsg(n));
    }
    bool ok = tf_bytes_append(out, mapped, (size_t)n);
    free(mapped);
    return ok ? TINFER_OK : tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
}

static bool replace(const tf_norm_step *step, const char *in, size_t len, tf_bytes *out) {
    out->len = 0;
    if (!tf_bytes_reserve(out, len)) return false;
    size_t i = 0, plen = step->pattern_len;
    while (i < len) {
        const char *hit = plen ? memchr(in + i, step->pattern[0], len - i) : NULL;
        while (hit && ((size_t)(hit - in) + plen > len || memcmp(hit, step->pattern, plen) != 0))
            hit = memchr(hit + 1, step->pattern[0], len - (size_t)(hit + 1 - in));
        size_t upto = hit ? (size_t)(hit - in) : len;
        if (!tf_bytes_append(out, in + i, upto - i)) return false;
        if (!hit) break;
        if (!tf_bytes_append(out, step->content, step->content_len)) return false;
        i = upto + plen;
    }
    return true;
}

static bool prepend(const tf_norm_step *step, const char *in, size_t len, tf_bytes *out) {
    out->len = 0;
    if (len == 0) return true; /* Hugging Face's Prepend leaves empty text alone */
    return tf_bytes_append(out, step->content, step->content_len) && tf_bytes_append(out, in, len);
}

tinfer_status tf_normalize(const tinfer_tokenizer *t, const char *text, size_t len, tf_bytes *out,
                           tf_bytes *tmp) {
    out->len = 0;
    if (!tf_bytes_append(out, text, len)) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < t->n_norm; i++) {
        const tf_norm_step *step = &t->norm[i];
        bool ok = true;
        if (step->kind == TF_NORM_NFC) {
            tinfer_status st = nfc(out->data, out->len, tmp);
            if (st != TINFER_OK) return st;
        } else if (step->kind == TF_NORM_REPLACE) {
            ok = replace(step, out->data, out->len, tmp);
        } else {
            ok = prepend(step, out->data, out->len, tmp);
        }
        if (!ok) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
        tf_bytes swap = *out;
        *out = *tmp;
        *tmp = swap;
    }
    return TINFER_OK;
}
