/* Continuous batching over one tinfer_context: see scheduler.h. */
#include "scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "stop.h"

/* One sequence of the context and the job it serves. */
typedef struct slot {
    job *job; /* NULL when free */
    int32_t seq;
    uint64_t admitted;  /* admission order: the oldest prefilling job goes first */
    size_t n_prefilled; /* prompt tokens in the cache */
    bool generating;    /* the prompt is in; next_token waits to be decoded */
    int32_t next_token;
    size_t n_generated;
    tinfer_sampler *sampler;
    tinfer_detok_stream *detok; /* made once per slot; flushing resets it */
    stop_matcher stop;
} slot;

struct scheduler {
    tinfer_context *ctx;
    const tinfer_tokenizer *tokenizer;
    size_t n_vocab;
    scheduler_params params;
    slot *slots;
    int32_t *step_seqs, *step_tokens; /* one decode's arguments, n_slots each */
    size_t *step_slots;
    buf piece, text; /* one token's text, before and after stop strings */
    uint64_t n_admitted;

    pthread_mutex_t lock; /* the queue and stopping */
    pthread_cond_t wake;
    job **queue; /* ring of queue_cap */
    size_t queue_head, queue_len;
    atomic_bool stopping;
    pthread_t thread;
    bool thread_started;
};

static bool abort_step(void *user_data) { return atomic_load(&((scheduler *)user_data)->stopping); }

static void fail_job(job *j, unsigned status, const char *type, const char *message) {
    api_error e;
    api_error_set(&e, status, type, NULL, "%s", message);
    job_fail(j, &e);
}

/* Clears the sequence and gives the job back; the job must already be finished or failed. */
static void slot_free(scheduler *s, slot *sl) {
    char scratch[64];
    size_t len;
    tinfer_kv_seq_clear(s->ctx, sl->seq);
    tinfer_sampler_free(sl->sampler);
    /* forget any held-back bytes: flush resets the stream for the next job */
    if (tinfer_detok_stream_flush(sl->detok, scratch, sizeof scratch, &len) ==
        TINFER_E_BUFFER_TOO_SMALL) {
        char *big = malloc(len + 1);
        if (big) tinfer_detok_stream_flush(sl->detok, big, len + 1, &len);
        free(big);
    }
    stop_free(&sl->stop);
    job_release(sl->job);
    tinfer_detok_stream *detok = sl->detok;
    const int32_t seq = sl->seq;
    *sl = (slot){.seq = seq, .detok = detok};
}

static void slot_fail(scheduler *s, slot *sl, unsigned status, const char *what) {
    char message[512];
    snprintf(message, sizeof message, "%s: %s", what, tinfer_last_error());
    fail_job(sl->job, status, "server_error", message);
    slot_free(s, sl);
}

static void slot_finish(scheduler *s, slot *sl, const char *reason) {
    if (!sl->stop.stopped) { /* the detokenizer's held bytes may still complete a stop string */
        size_t len = 0;
        tinfer_status status =
            tinfer_detok_stream_flush(sl->detok, s->piece.data, s->piece.cap, &len);
        if (status == TINFER_E_BUFFER_TOO_SMALL && buf_reserve(&s->piece, len + 1))
            status = tinfer_detok_stream_flush(sl->detok, s->piece.data, s->piece.cap, &len);
        s->text.len = 0;
        if (status == TINFER_OK) stop_push(&sl->stop, s->piece.data, len, &s->text);
        if (sl->stop.stopped) reason = "stop";
        stop_flush(&sl->stop, &s->text);
        job_emit(sl->job, s->text.data, s->text.len);
    }
    const usage u = {.prompt_tokens = sl->job->req.n_prompt, .completion_tokens = sl->n_generated};
    job_finish(sl->job, reason, &u);
    slot_free(s, sl);
}

/* The text of one token into s->piece (grown as needed). */
static tinfer_status detok_push(scheduler *s, slot *sl, int32_t token, size_t *len) {
    tinfer_status status =
        tinfer_detok_stream_push(sl->detok, token, s->piece.data, s->piece.cap, len);
    if (status == TINFER_E_BUFFER_TOO_SMALL) {
        if (!buf_reserve(&s->piece, *len + 1)) return TINFER_E_NOMEM;
        status = tinfer_detok_stream_push(sl->detok, token, s->piece.data, s->piece.cap, len);
    }
    return status;
}

