/* Detokenizing (see detokenize.h). Each token's piece was computed at load (decoder Replace steps,
 * or the byte-level map), so detokenizing joins pieces and then applies the two joined-text rules
 * of the reference: a ByteFallback run of <0xXX> tokens that is not valid UTF-8 becomes one U+FFFD
 * per byte, and the ByteLevel decoder's output is repaired lossily (one U+FFFD per maximal invalid
 * subsequence). A Strip decoder then trims the ends. */
#include "tokenizer/detokenize.h"

#include "core/error.h"
#include "tokenizer/utf8.h"

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

static tinfer_status oom(void) { return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory"); }

static bool flush_byte_run(tf_bytes *run, tf_bytes *out) {
    bool ok = true;
    if (tf_utf8_valid((const uint8_t *)run->data, run->len))
        ok = tf_bytes_append(out, run->data, run->len);
    else
        for (size_t i = 0; i < run->len && ok; i++) ok = tf_bytes_append(out, REPLACEMENT, 3);
    run->len = 0;
    return ok;
}

static bool repair_lossy(tf_bytes *text) {
    if (tf_utf8_valid((const uint8_t *)text->data, text->len)) return true;
    size_t cap;
    uint8_t *fixed;
    if (!tinfer_mul_size(text->len, 3, &cap) || !(fixed = malloc(cap))) return false;
    size_t n = tf_utf8_sanitize((const uint8_t *)text->data, text->len, fixed);
    free(text->data);
    text->data = (char *)fixed;
    text->len = n;
    text->cap = cap;
    return true;
}

static void strip_ends(const tf_decoder *d, tf_bytes *text, size_t start_offset) {
    if (text->len == 0) return;
    char c = (char)d->strip_char;
    size_t cut = 0;
    while (cut < d->strip_start && start_offset + cut < text->len &&
           text->data[start_offset + cut] == c)
        cut++;
    memmove(text->data + start_offset, text->data + start_offset + cut,
            text->len - start_offset - cut);
    text->len -= cut;
    for (size_t k = 0;
         k < d->strip_stop && text->len > start_offset && text->data[text->len - 1] == c; k++)
        text->len--;
}

tinfer_status tf_detokenize(const tinfer_tokenizer *t, const int32_t *tokens, size_t n,
                            bool skip_special, tf_bytes *out) {
    tf_bytes run = {0}, own = {0};
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (tokens[i] < 0 || (size_t)tokens[i] >= t->n_vocab ||
            !(t->tokens[tokens[i]].flags & TF_TOK_PRESENT)) {
            free(run.data);
            free(own.data);
            return tf_error(TINFER_E_INVALID_ARG,
                            "detokenize: token %zu has id %d, not in the vocabulary", i,
                            (int)tokens[i]);
        }
        const tf_tok_entry *e = &t->tokens[tokens[i]];
        if (skip_special && (e->flags & TF_TOK_SPECIAL)) continue;
        if (e->flags & TF_TOK_BYTE) {
            ok = tf_bytes_append(&run, &e->byte_value, 1);
            continue;
        }
        ok = flush_byte_run(&run, &own) &&
             tf_bytes_append(&own, t->blob + e->piece_off, e->piece_len);
    }
    if (ok) ok = flush_byte_run(&run, &own);
    if (ok && t->decoder.byte_level) ok = repair_lossy(&own);
    if (ok && t->decoder.strip_char) strip_ends(&t->decoder, &own, 0);
    if (ok) ok = tf_bytes_append(out, own.data, own.len);
    free(run.data);
    free(own.data);
    return ok ? TINFER_OK : oom();
}

/* ---- streaming ---- */
void tf_detok_state_init(const tinfer_tokenizer *t, tf_detok_state *state) {
    memset(state, 0, sizeof *state);
    state->strip_left = t->decoder.strip_char ? t->decoder.strip_start : 0;
}

