/* tokenizer.json's normalizer, pre_tokenizer, post_processor and decoder sections (see
 * tok_json.h). Only the component types real model files use are accepted; anything else is a
 * clear E_UNSUPPORTED rather than a silent difference from the reference. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tok_build.h"
#include "tokenizer/tok_json.h"

/* Published tokenizers use at most a handful of steps per section (Llama 3's pre-tokenizer: 2,
 * Gemma's decoder: 4). Each step runs on every tokenize or detokenize call, and a pre-tokenizer
 * step compiles a regex: a file listing 200,000 of them would make loading and every call slow and
 * large, so a section's steps (and the post-processor's special ids) are capped. */
enum { MAX_SECTION_STEPS = 256 };

static tinfer_status too_many_steps(const char *section) {
    return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: %s has more than %d steps", section,
                    MAX_SECTION_STEPS);
}

/* GPT-2's pattern, which ByteLevel(use_regex=true) applies. */
static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const char *tf_json_str(const json_t *obj, const char *key, size_t *len) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) return NULL;
    if (len) *len = json_string_length(v);
    return json_string_value(v);
}

static const char *type_of(const json_t *node) {
    const char *type = tf_json_str(node, "type", NULL);
    return type ? type : "";
}

static tinfer_status unsupported(const char *section, const char *type) {
    return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: %s type '%s' is not supported", section,
                    type);
}

/* ---- normalizer ---- */
static tinfer_status add_norm(tinfer_tokenizer *t, tf_norm_kind kind, const char *pattern,
                              size_t pattern_len, const char *content, size_t content_len) {
    if (t->n_norm >= MAX_SECTION_STEPS) return too_many_steps("the normalizer");
    tf_norm_step *grown = realloc(t->norm, (t->n_norm + 1) * sizeof *grown);
    if (!grown) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    t->norm = grown;
    tf_norm_step *s = &t->norm[t->n_norm++];
    *s = (tf_norm_step){kind, NULL, pattern_len, NULL, content_len};
    if (pattern && !(s->pattern = tf_tok_strdup(pattern, pattern_len)))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    if (content && !(s->content = tf_tok_strdup(content, content_len)))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    return TINFER_OK;
}

tinfer_status tf_json_normalizer(tinfer_tokenizer *t, const json_t *node) {
    if (!node || json_is_null(node)) return TINFER_OK;
    if (!json_is_object(node)) return tf_error(TINFER_E_FORMAT, "tokenizer.json: normalizer is not an object");
    const char *type = type_of(node);
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(node, "normalizers");
        if (!json_is_array(list))
            return tf_error(TINFER_E_FORMAT, "tokenizer.json: normalizer.normalizers is not an array");
        if (json_array_size(list) > MAX_SECTION_STEPS) return too_many_steps("the normalizer");
        for (size_t i = 0; i < json_array_size(list); i++) {
            tinfer_status st = tf_json_normalizer(t, json_array_get(list, i));
            if (st != TINFER_OK) return st;
        }
        return TINFER_OK;
    }
    if (strcmp(type, "NFC") == 0) return add_norm(t, TF_NORM_NFC, NULL, 0, NULL, 0);
    if (strcmp(type, "Prepend") == 0) {
        size_t len;
        const char *prefix = tf_json_str(node, "prepend", &len);
        if (!prefix) return tf_error(TINFER_E_FORMAT, "tokenizer.json: Prepend.prepend is not a string");
        return add_norm(t, TF_NORM_PREPEND, NULL, 0, prefix, len);
    }
    if (strcmp(type, "Replace") == 0) {
        size_t pattern_len = 0, content_len = 0;
        const char *pattern = tf_json_str(json_object_get(node, "pattern"), "String", &pattern_len);
        const char *content = tf_json_str(node, "content", &content_len);
        if (!pattern || !content || pattern_len == 0)
            return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: Replace normalizer needs a "
                            "non-empty String pattern and a content string (Regex patterns are not supported)");
        return add_norm(t, TF_NORM_REPLACE, pattern, pattern_len, content, content_len);
    }
    return unsupported("normalizer", type);
}

/* ---- pre-tokenizer ---- */
static tinfer_status parse_behavior(const json_t *node, tf_split_behavior *out) {
    static const struct { const char *name; tf_split_behavior value; } names[] = {
        {"Isolated", TF_SPLIT_ISOLATED}, {"Removed", TF_SPLIT_REMOVED},
        {"MergedWithPrevious", TF_SPLIT_MERGED_WITH_PREVIOUS},
        {"MergedWithNext", TF_SPLIT_MERGED_WITH_NEXT}, {"Contiguous", TF_SPLIT_CONTIGUOUS}};
    const char *name = tf_json_str(node, "behavior", NULL);
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].value;
            return TINFER_OK;
        }
    return tf_error(TINFER_E_FORMAT, "tokenizer.json: Split.behavior '%s' is not known",
                    name ? name : "(missing)");
}

