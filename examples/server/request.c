/* Request parsing and validation: see request.h. Unknown fields are ignored (clients send many);
 * a known field of the wrong type or out of range is a 400 that names it. */
#include "request.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define INVALID "invalid_request_error"

static bool fail(api_error *err, const char *code, const char *message, const char *field) {
    api_error_set(err, 400, INVALID, code, message, field);
    return false;
}

/* A number field within [lo, hi] (lo_open: lo itself excluded); absent or null keeps *out. */
static bool number_field(json_t *root, const char *name, double lo, bool lo_open, double hi,
                         float *out, api_error *err) {
    json_t *v = json_object_get(root, name);
    if (!v || json_is_null(v)) return true;
    if (!json_is_number(v)) return fail(err, "invalid_type", "'%s' must be a number", name);
    const double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi || (lo_open && x == lo)) {
        api_error_set(err, 400, INVALID, "invalid_value", "'%s' = %g is outside %c%g, %g]", name, x,
                      lo_open ? '(' : '[', lo, hi);
        return false;
    }
    *out = (float)x;
    return true;
}

/* An integer field ≥ lo; absent or null keeps *out and returns true. */
static bool integer_field(json_t *root, const char *name, long long lo, long long *out,
                          api_error *err) {
    json_t *v = json_object_get(root, name);
    if (!v || json_is_null(v)) return true;
    if (!json_is_integer(v)) return fail(err, "invalid_type", "'%s' must be an integer", name);
    const long long x = json_integer_value(v);
    if (x < lo) {
        api_error_set(err, 400, INVALID, "invalid_value", "'%s' = %lld is below %lld", name, x, lo);
        return false;
    }
    *out = x;
    return true;
}

static bool bool_field(json_t *root, const char *name, bool *out, api_error *err) {
    json_t *v = json_object_get(root, name);
    if (!v || json_is_null(v)) return true;
    if (!json_is_boolean(v)) return fail(err, "invalid_type", "'%s' must be true or false", name);
    *out = json_is_true(v);
    return true;
}

static bool add_stop(request *r, json_t *v, api_error *err) {
    if (!json_is_string(v))
        return fail(err, "invalid_type", "'%s' must be a string or a list of strings", "stop");
    if (r->n_stop == REQUEST_MAX_STOP) {
        api_error_set(err, 400, INVALID, "invalid_value", "'stop' holds more than %d strings",
                      REQUEST_MAX_STOP);
        return false;
    }
    if (json_string_length(v) > REQUEST_MAX_STOP_BYTES) {
        api_error_set(err, 400, INVALID, "invalid_value", "a 'stop' string is longer than %d bytes",
                      REQUEST_MAX_STOP_BYTES);
        return false;
    }
    if (!(r->stop[r->n_stop] = strdup(json_string_value(v)))) {
        api_error_set(err, 500, "server_error", NULL, "out of memory");
        return false;
    }
    r->n_stop++;
    return true;
}

static bool stop_field(json_t *root, request *r, api_error *err) {
    json_t *v = json_object_get(root, "stop");
    if (!v || json_is_null(v)) return true;
    if (!json_is_array(v)) return add_stop(r, v, err);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!add_stop(r, item, err)) return false;
    }
    return true;
}

static bool sampling_fields(json_t *root, request *r, const request_limits *limits,
                            api_error *err) {
    tinfer_sampler_params *s = &r->sampling;
    long long top_k = s->top_k, seed = (long long)limits->default_seed;
    bool ok = number_field(root, "temperature", 0, false, 2, &s->temperature, err) &&
              number_field(root, "top_p", 0, true, 1, &s->top_p, err) &&
              number_field(root, "min_p", 0, false, 1, &s->min_p, err) &&
              number_field(root, "presence_penalty", -2, false, 2, &s->presence_penalty, err) &&
              number_field(root, "frequency_penalty", -2, false, 2, &s->frequency_penalty, err) &&
              number_field(root, "repetition_penalty", 0, true, 10, &s->repeat_penalty, err) &&
              integer_field(root, "top_k", 0, &top_k, err) &&
              integer_field(root, "seed", INT64_MIN, &seed, err);
    if (!ok) return false;
    if (top_k > INT32_MAX) top_k = 0; /* more than the vocabulary: off */
    s->top_k = (int32_t)top_k;
    s->seed = (uint64_t)seed;
    return true;
}

