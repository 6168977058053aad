/* A second thread for the training loop. Work is split into two fixed parts (the same rows or
   columns of the weights to the same part every step), so each core keeps its half of the
   weights and velocity in its own L2 cache, and the results do not depend on timing: every part
   is computed exactly as the single-threaded loop would. The helper is offered part 1; a part is
   claimed by whichever thread gets to it first, so when the machine is busy and the helper is
   not running, the training thread does both parts itself instead of waiting. */
#define _GNU_SOURCE
#include "fastmlp.h"

void fm_run_two_parts(fm_worker *worker, fm_part_fn fn, void *ctx)
{
    if (worker == NULL || !worker->running) {
        fn(ctx, 0);
        fn(ctx, 1);
        return;
    }
    fm_worker_post(worker, fn, ctx);
    fn(ctx, 0);
    fm_worker_wait(worker);
}

#if defined(_WIN32)

int fm_worker_start(fm_worker *worker) { worker->running = 0; return 0; }
int fm_worker_helping(const fm_worker *worker) { (void)worker; return 0; }
void fm_worker_post(fm_worker *worker, fm_part_fn fn, void *ctx) { worker->fn = fn; worker->ctx = ctx; }
void fm_worker_wait(fm_worker *worker) { worker->fn(worker->ctx, 1); }
void fm_worker_stop(fm_worker *worker) { (void)worker; }

#else

#include <pthread.h>
#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FM_PAUSE() _mm_pause()
#else
#define FM_PAUSE() ((void)0)
#endif

/* Returns how many times it looked before the counter moved. */
static int wait_until_changed(int *counter, int old)
{
    int spins = 0;
    for (; __atomic_load_n(counter, __ATOMIC_ACQUIRE) == old; spins++) {
        if (spins < 4000)
            FM_PAUSE();
        else
            sched_yield();
    }
    return spins;
}

/* Claim job number `generation`; true for exactly one of the two threads. */
static int claim(fm_worker *worker, int generation)
{
    int expected = generation - 1;
    return __atomic_compare_exchange_n(&worker->claimed, &expected, generation, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static void *worker_main(void *arg)
{
    fm_worker *worker = arg;
    int seen = 0;
    for (;;) {
        wait_until_changed(&worker->posted, seen);
        seen = __atomic_load_n(&worker->posted, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&worker->quit, __ATOMIC_ACQUIRE))
            return NULL;
        if (claim(worker, seen)) {
            worker->fn(worker->ctx, 1);
            __atomic_store_n(&worker->finished, seen, __ATOMIC_RELEASE);
        }
    }
}

int fm_worker_start(fm_worker *worker)
{
    worker->posted = worker->claimed = worker->finished = worker->quit = 0;
    worker->jobs = worker->slow_jobs = 0;
    worker->running = pthread_create(&worker->thread, NULL, worker_main, worker) == 0;
    return worker->running;
}

void fm_worker_post(fm_worker *worker, fm_part_fn fn, void *ctx)
{
    worker->fn = fn;
    worker->ctx = ctx;
    __atomic_store_n(&worker->posted, worker->posted + 1, __ATOMIC_RELEASE);
}

void fm_worker_wait(fm_worker *worker)
{
    int generation = worker->posted;
    worker->jobs++;
    if (claim(worker, generation)) {  /* the helper has not started it: do it here */
        worker->fn(worker->ctx, 1);
        worker->slow_jobs++;
        return;
    }
    int done, spins = 0;
    while ((done = __atomic_load_n(&worker->finished, __ATOMIC_ACQUIRE)) != generation)
        spins += wait_until_changed(&worker->finished, done);
    if (spins > 2000)  /* the helper lost its core in the middle of the job */
        worker->slow_jobs++;
}

int fm_worker_helping(const fm_worker *worker)
{
    return worker->running && (worker->jobs < 64 || 4 * worker->slow_jobs < worker->jobs);
}

void fm_worker_stop(fm_worker *worker)
{
    if (!worker->running)
        return;
    __atomic_store_n(&worker->quit, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&worker->posted, worker->posted + 1, __ATOMIC_RELEASE);
    pthread_join(worker->thread, NULL);
    worker->running = 0;
}

#endif
