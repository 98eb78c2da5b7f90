/* Prometheus metrics: see metrics.h. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
static unsigned long long prompt_total, generated_total;
static unsigned long long prefix_hits, prefix_misses, prefix_saved, prefix_evictions,
    prefix_refused;
static unsigned long long ttft_count[2];
static double ttft_sum[2]; /* [0] miss, [1] hit */
static metrics_now now;

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

void metrics_prefix_lookup(size_t n_saved) {
    pthread_mutex_lock(&lock);
    if (n_saved > 0) prefix_hits++;
    else prefix_misses++;
    prefix_saved += n_saved;
    pthread_mutex_unlock(&lock);
}

void metrics_prefix_eviction(void) {
    pthread_mutex_lock(&lock);
    prefix_evictions++;
    pthread_mutex_unlock(&lock);
}

void metrics_prefix_refused(void) {
    pthread_mutex_lock(&lock);
    prefix_refused++;
    pthread_mutex_unlock(&lock);
}

void metrics_first_token(bool hit, double seconds) {
    pthread_mutex_lock(&lock);
    ttft_count[hit]++;
    ttft_sum[hit] += seconds;
    pthread_mutex_unlock(&lock);
}

void metrics_gauges(const metrics_now *gauges) {
    pthread_mutex_lock(&lock);
    now = *gauges;
    pthread_mutex_unlock(&lock);
}

static void line(buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(buf *out, const char *fmt, ...) {
    char text[2048];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    if (n > 0) buf_append(out, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

/* This process's resident bytes (/proc/self/statm), 0 where the system does not say. */
static unsigned long long resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, pages = 0;
    const bool ok = f && fscanf(f, "%llu %llu", &size, &pages) == 2;
    if (f) fclose(f);
    const long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? pages * (unsigned long long)page : 0;
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
         "# TYPE tinfer_generated_tokens_total counter\ntinfer_generated_tokens_total %llu\n",
         prompt_total, generated_total);
    line(&out,
         "# HELP tinfer_prefix_cache_hits_total Requests that forked cached prompt tokens.\n"
         "# TYPE tinfer_prefix_cache_hits_total counter\ntinfer_prefix_cache_hits_total %llu\n"
         "# HELP tinfer_prefix_cache_misses_total Requests that prefilled their whole prompt.\n"
         "# TYPE tinfer_prefix_cache_misses_total counter\n"
         "tinfer_prefix_cache_misses_total %llu\n"
         "# HELP tinfer_prefix_cache_tokens_saved_total Prompt tokens forked, not prefilled.\n"
         "# TYPE tinfer_prefix_cache_tokens_saved_total counter\n"
         "tinfer_prefix_cache_tokens_saved_total %llu\n",
         prefix_hits, prefix_misses, prefix_saved);
    line(&out,
         "# HELP tinfer_prefix_cache_evictions_total Cached entries dropped for room.\n"
         "# TYPE tinfer_prefix_cache_evictions_total counter\n"
         "tinfer_prefix_cache_evictions_total %llu\n"
         "# HELP tinfer_prefix_cache_ring_refusals_total Forks the sliding-window ring could not "
         "cut back to the shared prefix.\n"
         "# TYPE tinfer_prefix_cache_ring_refusals_total counter\n"
         "tinfer_prefix_cache_ring_refusals_total %llu\n",
         prefix_evictions, prefix_refused);
    line(&out, "# HELP tinfer_time_to_first_token_seconds From submission to the first token.\n"
               "# TYPE tinfer_time_to_first_token_seconds summary\n");
    for (int hit = 0; hit < 2; hit++)
        line(&out,
             "tinfer_time_to_first_token_seconds_sum{prefix_cache=\"%s\"} %.6f\n"
             "tinfer_time_to_first_token_seconds_count{prefix_cache=\"%s\"} %llu\n",
             hit ? "hit" : "miss", ttft_sum[hit], hit ? "hit" : "miss", ttft_count[hit]);
    line(&out,
         "# HELP tinfer_queue_depth Requests waiting for a sequence.\n"
         "# TYPE tinfer_queue_depth gauge\ntinfer_queue_depth %zu\n"
         "# HELP tinfer_running_sequences Requests holding a sequence (prefilling or "
         "generating).\n"
         "# TYPE tinfer_running_sequences gauge\ntinfer_running_sequences %zu\n"
         "# HELP tinfer_kv_tokens_in_use Tokens the KV block pool has handed out (running "
         "sequences and cached entries; shared blocks once).\n"
         "# TYPE tinfer_kv_tokens_in_use gauge\ntinfer_kv_tokens_in_use %zu\n",
         now.queue_depth, now.running, now.kv_tokens);
    line(&out,
         "# HELP tinfer_kv_blocks_in_use 32-token blocks of the KV pool in use.\n"
         "# TYPE tinfer_kv_blocks_in_use gauge\ntinfer_kv_blocks_in_use %zu\n"
         "# HELP tinfer_kv_blocks_total 32-token blocks of the KV pool (--kv-tokens).\n"
         "# TYPE tinfer_kv_blocks_total gauge\ntinfer_kv_blocks_total %zu\n"
         "# HELP tinfer_prefix_cache_entries Finished requests' sequences kept for reuse.\n"
         "# TYPE tinfer_prefix_cache_entries gauge\ntinfer_prefix_cache_entries %zu\n",
         now.kv_blocks_used, now.kv_blocks_total, now.cache_entries);
    line(&out,
         "# HELP tinfer_context_bytes Memory the context holds, by part: the KV cache (its block "
         "pool and sliding-window rings) and the scratch of one pass.\n"
         "# TYPE tinfer_context_bytes gauge\ntinfer_context_bytes{part=\"kv_cache\"} %llu\n"
         "tinfer_context_bytes{part=\"scratch\"} %llu\n",
         now.kv_bytes, now.scratch_bytes);
    pthread_mutex_unlock(&lock);
    const unsigned long long resident = resident_bytes();
    if (resident > 0)
        line(&out,
             "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
             "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
             resident);
    return out.data;
}