/* The common fields of both endpoints. */
static bool common_fields(json_t *root, request *r, const request_limits *limits, api_error *err) {
    long long n = 1, max_tokens = -1;
    if (r->kind == REQUEST_COMPLETION) max_tokens = 16; /* OpenAI's default for completions */
    if (!integer_field(root, "n", 1, &n, err)) return false;
    if (n != 1) return fail(err, "invalid_value", "'%s' must be 1: one choice per request", "n");
    if (!integer_field(root, "max_tokens", 0, &max_tokens, err)) return false;
    if (r->kind == REQUEST_CHAT &&
        !integer_field(root, "max_completion_tokens", 0, &max_tokens, err))
        return false;
    r->max_tokens = max_tokens > 1000000000 ? 1000000000 : (long)max_tokens;
    if (!bool_field(root, "stream", &r->stream, err)) return false;
    json_t *options = json_object_get(root, "stream_options");
    if (options && !json_is_null(options)) {
        if (!json_is_object(options))
            return fail(err, "invalid_type", "'%s' must be an object", "stream_options");
        if (!bool_field(options, "include_usage", &r->include_usage, err)) return false;
    }
    json_t *model = json_object_get(root, "model");
    if (model && !json_is_null(model) && !json_is_string(model))
        return fail(err, "invalid_type", "'%s' must be a string", "model");
    return stop_field(root, r, err) && sampling_fields(root, r, limits, err);
}

/* A message's content: a string, or a list of {"type": "text", "text": …} parts (joined). */
static char *message_content(json_t *content, size_t index, api_error *err) {
    if (!content || json_is_null(content)) return strdup("");
    if (json_is_string(content)) return strdup(json_string_value(content));
    if (!json_is_array(content)) {
        api_error_set(err, 400, INVALID, "invalid_type",
                      "messages[%zu].content must be a string or a list of text parts", index);
        return NULL;
    }
    buf text = {0};
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        const char *type = json_string_value(json_object_get(part, "type"));
        json_t *value = json_object_get(part, "text");
        if (!type || strcmp(type, "text") || !json_is_string(value)) {
            api_error_set(err, 400, INVALID, "invalid_value",
                          "messages[%zu].content[%zu] is not a text part ({\"type\": \"text\", "
                          "\"text\": …}); only text is supported",
                          index, i);
            buf_free(&text);
            return NULL;
        }
        buf_append(&text, json_string_value(value), json_string_length(value));
    }
    return text.data ? text.data : strdup("");
}

/* messages → the chat template's text (malloc'ed). */
static char *render_chat(json_t *root, const request_limits *limits, api_error *err) {
    json_t *messages = json_object_get(root, "messages");
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        fail(err, messages ? "invalid_type" : "missing_field",
             "'%s' must be a non-empty list of messages", "messages");
        return NULL;
    }
    const size_t n = json_array_size(messages);
    tinfer_chat_msg *msgs = calloc(n, sizeof *msgs);
    char **contents = calloc(n, sizeof *contents);
    char *text = NULL;
    bool ok = msgs && contents;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m) || !role) {
            api_error_set(err, 400, INVALID, "invalid_type",
                          "messages[%zu] must be an object with a string 'role'", i);
            ok = false;
        } else if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") &&
                   strcmp(role, "developer")) {
            api_error_set(err, 400, INVALID, "invalid_value",
                          "messages[%zu].role '%.64s' is not one of system, developer, user, "
                          "assistant",
                          i, role);
            ok = false;
        } else if (!(contents[i] = message_content(json_object_get(m, "content"), i, err))) {
            ok = false;
        } else {
            msgs[i].role = strcmp(role, "developer") ? role : "system";
            msgs[i].content = contents[i];
        }
    }
    size_t len = 0;
    tinfer_status status = TINFER_OK;
    if (ok) {
        status = tinfer_chat_apply(limits->tokenizer, msgs, n, sizeof *msgs, true, NULL, 0, &len);
        if (status == TINFER_E_BUFFER_TOO_SMALL || status == TINFER_OK) {
            status = (text = malloc(len + 1))
                         ? tinfer_chat_apply(limits->tokenizer, msgs, n, sizeof *msgs, true, text,
                                             len + 1, &len)
                         : TINFER_E_NOMEM;
        }
        if (status != TINFER_OK) {
            api_error_set(err, 400, INVALID, "invalid_value",
                          "the model's chat template cannot render these messages: %s",
                          tinfer_last_error());
            free(text);
            text = NULL;
        }
    } else if (!msgs || !contents) {
        api_error_set(err, 500, "server_error", NULL, "out of memory");
    }
    for (size_t i = 0; contents && i < n; i++) free(contents[i]);
    free(contents);
    free(msgs);
    return text;
}

