/* Counters and gauges for GET /metrics, in Prometheus' text format. Updated from the HTTP thread
 * (requests by endpoint and status) and the scheduler (tokens, queue, running sequences, KV
 * tokens); one mutex, held only to add or to copy. */
#ifndef TINFER_SERVER_METRICS_H
#define TINFER_SERVER_METRICS_H

#include <stddef.h>

void metrics_request(const char *endpoint, unsigned status);
void metrics_tokens(size_t prompt_tokens, size_t generated_tokens);
/* Prompt tokens taken from another sequence's cache instead of prefilled (prefix caching). */
void metrics_cached_tokens(size_t n);
void metrics_gauges(size_t queue_depth, size_t running, size_t kv_tokens);
/* The whole exposition, malloc'ed; NULL when memory ran out. */
char *metrics_format(void);

#endif
