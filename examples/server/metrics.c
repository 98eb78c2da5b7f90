/* Prometheus metrics: see metrics.h. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* (endpoint, status) pairs seen so far; endpoints are the server's own static route names, so a
 * client cannot grow this table (unknown paths count as "other"). */
#define MAX_SERIES 64

typedef struct series {
    const char *endpoint;
    unsigned status;
    unsigned long long count;
} series;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static series requests[MAX_SERIES];
static size_t n_series;
static unsigned long long prompt_total, generated_total, cached_total;
static size_t queue_now, running_now, kv_now;

void metrics_request(const char *endpoint, unsigned status) {
    pthread_mutex_lock(&lock);
    size_t i = 0;
    while (i < n_series && (strcmp(requests[i].endpoint, endpoint) || requests[i].status != status))
        i++;
    if (i == n_series && n_series < MAX_SERIES)
        requests[n_series++] = (series){.endpoint = endpoint, .status = status};
    if (i < n_series) requests[i].count++;
    pthread_mutex_unlock(&lock);
}

void metrics_tokens(size_t prompt_tokens, size_t generated_tokens) {
    pthread_mutex_lock(&lock);
    prompt_total += prompt_tokens;
    generated_total += generated_tokens;
    pthread_mutex_unlock(&lock);
}

void metrics_cached_tokens(size_t n) {
    pthread_mutex_lock(&lock);
    cached_total += n;
    pthread_mutex_unlock(&lock);
}

void metrics_gauges(size_t queue_depth, size_t running, size_t kv_tokens) {
    pthread_mutex_lock(&lock);
    queue_now = queue_depth;
    running_now = running;
    kv_now = kv_tokens;
    pthread_mutex_unlock(&lock);
}

static void line(buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(buf *out, const char *fmt, ...) {
    char text[512];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    if (n > 0) buf_append(out, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

char *metrics_format(void) {
    buf out = {0};
    pthread_mutex_lock(&lock);
    line(&out, "# HELP tinfer_requests_total HTTP requests answered, by endpoint and status.\n"
               "# TYPE tinfer_requests_total counter\n");
    for (size_t i = 0; i < n_series; i++)
        line(&out, "tinfer_requests_total{endpoint=\"%s\",status=\"%u\"} %llu\n",
             requests[i].endpoint, requests[i].status, requests[i].count);
    line(&out,
         "# HELP tinfer_prompt_tokens_total Prompt tokens prefilled.\n"
         "# TYPE tinfer_prompt_tokens_total counter\ntinfer_prompt_tokens_total %llu\n"
         "# HELP tinfer_generated_tokens_total Tokens generated.\n"
         "# TYPE tinfer_generated_tokens_total counter\ntinfer_generated_tokens_total %llu\n"
         "# HELP tinfer_prompt_tokens_cached_total Prompt tokens shared from another sequence's "
         "cache (prefix caching) instead of prefilled.\n"
         "# TYPE tinfer_prompt_tokens_cached_total counter\n"
         "tinfer_prompt_tokens_cached_total %llu\n",
         prompt_total, generated_total, cached_total);
    line(&out,
         "# HELP tinfer_queue_depth Requests waiting for a sequence.\n"
         "# TYPE tinfer_queue_depth gauge\ntinfer_queue_depth %zu\n"
         "# HELP tinfer_running_sequences Requests holding a sequence (prefilling or "
         "generating).\n"
         "# TYPE tinfer_running_sequences gauge\ntinfer_running_sequences %zu\n"
         "# HELP tinfer_kv_tokens_in_use Tokens held in the KV cache over all sequences.\n"
         "# TYPE tinfer_kv_tokens_in_use gauge\ntinfer_kv_tokens_in_use %zu\n",
         queue_now, running_now, kv_now);
    pthread_mutex_unlock(&lock);
    return out.data;
}
