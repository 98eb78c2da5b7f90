/* Added tokens (special tokens and the like): found in the text before normalization and BPE, and
 * never split, with Hugging Face's rules: leftmost-longest matching, lstrip/rstrip/single_word. */
#ifndef TINFER_TOKENIZER_ADDED_H
#define TINFER_TOKENIZER_ADDED_H

#include <stdbool.h>
#include <stddef.h>

#include "tokenizer/tok_struct.h"

/* Builds t->trie from t->added. */
tinfer_status tf_added_trie_build(tinfer_tokenizer *t);
void tf_added_trie_free(tf_added_trie *trie);

/* Receives the pieces of a split in order: text between matches (token < 0) or a match. */
typedef tinfer_status (*tf_segment_fn)(void *ctx, const char *text, size_t len, int32_t token);

/* Splits text[0..len) on the added tokens whose `normalized` flag equals normalized_pass. Special
 * tokens are matched only when parse_special is set (as Hugging Face's encode_special_tokens
 * turns them off: the match is then left as text). */
tinfer_status tf_added_split(const tinfer_tokenizer *t, const char *text, size_t len,
                             bool parse_special, bool normalized_pass, tf_segment_fn fn, void *ctx);

/* Unicode White_Space (Rust's char::is_whitespace). */
bool tf_is_whitespace(uint32_t cp);

#endif
