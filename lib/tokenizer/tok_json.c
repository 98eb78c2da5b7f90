/* tokenizer.json (+ tokenizer_config.json) → tokenizer: the BPE model, its vocabulary and merges,
 * and the added tokens. Every field is checked: ids in range, merges naming known tokens, sizes
 * bounded, types as expected; a failure names the field. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/tok_build.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tokenizer.h"

/* Larger than any published vocabulary (Gemma 3: 262,145) by far; a bigger id is corrupt. */
enum { MAX_VOCAB = 1 << 24 };
/* The id space sizes the token table, so it must be backed by tokens the file holds: ids may
 * leave holes (they decode to nothing), but no more holes than tokens, plus a little slack. One
 * id of 2^24 - 1 in a 40-byte file would otherwise allocate a 16M-entry table. */
enum { ID_SPACE_SLACK = 1024 };

static tinfer_status check_model_options(const json_t *model) {
    const char *type = tf_json_str(model, "type", NULL);
    if (!type) return tf_error(TINFER_E_FORMAT, "tokenizer.json: model.type is missing");
    if (strcmp(type, "BPE") != 0)
        return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: model type '%s' is not supported (only BPE)", type);
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(model, affixes[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
            return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: model.%s is not supported", affixes[i]);
    }
    const json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout) && json_number_value(dropout) != 0.0)
        return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: BPE dropout is not supported");
    return TINFER_OK;
}

/* The id space: one past the largest id of the vocabulary and the added tokens. */
static tinfer_status count_ids(const json_t *vocab, const json_t *added, size_t *n_vocab) {
    json_int_t max_id = -1;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)vocab, key, value) {
        if (!json_is_integer(value) || json_integer_value(value) < 0 ||
            json_integer_value(value) >= MAX_VOCAB)
            return tf_error(TINFER_E_FORMAT, "tokenizer.json: model.vocab['%s'] is not an id in [0, %d)", key, MAX_VOCAB);
        if (json_integer_value(value) > max_id) max_id = json_integer_value(value);
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *id = json_object_get(json_array_get(added, i), "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= MAX_VOCAB)
            return tf_error(TINFER_E_FORMAT, "tokenizer.json: added_tokens[%zu].id is not an id in [0, %d)", i, MAX_VOCAB);
        if (json_integer_value(id) > max_id) max_id = json_integer_value(id);
    }
    if (max_id < 0) return tf_error(TINFER_E_FORMAT, "tokenizer.json: the vocabulary is empty");
    const size_t n_tokens = json_object_size(vocab) + json_array_size(added);
    if ((size_t)max_id >= 2 * n_tokens + ID_SPACE_SLACK)
        return tf_error(TINFER_E_FORMAT,
                        "tokenizer.json: the largest id %lld is far past the %zu tokens the file "
                        "lists (ids may leave at most as many holes as there are tokens, plus %d)",
                        (long long)max_id, n_tokens, ID_SPACE_SLACK);
    *n_vocab = (size_t)max_id + 1;
    return TINFER_OK;
}

static tinfer_status read_vocab(tinfer_tokenizer *t, const json_t *vocab) {
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)vocab, key, value) {
        tinfer_status st = tf_tok_set_token(t, (int32_t)json_integer_value(value), key, strlen(key));
        if (st != TINFER_OK) return st;
    }
    return TINFER_OK;
}

/* One merge: "left right" (the older format) or ["left", "right"]. */
static tinfer_status merge_parts(const json_t *item, size_t index, const char **left,
                                 size_t *left_len, const char **right, size_t *right_len) {
    if (json_is_array(item) && json_array_size(item) == 2 &&
        json_is_string(json_array_get(item, 0)) && json_is_string(json_array_get(item, 1))) {
        *left = json_string_value(json_array_get(item, 0));
        *left_len = json_string_length(json_array_get(item, 0));
        *right = json_string_value(json_array_get(item, 1));
        *right_len = json_string_length(json_array_get(item, 1));
        return TINFER_OK;
    }
    if (json_is_string(item)) {
        const char *s = json_string_value(item);
        size_t len = json_string_length(item);
        const char *space = memchr(s, ' ', len);
        if (space && !memchr(space + 1, ' ', len - (size_t)(space + 1 - s))) {
            *left = s;
            *left_len = (size_t)(space - s);
            *right = space + 1;
            *right_len = len - *left_len - 1;
            return TINFER_OK;
        }
    }
    return tf_error(TINFER_E_FORMAT, "tokenizer.json: model.merges[%zu] is not a pair of tokens", index);
}

static tinfer_status read_merges(tinfer_tokenizer *t, const json_t *merges) {
    size_t n = json_array_size(merges);
    if (n >= UINT32_MAX) return tf_error(TINFER_E_FORMAT, "tokenizer.json: too many merges");
    if (!tf_u64_map_init(&t->merges, n))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory for %zu merges", n);
    for (size_t i = 0; i < n; i++) {
        const char *l = NULL, *r = NULL;
        size_t l_len = 0, r_len = 0;
        tinfer_status st = merge_parts(json_array_get(merges, i), i, &l, &l_len, &r, &r_len);
        if (st != TINFER_OK) return st;
        int32_t left = tf_tok_find(t, l, l_len), right = tf_tok_find(t, r, r_len);
        if (left < 0 || right < 0)
            return tf_error(TINFER_E_FORMAT, "tokenizer.json: model.merges[%zu] names unknown token '%.*s'",
                            i, left < 0 ? (int)l_len : (int)r_len, left < 0 ? l : r);
        if ((st = tf_tok_add_merge(t, left, right, (uint32_t)i)) != TINFER_OK) return st;
    }
    return TINFER_OK;
}

