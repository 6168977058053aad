/* Two threads running the same loop, meeting at a barrier. POSIX threads where there are any;
   elsewhere the calling thread runs the loop alone, doing both threads' shares. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#endif

#include "fastmlp.h"

/* A wait at the barrier spins this long (a few tens of microseconds), then yields the core. */
#define SPINS_BEFORE_YIELD 2000

static void relax(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void fm_team_barrier(fm_team *team)
{
#if !defined(_WIN32)
    if (team->size < 2)
        return;
    int generation = __atomic_load_n(&team->generation, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&team->arrived, 1, __ATOMIC_ACQ_REL) == team->size) {
        __atomic_store_n(&team->arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&team->generation, generation + 1, __ATOMIC_RELEASE);
        return;
    }
    for (int spins = 0; __atomic_load_n(&team->generation, __ATOMIC_ACQUIRE) == generation; spins++) {
        if (spins < SPINS_BEFORE_YIELD)
            relax();
        else
            sched_yield();
    }
#else
    (void)team;
#endif
}

typedef struct {
    fm_team_body body;
    void *arg;
} start;

#if !defined(_WIN32)
static void *helper_main(void *p)
{
    start *s = p;
    s->body(s->arg, 1, 2);
    return NULL;
}
#endif

int fm_team_run(fm_team *team, fm_team_body body, void *arg, int n_threads)
{
    team->arrived = team->generation = 0;
    team->size = 1;
#if !defined(_WIN32)
    if (n_threads >= 2) {
        start s = {body, arg};
        pthread_t helper;
        team->size = 2;
        if (pthread_create(&helper, NULL, helper_main, &s) == 0) {
            body(arg, 0, 2);
            pthread_join(helper, NULL);
            return 2;
        }
        team->size = 1;  /* no thread to be had: do it all here */
    }
#else
    (void)n_threads;
#endif
    body(arg, 0, 1);
    return 1;
}
