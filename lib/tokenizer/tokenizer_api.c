/* The public tokenizer entry points: argument checks, then calls inward. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "tokenizer/detokenize.h"
#include "tokenizer/encode.h"
#include "tokenizer/tok_build.h"
#include "tokenizer/tokenizer.h"

struct tinfer_detok_stream {
    const tinfer_tokenizer *tokenizer;
    bool skip_special;
    tf_detok_state state;
};

void tf_tokenizer_free(tinfer_tokenizer *t) { tf_tok_destroy(t); }

const char *tf_tokenizer_chat_template(const tinfer_tokenizer *t) {
    return t ? t->chat_template : NULL;
}
const char *tf_tokenizer_architecture(const tinfer_tokenizer *t) {
    return t ? t->architecture : NULL;
}
const char *tf_tokenizer_bos_text(const tinfer_tokenizer *t) { return t ? t->bos_text : NULL; }
const char *tf_tokenizer_eos_text(const tinfer_tokenizer *t) { return t ? t->eos_text : NULL; }

TINFER_API tinfer_status tinfer_tokenizer_load(const char *path, tinfer_tokenizer **out) {
    tf_error_clear();
    if (!path || !out)
        return tf_error(TINFER_E_INVALID_ARG,
                        "tinfer_tokenizer_load: path and out must not be NULL");
    return tf_tokenizer_load_path(path, out);
}

TINFER_API void tinfer_tokenizer_free(tinfer_tokenizer *tokenizer) { tf_tok_destroy(tokenizer); }

TINFER_API size_t tinfer_tokenizer_n_vocab(const tinfer_tokenizer *tokenizer) {
    return tokenizer ? tokenizer->n_vocab : 0;
}

TINFER_API size_t tinfer_tokenize_bound(const tinfer_tokenizer *t, size_t text_len) {
    if (!t) return 0;
    /* every normalized byte makes at most one token (a byte-fallback or byte-level token); each
     * stretch between added tokens may gain a Prepend; an added token uses ≥ 1 input byte */
    size_t per_byte = t->max_expand + t->prepend_len + 1, bound;
    if (!tinfer_mul_size(text_len + 1, per_byte, &bound) ||
        !tinfer_add_size(bound, t->n_prefix + t->n_suffix, &bound))
        return SIZE_MAX;
    return bound;
}

TINFER_API tinfer_status tinfer_tokenize(const tinfer_tokenizer *t, const char *text, size_t len,
                                         uint32_t flags, int32_t *tokens, size_t cap,
                                         size_t *n_tokens) {
    tf_error_clear();
    if (!t || (!text && len) || !n_tokens || (!tokens && cap))
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_tokenize: NULL argument");
    if (flags & ~(uint32_t)TINFER_TOKENIZE_DEFAULT)
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_tokenize: unknown flags 0x%x", flags);
    tf_ids ids = {0};
    tinfer_status st = tf_encode(t, text ? text : "", len, flags, &ids);
    if (st == TINFER_OK) {
        *n_tokens = ids.len;
        if (ids.len > cap)
            st = tf_error(TINFER_E_BUFFER_TOO_SMALL,
                          "tinfer_tokenize: %zu tokens need room, %zu given", ids.len, cap);
        else if (ids.len) memcpy(tokens, ids.data, ids.len * sizeof *tokens);
    }
    free(ids.data);
    return st;
}

/* Copies text to buf with a NUL, or reports the size needed. */
static tinfer_status give_text(const char *who, const tf_bytes *text, char *buf, size_t cap,
                               size_t *len) {
    *len = text->len;
    if (cap <= text->len)
        return tf_error(TINFER_E_BUFFER_TOO_SMALL,
                        "%s: %zu bytes (+1 for the NUL) need room, %zu given", who, text->len, cap);
    if (text->len) memcpy(buf, text->data, text->len);
    buf[text->len] = '\0';
    return TINFER_OK;
}

TINFER_API tinfer_status tinfer_detokenize(const tinfer_tokenizer *t, const int32_t *tokens,
                                           size_t n, uint32_t flags, char *buf, size_t cap,
                                           size_t *len) {
    tf_error_clear();
    if (!t || (!tokens && n) || !len || (!buf && cap))
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_detokenize: NULL argument");
    tf_bytes text = {0};
    tinfer_status st =
        tf_detokenize(t, tokens, n, (flags & TINFER_DETOKENIZE_SKIP_SPECIAL) != 0, &text);
    if (st == TINFER_OK) st = give_text("tinfer_detokenize", &text, buf, cap, len);
    free(text.data);
    return st;
}

