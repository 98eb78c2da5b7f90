/* Response bodies in OpenAI's shapes: errors ({"error": {"message", "type", "code"}}), whole
 * results (chat.completion, text_completion) and the server-sent events of a stream
 * ("data: {chunk}\n\n" ... "data: [DONE]\n\n"), as the openai client parses them. Every function
 * returns a malloc'ed NUL-terminated string, or NULL when memory ran out. */
#ifndef TINFER_SERVER_FORMAT_H
#define TINFER_SERVER_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct api_error {
    unsigned status;  /* HTTP status: 400, 401, 404, 405, 429, 500, 503 */
    const char *type; /* "invalid_request_error", "authentication_error", … (static) */
    const char *code; /* a short code or NULL (static) */
    char message[512];
} api_error;

void api_error_set(api_error *e, unsigned status, const char *type, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
char *format_error(const api_error *e);

/* What every body of one request repeats. */
typedef struct response_head {
    bool chat;         /* chat.completion(.chunk), else text_completion */
    char id[48];       /* "chatcmpl-…" or "cmpl-…" */
    long long created; /* Unix seconds */
    const char *model;
} response_head;

void response_head_init(response_head *h, bool chat, const char *model);

typedef struct usage {
    size_t prompt_tokens;
    size_t completion_tokens;
} usage;

/* The whole result of a request that did not stream. */
char *format_result(const response_head *h, const char *text, size_t text_len,
                    const char *finish_reason, const usage *u);

/* One event of a stream. The first chat event carries role "assistant" (first = true); text is
 * the delta; finish_reason and u only on the last event, NULL before. */
char *format_chunk(const response_head *h, bool first, const char *text, size_t text_len,
                   const char *finish_reason, const usage *u);
/* stream_options.include_usage: the event after the last, with no choices and the usage. */
char *format_usage_chunk(const response_head *h, const usage *u);
/* An error inside a stream that already answered 200: one event with the error object. */
char *format_stream_error(const api_error *e);

#define SSE_DONE "data: [DONE]\n\n"

/* GET /v1/models. */
char *format_models(const char *model, long long created);

#endif
