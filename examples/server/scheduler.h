/* Continuous batching: one thread owns the tinfer_context and runs steps. Each step
 *   1. admits queued jobs into free sequences (one sequence per job, n_seq_max = --parallel);
 *   2. drops jobs whose client has gone, clearing their sequence at once;
 *   3. decodes every generating sequence by one token in one tinfer_decode, then samples each
 *      (its own seeded sampler), detokenizes, cuts at stop strings and hands the text to its job;
 *   4. prefills one chunk (at most `chunk` tokens) of the oldest job still reading its prompt,
 *      so a long prompt delays the running streams by one chunk per step, not by its whole length.
 * A job that finishes or fails frees its sequence in the same step (a finished one leaves a fork
 * of it to the prefix cache). The library's decode of a
 * sequence does not depend on its batch-mates, so a request's text is the same alone or batched.
 *
 * Prefix caching (prefix_cache.h): a job that finishes (or whose client goes) leaves its sequence
 * to the cache, a sequence of its own beyond the --parallel ones; a job whose prompt begins with
 * whole blocks an entry or a running job holds forks it (tinfer_kv_seq_copy), cuts it back
 * (tinfer_kv_seq_truncate) and prefills only the rest; admission is the one place that changes
 * (slot_admit sets n_prefilled), which is why prefill progress is kept per slot. When the block
 * pool is full, a prefill or decode evicts entries, least recently used first, and tries again. */
#ifndef TINFER_SERVER_SCHEDULER_H
#define TINFER_SERVER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"
#include "tinfer/tinfer.h"

typedef struct scheduler scheduler;

typedef struct scheduler_params {
    size_t n_slots;       /* sequences decoded together (--parallel) */
    size_t n_ctx;         /* tokens per sequence (--ctx) */
    size_t n_threads;     /* 0 = one per core */
    bool fast_head;       /* the output head in TINFER_HEAD_SUM_FAST's order */
    bool fast_prompt;     /* prompt passes in TINFER_PROMPT_SUM_FAST's order */
    bool kv_q8_0;         /* the KV cache in TINFER_KV_Q8_0 (else F16) */
    bool prefault;        /* the whole KV cache resident from the start */
    size_t queue_cap;     /* jobs that may wait for a sequence (--queue) */
    size_t chunk;         /* prompt tokens prefilled per step */
    size_t n_cache_slots; /* sequences kept for prefix caching (--cache-slots; 0 = no caching) */
    size_t n_kv_tokens;   /* the KV block pool, all sequences together (0 = each can fill n_ctx) */
    bool cache_exact;     /* reuse only what gives the bits of a fresh prefill (--cache-reuse) */
} scheduler_params;

/* Creates the context (E_* from tinfer_context_create) and starts the thread. */
tinfer_status scheduler_start(const tinfer_model *model, const scheduler_params *params,
                              scheduler **out);

typedef enum submit_result { SUBMIT_OK, SUBMIT_QUEUE_FULL, SUBMIT_STOPPING } submit_result;
/* Queues j (taking a reference of its own on success). Never blocks on a step. */
submit_result scheduler_submit(scheduler *s, job *j);

/* Stops accepting, aborts the step in progress (between layers), fails every queued and running
 * job with 503 and joins the thread. */
void scheduler_stop(scheduler *s);
/* After scheduler_stop: frees the context and the rest. NULL is a no-op. */
void scheduler_free(scheduler *s);

#endif