TINFER_API tinfer_status tinfer_token_piece(const tinfer_tokenizer *t, int32_t id, char *buf,
                                            size_t cap, size_t *len) {
    tf_error_clear();
    if (!t || !len || (!buf && cap))
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_token_piece: NULL argument");
    if (id < 0 || (size_t)id >= t->n_vocab || !(t->tokens[id].flags & TF_TOK_PRESENT))
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_token_piece: id %d is not in the vocabulary",
                        (int)id);
    const tf_tok_entry *e = &t->tokens[id];
    tf_bytes piece = {(char *)(t->blob + e->piece_off), e->piece_len, e->piece_len};
    if (e->flags & TF_TOK_BYTE) piece = (tf_bytes){(char *)&e->byte_value, 1, 1};
    return give_text("tinfer_token_piece", &piece, buf, cap, len);
}

TINFER_API tinfer_status tinfer_tokenizer_special(const tinfer_tokenizer *t,
                                                  tinfer_special_token which, int32_t *id) {
    tf_error_clear();
    if (!t || !id) return tf_error(TINFER_E_INVALID_ARG, "tinfer_tokenizer_special: NULL argument");
    int32_t found;
    switch (which) {
    case TINFER_TOKEN_BOS:
        found = t->bos_id;
        break;
    case TINFER_TOKEN_EOS:
        found = t->eos_id;
        break;
    case TINFER_TOKEN_PAD:
        found = t->pad_id;
        break;
    case TINFER_TOKEN_UNK:
        found = t->unk_special_id;
        break;
    default:
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_tokenizer_special: unknown kind %d",
                        (int)which);
    }
    if (found < 0)
        return tf_error(TINFER_E_NOT_FOUND,
                        "tinfer_tokenizer_special: the tokenizer has no such token");
    *id = found;
    return TINFER_OK;
}

TINFER_API bool tinfer_tokenizer_is_eog(const tinfer_tokenizer *t, int32_t id) {
    for (size_t i = 0; t && i < t->n_eog; i++)
        if (t->eog_ids[i] == id) return true;
    return false;
}

TINFER_API tinfer_status tinfer_detok_stream_create(const tinfer_tokenizer *t, uint32_t flags,
                                                    tinfer_detok_stream **out) {
    tf_error_clear();
    if (!t || !out)
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_detok_stream_create: NULL argument");
    tinfer_detok_stream *s = calloc(1, sizeof *s);
    if (!s) return tf_error(TINFER_E_NOMEM, "tinfer_detok_stream_create: out of memory");
    s->tokenizer = t;
    s->skip_special = (flags & TINFER_DETOKENIZE_SKIP_SPECIAL) != 0;
    if (!tf_detok_state_init(t, &s->state)) {
        tinfer_detok_stream_free(s);
        return tf_error(TINFER_E_NOMEM, "tinfer_detok_stream_create: out of memory");
    }
    *out = s;
    return TINFER_OK;
}

/* Runs one step on a copy of the state and keeps it only when the text fits in buf. */
TINFER_API tinfer_status tinfer_detok_stream_push(tinfer_detok_stream *s, int32_t id, char *buf,
                                                  size_t cap, size_t *len) {
    tf_error_clear();
    if (!s || !len || (!buf && cap))
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_detok_stream_push: NULL argument");
    tf_detok_state next = s->state;
    tf_bytes text = {0};
    tinfer_status st = tf_detok_push(s->tokenizer, &next, id, s->skip_special, &text);
    if (st == TINFER_OK) st = give_text("tinfer_detok_stream_push", &text, buf, cap, len);
    if (st == TINFER_OK) s->state = next;
    free(text.data);
    return st;
}

TINFER_API tinfer_status tinfer_detok_stream_flush(tinfer_detok_stream *s, char *buf, size_t cap,
                                                   size_t *len) {
    tf_error_clear();
    if (!s || !len || (!buf && cap))
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_detok_stream_flush: NULL argument");
    tf_detok_state next = s->state;
    tf_bytes text = {0};
    tinfer_status st = tf_detok_flush(s->tokenizer, &next, &text);
    if (st == TINFER_OK) st = give_text("tinfer_detok_stream_flush", &text, buf, cap, len);
    if (st == TINFER_OK) s->state = next;
    free(text.data);
    return st;
}

TINFER_API void tinfer_detok_stream_free(tinfer_detok_stream *stream) {
    if (stream) tf_detok_state_free(&stream->state);
    free(stream);
}