static bool flag(const json_t *obj, const char *key) { return json_is_true(json_object_get(obj, key)); }

static tinfer_status read_added(tinfer_tokenizer *t, const json_t *added) {
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *item = json_array_get(added, i);
        size_t len;
        const char *content = tf_json_str(item, "content", &len);
        if (!content || len == 0)
            return tf_error(TINFER_E_FORMAT, "tokenizer.json: added_tokens[%zu].content is not a non-empty string", i);
        int32_t id = (int32_t)json_integer_value(json_object_get(item, "id"));
        tinfer_status st = tf_tok_set_token(t, id, content, len);
        if (st != TINFER_OK) return st;
        tf_added_token a = {id, flag(item, "lstrip"), flag(item, "rstrip"), flag(item, "single_word"),
                            flag(item, "normalized"), flag(item, "special")};
        if ((st = tf_tok_add_added(t, &a)) != TINFER_OK) return st;
    }
    return TINFER_OK;
}

static tinfer_status read_model(tinfer_tokenizer *t, const json_t *model) {
    t->byte_fallback = flag(model, "byte_fallback");
    t->ignore_merges = flag(model, "ignore_merges");
    t->fuse_unk = flag(model, "fuse_unk");
    tinfer_status st = read_vocab(t, json_object_get(model, "vocab"));
    if (st == TINFER_OK) st = read_merges(t, json_object_get(model, "merges"));
    if (st != TINFER_OK) return st;
    size_t len;
    const char *unk = tf_json_str(model, "unk_token", &len);
    if (unk) {
        t->unk_id = tf_tok_find(t, unk, len);
        if (t->unk_id < 0)
            return tf_error(TINFER_E_FORMAT, "tokenizer.json: model.unk_token '%s' is not in the vocabulary", unk);
    }
    return TINFER_OK;
}

static tinfer_status check_sections(const json_t *root, const json_t *model) {
    if (!json_is_object(root)) return tf_error(TINFER_E_FORMAT, "tokenizer.json: not a JSON object");
    if (!json_is_object(model)) return tf_error(TINFER_E_FORMAT, "tokenizer.json: model is missing or not an object");
    if (!json_is_object(json_object_get(model, "vocab")))
        return tf_error(TINFER_E_FORMAT, "tokenizer.json: model.vocab is not an object");
    if (!json_is_array(json_object_get(model, "merges")))
        return tf_error(TINFER_E_FORMAT, "tokenizer.json: model.merges is not an array");
    const json_t *added = json_object_get(root, "added_tokens");
    if (added && !json_is_array(added) && !json_is_null(added))
        return tf_error(TINFER_E_FORMAT, "tokenizer.json: added_tokens is not an array");
    return check_model_options(model);
}

/* Special ids the files do not name: BOS from the post-processor, EOS by the usual names. */
static void default_specials(tinfer_tokenizer *t) {
    if (t->bos_id < 0 && t->n_prefix > 0) t->bos_id = t->prefix_ids[0];
    if (t->unk_special_id < 0) t->unk_special_id = t->unk_id;
    static const char *const eos_names[] = {"</s>", "<eos>", "<|end_of_text|>", "<|endoftext|>"};
    for (size_t i = 0; t->eos_id < 0 && i < sizeof eos_names / sizeof eos_names[0]; i++)
        t->eos_id = tf_tok_find(t, eos_names[i], strlen(eos_names[i]));
}

static tinfer_status build(const json_t *root, const char *config, size_t config_len,
                           tinfer_tokenizer **out) {
    const json_t *model = json_object_get(root, "model");
    tinfer_status st = check_sections(root, model);
    if (st != TINFER_OK) return st;
    const json_t *vocab = json_object_get(model, "vocab"), *added = json_object_get(root, "added_tokens");
    size_t n_vocab = 0;
    if ((st = count_ids(vocab, added, &n_vocab)) != TINFER_OK) return st;
    tinfer_tokenizer *t;
    if ((st = tf_tok_create(n_vocab, json_object_size(vocab) + json_array_size(added), &t)) != TINFER_OK)
        return st;
    tf_json_replaces reps = {0};
    st = read_model(t, model);
    if (st == TINFER_OK) st = read_added(t, added);
    if (st == TINFER_OK) st = tf_json_normalizer(t, json_object_get(root, "normalizer"));
    if (st == TINFER_OK) st = tf_json_pre_tokenizer(t, json_object_get(root, "pre_tokenizer"));
    if (st == TINFER_OK) st = tf_json_post_processor(t, json_object_get(root, "post_processor"));
    if (st == TINFER_OK) st = tf_json_decoder(t, json_object_get(root, "decoder"), &reps);
    if (st == TINFER_OK && config) st = tf_json_config(t, config, config_len);
    if (st == TINFER_OK) {
        default_specials(t);
        st = tf_tok_finish(t, reps.pairs, reps.n);
    }
    tf_json_replaces_free(&reps);
    if (st != TINFER_OK) {
        tf_tok_destroy(t);
        return st;
    }
    *out = t;
    return TINFER_OK;
}

tinfer_status tf_tokenizer_from_hf_json(const char *json_text, size_t json_len,
                                        const char *config_text, size_t config_len,
                                        tinfer_tokenizer **out) {
    json_error_t err;
    json_t *root = json_loadb(json_text, json_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!root)
        return tf_error(TINFER_E_FORMAT, "tokenizer.json: line %d column %d: %s", err.line,
                        err.column, err.text);
    tinfer_status st = build(root, config_text, config_len, out);
    json_decref(root);
    return st;
}
