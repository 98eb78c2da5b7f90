/* The worker pool (see thread_pool.h): one atomic job word for dispatch (its generation) and for
 * the barrier (whether workers may still join, how many are at work); condition variables only
 * for a thread that has spun long enough to sleep — an idle worker, or the caller waiting for a
 * worker the scheduler has preempted. */
#include "core/thread_pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TF_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define TF_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define TF_CPU_RELAX() ((void)0)
#endif

/* Pauses an idle worker spins before it sleeps: 40-50 ns each on recent x86 (measured 48 ns on
 * this project's AMD EPYC build machine), so 1.5 ms — far more than the gap between two ops of a
 * pass (microseconds), far less than a person waiting between prompts. A sleeping worker costs
 * its next dispatch a futex wake (tens of µs), so it joins late or not at all, and the caller
 * does the work. */
enum { SPIN_PAUSES = 1 << 15 };
/* Pauses between two sched_yield calls of a thread that waits (an idle worker, or the caller
 * waiting for stragglers): on a machine with more runnable threads than cores, the thread it
 * waits for gets the core sooner. A dispatch that comes quickly (the steady state) sees none. */
enum { WAIT_PAUSES_PER_YIELD = 1 << 10 };
/* Pauses the caller spins (about 0.8 ms) waiting for the workers that joined, before it sleeps
 * on the condition variable. Longer than a worker's last range of a prompt's matrix product
 * normally takes (hundreds of µs: sleeping then would add a futex wake to every op), shorter than
 * a scheduler time slice: a worker this late has been taken off its core (other programs want the
 * cores); the caller's core then falls idle, and the kernel moves the waiting worker onto it
 * rather than letting it queue behind another program. */
enum { CALLER_SPIN_PAUSES = 1 << 14 };

typedef struct worker {
    tf_thread_pool *pool;
    pthread_t thread;
    uint32_t index;
} worker;

/* The job word: the dispatch's generation in the high 32 bits, whether workers may still join it
 * (JOB_OPEN), and how many have joined and not yet finished (the low bits). */
#define JOB_OPEN ((uint64_t)1 << 31)
#define JOB_ACTIVE ((uint64_t)JOB_OPEN - 1)
static uint32_t job_generation(uint64_t word) { return (uint32_t)(word >> 32); }

struct tf_thread_pool {
    uint32_t n_threads;
    uint32_t n_started; /* workers whose thread exists (for destroy after a failed create) */
    worker *workers;    /* [n_threads - 1]: thread i + 1 */

    /* The task of the current generation, written before the generation is published and read
     * only by workers that joined it. */
    tf_pool_task task;
    void *arg;
    _Atomic bool stop;

    _Atomic uint64_t job;         /* see JOB_OPEN */
    _Atomic uint32_t n_sleeping;  /* workers on the condition variable, or about to be */
    _Atomic bool caller_sleeping; /* the caller waits on done, or is about to */
    pthread_mutex_t mutex;
    pthread_cond_t wake; /* workers wait here for a dispatch */
    pthread_cond_t done; /* the caller waits here for the last worker of a dispatch */
};

uint32_t tf_pool_default_threads(void) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    return n > TF_POOL_MAX_THREADS ? TF_POOL_MAX_THREADS : (uint32_t)n;
}

/* The next generation after seen: spin, then sleep. The sleeper registers in n_sleeping before
 * it reads the job word a last time, and the dispatcher stores the word before it reads
 * n_sleeping (both sequentially consistent), so at least one of them sees the other: either the
 * worker sees the new generation, or the dispatcher sees a sleeper and broadcasts under the mutex
 * the sleeper holds until it waits. */
static uint32_t await_generation(tf_thread_pool *pool, uint32_t seen) {
    for (uint32_t i = 1; i <= SPIN_PAUSES; i++) {
        const uint32_t g = job_generation(atomic_load_explicit(&pool->job, memory_order_acquire));
        if (g != seen) return g;
        if (i % WAIT_PAUSES_PER_YIELD == 0) sched_yield();
        else TF_CPU_RELAX();
    }
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add(&pool->n_sleeping, 1);
    uint32_t g;
    while ((g = job_generation(atomic_load(&pool->job))) == seen)
        pthread_cond_wait(&pool->wake, &pool->mutex);
    atomic_fetch_sub(&pool->n_sleeping, 1);
    pthread_mutex_unlock(&pool->mutex);
    return g;
}

/* Joins generation g if the caller has not closed it yet: counts this worker as active (the
 * acquire makes the task and everything the caller wrote before publishing it visible). */
