/* Token ids → text, as Hugging Face's decoders do it, whole or one token at a time. */
#ifndef TINFER_TOKENIZER_DETOKENIZE_H
#define TINFER_TOKENIZER_DETOKENIZE_H

#include "tokenizer/tok_buf.h"
#include "tokenizer/tok_struct.h"

/* Appends the text of tokens[0..n) to out. E_INVALID_ARG for an id out of range. */
tinfer_status tf_detokenize(const tinfer_tokenizer *t, const int32_t *tokens, size_t n,
                            bool skip_special, tf_bytes *out);

/* The streaming state: bytes of a character not yet complete, and the leading strip left. */
typedef struct tf_detok_state {
    uint8_t pending[4];
    size_t n_pending;
    size_t strip_left;
} tf_detok_state;

void tf_detok_state_init(const tinfer_tokenizer *t, tf_detok_state *state);
/* Appends the text token id makes certain. */
tinfer_status tf_detok_push(const tinfer_tokenizer *t, tf_detok_state *state, int32_t id,
                            bool skip_special, tf_bytes *out);
/* Appends what is held back (U+FFFD for an incomplete character) and resets the state. */
tinfer_status tf_detok_flush(const tinfer_tokenizer *t, tf_detok_state *state, tf_bytes *out);

#endif