static bool tokenize(request *r, const char *text, uint32_t flags, const request_limits *limits,
                     api_error *err) {
    const size_t len = strlen(text), cap = tinfer_tokenize_bound(limits->tokenizer, len);
    if (!(r->prompt = malloc((cap ? cap : 1) * sizeof *r->prompt))) {
        api_error_set(err, 500, "server_error", NULL, "out of memory");
        return false;
    }
    tinfer_status status =
        tinfer_tokenize(limits->tokenizer, text, len, flags, r->prompt, cap, &r->n_prompt);
    if (status != TINFER_OK) {
        api_error_set(err, 400, INVALID, "invalid_value", "the prompt cannot be tokenized: %s",
                      tinfer_last_error());
        return false;
    }
    return true;
}

/* "prompt": a string, a list of one string, or a list of token ids. */
static bool completion_prompt(json_t *root, request *r, const request_limits *limits,
                              api_error *err) {
    json_t *prompt = json_object_get(root, "prompt");
    if (json_is_array(prompt) && json_array_size(prompt) == 1 &&
        json_is_string(json_array_get(prompt, 0)))
        prompt = json_array_get(prompt, 0);
    if (json_is_string(prompt))
        return tokenize(r, json_string_value(prompt), TINFER_TOKENIZE_DEFAULT, limits, err);
    if (!json_is_array(prompt) || json_array_size(prompt) == 0)
        return fail(err, prompt ? "invalid_type" : "missing_field",
                    "'%s' must be a string, a list of one string or a list of token ids", "prompt");
    const size_t n = json_array_size(prompt), n_vocab = tinfer_tokenizer_n_vocab(limits->tokenizer);
    if (!(r->prompt = malloc(n * sizeof *r->prompt))) {
        api_error_set(err, 500, "server_error", NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *id = json_array_get(prompt, i);
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            (size_t)json_integer_value(id) >= n_vocab) {
            api_error_set(err, 400, INVALID, "invalid_value",
                          "prompt[%zu] is not a token id in [0, %zu) (one prompt per request)", i,
                          n_vocab);
            return false;
        }
        r->prompt[i] = (int32_t)json_integer_value(id);
    }
    r->n_prompt = n;
    return true;
}

static bool prompt_fits(const request *r, const request_limits *limits, api_error *err) {
    if (r->n_prompt == 0) return fail(err, "invalid_value", "the %s has no tokens", "prompt");
    if (r->n_prompt > limits->n_ctx) {
        api_error_set(err, 400, INVALID, "context_length_exceeded",
                      "the prompt has %zu tokens, more than the context of %zu tokens per "
                      "sequence (--ctx)",
                      r->n_prompt, limits->n_ctx);
        return false;
    }
    return true;
}

bool request_parse(request_kind kind, const char *body, size_t len, const request_limits *limits,
                   request *out, api_error *err) {
    *out = (request){.kind = kind};
    tinfer_sampler_params_init(&out->sampling, sizeof out->sampling);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    bool ok;
    if (!root) {
        api_error_set(err, 400, INVALID, "invalid_json",
                      "the body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                      jerr.column);
        ok = false;
    } else if (!json_is_object(root)) {
        ok = fail(err, "invalid_type", "the body must be a JSON %s", "object");
    } else if (!(ok = common_fields(root, out, limits, err))) {
    } else if (kind == REQUEST_CHAT) {
        char *text = render_chat(root, limits, err);
        /* the template's text holds BOS already: parse specials, add none */
        ok = text && tokenize(out, text, TINFER_TOKENIZE_PARSE_SPECIAL, limits, err);
        free(text);
    } else {
        ok = completion_prompt(root, out, limits, err);
    }
    ok = ok && prompt_fits(out, limits, err);
    json_decref(root);
    if (!ok) request_free(out);
    return ok;
}

void request_free(request *r) {
    for (size_t i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->prompt);
    *r = (request){0};
}
