/* Text → token ids: the whole pipeline of a Hugging Face tokenizer for one sequence. */
#ifndef TINFER_TOKENIZER_ENCODE_H
#define TINFER_TOKENIZER_ENCODE_H

#include "tokenizer/tok_buf.h"
#include "tokenizer/tok_struct.h"

/* Appends the ids of text[0..len) (any bytes: invalid UTF-8 is replaced as Python's
 * errors="replace" does) to out. flags: TINFER_TOKENIZE_*. */
tinfer_status tf_encode(const tinfer_tokenizer *t, const char *text, size_t len, uint32_t flags,
                        tf_ids *out);

#endif