static tinfer_status add_split(tinfer_tokenizer *t, const char *regex, size_t regex_len,
                               const char *literal, size_t literal_len, tf_split_behavior behavior,
                               bool invert) {
    if (t->n_pretok >= MAX_SECTION_STEPS) return too_many_steps("the pre_tokenizer");
    tf_pretok_step *grown = realloc(t->pretok, (t->n_pretok + 1) * sizeof *grown);
    if (!grown) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    t->pretok = grown;
    tf_pretok_step *s = &t->pretok[t->n_pretok];
    *s = (tf_pretok_step){NULL, NULL, literal_len, behavior, invert};
    if (regex) {
        tinfer_status st = tf_regex_compile(regex, regex_len, &s->regex);
        if (st != TINFER_OK) return st;
    } else if (!(s->literal = tf_tok_strdup(literal, literal_len))) {
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    }
    t->n_pretok++;
    return TINFER_OK;
}

static tinfer_status pre_split(tinfer_tokenizer *t, const json_t *node) {
    const json_t *pattern = json_object_get(node, "pattern");
    size_t regex_len = 0, literal_len = 0;
    const char *regex = tf_json_str(pattern, "Regex", &regex_len);
    const char *literal = regex ? NULL : tf_json_str(pattern, "String", &literal_len);
    if (!regex && (!literal || literal_len == 0))
        return tf_error(TINFER_E_FORMAT, "tokenizer.json: Split.pattern needs a Regex or a non-empty String");
    tf_split_behavior behavior = TF_SPLIT_ISOLATED;
    tinfer_status st = parse_behavior(node, &behavior);
    if (st != TINFER_OK) return st;
    return add_split(t, regex, regex_len, literal, literal_len, behavior,
                     json_is_true(json_object_get(node, "invert")));
}

tinfer_status tf_json_pre_tokenizer(tinfer_tokenizer *t, const json_t *node) {
    if (!node || json_is_null(node)) return TINFER_OK;
    if (!json_is_object(node)) return tf_error(TINFER_E_FORMAT, "tokenizer.json: pre_tokenizer is not an object");
    const char *type = type_of(node);
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(node, "pretokenizers");
        if (!json_is_array(list))
            return tf_error(TINFER_E_FORMAT, "tokenizer.json: pre_tokenizer.pretokenizers is not an array");
        if (json_array_size(list) > MAX_SECTION_STEPS) return too_many_steps("the pre_tokenizer");
        for (size_t i = 0; i < json_array_size(list); i++) {
            tinfer_status st = tf_json_pre_tokenizer(t, json_array_get(list, i));
            if (st != TINFER_OK) return st;
        }
        return TINFER_OK;
    }
    if (strcmp(type, "Split") == 0) return pre_split(t, node);
    if (strcmp(type, "ByteLevel") == 0) {
        if (json_is_true(json_object_get(node, "add_prefix_space")))
            return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: ByteLevel pre-tokenizer with add_prefix_space is not supported");
        t->byte_level = true;
        if (json_is_false(json_object_get(node, "use_regex"))) return TINFER_OK;
        return add_split(t, GPT2_PATTERN, strlen(GPT2_PATTERN), NULL, 0, TF_SPLIT_ISOLATED, false);
    }
    return unsupported("pre_tokenizer", type);
}

/* ---- post-processor ---- */
static tinfer_status push_special_ids(tinfer_tokenizer *t, const json_t *specials, const char *name,
                                      bool before_sequence) {
    const json_t *ids = json_object_get(json_object_get(specials, name), "ids");
    if (!json_is_array(ids))
        return tf_error(TINFER_E_FORMAT, "tokenizer.json: post_processor.special_tokens['%s'].ids is not an array", name);
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const json_t *v = json_array_get(ids, i);
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || (size_t)id >= t->n_vocab)
            return tf_error(TINFER_E_FORMAT, "tokenizer.json: post_processor special token '%s' has an id out of range", name);
        int32_t **list = before_sequence ? &t->prefix_ids : &t->suffix_ids;
        size_t *n = before_sequence ? &t->n_prefix : &t->n_suffix;
        if (t->n_prefix + t->n_suffix >= MAX_SECTION_STEPS)
            return too_many_steps("the post_processor's special ids");
        int32_t *grown = realloc(*list, (*n + 1) * sizeof *grown);
        if (!grown) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
        grown[(*n)++] = (int32_t)id;
        *list = grown;
    }
    return TINFER_OK;
}

static tinfer_status template_processing(tinfer_tokenizer *t, const json_t *node) {
    const json_t *single = json_object_get(node, "single");
    const json_t *specials = json_object_get(node, "special_tokens");
    if (!json_is_array(single) || !json_is_object(specials))
        return tf_error(TINFER_E_FORMAT, "tokenizer.json: TemplateProcessing needs 'single' and 'special_tokens'");
    bool seen_sequence = false;
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *item = json_array_get(single, i);
        if (json_object_get(item, "Sequence")) {
            seen_sequence = true;
            continue;
        }
        const char *name = tf_json_str(json_object_get(item, "SpecialToken"), "id", NULL);
        if (!name) return tf_error(TINFER_E_FORMAT, "tokenizer.json: TemplateProcessing.single[%zu] is not a SpecialToken or Sequence", i);
        tinfer_status st = push_special_ids(t, specials, name, !seen_sequence);
        if (st != TINFER_OK) return st;
    }
    return TINFER_OK;
}

