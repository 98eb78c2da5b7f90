/* Shared request state: see job.h. */
#define _GNU_SOURCE /* POLLRDHUP */
#include "job.h"

#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>

static atomic_int live_jobs;

job *job_create(request *req, const char *model_name, int client_fd, job_wake_fn wake,
                void *wake_data) {
    job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    if (pthread_mutex_init(&j->lock, NULL) != 0) {
        free(j);
        return NULL;
    }
    j->req = *req;
    *req = (request){0};
    response_head_init(&j->head, j->req.kind == REQUEST_CHAT, model_name);
    j->refs = 1;
    j->client_fd = client_fd;
    j->wake = wake;
    j->wake_data = wake_data;
    atomic_fetch_add(&live_jobs, 1);
    if (j->req.stream && j->req.kind == REQUEST_CHAT) { /* the role comes first, as OpenAI's */
        char *first = format_chunk(&j->head, true, "", 0, NULL, NULL);
        if (first) buf_append_str(&j->out, first);
        free(first);
    }
    return j;
}

void job_retain(job *j) {
    pthread_mutex_lock(&j->lock);
    j->refs++;
    pthread_mutex_unlock(&j->lock);
}

void job_release(job *j) {
    pthread_mutex_lock(&j->lock);
    const int refs = --j->refs;
    pthread_mutex_unlock(&j->lock);
    if (refs > 0) return;
    pthread_mutex_destroy(&j->lock);
    request_free(&j->req);
    buf_free(&j->out);
    free(j);
    atomic_fetch_sub(&live_jobs, 1);
}

int job_live_count(void) { return atomic_load(&live_jobs); }

static void wake(job *j) {
    if (j->wake) j->wake(j, j->wake_data);
}

/* Appends an owned event string (NULL: memory ran out, the event is lost). */
static void append_owned(job *j, char *text) {
    if (text) buf_append_str(&j->out, text);
    free(text);
}

void job_emit(job *j, const char *text, size_t len) {
    if (len == 0) return;
    /* the chunk is formatted before the lock: j->head and j->req do not change once submitted,
     * and the HTTP thread's reader waits on this lock */
    char *chunk = j->req.stream ? format_chunk(&j->head, false, text, len, NULL, NULL) : NULL;
    pthread_mutex_lock(&j->lock);
    if (j->req.stream) {
        append_owned(j, chunk);
        wake(j); /* a whole answer's connection waits for job_finish's wake only */
    } else {
        buf_append(&j->out, text, len);
    }
    pthread_mutex_unlock(&j->lock);
}

void job_finish(job *j, const char *finish_reason, const usage *u) {
    pthread_mutex_lock(&j->lock);
    j->finish_reason = finish_reason;
    j->usage = *u;
    if (j->req.stream) {
        append_owned(j, format_chunk(&j->head, false, "", 0, finish_reason, u));
        if (j->req.include_usage) append_owned(j, format_usage_chunk(&j->head, u));
        buf_append_str(&j->out, SSE_DONE);
    }
    j->done = true;
    wake(j);
    pthread_mutex_unlock(&j->lock);
}

void job_fail(job *j, const api_error *e) {
    pthread_mutex_lock(&j->lock);
    j->failed = true;
    j->error = *e;
    if (j->req.stream) {
        append_owned(j, format_stream_error(e));
        buf_append_str(&j->out, SSE_DONE);
    }
    j->done = true;
    wake(j);
    pthread_mutex_unlock(&j->lock);
}

bool job_cancelled(job *j) {
    pthread_mutex_lock(&j->lock);
    if (!j->cancelled && j->client_fd >= 0) {
        /* the client closed its end (FIN or reset); a pipelined request would be POLLIN only */
        struct pollfd p = {.fd = j->client_fd, .events = POLLRDHUP};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            j->cancelled = true;
    }
    const bool cancelled = j->cancelled;
    pthread_mutex_unlock(&j->lock);
    return cancelled;
}

void job_detach(job *j) {
    pthread_mutex_lock(&j->lock);
    if (!j->done) j->cancelled = true;
    j->client_fd = -1;
    j->wake = NULL;
    j->wake_data = NULL;
    pthread_mutex_unlock(&j->lock);
    job_release(j);
}
