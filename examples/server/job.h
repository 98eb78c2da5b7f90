/* One request in flight: the state the HTTP side and the scheduler share. The scheduler appends
 * output (already formatted as server-sent events when the request streams, plain text when it
 * does not) and finally marks it done; the HTTP side sends what is there, and tells the
 * scheduler when the client has gone. Every field below "lock" is read and written under it;
 * the request itself does not change once the job is submitted. Two references: the HTTP side's
 * (released when the connection is done with it) and the scheduler's (released when the
 * sequence is freed); the last release frees the job. */
#ifndef TINFER_SERVER_JOB_H
#define TINFER_SERVER_JOB_H

#include <pthread.h>
#include <stdbool.h>

#include "buf.h"
#include "format.h"
#include "request.h"

typedef struct job job;
/* Called under the job's lock whenever output was added or the job ended. */
typedef void (*job_wake_fn)(job *j, void *data);

struct job {
    request req;
    response_head head;
    double submitted_ms;

    pthread_mutex_t lock;
    int refs;
    buf out;                   /* streaming: events not yet sent; otherwise the whole text */
    bool done;                 /* the scheduler is finished with the output */
    const char *finish_reason; /* "stop" or "length" once done, NULL on failure */
    usage usage;
    bool failed; /* done with an error (only the error is sent) */
    api_error error;
    bool cancelled; /* the client went away: stop generating */
    int client_fd;  /* the client's socket while attached, else -1 */
    job_wake_fn wake;
    void *wake_data;
};

/* Takes over *req (emptied). One reference, the HTTP side's. NULL when memory ran out. */
job *job_create(request *req, const char *model_name, int client_fd, job_wake_fn wake,
                void *wake_data);
void job_retain(job *j);
void job_release(job *j);
/* Jobs not yet freed, for a bounded wait at shutdown. */
int job_live_count(void);

/* Scheduler side. */
void job_emit(job *j, const char *text, size_t len);
void job_finish(job *j, const char *finish_reason, const usage *u);
void job_fail(job *j, const api_error *e);
/* True once the client has gone: the HTTP side said so, or its socket is closed (checked here,
 * because a suspended connection's socket is not watched by libmicrohttpd). */
bool job_cancelled(job *j);

/* HTTP side: the connection is finished with the job (sent all of it, or failed). */
void job_detach(job *j);

#endif
