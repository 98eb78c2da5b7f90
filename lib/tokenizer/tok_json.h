/* tokenizer.json → tokenizer: the parts shared by the files that read it. */
#ifndef TINFER_TOKENIZER_TOK_JSON_H
#define TINFER_TOKENIZER_TOK_JSON_H

#include <jansson.h>

#include "tokenizer/tok_struct.h"

/* Decoder Replace steps found while reading the decoder (folded into pieces at finish). */
typedef struct tf_json_replaces {
    tf_replace_pair *pairs;
    size_t n;
} tf_json_replaces;

/* The "normalizer", "pre_tokenizer", "post_processor" and "decoder" sections (each may be null).
 * E_UNSUPPORTED names a type we do not implement; E_FORMAT a malformed field. */
tinfer_status tf_json_normalizer(tinfer_tokenizer *t, const json_t *node);
tinfer_status tf_json_pre_tokenizer(tinfer_tokenizer *t, const json_t *node);
tinfer_status tf_json_post_processor(tinfer_tokenizer *t, const json_t *node);
tinfer_status tf_json_decoder(tinfer_tokenizer *t, const json_t *node, tf_json_replaces *reps);
void tf_json_replaces_free(tf_json_replaces *reps);

/* tokenizer_config.json: special-token texts and the chat template. */
tinfer_status tf_json_config(tinfer_tokenizer *t, const char *text, size_t len);

/* A string member, or NULL when absent or not a string. */
const char *tf_json_str(const json_t *obj, const char *key, size_t *len);

#endif
