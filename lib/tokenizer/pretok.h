/* Pre-tokenizers: Split by a regex or a literal with Hugging Face's five behaviours, applied in
 * sequence, each step to every piece the previous one made. Regexes run on PCRE2 (UTF + UCP,
 * JIT); Oniguruma's \s (Unicode White_Space, which Hugging Face's regex engine uses) is rewritten
 * into an explicit class because PCRE2's \s leaves out U+0085. */
#ifndef TINFER_TOKENIZER_PRETOK_H
#define TINFER_TOKENIZER_PRETOK_H

#include "tokenizer/tok_buf.h"
#include "tokenizer/tok_struct.h"

/* Compiles a tokenizer.json regex for splitting; E_FORMAT with PCRE2's message when invalid. */
tinfer_status tf_regex_compile(const char *pattern, size_t len, pcre2_code **out);

/* Per-call matching state. */
typedef struct tf_pretok_scratch {
    pcre2_match_data *match;
    pcre2_match_context *context;
    pcre2_jit_stack *jit_stack;
    tf_spans marks; /* (offset, length) with the match flag in the top bit of length */
    tf_spans tmp;
} tf_pretok_scratch;

/* Splits s[0..len) into out (replacing its content). */
tinfer_status tf_pretokenize(const tinfer_tokenizer *t, const char *s, size_t len, tf_spans *out,
                             tf_pretok_scratch *scratch);
void tf_pretok_scratch_free(tf_pretok_scratch *scratch);

#endif
