/* Detokenizing (see detokenize.h). Each token's piece was computed at load (decoder Replace steps,
 * or the byte-level map), so detokenizing joins pieces and then applies the two joined-text rules
 * of the reference: a ByteFallback run of <0xXX> tokens that is not valid UTF-8 becomes one U+FFFD
 * per byte, and the ByteLevel decoder's output is repaired lossily (one U+FFFD per maximal invalid
 * subsequence). A Strip decoder then trims the ends. */
#include "tokenizer/detokenize.h"

#include "core/checked.h"
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
static void state_reset(const tinfer_tokenizer *t, tf_detok_state *state) {
    tf_bytes *run_bytes = state->run_bytes;
    memset(state, 0, sizeof *state);
    state->strip_left = t->decoder.strip_char ? t->decoder.strip_start : 0;
    state->run_bytes = run_bytes;
}

bool tf_detok_state_init(const tinfer_tokenizer *t, tf_detok_state *state) {
    state->run_bytes = calloc(1, sizeof *state->run_bytes);
    state_reset(t, state);
    return state->run_bytes != NULL;
}

void tf_detok_state_free(tf_detok_state *state) {
    if (state->run_bytes) free(state->run_bytes->data);
    free(state->run_bytes);
    state->run_bytes = NULL;
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

static bool emit_replacements(const tinfer_tokenizer *t, tf_detok_state *st, size_t n,
                              tf_bytes *out) {
    bool ok = true;
    for (size_t k = 0; k < n && ok; k++) ok = emit(t, st, REPLACEMENT, 3, out);
    return ok;
}

/* Byte-level text: emits the complete characters of pending + bytes and keeps a trailing
 * incomplete one; each maximal invalid subpart becomes one U+FFFD, as the whole-text repair. */
static bool feed_byte_level(const tinfer_tokenizer *t, tf_detok_state *st, const uint8_t *bytes,
                            size_t n, tf_bytes *out) {
    uint8_t stack[256];
    size_t total;
    if (!tinfer_add_size(st->n_pending, n, &total)) return false;
    uint8_t *buf = total <= sizeof stack ? stack : malloc(total);
    if (!buf) return false;
    if (st->n_pending) memcpy(buf, st->pending, st->n_pending);
    if (n) memcpy(buf + st->n_pending, bytes, n);
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
        ok = ok && emit_replacements(t, st, 1, out);
        done = i = i + bad;
    }
    if (ok && i > done) ok = emit(t, st, (const char *)buf + done, i - done, out);
    if (buf != stack) free(buf);
    return ok;
}

/* Adds one byte to the ByteFallback run. While the run is valid so far its bytes are held; once
 * it holds an invalid sequence the whole run is U+FFFD, so everything held and every later byte
 * of the run is written at once. */
static bool run_push(const tinfer_tokenizer *t, tf_detok_state *st, uint8_t byte, tf_bytes *out) {
    if (st->run_invalid) {
        st->run_len++;
        return emit_replacements(t, st, 1, out);
    }
    tf_bytes *held = st->run_bytes;
    if (!tf_grow((void **)&held->data, &held->cap, st->run_len, 1, 1)) return false;
    held->data[st->run_len++] = (char)byte;
    const uint8_t *s = (const uint8_t *)held->data;
    size_t bad;
    bool truncated;
    while (st->run_checked < st->run_len) {
        size_t len =
            tf_utf8_check(s + st->run_checked, st->run_len - st->run_checked, &bad, &truncated);
        if (len) {
            st->run_checked += len;
        } else if (truncated) {
            return true;
        } else {
            st->run_invalid = true;
            return emit_replacements(t, st, st->run_len, out);
        }
    }
    return true;
}

/* Ends the ByteFallback run: its bytes when valid as a whole, else one U+FFFD per byte. */
static bool run_end(const tinfer_tokenizer *t, tf_detok_state *st, tf_bytes *out) {
    bool ok = true;
    if (st->run_invalid) {
        /* already written */
    } else if (st->run_checked == st->run_len) {
        ok = emit(t, st, st->run_len ? st->run_bytes->data : "", st->run_len, out);
    } else {
        ok = emit_replacements(t, st, st->run_len, out);
    }
    st->run_len = st->run_checked = 0;
    st->run_invalid = false;
    return ok;
}

tinfer_status tf_detok_push(const tinfer_tokenizer *t, tf_detok_state *st, int32_t id,
                            bool skip_special, tf_bytes *out) {
    if (id < 0 || (size_t)id >= t->n_vocab || !(t->tokens[id].flags & TF_TOK_PRESENT))
        return tf_error(TINFER_E_INVALID_ARG, "detokenize: id %d is not in the vocabulary",
                        (int)id);
    if (!st->run_bytes) return oom();
    const tf_tok_entry *e = &t->tokens[id];
    if (skip_special && (e->flags & TF_TOK_SPECIAL)) return TINFER_OK;
    bool ok;
    if (e->flags & TF_TOK_BYTE) {
        ok = run_push(t, st, e->byte_value, out);
    } else if (t->decoder.byte_level) {
        ok = feed_byte_level(t, st, (const uint8_t *)t->blob + e->piece_off, e->piece_len, out);
    } else { /* a text piece ends a byte run */
        ok = run_end(t, st, out) && emit(t, st, t->blob + e->piece_off, e->piece_len, out);
    }
    return ok ? TINFER_OK : oom();
}

tinfer_status tf_detok_flush(const tinfer_tokenizer *t, tf_detok_state *st, tf_bytes *out) {
    bool ok = run_end(t, st, out) && emit_replacements(t, st, st->n_pending ? 1 : 0, out);
    state_reset(t, st);
    return ok ? TINFER_OK : oom();
}
