/* The CPU backend's thread pool (lib/core/thread_pool.h): tf_pool_for runs every index of
 * [0, n) exactly once, on a valid thread, for many sizes, chunk lengths and thread counts
 * (including more threads than items, one thread — no pool — and no items); tf_pool_run runs the
 * task once on the caller and at most once on each worker; 10,000 dispatches in a row finish (no
 * lost wake-up, no deadlock), and so do dispatches to workers that have gone to sleep on the
 * condition variable. Built with -DTINFER_SANITIZE=thread this also checks the pool for data races.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "core/thread_pool.h"

enum { MAX_ITEMS = 5000 };

/* What a tf_pool_for wrote: a count per index (plain bytes: two threads writing one index would
 * be a data race ThreadSanitizer reports, as well as a count of 2) and the worst thread index. */
typedef struct for_record {
    uint8_t counts[MAX_ITEMS];
    uint32_t n_threads;
    _Atomic uint32_t bad_thread;
    _Atomic uint32_t n_calls;
} for_record;

static void record_range(void *arg, size_t begin, size_t end, uint32_t thread) {
    for_record *rec = arg;
    if (thread >= rec->n_threads) atomic_store(&rec->bad_thread, 1);
    atomic_fetch_add(&rec->n_calls, 1);
    for (size_t i = begin; i < end; i++) rec->counts[i]++;
}

/* Every index once, on a valid thread, in at most ceil(n / chunk) ranges. */
static void check_for(tf_thread_pool *pool, for_record *rec, size_t n, size_t chunk) {
    memset(rec->counts, 0, sizeof rec->counts);
    rec->n_threads = tf_pool_threads(pool);
    atomic_store(&rec->bad_thread, 0);
    atomic_store(&rec->n_calls, 0);
    tf_pool_for(pool, n, chunk, record_range, rec);
    for (size_t i = 0; i < n; i++)
        if (rec->counts[i] != 1)
            fail_msg("%u threads, %zu items in chunks of %zu: index %zu ran %u times",
                     rec->n_threads, n, chunk, i, rec->counts[i]);
    for (size_t i = n; i < MAX_ITEMS; i++) assert_int_equal(rec->counts[i], 0);
    assert_int_equal(atomic_load(&rec->bad_thread), 0);
    const size_t c = chunk ? chunk : 1;
    assert_true(atomic_load(&rec->n_calls) <= (n + c - 1) / c);
    if (n == 0) assert_int_equal(atomic_load(&rec->n_calls), 0);
}

static const size_t SIZES[] = {0, 1, 2, 3, 5, 7, 8, 16, 31, 64, 100, 1000, 4097, MAX_ITEMS};
static const size_t CHUNKS[] = {0, 1, 2, 3, 16, 64, 1000, 100000};
static const uint32_t THREADS[] = {1, 2, 3, 4, 7, 16};

static tf_thread_pool *make_pool(uint32_t n_threads) {
    tf_thread_pool *pool = NULL;
    if (n_threads > 1) assert_int_equal(tf_pool_create(n_threads, &pool), TINFER_OK);
    assert_int_equal(tf_pool_threads(pool), n_threads);
    return pool;
}

static void for_runs_every_index_once(void **state) {
    (void)state;
    for_record *rec = calloc(1, sizeof *rec);
    assert_non_null(rec);
    for (size_t t = 0; t < sizeof THREADS / sizeof THREADS[0]; t++) {
        tf_thread_pool *pool = make_pool(THREADS[t]);
        for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++)
            for (size_t c = 0; c < sizeof CHUNKS / sizeof CHUNKS[0]; c++)
                check_for(pool, rec, SIZES[s], CHUNKS[c]);
        tf_pool_destroy(pool);
    }
    free(rec);
}

/* tf_pool_run: the caller once, each worker at most once, every index valid. */
typedef struct run_record {
    _Atomic uint32_t calls[16];
    _Atomic uint32_t bad;
} run_record;

static void record_thread(void *arg, uint32_t thread, uint32_t n_threads) {
    run_record *rec = arg;
    if (thread >= n_threads || n_threads > 16) atomic_store(&rec->bad, 1);
    else atomic_fetch_add(&rec->calls[thread], 1);
}

static void run_calls_each_thread_at_most_once(void **state) {
    (void)state;
    for (size_t t = 0; t < sizeof THREADS / sizeof THREADS[0]; t++) {
        tf_thread_pool *pool = make_pool(THREADS[t]);
        for (int rep = 0; rep < 100; rep++) {
            run_record rec = {0};
            tf_pool_run(pool, record_thread, &rec);
            assert_int_equal(atomic_load(&rec.bad), 0);
            assert_int_equal(atomic_load(&rec.calls[0]), 1);
            for (uint32_t i = 1; i < 16; i++)
                assert_true(atomic_load(&rec.calls[i]) <= (i < THREADS[t] ? 1u : 0u));
        }
        tf_pool_destroy(pool);
    }
}

