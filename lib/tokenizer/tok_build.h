/* Building a tokenizer: the steps shared by the tokenizer.json and GGUF loaders. A loader
 * allocates, sets tokens, merges, added tokens and pipeline steps, then calls tf_tok_finish,
 * which derives every lookup table the encoder and decoder use. */
#ifndef TINFER_TOKENIZER_TOK_BUILD_H
#define TINFER_TOKENIZER_TOK_BUILD_H

#include "tokenizer/tok_struct.h"

/* A tokenizer with n_vocab empty ids (room for the text map of n_text_keys strings). */
tinfer_status tf_tok_create(size_t n_vocab, size_t n_text_keys, tinfer_tokenizer **out);
void tf_tok_destroy(tinfer_tokenizer *t);

/* Gives id its text. A text already held by a lower id keeps mapping to that id (the model's
 * vocabulary is set before added tokens, so BPE lookups see model ids). E_FORMAT when the id is
 * out of range or already set with another text. */
tinfer_status tf_tok_set_token(tinfer_tokenizer *t, int32_t id, const char *text, size_t len);
/* Marks id as an added token with these matching options (the text must be set). */
tinfer_status tf_tok_add_added(tinfer_tokenizer *t, const tf_added_token *added);
/* Records merge left+right → merged with this rank (a later rank for the same pair wins). */
tinfer_status tf_tok_add_merge(tinfer_tokenizer *t, int32_t left, int32_t right, uint32_t rank);
/* The id of a text, or -1. */
int32_t tf_tok_find(const tinfer_tokenizer *t, const char *text, size_t len);

/* Copies len bytes into a NUL-terminated heap string; NULL when out of memory. */
char *tf_tok_strdup(const char *text, size_t len);

/* Derives pieces (token text with the decoder's Replace steps reps[0..n_reps) applied, or the
 * byte-level bytes), byte tables, the added-token trie and the end-of-generation set. */
tinfer_status tf_tok_finish(tinfer_tokenizer *t, const tf_replace_pair *reps, size_t n_reps);

/* The GPT-2 byte ↔ character map: the character standing for byte b, and the byte of a character
 * (-1 for characters outside the map). */
uint32_t tf_byte_level_char(uint8_t b);
int tf_byte_level_byte(uint32_t cp);

#endif
