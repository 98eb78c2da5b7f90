/* The encode pipeline (see encode.h): repair UTF-8 → added tokens → per stretch of text:
 * normalize → (normalized added tokens) → pre-tokenize → BPE per piece → post-processor ids. */
#include "tokenizer/encode.h"

#include "core/error.h"
#include "tokenizer/added.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalize.h"
#include "tokenizer/pretok.h"
#include "tokenizer/utf8.h"

typedef struct encode_state {
    const tinfer_tokenizer *t;
    bool parse_special;
    tf_ids *out;
    tf_bytes normalized, tmp;
    tf_spans pieces;
    tf_pretok_scratch pretok;
    tf_bpe_scratch bpe;
} encode_state;

static tinfer_status oom(void) { return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory"); }

/* Pre-tokenizes a normalized stretch and runs BPE on each piece. */
static tinfer_status encode_normalized(void *ctx, const char *s, size_t len, int32_t token) {
    encode_state *st = ctx;
    if (token >= 0) return tf_ids_push(st->out, token) ? TINFER_OK : oom();
    tinfer_status status = tf_pretokenize(st->t, s, len, &st->pieces, &st->pretok);
    for (size_t i = 0; status == TINFER_OK && i < st->pieces.len; i++)
        status = tf_bpe_encode(st->t, s + st->pieces.data[i].off, st->pieces.data[i].len, &st->bpe,
                               st->out);
    return status;
}

static tinfer_status encode_stretch(void *ctx, const char *s, size_t len, int32_t token) {
    encode_state *st = ctx;
    if (token >= 0) return tf_ids_push(st->out, token) ? TINFER_OK : oom();
    tinfer_status status = tf_normalize(st->t, s, len, &st->normalized, &st->tmp);
    if (status != TINFER_OK) return status;
    /* pieces point into normalized, which must not change while they are used */
    tf_bytes text = st->normalized;
    st->normalized = (tf_bytes){0};
    if (st->t->has_normalized_added)
        status = tf_added_split(st->t, text.data, text.len, st->parse_special, true,
                                encode_normalized, st);
    else
        status = encode_normalized(st, text.data, text.len, -1);
    free(st->normalized.data);
    st->normalized = text;
    return status;
}

tinfer_status tf_encode(const tinfer_tokenizer *t, const char *text, size_t len, uint32_t flags,
                        tf_ids *out) {
    encode_state st = {.t = t, .parse_special = (flags & TINFER_TOKENIZE_PARSE_SPECIAL) != 0,
                       .out = out};
    tinfer_status status = TINFER_OK;
    uint8_t *repaired = NULL;
    if (!tf_utf8_valid((const uint8_t *)text, len)) {
        size_t cap;
        if (!tinfer_mul_size(len, 3, &cap) || !(repaired = malloc(cap))) return oom();
        len = tf_utf8_sanitize((const uint8_t *)text, len, repaired);
        text = (const char *)repaired;
    }
    bool add_special = (flags & TINFER_TOKENIZE_ADD_SPECIAL) != 0;
    for (size_t i = 0; add_special && i < t->n_prefix && status == TINFER_OK; i++)
        if (!tf_ids_push(out, t->prefix_ids[i])) status = oom();
    if (status == TINFER_OK)
        status = tf_added_split(t, text, len, st.parse_special, false, encode_stretch, &st);
    for (size_t i = 0; add_special && i < t->n_suffix && status == TINFER_OK; i++)
        if (!tf_ids_push(out, t->suffix_ids[i])) status = oom();
    free(repaired);
    free(st.normalized.data);
    free(st.tmp.data);
    free(st.pieces.data);
    tf_pretok_scratch_free(&st.pretok);
    tf_bpe_scratch_free(&st.bpe);
    return status;
}
