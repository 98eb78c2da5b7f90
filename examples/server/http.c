/* The HTTP side on libmicrohttpd: see http.h for why this library and how streams wait. */
#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "format.h"
#include "job.h"
#include "metrics.h"

struct http_server {
    struct MHD_Daemon *daemon;
    http_params params;
    atomic_bool quiesced;
    uint16_t port;
};

typedef enum route {
    ROUTE_CHAT,
    ROUTE_COMPLETIONS,
    ROUTE_MODELS,
    ROUTE_HEALTH,
    ROUTE_METRICS,
    ROUTE_UNKNOWN
} route;

static const struct {
    const char *path;
    const char *method;
} ROUTES[] = {
    [ROUTE_CHAT] = {"/v1/chat/completions", "POST"},
    [ROUTE_COMPLETIONS] = {"/v1/completions", "POST"},
    [ROUTE_MODELS] = {"/v1/models", "GET"},
    [ROUTE_HEALTH] = {"/health", "GET"},
    [ROUTE_METRICS] = {"/metrics", "GET"},
    [ROUTE_UNKNOWN] = {"other", ""},
};

/* One HTTP request on a connection (libmicrohttpd's per-request pointer). */
typedef struct conn_state {
    http_server *server;
    struct MHD_Connection *conn;
    route route;
    buf body;
    bool too_large;
    bool rejected; /* refused on its headers: the body is read and dropped, then `error` sent */
    api_error error;
    job *job;
    bool suspended; /* under job->lock */
} conn_state;

static route find_route(const char *url) {
    for (int r = 0; r < ROUTE_UNKNOWN; r++)
        if (!strcmp(url, ROUTES[r].path)) return (route)r;
    return ROUTE_UNKNOWN;
}

/* Queues a response that owns body (NULL: memory ran out, a 500 instead). */
static enum MHD_Result respond(conn_state *c, unsigned status, const char *content_type, char *body,
                               const char *extra_header, const char *extra_value) {
    static char OUT_OF_MEMORY[] =
        "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":null}}";
    struct MHD_Response *response;
    /* the _with_free_callback form: plain MHD_create_response_from_buffer is deprecated in
     * newer libmicrohttpd releases */
    if (body) {
        response = MHD_create_response_from_buffer_with_free_callback(strlen(body), body, free);
    } else {
        status = 500;
        content_type = "application/json";
        response = MHD_create_response_from_buffer_with_free_callback(strlen(OUT_OF_MEMORY),
                                                                      OUT_OF_MEMORY, NULL);
    }
    if (!response) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (extra_header) MHD_add_response_header(response, extra_header, extra_value);
    enum MHD_Result result = MHD_queue_response(c->conn, status, response);
    MHD_destroy_response(response);
    metrics_request(ROUTES[c->route].path, status);
    return result;
}

static enum MHD_Result respond_error(conn_state *c, const api_error *e) {
    const char *header = NULL, *value = NULL;
    if (e->status == 401) header = MHD_HTTP_HEADER_WWW_AUTHENTICATE, value = "Bearer";
    if (e->status == 429 || e->status == 503) header = MHD_HTTP_HEADER_RETRY_AFTER, value = "1";
    return respond(c, e->status, "application/json", format_error(e), header, value);
}

/* Compares in time independent of where the strings differ. */
static bool same_secret(const char *given, const char *expected) {
    const size_t n = strlen(expected);
    if (strlen(given) != n) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(given[i] ^ expected[i]);
    return diff == 0;
}

/* What can be refused before the body is read: route, method, key, declared length. The answer
 * waits until the body has been read (and dropped): a socket closed with unread bytes sends a
 * reset, which can destroy the answer before the client reads it. */
static bool check_headers(conn_state *c, const char *method, api_error *e) {
    const http_params *p = &c->server->params;
    if (c->route == ROUTE_UNKNOWN) {
        api_error_set(e, 404, "invalid_request_error", "not_found", "no such endpoint");
        return false;
    }
    if (strcmp(method, ROUTES[c->route].method)) {
        api_error_set(e, 405, "invalid_request_error", "method_not_allowed",
                      "%s takes %s, not %.16s", ROUTES[c->route].path, ROUTES[c->route].method,
                      method);
        return false;
    }
    if (p->api_key && c->route != ROUTE_HEALTH) {
        const char *auth =
            MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!auth || strncmp(auth, "Bearer ", 7) || !same_secret(auth + 7, p->api_key)) {
            api_error_set(e, 401, "authentication_error", "invalid_api_key",
                          auth ? "the API key is not valid"
                               : "an API key is required: send 'Authorization: Bearer KEY'");
            return false;
        }
    }
    const char *length =
        MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length && strtoull(length, NULL, 10) > p->max_body_bytes) c->too_large = true;
    return true;
}

/* Called by the scheduler under the job's lock: output is there, or the job ended. */
static void wake_connection(job *j, void *data) {
    (void)j;
    conn_state *c = data;
    if (c->suspended) {
        c->suspended = false;
        MHD_resume_connection(c->conn);
    }
}

/* The stream's content reader: hands out the events the scheduler has written, and suspends the
 * connection until the next ones when there are none yet. */
static ssize_t read_stream(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    conn_state *c = cls;
    job *j = c->job;
    ssize_t n = 0;
    pthread_mutex_lock(&j->lock);
    if (j->out.len) {
        n = (ssize_t)(j->out.len < max ? j->out.len : max);
        memcpy(out, j->out.data, (size_t)n);
        buf_consume(&j->out, (size_t)n);
    } else if (j->done) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        c->suspended = true;
        MHD_suspend_connection(c->conn);
    }
    pthread_mutex_unlock(&j->lock);
    return n;
}