/* After a prefill or decode left logits for sl: samples the next token and hands its text on,
 * or finishes. The same order of checks as completion.py's _generate_text. */
static void slot_advance(scheduler *s, slot *sl) {
    const request *r = &sl->job->req;
    if (r->max_tokens >= 0 && sl->n_generated >= (size_t)r->max_tokens) {
        slot_finish(s, sl, "length");
        return;
    }
    int32_t token;
    const float *logits = tinfer_logits(s->ctx, sl->seq);
    if (!logits || tinfer_sampler_sample(sl->sampler, logits, s->n_vocab, &token) != TINFER_OK) {
        slot_fail(s, sl, 500, "sampling failed");
        return;
    }
    if (tinfer_tokenizer_is_eog(s->tokenizer, token)) {
        slot_finish(s, sl, "stop");
        return;
    }
    tinfer_sampler_accept(sl->sampler, token);
    sl->n_generated++;
    metrics_tokens(0, 1);
    size_t len = 0;
    if (detok_push(s, sl, token, &len) != TINFER_OK) {
        slot_fail(s, sl, 500, "detokenizing failed");
        return;
    }
    s->text.len = 0;
    stop_push(&sl->stop, s->piece.data, len, &s->text);
    job_emit(sl->job, s->text.data, s->text.len);
    if (sl->stop.stopped) {
        slot_finish(s, sl, "stop");
        return;
    }
    /* the cache holds the prompt and every generated token but this one */
    if (r->n_prompt + sl->n_generated - 1 >= s->params.n_ctx) {
        slot_finish(s, sl, "length");
        return;
    }
    sl->next_token = token;
    sl->generating = true;
}

/* Prefix caching, with the library's copy-on-write forks (tinfer_kv_seq_copy, since 0.3): a
 * prompt that begins with whole KV blocks another running sequence already holds starts from a
 * fork of that sequence cut to those blocks and prefills only the rest. Whole blocks only, so the
 * fork shares them for good and the new sequence's first write starts a block of its own. */
#define KV_BLOCK_TOKENS 32

static size_t common_prefix(const int32_t *a, size_t n_a, const int32_t *b, size_t n_b) {
    size_t n = 0;
    while (n < n_a && n < n_b && a[n] == b[n]) n++;
    return n;
}

static void reuse_prefix(scheduler *s, slot *sl) {
    const request *r = &sl->job->req;
    const slot *donor = NULL;
    size_t best = 0;
    for (size_t i = 0; i < s->params.n_slots; i++) {
        const slot *other = &s->slots[i];
        if (other == sl || !other->job) continue;
        /* the donor's cache starts with its n_prefilled prompt tokens; keep one token of ours
         * to prefill, for the logits */
        size_t n =
            common_prefix(r->prompt, r->n_prompt - 1, other->job->req.prompt, other->n_prefilled);
        n -= n % KV_BLOCK_TOKENS;
        if (n > best) best = n, donor = other;
    }
    if (!donor || tinfer_kv_seq_copy(s->ctx, donor->seq, sl->seq) != TINFER_OK) return;
    /* a sliding-window donor that ran far past the prefix cannot be cut back: prefill it all */
    if (tinfer_kv_seq_truncate(s->ctx, sl->seq, best) != TINFER_OK) {
        tinfer_kv_seq_clear(s->ctx, sl->seq);
        return;
    }
    sl->n_prefilled = best;
    metrics_cached_tokens(best);
}

static bool slot_admit(scheduler *s, slot *sl, job *j) {
    *sl = (slot){.seq = sl->seq, .detok = sl->detok, .job = j, .admitted = s->n_admitted++};
    if (tinfer_sampler_create(&j->req.sampling, sizeof j->req.sampling, s->n_vocab, &sl->sampler) !=
        TINFER_OK) {
        char message[512];
        snprintf(message, sizeof message, "bad sampling parameters: %s", tinfer_last_error());
        fail_job(j, 400, "invalid_request_error", message);
        sl->job = NULL;
        job_release(j);
        return false;
    }
    /* the penalties see the prompt too, as llama.cpp's programs and completion.py do */
    for (size_t i = 0; i < j->req.n_prompt; i++)
        tinfer_sampler_accept(sl->sampler, j->req.prompt[i]);
    stop_init(&sl->stop, j->req.stop, j->req.n_stop);
    reuse_prefix(s, sl);
    return true;
}

