/* Continuous batching over one tinfer_context: see scheduler.h. */
#include "scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../program_util.h"
#include "metrics.h"
#include "prefix_cache.h"
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
    /* prefix caching; the arrays are made once per slot, n_ctx long */
    int32_t *generated; /* sampled tokens, in order (the cache holds all but the last) */
    uint64_t *hashes;   /* prefix_hash of the prompt */
    bool cache_hit;     /* the prompt began with forked tokens */
    bool first_token;   /* the first token was sampled (time to first token is counted) */
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
    prefix_cache *cache;   /* NULL with --cache-slots 0: no prefix caching at all */
    prefix_match *matches; /* one admission's candidates: cache entries and running slots */

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

/* Up to where a sequence's rows are the bits a fresh prefill of the same prompt computes: the
 * prompt's whole chunks. Prefill passes start at multiples of --chunk and a pass's sums round
 * with its size (tinfer_prefill_logits), so a shorter last chunk, or a decoded token, may round
 * differently from the same token inside a longer prompt's full chunk. */
static size_t exact_tokens(const scheduler *s, size_t n_prefilled) {
    return n_prefilled - n_prefilled % s->params.chunk;
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

/* The bytes sl's detokenizer still holds into s->piece (grown as needed); the stream is reset
 * for the next job whatever becomes of them. */
static tinfer_status detok_flush(scheduler *s, slot *sl, size_t *len) {
    tinfer_status status = tinfer_detok_stream_flush(sl->detok, s->piece.data, s->piece.cap, len);
    if (status == TINFER_E_BUFFER_TOO_SMALL) {
        if (!buf_reserve(&s->piece, *len + 1)) return TINFER_E_NOMEM;
        status = tinfer_detok_stream_flush(sl->detok, s->piece.data, s->piece.cap, len);
    }
    return status;
}

/* Keeps what sl's sequence holds as a prefix-cache entry (a fork: no pool space). */
static void slot_keep(scheduler *s, slot *sl) {
    size_t n = 0;
    if (!s->cache || tinfer_kv_seq_len(s->ctx, sl->seq, &n) != TINFER_OK) return;
    const request *r = &sl->job->req;
    const size_t n_exact = s->params.cache_exact ? exact_tokens(s, sl->n_prefilled) : n;
    prefix_cache_store(s->cache, s->ctx, sl->seq, r->prompt, r->n_prompt, sl->generated, n,
                       n_exact);
}

/* Clears the sequence (keeping it in the prefix cache first when keep) and gives the job back;
 * the job must already be finished or failed. */
static void slot_free_keep(scheduler *s, slot *sl, bool keep) {
    size_t len;
    if (keep) slot_keep(s, sl);
    tinfer_kv_seq_clear(s->ctx, sl->seq);
    tinfer_sampler_free(sl->sampler);
    detok_flush(s, sl, &len); /* forget any held-back bytes: flush resets the stream */
    stop_free(&sl->stop);
    job_release(sl->job);
    *sl = (slot){
        .seq = sl->seq, .detok = sl->detok, .generated = sl->generated, .hashes = sl->hashes};
}

static void slot_free(scheduler *s, slot *sl) { slot_free_keep(s, sl, false); }

static void publish_gauges(scheduler *s);

static void slot_fail(scheduler *s, slot *sl, unsigned status, const char *what) {
    char message[512];
    snprintf(message, sizeof message, "%s: %s", what, tinfer_last_error());
    fail_job(sl->job, status, "server_error", message);
    slot_free(s, sl);
}

static void slot_finish(scheduler *s, slot *sl, const char *reason) {
    if (!sl->stop.stopped) { /* the detokenizer's held bytes may still complete a stop string */
        size_t len = 0;
        const tinfer_status status = detok_flush(s, sl, &len);
        s->text.len = 0;
        if (status == TINFER_OK) stop_push(&sl->stop, s->piece.data, len, &s->text);
        if (sl->stop.stopped) reason = "stop";
        stop_flush(&sl->stop, &s->text);
        job_emit(sl->job, s->text.data, s->text.len);
    }
    const usage u = {.prompt_tokens = sl->job->req.n_prompt, .completion_tokens = sl->n_generated};
    slot_keep(s, sl); /* and the gauges say so before the client hears back */
    publish_gauges(s);
    job_finish(sl->job, reason, &u);
    slot_free(s, sl);
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
    if (!sl->first_token) {
        sl->first_token = true;
        metrics_first_token(sl->cache_hit, (now_ms() - sl->job->submitted_ms) / 1e3);
    }
    sl->generated[sl->n_generated] = token; /* n_generated < n_ctx: checked below last time */
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

/* Prefix caching: a prompt that begins with whole 32-token blocks that a cached entry (a
 * finished request's sequence) or a running sequence holds starts from a fork of it
 * (tinfer_kv_seq_copy) cut back to the shared length (tinfer_kv_seq_truncate) and prefills only
 * the rest. The length used is the shared one, less the last prompt token (prefilled for its
 * logits), and with cache_exact also no further than the candidate's exact rows and down to a
 * multiple of --chunk, so that the passes that follow are the ones a fresh prefill runs: a hit
 * then computes the same bits as a miss. A sliding-window model refuses to cut back a sequence
 * that ran far past the length asked (E_UNSUPPORTED, see doc/server.md): the next candidate is
 * tried, longest first. */
static size_t usable(const scheduler *s, const prefix_match *m, size_t n_prompt) {
    size_t n = m->n_shared < n_prompt - 1 ? m->n_shared : n_prompt - 1;
    if (!s->params.cache_exact) return n - n % PREFIX_BLOCK_TOKENS;
    if (n > m->n_exact) n = m->n_exact;
    return n - n % s->params.chunk;
}

static int by_usable_desc(const void *a, const void *b) {
    const prefix_match *x = a, *y = b;
    return (x->n_shared < y->n_shared) - (x->n_shared > y->n_shared);
}

static size_t find_matches(scheduler *s, const slot *sl) {
    const request *r = &sl->job->req;
    size_t n = prefix_cache_matches(s->cache, r->prompt, sl->hashes, r->n_prompt, s->matches);
    for (size_t i = 0; i < s->params.n_slots; i++) { /* running prompts, as far as prefilled */
        const slot *other = &s->slots[i];
        if (other == sl || !other->job) continue;
        const size_t shared =
            prefix_shared(r->prompt, sl->hashes, r->n_prompt, other->job->req.prompt, other->hashes,
                          other->n_prefilled);
        if (shared > 0)
            s->matches[n++] = (prefix_match){.seq = other->seq,
                                             .n_shared = shared,
                                             .n_exact = exact_tokens(s, other->n_prefilled)};
    }
    for (size_t i = 0; i < n; i++) /* sort by what each can give */
        s->matches[i].n_shared = usable(s, &s->matches[i], r->n_prompt);
    qsort(s->matches, n, sizeof *s->matches, by_usable_desc);
    return n;
}

static void reuse_prefix(scheduler *s, slot *sl) {
    if (!s->cache) return;
    const request *r = &sl->job->req;
    prefix_hash(r->prompt, r->n_prompt, sl->hashes);
    const size_t n = find_matches(s, sl);
    for (size_t i = 0; i < n && s->matches[i].n_shared > 0; i++) {
        const prefix_match *m = &s->matches[i];
        if (tinfer_kv_seq_copy(s->ctx, m->seq, sl->seq) != TINFER_OK) continue;
        const tinfer_status status = tinfer_kv_seq_truncate(s->ctx, sl->seq, m->n_shared);
        if (status != TINFER_OK) {
            tinfer_kv_seq_clear(s->ctx, sl->seq);
            if (status == TINFER_E_UNSUPPORTED) metrics_prefix_refused();
            continue;
        }
        prefix_cache_touch(s->cache, m->seq);
        sl->n_prefilled = m->n_shared;
        sl->cache_hit = true;
        break;
    }
    metrics_prefix_lookup(sl->n_prefilled);
}

static bool slot_admit(scheduler *s, slot *sl, job *j) {
    *sl = (slot){.seq = sl->seq,
                 .detok = sl->detok,
                 .generated = sl->generated,
                 .hashes = sl->hashes,
                 .job = j,
                 .admitted = s->n_admitted++};
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
    metrics_now now = {0};
    pthread_mutex_lock(&s->lock);
    now.queue_depth = s->queue_len;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < s->params.n_slots; i++) now.running += s->slots[i].job != NULL;
    /* forks share blocks: what the pool has handed out, not the sum of the sequences */
    tinfer_context_info info;
    size_t n_free = 0;
    if (tinfer_context_get_info(s->ctx, &info, sizeof info) == TINFER_OK &&
        tinfer_kv_free_tokens(s->ctx, &n_free) == TINFER_OK && info.n_kv_tokens >= n_free) {
        now.kv_tokens = info.n_kv_tokens - n_free;
        now.kv_blocks_used = now.kv_tokens / PREFIX_BLOCK_TOKENS;
        now.kv_blocks_total = info.n_kv_tokens / PREFIX_BLOCK_TOKENS;
        now.kv_bytes = info.kv_bytes;
        now.scratch_bytes = info.scratch_bytes;
    }
    now.cache_entries = s->cache ? prefix_cache_count(s->cache) : 0;
    metrics_gauges(&now);
}

static void drop_cancelled(scheduler *s) {
    for (size_t i = 0; i < s->params.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (!sl->job || !job_cancelled(sl->job)) continue;
        /* failing wakes the connection, which then finds its socket closed and ends */
        fail_job(sl->job, 499, "cancelled", "the client went away");
        slot_free_keep(s, sl, true); /* what it computed is still good for others */
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
    tinfer_status status;
    /* a full pool changes nothing: make room from the cached entries and try again */
    while ((status = tinfer_decode(s->ctx, s->step_seqs, s->step_tokens, n)) ==
               TINFER_E_CONTEXT_FULL &&
           s->cache && prefix_cache_evict(s->cache, s->ctx)) {
    }
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
    tinfer_status status;
    while ((status = tinfer_prefill(s->ctx, oldest->seq, r->prompt + oldest->n_prefilled, n)) ==
               TINFER_E_CONTEXT_FULL &&
           s->cache && prefix_cache_evict(s->cache, s->ctx)) {
    }
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
    publish_gauges(s);
}

static void *scheduler_main(void *arg) {
    scheduler *s = arg;
    publish_gauges(s); /* the pool's size, before any request */
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
        j->submitted_ms = now_ms();
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
    cp.n_seq_max = (uint32_t)(s->params.n_slots + s->params.n_cache_slots);
    cp.n_kv_tokens = (uint32_t)s->params.n_kv_tokens;
    cp.n_threads = (uint32_t)s->params.n_threads;
    cp.head_sum = s->params.fast_head ? TINFER_HEAD_SUM_FAST : TINFER_HEAD_SUM_EXACT;
    cp.prompt_sum = s->params.fast_prompt ? TINFER_PROMPT_SUM_FAST : TINFER_PROMPT_SUM_EXACT;
    cp.kv_dtype = s->params.kv_q8_0 ? TINFER_KV_Q8_0 : TINFER_KV_F16;
    cp.prefault = s->params.prefault;
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
        s->matches = calloc(n + params->n_cache_slots, sizeof *s->matches);
        if (params->n_cache_slots > 0)
            s->cache = prefix_cache_create((int32_t)n, params->n_cache_slots, params->n_ctx);
        if ((params->n_cache_slots > 0 && !s->cache) || !s->matches || !s->slots || !s->step_seqs ||
            !s->step_tokens || !s->step_slots || !s->queue || !buf_reserve(&s->piece, 256) ||
            !buf_reserve(&s->text, 256))
            status = TINFER_E_NOMEM;
    }
    for (size_t i = 0; status == TINFER_OK && i < n; i++) {
        s->slots[i].seq = (int32_t)i;
        s->slots[i].generated = malloc(params->n_ctx * sizeof(int32_t));
        s->slots[i].hashes = malloc((params->n_ctx / PREFIX_BLOCK_TOKENS + 1) * sizeof(uint64_t));
        if (!s->slots[i].generated || !s->slots[i].hashes) status = TINFER_E_NOMEM;
        if (status != TINFER_OK) break;
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
    for (size_t i = 0; s->slots && i < s->params.n_slots; i++) {
        tinfer_detok_stream_free(s->slots[i].detok);
        free(s->slots[i].generated);
        free(s->slots[i].hashes);
    }
    prefix_cache_free(s->cache);
    free(s->matches);
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