/* Sums of i over [0, n) from per-thread partial sums: each dispatch's result checked, so a
 * barrier that returned early (a worker still adding) would show. */
typedef struct sum_job {
    _Atomic uint64_t total;
} sum_job;

static void sum_range(void *arg, size_t begin, size_t end, uint32_t thread) {
    (void)thread;
    uint64_t s = 0;
    for (size_t i = begin; i < end; i++) s += i;
    atomic_fetch_add_explicit(&((sum_job *)arg)->total, s, memory_order_relaxed);
}

static void ten_thousand_dispatches_finish(void **state) {
    (void)state;
    const uint32_t counts[] = {2, 3, 4};
    for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++) {
        tf_thread_pool *pool = make_pool(counts[t]);
        for (uint32_t rep = 0; rep < 10000; rep++) {
            const size_t n = 1 + rep % 97;
            sum_job job = {0};
            tf_pool_for(pool, n, 1 + rep % 5, sum_range, &job);
            assert_int_equal(atomic_load(&job.total), (uint64_t)n * (n - 1) / 2);
        }
        tf_pool_destroy(pool);
    }
}

/* Workers that waited long enough to sleep on the condition variable wake for the next dispatch,
 * and a pool whose workers sleep can be destroyed. */
static void sleeping_workers_wake(void **state) {
    (void)state;
    tf_thread_pool *pool = make_pool(3);
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000}; /* spin is ~1 ms */
    for (int rep = 0; rep < 20; rep++) {
        nanosleep(&pause, NULL);
        sum_job job = {0};
        tf_pool_for(pool, 1000, 10, sum_range, &job);
        assert_int_equal(atomic_load(&job.total), 1000u * 999u / 2);
    }
    nanosleep(&pause, NULL);
    tf_pool_destroy(pool);
    tf_pool_destroy(make_pool(4)); /* destroyed before its first dispatch */
    tf_pool_destroy(NULL);
}

/* A worker that takes milliseconds (as one preempted by the scheduler would): the caller stops
 * spinning and sleeps until the worker's signal, and sees its writes once tf_pool_run returns. */
typedef struct slow_job {
    _Atomic uint32_t started, finished;
    uint32_t written[16]; /* plain: must be visible after the barrier */
} slow_job;

static void slow_task(void *arg, uint32_t thread, uint32_t n_threads) {
    (void)n_threads;
    slow_job *job = arg;
    if (thread == 0) { /* the caller waits (up to 2 s) until a worker has joined */
        for (int i = 0; i < 2000 && atomic_load(&job->started) == 0; i++) {
            const struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
            nanosleep(&ms, NULL);
        }
        return;
    }
    atomic_fetch_add(&job->started, 1);
    const struct timespec slow = {.tv_sec = 0, .tv_nsec = 3 * 1000 * 1000};
    nanosleep(&slow, NULL);
    job->written[thread] = thread;
    atomic_fetch_add(&job->finished, 1);
}

static void caller_sleeps_for_a_slow_worker(void **state) {
    (void)state;
    tf_thread_pool *pool = make_pool(3);
    for (int rep = 0; rep < 20; rep++) {
        slow_job job = {0};
        tf_pool_run(pool, slow_task, &job);
        assert_true(atomic_load(&job.started) >= 1);
        assert_int_equal(atomic_load(&job.finished), atomic_load(&job.started));
        uint32_t n_written = 0;
        for (uint32_t i = 1; i < 3; i++) n_written += job.written[i] == i;
        assert_int_equal(n_written, atomic_load(&job.started));
    }
    tf_pool_destroy(pool);
}

static void bad_thread_counts_are_refused(void **state) {
    (void)state;
    tf_thread_pool *pool = NULL;
    assert_int_equal(tf_pool_create(0, &pool), TINFER_E_INVALID_ARG);
    assert_int_equal(tf_pool_create(1, &pool), TINFER_E_INVALID_ARG);
    assert_int_equal(tf_pool_create(TF_POOL_MAX_THREADS + 1, &pool), TINFER_E_INVALID_ARG);
    assert_null(pool);
    assert_int_equal(tf_pool_threads(NULL), 1);
    assert_true(tf_pool_default_threads() >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(for_runs_every_index_once),
        cmocka_unit_test(run_calls_each_thread_at_most_once),
        cmocka_unit_test(ten_thousand_dispatches_finish),
        cmocka_unit_test(sleeping_workers_wake),
        cmocka_unit_test(caller_sleeps_for_a_slow_worker),
        cmocka_unit_test(bad_thread_counts_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