/* Moves queued jobs into free slots. */
static void admit(scheduler *s) {
    pthread_mutex_lock(&s->lock);
    job *taken[256];
    size_t n_taken = 0, n_free = 0;
    for (size_t i = 0; i < s->params.n_slots; i++) n_free += s->slots[i].job == NULL;
    while (n_free > 0 && s->queue_len > 0 && n_taken < 256) {
        taken[n_taken++] = s->queue[s->queue_head];
        s->queue_head = (s->queue_head + 1) % s->params.queue_cap;
        s->queue_len--;
        n_free--;
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0, k = 0; k < n_taken && i < s->params.n_slots; i++) {
        if (s->slots[i].job) continue;
        job *j = taken[k++];
        if (job_cancelled(j)) { /* gone while it waited */
            fail_job(j, 499, "cancelled", "the client went away");
            job_release(j);
            i--; /* the slot is still free */
            continue;
        }
        slot_admit(s, &s->slots[i], j);
    }
}

/* The gauges of /metrics, after each step. */
static void publish_gauges(scheduler *s) {
    pthread_mutex_lock(&s->lock);
    const size_t queued = s->queue_len;
    pthread_mutex_unlock(&s->lock);
    size_t running = 0, kv_tokens = 0;
    for (size_t i = 0; i < s->params.n_slots; i++) {
        size_t n = 0;
        if (!s->slots[i].job) continue;
        running++;
        if (tinfer_kv_seq_len(s->ctx, s->slots[i].seq, &n) == TINFER_OK) kv_tokens += n;
    }
    /* forks share blocks: what the pool has handed out, not the sum of the sequences */
    tinfer_context_info info;
    size_t n_free = 0;
    if (tinfer_context_get_info(s->ctx, &info, sizeof info) == TINFER_OK &&
        tinfer_kv_free_tokens(s->ctx, &n_free) == TINFER_OK && info.n_kv_tokens >= n_free)
        kv_tokens = info.n_kv_tokens - n_free;
    metrics_gauges(queued, running, kv_tokens);
}

static void drop_cancelled(scheduler *s) {
    for (size_t i = 0; i < s->params.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (!sl->job || !job_cancelled(sl->job)) continue;
        /* failing wakes the connection, which then finds its socket closed and ends */
        fail_job(sl->job, 499, "cancelled", "the client went away");
        slot_free(s, sl);
    }
}

static void decode_step(scheduler *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->params.n_slots; i++) {
        if (!s->slots[i].job || !s->slots[i].generating) continue;
        s->step_seqs[n] = s->slots[i].seq;
        s->step_tokens[n] = s->slots[i].next_token;
        s->step_slots[n++] = i;
    }
    if (n == 0) return;
    tinfer_status status = tinfer_decode(s->ctx, s->step_seqs, s->step_tokens, n);
    if (status == TINFER_E_ABORTED) return; /* stopping: the cache is as it was */
    for (size_t k = 0; k < n; k++) {
        slot *sl = &s->slots[s->step_slots[k]];
        if (status != TINFER_OK) slot_fail(s, sl, 500, "decode failed");
        else slot_advance(s, sl);
    }
}

static void prefill_step(scheduler *s) {
    slot *oldest = NULL;
    for (size_t i = 0; i < s->params.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->job && !sl->generating && (!oldest || sl->admitted < oldest->admitted)) oldest = sl;
    }
    if (!oldest) return;
    const request *r = &oldest->job->req;
    size_t n = r->n_prompt - oldest->n_prefilled;
    if (n > s->params.chunk) n = s->params.chunk;
    tinfer_status status = tinfer_prefill(s->ctx, oldest->seq, r->prompt + oldest->n_prefilled, n);
    if (status == TINFER_E_ABORTED) return;
    if (status != TINFER_OK) {
        slot_fail(s, oldest, 500, "prefill failed");
        return;
    }
    oldest->n_prefilled += n;
    metrics_tokens(n, 0);
    if (oldest->n_prefilled == r->n_prompt) slot_advance(s, oldest);
}

static bool has_work(const scheduler *s) {
    if (s->queue_len > 0) return true;
    for (size_t i = 0; i < s->params.n_slots; i++)
        if (s->slots[i].job) return true;
    return false;
}

