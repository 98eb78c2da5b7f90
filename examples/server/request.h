/* One API request, parsed and checked: the OpenAI fields this server honours, the prompt as token
 * ids. Everything a client can get wrong is found here, before the request is queued, and
 * described in an api_error (400 with the field named), never an abort. */
#ifndef TINFER_SERVER_REQUEST_H
#define TINFER_SERVER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "tinfer/tinfer.h"

typedef enum request_kind { REQUEST_CHAT, REQUEST_COMPLETION } request_kind;

#define REQUEST_MAX_STOP 16         /* stop strings per request */
#define REQUEST_MAX_STOP_BYTES 1024 /* bytes per stop string */

typedef struct request {
    request_kind kind;
    bool stream;
    bool include_usage; /* stream_options.include_usage: one more chunk with the usage */
    long max_tokens;    /* tokens to generate at most; -1 = until the context is full */
    tinfer_sampler_params sampling;
    char *stop[REQUEST_MAX_STOP];
    size_t n_stop;
    int32_t *prompt; /* token ids, malloc'ed */
    size_t n_prompt;
} request;

/* What the parser needs from the server: the tokenizer, the tokens a sequence can hold, and the
 * seed for requests that give none. */
typedef struct request_limits {
    const tinfer_tokenizer *tokenizer;
    size_t n_ctx;
    uint64_t default_seed;
} request_limits;

/* Parses body[0..len) as a request of this kind. On failure fills *err (status 400 and a message
 * naming the field) and returns false; *out is then empty. */
bool request_parse(request_kind kind, const char *body, size_t len, const request_limits *limits,
                   request *out, api_error *err);
void request_free(request *r);

#endif
