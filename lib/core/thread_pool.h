/* A fixed set of persistent worker threads that run one task at a time, the calling thread
 * taking part as worker 0: the CPU backend's way of keeping every core busy within an op.
 *
 * Dispatch publishes the task by bumping a generation counter; idle workers spin on it for a
 * bounded number of pauses (microseconds between the ops of a pass), then sleep on a condition
 * variable (between passes). Workers join the task as they see it; the caller runs it too, then
 * closes it to latecomers and waits only for the workers that joined (spinning, then sleeping). A
 * worker the scheduler has taken off its core (a machine busy with other programs) therefore never
 * holds the caller up unless it had started, and the work itself is handed out in ranges from a
 * shared counter (tf_pool_for), so whoever is running takes what is left. In the steady state, with
 * the workers spinning, a dispatch costs a few atomic operations: no lock, no system call, no
 * allocation.
 *
 * A pool is driven by one thread at a time (not itself thread-safe): tf_pool_run and tf_pool_for
 * must not be called concurrently on the same pool, nor from inside a task. */
#ifndef TINFER_CORE_THREAD_POOL_H
#define TINFER_CORE_THREAD_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "tinfer/tinfer.h"

/* The most threads a pool holds; more is refused as an invalid argument. */
enum { TF_POOL_MAX_THREADS = 256 };

typedef struct tf_thread_pool tf_thread_pool;

/* Runs on every thread of a run: thread is 0 (the caller) to n_threads - 1. */
typedef void (*tf_pool_task)(void *arg, uint32_t thread, uint32_t n_threads);

/* Runs items [begin, end) on thread (0 = the caller). */
typedef void (*tf_pool_range)(void *arg, size_t begin, size_t end, uint32_t thread);

/* The number of threads 0 stands for: the online CPUs (at least 1). */
uint32_t tf_pool_default_threads(void);

/* A pool of n_threads threads counting the caller, so n_threads - 1 are started (n_threads >= 2:
 * one thread needs no pool). E_INVALID_ARG for n_threads < 2 or > TF_POOL_MAX_THREADS; E_NOMEM
 * when memory or a thread cannot be had. On success *out is a pool for tf_pool_destroy. */
tinfer_status tf_pool_create(uint32_t n_threads, tf_thread_pool **out);

/* Stops and joins the workers; NULL is accepted. */
void tf_pool_destroy(tf_thread_pool *pool);

/* Threads counting the caller; 1 for a NULL pool. */
uint32_t tf_pool_threads(const tf_thread_pool *pool);

/* task(arg, 0, n) on the caller and task(arg, i, n) on each worker i (1 ≤ i < n) that joins in
 * time — any number of them, none included — so a task must be able to do all the work alone,
 * taking it from a shared counter. Returns when every call has returned, their writes visible to
 * the caller. A NULL pool runs task(arg, 0, 1) inline. */
void tf_pool_run(tf_thread_pool *pool, tf_pool_task task, void *arg);

/* fn over [0, n_items) in consecutive ranges of chunk items (the last may be shorter), each range
 * run exactly once, handed out to whichever thread asks next (a thread delayed by the scheduler
 * costs its range, not its share). With a NULL pool, or n_items <= chunk, it is one inline call
 * fn(arg, 0, n_items, 0) — so an op too small to be worth a dispatch pays none; nothing at all
 * for 0 items. chunk 0 counts as 1. */
void tf_pool_for(tf_thread_pool *pool, size_t n_items, size_t chunk, tf_pool_range fn, void *arg);

#endif
