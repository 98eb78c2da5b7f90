/* Normalizers of tokenizer.json that our tokenizers use: NFC, Replace (a literal), Prepend, in a
 * Sequence. Applied to each stretch of text between added tokens, as Hugging Face does. */
#ifndef TINFER_TOKENIZER_NORMALIZE_H
#define TINFER_TOKENIZER_NORMALIZE_H

#include "tokenizer/tok_buf.h"
#include "tokenizer/tok_struct.h"

/* Writes the normalized text[0..len) (valid UTF-8) into out (replacing its content); tmp is
 * scratch. E_NOMEM, or E_INVALID_ARG if utf8proc rejects the text. */
tinfer_status tf_normalize(const tinfer_tokenizer *t, const char *text, size_t len, tf_bytes *out,
                           tf_bytes *tmp);

#endif
