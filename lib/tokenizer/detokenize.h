/* Token ids → text, as Hugging Face's decoders do it, whole or one token at a time. */
#ifndef TINFER_TOKENIZER_DETOKENIZE_H
#define TINFER_TOKENIZER_DETOKENIZE_H

#include "tokenizer/tok_buf.h"
#include "tokenizer/tok_struct.h"

/* Appends the text of tokens[0..n) to out. E_INVALID_ARG for an id out of range. */
tinfer_status tf_detokenize(const tinfer_tokenizer *t, const int32_t *tokens, size_t n,
                            bool skip_special, tf_bytes *out);

/* The streaming state: bytes of a byte-level character not yet complete, the leading strip left,
 * and the current ByteFallback run of <0xXX> tokens. Hugging Face turns a run that is not valid
 * UTF-8 as a whole into one U+FFFD per byte, so a run's bytes are held until the run ends or
 * turns out invalid. They live in run_bytes, one heap buffer shared by every copy of the state:
 * bytes are only written past run_len, so a copy made before a push stays intact when the push
 * is abandoned (tinfer_detok_stream_push keeps the old state when the caller's buffer is small). */
typedef struct tf_detok_state {
    uint8_t pending[4];
    size_t n_pending;
    size_t strip_left;
    size_t run_len;     /* bytes in the current run */
    size_t run_checked; /* run bytes that form complete valid characters */
    bool run_invalid;   /* the run holds an invalid sequence: every byte of it is U+FFFD */
    tf_bytes *run_bytes;
} tf_detok_state;

/* Sets up a state (allocates run_bytes); false when out of memory. */
bool tf_detok_state_init(const tinfer_tokenizer *t, tf_detok_state *state);
/* Releases run_bytes; the state (and every copy of it) is dead afterwards. */
void tf_detok_state_free(tf_detok_state *state);
/* Appends the text token id makes certain. */
tinfer_status tf_detok_push(const tinfer_tokenizer *t, tf_detok_state *state, int32_t id,
                            bool skip_special, tf_bytes *out);
/* Appends what is held back (U+FFFD for an incomplete character, a held ByteFallback run) and
 * resets the state for a new stream (keeping run_bytes). */
tinfer_status tf_detok_flush(const tinfer_tokenizer *t, tf_detok_state *state, tf_bytes *out);

#endif