/* At stop: every job still queued or running fails with 503. */
static void fail_all(scheduler *s) {
    static const char *const MESSAGE = "the server is shutting down";
    for (size_t i = 0; i < s->params.n_slots; i++) {
        if (!s->slots[i].job) continue;
        fail_job(s->slots[i].job, 503, "server_error", MESSAGE);
        slot_free(s, &s->slots[i]);
    }
    pthread_mutex_lock(&s->lock);
    while (s->queue_len > 0) {
        job *j = s->queue[s->queue_head];
        s->queue_head = (s->queue_head + 1) % s->params.queue_cap;
        s->queue_len--;
        fail_job(j, 503, "server_error", MESSAGE);
        job_release(j);
    }
    pthread_mutex_unlock(&s->lock);
    metrics_gauges(0, 0, 0);
}

static void *scheduler_main(void *arg) {
    scheduler *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!atomic_load(&s->stopping) && !has_work(s)) pthread_cond_wait(&s->wake, &s->lock);
        pthread_mutex_unlock(&s->lock);
        if (atomic_load(&s->stopping)) break;
        admit(s);
        drop_cancelled(s);
        publish_gauges(s);
        decode_step(s);
        if (atomic_load(&s->stopping)) break;
        prefill_step(s);
        publish_gauges(s);
    }
    fail_all(s);
    return NULL;
}

submit_result scheduler_submit(scheduler *s, job *j) {
    submit_result result = SUBMIT_OK;
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&s->stopping)) {
        result = SUBMIT_STOPPING;
    } else if (s->queue_len == s->params.queue_cap) {
        result = SUBMIT_QUEUE_FULL;
    } else {
        job_retain(j);
        s->queue[(s->queue_head + s->queue_len) % s->params.queue_cap] = j;
        s->queue_len++;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    return result;
}

static tinfer_status create_context(scheduler *s, const tinfer_model *model) {
    tinfer_context_params cp;
    tinfer_context_params_init(&cp, sizeof cp);
    cp.n_ctx = (uint32_t)s->params.n_ctx;
    cp.n_seq_max = (uint32_t)s->params.n_slots;
    cp.n_threads = (uint32_t)s->params.n_threads;
    cp.abort_callback = abort_step;
    cp.abort_user_data = s;
    return tinfer_context_create(model, &cp, sizeof cp, &s->ctx);
}

tinfer_status scheduler_start(const tinfer_model *model, const scheduler_params *params,
                              scheduler **out) {
    scheduler *s = calloc(1, sizeof *s);
    if (!s) return TINFER_E_NOMEM;
    s->params = *params;
    s->tokenizer = tinfer_model_tokenizer(model);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    atomic_init(&s->stopping, false);
    tinfer_status status = create_context(s, model);
    const size_t n = params->n_slots;
    if (status == TINFER_OK) {
        s->n_vocab = tinfer_context_n_vocab(s->ctx);
        s->slots = calloc(n, sizeof *s->slots);
        s->step_seqs = calloc(n, sizeof *s->step_seqs);
        s->step_tokens = calloc(n, sizeof *s->step_tokens);
        s->step_slots = calloc(n, sizeof *s->step_slots);
        s->queue = calloc(params->queue_cap, sizeof *s->queue);
        if (!s->slots || !s->step_seqs || !s->step_tokens || !s->step_slots || !s->queue ||
            !buf_reserve(&s->piece, 256) || !buf_reserve(&s->text, 256))
            status = TINFER_E_NOMEM;
    }
    for (size_t i = 0; status == TINFER_OK && i < n; i++) {
        s->slots[i].seq = (int32_t)i;
        status = tinfer_detok_stream_create(s->tokenizer, TINFER_DETOKENIZE_SKIP_SPECIAL,
                                            &s->slots[i].detok);
    }
    if (status == TINFER_OK && pthread_create(&s->thread, NULL, scheduler_main, s) != 0)
        status = TINFER_E_NOMEM;
    if (status != TINFER_OK) {
        scheduler_free(s);
        return status;
    }
    s->thread_started = true;
    *out = s;
    return TINFER_OK;
}

void scheduler_stop(scheduler *s) {
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    if (s->thread_started) pthread_join(s->thread, NULL);
    s->thread_started = false;
}

void scheduler_free(scheduler *s) {
    if (!s) return;
    for (size_t i = 0; s->slots && i < s->params.n_slots; i++)
        tinfer_detok_stream_free(s->slots[i].detok);
    free(s->slots);
    free(s->step_seqs);
    free(s->step_tokens);
    free(s->step_slots);
    free(s->queue);
    buf_free(&s->piece);
    buf_free(&s->text);
    tinfer_context_free(s->ctx);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
