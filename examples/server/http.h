/* The HTTP side: libmicrohttpd glue, routes, request bodies, authentication, and the bridge
 * between a connection and its job.
 *
 * Why libmicrohttpd: a maintained GNU library, packaged in Debian (libmicrohttpd-dev), small,
 * C, and it lets a response wait without a thread per connection: one internal polling thread
 * serves every connection, and a connection whose job has no output yet is suspended
 * (MHD_suspend_connection from the content reader or the request handler) and resumed by the
 * scheduler when a token arrives (MHD_resume_connection), so thousands of idle streams cost no
 * threads and the HTTP thread never blocks on generation. While suspended, libmicrohttpd does not
 * watch the socket, which is why the scheduler polls it for a hang-up (job_cancelled). */
#ifndef TINFER_SERVER_HTTP_H
#define TINFER_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "scheduler.h"

typedef struct http_server http_server;

typedef struct http_params {
    const char *host;    /* numeric address or name to bind (default 127.0.0.1) */
    uint16_t port;       /* 0 = any free port */
    const char *api_key; /* NULL: no authentication */
    const char *model_name;
    size_t max_body_bytes;
    request_limits limits;
    scheduler *scheduler;
} http_params;

/* Starts listening; on failure writes a message to err. */
http_server *http_start(const http_params *params, char *err, size_t err_cap);
/* The port actually bound. */
uint16_t http_port(const http_server *h);
/* Stops accepting new connections (the listening socket is closed); open ones go on. */
void http_quiesce(http_server *h);
/* Closes every connection and frees the server. NULL is a no-op. */
void http_stop(http_server *h);

#endif
