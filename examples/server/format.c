/* Response bodies: see format.h. Built with jansson and dumped compact. */
#include "format.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void api_error_set(api_error *e, unsigned status, const char *type, const char *code,
                   const char *fmt, ...) {
    e->status = status;
    e->type = type;
    e->code = code;
    va_list args;
    va_start(args, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, args);
    va_end(args);
}

/* Dumps and releases value. */
static char *dump(json_t *value) {
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    return text;
}

/* "data: " + the dumped value + "\n\n", releasing value. */
static char *event(json_t *value) {
    char *body = dump(value);
    if (!body) return NULL;
    const size_t n = strlen(body);
    char *text = malloc(n + 9);
    if (text) {
        memcpy(text, "data: ", 6);
        memcpy(text + 6, body, n);
        memcpy(text + 6 + n, "\n\n", 3);
    }
    free(body);
    return text;
}

static json_t *error_object(const api_error *e) {
    /* a message cut by snprintf may end inside a UTF-8 character: drop the broken tail */
    size_t n = strlen(e->message);
    json_t *message = json_stringn(e->message, n);
    while (!message && n > 0) message = json_stringn(e->message, --n);
    return json_pack("{s:{s:o, s:s, s:s?}}", "error", "message",
                     message ? message : json_string(""), "type", e->type, "code", e->code);
}

char *format_error(const api_error *e) { return dump(error_object(e)); }

char *format_stream_error(const api_error *e) { return event(error_object(e)); }

void response_head_init(response_head *h, bool chat, const char *model) {
    static const char HEX[] = "0123456789abcdef";
    /* ids only need to be unique enough for a client to tell responses apart */
    uint64_t bits = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15u ^ (uint64_t)rand() << 20 ^
                    (uint64_t)(uintptr_t)h;
    const char *prefix = chat ? "chatcmpl-" : "cmpl-";
    size_t n = strlen(prefix);
    memcpy(h->id, prefix, n);
    for (int i = 0; i < 24; i++) {
        bits = bits * 6364136223846793005u + 1442695040888963407u;
        h->id[n++] = HEX[(bits >> 59) & 15];
    }
    h->id[n] = '\0';
    h->chat = chat;
    h->created = (long long)time(NULL);
    h->model = model;
}

static json_t *usage_object(const usage *u) {
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)u->prompt_tokens,
                     "completion_tokens", (json_int_t)u->completion_tokens, "total_tokens",
                     (json_int_t)(u->prompt_tokens + u->completion_tokens));
}

static json_t *head_object(const response_head *h, bool chunk) {
    const char *object =
        h->chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
    return json_pack("{s:s, s:s, s:I, s:s}", "id", h->id, "object", object, "created",
                     (json_int_t)h->created, "model", h->model);
}

/* The generated text is valid UTF-8 (the detokenizer replaces broken bytes with U+FFFD). */
static json_t *text_value(const char *text, size_t len) {
    json_t *value = json_stringn(text ? text : "", text ? len : 0);
    return value ? value : json_string("\xEF\xBF\xBD");
}

/* root with "choices": [choice] (both owned; NULL, both released, when either is missing). */
static json_t *with_choice(json_t *root, json_t *choice) {
    if (!root || !choice) {
        json_decref(root);
        json_decref(choice);
        return NULL;
    }
    json_object_set_new(root, "choices", json_pack("[o]", choice));
    return root;
}

char *format_result(const response_head *h, const char *text, size_t text_len,
                    const char *finish_reason, const usage *u) {
    json_t *root = head_object(h, false);
    json_t *choice;
    if (h->chat)
        choice = json_pack("{s:i, s:{s:s, s:o}, s:n, s:s?}", "index", 0, "message", "role",
                           "assistant", "content", text_value(text, text_len), "logprobs",
                           "finish_reason", finish_reason);
    else
        choice = json_pack("{s:i, s:o, s:n, s:s?}", "index", 0, "text", text_value(text, text_len),
                           "logprobs", "finish_reason", finish_reason);
    if (!(root = with_choice(root, choice))) return NULL;
    json_object_set_new(root, "usage", usage_object(u));
    return dump(root);
}

char *format_chunk(const response_head *h, bool first, const char *text, size_t text_len,
                   const char *finish_reason, const usage *u) {
    json_t *root = head_object(h, true);
    json_t *choice;
    if (h->chat) {
        json_t *delta = json_object();
        if (first) json_object_set_new(delta, "role", json_string("assistant"));
        if (first || text_len) json_object_set_new(delta, "content", text_value(text, text_len));
        choice = json_pack("{s:i, s:o, s:n, s:s?}", "index", 0, "delta", delta, "logprobs",
                           "finish_reason", finish_reason);
    } else {
        choice = json_pack("{s:i, s:o, s:n, s:s?}", "index", 0, "text", text_value(text, text_len),
                           "logprobs", "finish_reason", finish_reason);
    }
    if (!(root = with_choice(root, choice))) return NULL;
    if (u) json_object_set_new(root, "usage", usage_object(u));
    return event(root);
}

char *format_usage_chunk(const response_head *h, const usage *u) {
    json_t *root = head_object(h, true);
    if (!root) return NULL;
    json_object_set_new(root, "choices", json_array());
    json_object_set_new(root, "usage", usage_object(u));
    return event(root);
}

char *format_models(const char *model, long long created) {
    return dump(json_pack("{s:s, s:[{s:s, s:s, s:I, s:s}]}", "object", "list", "data", "id", model,
                          "object", "model", "created", (json_int_t)created, "owned_by", "tinfer"));
}
