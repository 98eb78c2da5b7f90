/* tokenizer_config.json: the special tokens' texts (bos/eos/pad/unk, each a string or an
 * AddedToken object) and the chat template (a string, or a list of named templates). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/tok_build.h"
#include "tokenizer/tok_json.h"

/* The text of a special token entry: "text" or {"content": "text"}. */
static const char *token_text(const json_t *root, const char *key, size_t *len) {
    const json_t *v = json_object_get(root, key);
    if (json_is_string(v)) {
        *len = json_string_length(v);
        return json_string_value(v);
    }
    return tf_json_str(v, "content", len);
}

static tinfer_status special(tinfer_tokenizer *t, const json_t *root, const char *key, int32_t *id,
                             char **text_out) {
    size_t len;
    const char *text = token_text(root, key, &len);
    if (!text) return TINFER_OK;
    int32_t found = tf_tok_find(t, text, len);
    if (found < 0)
        return tf_error(TINFER_E_FORMAT, "tokenizer_config.json: %s '%s' is not a token", key, text);
    *id = found;
    if (text_out && !(*text_out = tf_tok_strdup(text, len)))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    return TINFER_OK;
}

static tinfer_status chat_template(tinfer_tokenizer *t, const json_t *root) {
    const json_t *v = json_object_get(root, "chat_template");
    const char *text = NULL;
    size_t len = 0;
    if (json_is_string(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_array(v)) { /* [{"name": "default", "template": "…"}, …] */
        for (size_t i = 0; i < json_array_size(v) && !text; i++) {
            const json_t *item = json_array_get(v, i);
            const char *name = tf_json_str(item, "name", NULL);
            if (name && strcmp(name, "default") == 0) text = tf_json_str(item, "template", &len);
        }
    } else if (v && !json_is_null(v)) {
        return tf_error(TINFER_E_FORMAT, "tokenizer_config.json: chat_template is not a string or a list");
    }
    if (text && !(t->chat_template = tf_tok_strdup(text, len)))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    return TINFER_OK;
}

tinfer_status tf_json_config(tinfer_tokenizer *t, const char *text, size_t len) {
    json_error_t err;
    /* model_max_length can exceed int64 (1e30): read numbers as doubles, none is used as an id */
    json_t *root = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &err);
    if (!root)
        return tf_error(TINFER_E_FORMAT, "tokenizer_config.json: line %d column %d: %s", err.line,
                        err.column, err.text);
    tinfer_status st = json_is_object(root) ? TINFER_OK
                                            : tf_error(TINFER_E_FORMAT, "tokenizer_config.json: not an object");
    if (st == TINFER_OK) st = special(t, root, "bos_token", &t->bos_id, &t->bos_text);
    if (st == TINFER_OK) st = special(t, root, "eos_token", &t->eos_id, &t->eos_text);
    if (st == TINFER_OK) st = special(t, root, "pad_token", &t->pad_id, NULL);
    if (st == TINFER_OK) st = special(t, root, "unk_token", &t->unk_special_id, NULL);
    if (st == TINFER_OK) st = chat_template(t, root);
    json_decref(root);
    return st;
}