static bool emit(const tinfer_tokenizer *t, tf_detok_state *st, const char *s, size_t n,
                 tf_bytes *out) {
    size_t start = out->len;
    if (!tf_bytes_append(out, s, n)) return false;
    if (st->strip_left && out->len > start) {
        char c = (char)t->decoder.strip_char;
        size_t cut = 0;
        while (cut < st->strip_left && start + cut < out->len && out->data[start + cut] == c) cut++;
        memmove(out->data + start, out->data + start + cut, out->len - start - cut);
        out->len -= cut;
        st->strip_left = out->len > start ? 0 : st->strip_left - cut;
    }
    return true;
}

/* Emits the complete characters of pending + bytes, keeps a trailing incomplete one. Invalid
 * sequences become U+FFFD: one per byte inside a ByteFallback run, one per maximal subpart for
 * byte-level text — the same counts as the whole-text decode. */
static bool feed(const tinfer_tokenizer *t, tf_detok_state *st, const uint8_t *bytes, size_t n,
                 bool per_byte, tf_bytes *out) {
    uint8_t stack[256];
    size_t total = st->n_pending + n;
    uint8_t *buf = total <= sizeof stack ? stack : malloc(total);
    if (!buf) return false;
    memcpy(buf, st->pending, st->n_pending);
    memcpy(buf + st->n_pending, bytes, n);
    st->n_pending = 0;
    size_t i = 0, done = 0, bad;
    bool truncated, ok = true;
    while (i < total && ok) {
        size_t len = tf_utf8_check(buf + i, total - i, &bad, &truncated);
        if (len) {
            i += len;
            continue;
        }
        ok = emit(t, st, (const char *)buf + done, i - done, out);
        if (truncated) {
            memcpy(st->pending, buf + i, total - i);
            st->n_pending = total - i;
            done = i = total;
            break;
        }
        for (size_t k = 0; k < (per_byte ? bad : 1) && ok; k++)
            ok = emit(t, st, REPLACEMENT, 3, out);
        done = i = i + bad;
    }
    if (ok && i > done) ok = emit(t, st, (const char *)buf + done, i - done, out);
    if (buf != stack) free(buf);
    return ok;
}

static bool flush_pending(const tinfer_tokenizer *t, tf_detok_state *st, bool per_byte,
                          tf_bytes *out) {
    size_t n = per_byte ? st->n_pending : (st->n_pending ? 1 : 0);
    bool ok = true;
    for (size_t k = 0; k < n && ok; k++) ok = emit(t, st, REPLACEMENT, 3, out);
    st->n_pending = 0;
    return ok;
}

tinfer_status tf_detok_push(const tinfer_tokenizer *t, tf_detok_state *st, int32_t id,
                            bool skip_special, tf_bytes *out) {
    if (id < 0 || (size_t)id >= t->n_vocab || !(t->tokens[id].flags & TF_TOK_PRESENT))
        return tf_error(TINFER_E_INVALID_ARG, "detokenize: id %d is not in the vocabulary",
                        (int)id);
    const tf_tok_entry *e = &t->tokens[id];
    if (skip_special && (e->flags & TF_TOK_SPECIAL)) return TINFER_OK;
    bool ok;
    if (e->flags & TF_TOK_BYTE) {
        ok = feed(t, st, &e->byte_value, 1, true, out);
    } else if (t->decoder.byte_level) {
        ok = feed(t, st, (const uint8_t *)t->blob + e->piece_off, e->piece_len, false, out);
    } else { /* a text piece ends a byte run: what the run left incomplete is invalid */
        ok = flush_pending(t, st, true, out) &&
             emit(t, st, t->blob + e->piece_off, e->piece_len, out);
    }
    return ok ? TINFER_OK : oom();
}

tinfer_status tf_detok_flush(const tinfer_tokenizer *t, tf_detok_state *st, tf_bytes *out) {
    bool ok = flush_pending(t, st, !t->decoder.byte_level, out);
    tf_detok_state_init(t, st);
    return ok ? TINFER_OK : oom();
}