static enum MHD_Result start_stream(conn_state *c) {
    struct MHD_Response *response =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, read_stream, c, NULL);
    if (!response) return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result result = MHD_queue_response(c->conn, 200, response);
    MHD_destroy_response(response);
    metrics_request(ROUTES[c->route].path, 200);
    return result;
}

/* A job that does not stream: answer once it is done, else (again) wait suspended. */
static enum MHD_Result answer_when_done(conn_state *c) {
    job *j = c->job;
    pthread_mutex_lock(&j->lock);
    const bool done = j->done;
    if (!done) {
        c->suspended = true;
        MHD_suspend_connection(c->conn);
    }
    pthread_mutex_unlock(&j->lock);
    if (!done) return MHD_YES;
    if (j->failed) return respond_error(c, &j->error);
    return respond(c, 200, "application/json",
                   format_result(&j->head, j->out.data, j->out.len, j->finish_reason, &j->usage),
                   NULL, NULL);
}

static int client_fd(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

static enum MHD_Result generate(conn_state *c) {
    http_server *h = c->server;
    api_error e;
    if (c->too_large) {
        api_error_set(&e, 400, "invalid_request_error", "body_too_large",
                      "the body is larger than the limit of %zu bytes", h->params.max_body_bytes);
        return respond_error(c, &e);
    }
    request r;
    const request_kind kind = c->route == ROUTE_CHAT ? REQUEST_CHAT : REQUEST_COMPLETION;
    if (!request_parse(kind, c->body.data ? c->body.data : "", c->body.len, &h->params.limits, &r, &e))
        return respond_error(c, &e);
    job *j = job_create(&r, h->params.model_name, client_fd(c->conn), wake_connection, c);
    if (!j) {
        request_free(&r);
        return respond(c, 500, "application/json", NULL, NULL, NULL);
    }
    const submit_result submitted = scheduler_submit(h->params.scheduler, j);
    if (submitted != SUBMIT_OK) {
        job_detach(j);
        if (submitted == SUBMIT_QUEUE_FULL)
            api_error_set(&e, 429, "rate_limit_error", "rate_limit_exceeded",
                          "the queue is full: every sequence is busy and the queue holds its "
                          "limit of requests (--queue); retry later");
        else api_error_set(&e, 503, "server_error", "shutting_down", "the server is shutting down");
        return respond_error(c, &e);
    }
    c->job = j;
    return j->req.stream ? start_stream(c) : answer_when_done(c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    http_server *h = cls;
    conn_state *c = *con_cls;
    if (!c) { /* the headers are in; the body (if any) comes in later calls */
        if (!(c = calloc(1, sizeof *c))) return MHD_NO;
        *c = (conn_state){.server = h, .conn = conn, .route = find_route(url)};
        *con_cls = c;
        c->rejected = !check_headers(c, method, &c->error);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (c->rejected) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (!c->too_large && c->body.len + *upload_data_size > h->params.max_body_bytes) {
            c->too_large = true; /* read and drop the rest, then answer 400 */
            buf_free(&c->body);
        }
        if (!c->too_large && !buf_append(&c->body, upload_data, *upload_data_size)) return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->job) return answer_when_done(c); /* resumed */
    if (c->rejected) return respond_error(c, &c->error);
    switch (c->route) {
    case ROUTE_HEALTH:
        if (atomic_load(&h->quiesced))
            return respond(c, 503, "application/json", strdup("{\"status\":\"shutting down\"}"),
                           NULL, NULL);
        return respond(c, 200, "application/json", strdup("{\"status\":\"ok\"}"), NULL, NULL);
    case ROUTE_METRICS:
        return respond(c, 200, "text/plain; version=0.0.4", metrics_format(), NULL, NULL);
    case ROUTE_MODELS:
        return respond(c, 200, "application/json",
                       format_models(h->params.model_name, (long long)time(NULL)), NULL, NULL);
    default:
        return generate(c);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
    (void)cls, (void)conn, (void)why;
    conn_state *c = *con_cls;
    if (!c) return;
    if (c->job) job_detach(c->job); /* a job not done yet is cancelled: the client went away */
    buf_free(&c->body);
    free(c);
    *con_cls = NULL;
}

http_server *http_start(const http_params *params, char *err, size_t err_cap) {
    http_server *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    h->params = *params;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)params->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *addr = NULL;
    int rc = getaddrinfo(params->host, port, &hints, &addr);
    if (rc != 0) {
        snprintf(err, err_cap, "cannot resolve --host %s: %s", params->host, gai_strerror(rc));
        free(h);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME;
    if (addr->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->daemon =
        MHD_start_daemon(flags, params->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                         addr->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    freeaddrinfo(addr);
    if (!h->daemon) {
        snprintf(err, err_cap, "cannot listen on %s port %u (in use, or not an address here?)",
                 params->host, (unsigned)params->port);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : params->port;
    return h;
}

uint16_t http_port(const http_server *h) { return h->port; }

void http_quiesce(http_server *h) {
    atomic_store(&h->quiesced, true);
    const MHD_socket listener = MHD_quiesce_daemon(h->daemon);
    if (listener != MHD_INVALID_SOCKET) close(listener);
}

void http_stop(http_server *h) {
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