tinfer_status tf_json_post_processor(tinfer_tokenizer *t, const json_t *node) {
    if (!node || json_is_null(node)) return TINFER_OK;
    const char *type = type_of(node);
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(node, "processors");
        if (!json_is_array(list))
            return tf_error(TINFER_E_FORMAT, "tokenizer.json: post_processor.processors is not an array");
        if (json_array_size(list) > MAX_SECTION_STEPS) return too_many_steps("the post_processor");
        for (size_t i = 0; i < json_array_size(list); i++) {
            tinfer_status st = tf_json_post_processor(t, json_array_get(list, i));
            if (st != TINFER_OK) return st;
        }
        return TINFER_OK;
    }
    if (strcmp(type, "ByteLevel") == 0) return TINFER_OK; /* offsets only; ids unchanged */
    if (strcmp(type, "TemplateProcessing") == 0) return template_processing(t, node);
    return unsupported("post_processor", type);
}

/* ---- decoder ---- */
static tinfer_status add_replace(tf_json_replaces *reps, const json_t *node) {
    size_t from_len = 0, to_len = 0;
    const char *from = tf_json_str(json_object_get(node, "pattern"), "String", &from_len);
    const char *to = tf_json_str(node, "content", &to_len);
    if (!from || !to || from_len == 0)
        return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: Replace decoder needs a non-empty String pattern and a content string");
    if (reps->n >= MAX_SECTION_STEPS) return too_many_steps("the decoder");
    tf_replace_pair *grown = realloc(reps->pairs, (reps->n + 1) * sizeof *grown);
    if (!grown) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    reps->pairs = grown;
    tf_replace_pair *p = &reps->pairs[reps->n++];
    p->from = tf_tok_strdup(from, from_len);
    p->to = tf_tok_strdup(to, to_len);
    p->from_len = from_len;
    p->to_len = to_len;
    return p->from && p->to ? TINFER_OK : tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
}

static tinfer_status decoder_strip(tinfer_tokenizer *t, const json_t *node, bool fused) {
    size_t len;
    const char *content = tf_json_str(node, "content", &len);
    const json_t *start = json_object_get(node, "start"), *stop = json_object_get(node, "stop");
    if (!content || len != 1 || !json_is_integer(start) || !json_is_integer(stop) ||
        json_integer_value(start) < 0 || json_integer_value(stop) < 0)
        return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: Strip decoder needs a one-byte content and counts");
    if (!fused)
        return tf_error(TINFER_E_UNSUPPORTED, "tokenizer.json: a Strip decoder before Fuse is not supported");
    t->decoder.strip_char = (unsigned char)content[0];
    t->decoder.strip_start = (size_t)json_integer_value(start);
    t->decoder.strip_stop = (size_t)json_integer_value(stop);
    return TINFER_OK;
}

static tinfer_status decoder_step(tinfer_tokenizer *t, const json_t *node, tf_json_replaces *reps,
                                  bool *fused) {
    const char *type = type_of(node);
    if (strcmp(type, "ByteLevel") == 0) {
        t->decoder.byte_level = true;
        *fused = true;
        return TINFER_OK;
    }
    if (strcmp(type, "Replace") == 0) return add_replace(reps, node);
    if (strcmp(type, "ByteFallback") == 0) {
        t->decoder.byte_fallback = true;
        return TINFER_OK;
    }
    if (strcmp(type, "Fuse") == 0) {
        *fused = true;
        return TINFER_OK;
    }
    if (strcmp(type, "Strip") == 0) return decoder_strip(t, node, *fused);
    return unsupported("decoder", type);
}

tinfer_status tf_json_decoder(tinfer_tokenizer *t, const json_t *node, tf_json_replaces *reps) {
    if (!node || json_is_null(node)) return TINFER_OK;
    bool fused = false;
    if (strcmp(type_of(node), "Sequence") != 0) return decoder_step(t, node, reps, &fused);
    const json_t *list = json_object_get(node, "decoders");
    if (!json_is_array(list))
        return tf_error(TINFER_E_FORMAT, "tokenizer.json: decoder.decoders is not an array");
    if (json_array_size(list) > MAX_SECTION_STEPS) return too_many_steps("the decoder");
    for (size_t i = 0; i < json_array_size(list); i++) {
        tinfer_status st = decoder_step(t, json_array_get(list, i), reps, &fused);
        if (st != TINFER_OK) return st;
    }
    return TINFER_OK;
}

void tf_json_replaces_free(tf_json_replaces *reps) {
    for (size_t i = 0; i < reps->n; i++) {
        free(reps->pairs[i].from);
        free(reps->pairs[i].to);
    }
    free(reps->pairs);
    memset(reps, 0, sizeof *reps);
}