static bool join(tf_thread_pool *pool, uint32_t g) {
    uint64_t word = atomic_load_explicit(&pool->job, memory_order_relaxed);
    while (job_generation(word) == g && (word & JOB_OPEN))
        if (atomic_compare_exchange_weak_explicit(&pool->job, &word, word + 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

static void *worker_main(void *arg) {
    const worker *self = arg;
    tf_thread_pool *pool = self->pool;
    uint32_t seen = 0; /* workers start before the first dispatch, at generation 0 */
    for (;;) {
        seen = await_generation(pool, seen);
        if (atomic_load_explicit(&pool->stop, memory_order_relaxed)) return NULL;
        if (!join(pool, seen)) continue; /* too late: the caller did the work */
        pool->task(pool->arg, self->index, pool->n_threads);
        /* seq_cst, before reading caller_sleeping: see close_and_await. */
        const uint64_t before = atomic_fetch_sub(&pool->job, 1);
        if ((before & JOB_ACTIVE) == 1 && atomic_load(&pool->caller_sleeping)) {
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
}

/* Publishes a new generation, open, none active: the task set in pool before it is visible to
 * every worker that joins. */
static void dispatch(tf_thread_pool *pool) {
    const uint64_t word = atomic_load_explicit(&pool->job, memory_order_relaxed);
    const uint64_t next = (uint64_t)(job_generation(word) + 1) << 32 | JOB_OPEN;
    atomic_store(&pool->job, next); /* seq_cst: ordered before the read below */
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }
}

/* Closes the generation to late workers, then waits for those that joined: their writes are
 * visible once the count they decremented reads 0 here. Spins, then sleeps: the caller sets
 * caller_sleeping before its last look at the count, the last worker decrements the count before
 * it reads caller_sleeping (all sequentially consistent), so either the caller sees 0 or the
 * worker sees the flag and signals under the mutex the caller holds until it waits. */
static void close_and_await(tf_thread_pool *pool) {
    uint64_t word = atomic_fetch_and_explicit(&pool->job, ~JOB_OPEN, memory_order_acq_rel);
    for (uint32_t i = 1; (word & JOB_ACTIVE) != 0; i++) {
        if (i > CALLER_SPIN_PAUSES) {
            pthread_mutex_lock(&pool->mutex);
            atomic_store(&pool->caller_sleeping, true);
            while ((atomic_load(&pool->job) & JOB_ACTIVE) != 0)
                pthread_cond_wait(&pool->done, &pool->mutex);
            atomic_store(&pool->caller_sleeping, false);
            pthread_mutex_unlock(&pool->mutex);
            return;
        }
        if (i % WAIT_PAUSES_PER_YIELD == 0) sched_yield();
        else TF_CPU_RELAX();
        word = atomic_load_explicit(&pool->job, memory_order_acquire);
    }
}

void tf_pool_destroy(tf_thread_pool *pool) {
    if (!pool) return;
    if (pool->n_started > 0) {
        atomic_store_explicit(&pool->stop, true, memory_order_relaxed);
        dispatch(pool);
        for (uint32_t i = 0; i < pool->n_started; i++) pthread_join(pool->workers[i].thread, NULL);
    }
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool);
}

tinfer_status tf_pool_create(uint32_t n_threads, tf_thread_pool **out) {
    if (n_threads < 2 || n_threads > TF_POOL_MAX_THREADS)
        return tf_error(TINFER_E_INVALID_ARG, "thread pool: %u threads (2 to %d)", n_threads,
                        TF_POOL_MAX_THREADS);
    tf_thread_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return tf_error(TINFER_E_NOMEM, "thread pool: out of memory");
    pool->n_threads = n_threads;
    pool->workers = calloc(n_threads - 1, sizeof *pool->workers);
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    if (!pool->workers) {
        tf_pool_destroy(pool);
        return tf_error(TINFER_E_NOMEM, "thread pool: out of memory");
    }
    /* The workers start with every signal blocked, so the host program's signals keep going to
     * its own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = 0;
    for (uint32_t i = 0; i + 1 < n_threads && !err; i++) {
        pool->workers[i] = (worker){.pool = pool, .index = i + 1};
        err = pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]);
        if (!err) pool->n_started = i + 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        const uint32_t started = pool->n_started;
        tf_pool_destroy(pool); /* stops the ones started */
        return tf_error(TINFER_E_NOMEM, "thread pool: cannot start thread %u of %u (%s)",
                        started + 2, n_threads, err == EAGAIN ? "EAGAIN" : "error");
    }
    *out = pool;
    return TINFER_OK;
}

uint32_t tf_pool_threads(const tf_thread_pool *pool) { return pool ? pool->n_threads : 1; }

void tf_pool_run(tf_thread_pool *pool, tf_pool_task task, void *arg) {
    if (!pool) {
        task(arg, 0, 1);
        return;
    }
    pool->task = task;
    pool->arg = arg;
    dispatch(pool);
    task(arg, 0, pool->n_threads);
    close_and_await(pool);
}

/* One tf_pool_for: ranges handed out from next. */
typedef struct for_job {
    _Atomic size_t next;
    size_t n_items, chunk;
    tf_pool_range fn;
    void *arg;
} for_job;

static void for_task(void *arg, uint32_t thread, uint32_t n_threads) {
    (void)n_threads;
    for_job *job = arg;
    for (;;) {
        const size_t begin =
            atomic_fetch_add_explicit(&job->next, job->chunk, memory_order_relaxed);
        if (begin >= job->n_items) return;
        const size_t left = job->n_items - begin;
        job->fn(job->arg, begin, begin + (left < job->chunk ? left : job->chunk), thread);
    }
}

void tf_pool_for(tf_thread_pool *pool, size_t n_items, size_t chunk, tf_pool_range fn, void *arg) {
    if (n_items == 0) return;
    if (chunk == 0) chunk = 1;
    if (!pool || n_items <= chunk) {
        fn(arg, 0, n_items, 0);
        return;
    }
    for_job job = {.n_items = n_items, .chunk = chunk, .fn = fn, .arg = arg};
    atomic_init(&job.next, 0);
    tf_pool_run(pool, for_task, &job);
}
