/* Counters and gauges for GET /metrics, in Prometheus' text format. Updated from the HTTP thread
 * (requests by endpoint and status) and the scheduler (tokens, queue, running sequences, KV
 * tokens, the context's sizes); one mutex, held only to add or to copy. The process's resident
 * memory is read when the exposition is made. */
#ifndef TINFER_SERVER_METRICS_H
#define TINFER_SERVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>

void metrics_request(const char *endpoint, unsigned status);
void metrics_tokens(size_t prompt_tokens, size_t generated_tokens);
/* Prefix caching: one admitted request found n_saved > 0 prompt tokens to fork (a hit) or not. */
void metrics_prefix_lookup(size_t n_saved);
void metrics_prefix_eviction(void);
/* A fork the sliding-window ring could not cut back (tinfer_kv_seq_truncate: E_UNSUPPORTED). */
void metrics_prefix_refused(void);
/* Seconds from submission to a request's first sampled token, by whether it hit the cache. */
void metrics_first_token(bool hit, double seconds);

typedef struct metrics_now {
    size_t queue_depth, running, kv_tokens, kv_blocks_used, kv_blocks_total, cache_entries;
    unsigned long long kv_bytes, scratch_bytes; /* the context's (tinfer_context_info) */
} metrics_now;
void metrics_gauges(const metrics_now *now);
/* The whole exposition, malloc'ed; NULL when memory ran out. */
char *metrics_format(void);

#endif
