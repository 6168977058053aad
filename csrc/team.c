/* A team of threads running the same loop, meeting at a barrier. POSIX threads where there are
   any; elsewhere the calling thread runs the loop alone, doing every thread's share. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#endif

#include "team.h"

/* Spins before a wait goes to sleep: about a millisecond (a pause is some 30 ns). Waking a
   sleeper costs more than the wait it saves unless the partner is really gone, so a shorter
   spin loses speed. */
#define SPINS_BEFORE_SLEEP 40000

static void relax(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#if !defined(_WIN32)
static int generation_is(fm_team *team, int generation)
{
    return __atomic_load_n(&team->generation, __ATOMIC_SEQ_CST) == generation;
}

static void sleep_until_next(fm_team *team, int generation)
{
    pthread_mutex_lock(&team->lock);
    __atomic_add_fetch(&team->sleepers, 1, __ATOMIC_SEQ_CST);
    while (generation_is(team, generation))
        pthread_cond_wait(&team->woken, &team->lock);
    __atomic_sub_fetch(&team->sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&team->lock);
}

static void release(fm_team *team, int generation)
{
    __atomic_store_n(&team->arrived, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&team->generation, generation + 1, __ATOMIC_SEQ_CST);
    /* a sleeper counted itself before checking the generation, so none is missed */
    if (__atomic_load_n(&team->sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&team->lock);
        pthread_cond_broadcast(&team->woken);
        pthread_mutex_unlock(&team->lock);
    }
}
#endif

void fm_team_barrier(fm_team *team)
{
#if !defined(_WIN32)
    if (team->size < 2)
        return;
    int generation = __atomic_load_n(&team->generation, __ATOMIC_SEQ_CST);
    if (__atomic_add_fetch(&team->arrived, 1, __ATOMIC_SEQ_CST) == team->size) {
        release(team, generation);
        return;
    }
    for (int spins = 0; spins < SPINS_BEFORE_SLEEP; spins++) {
        if (!generation_is(team, generation))
            return;
        relax();
    }
    sleep_until_next(team, generation);
#else
    (void)team;
#endif
}

typedef struct {
    fm_team *team;
    fm_team_body body;
    void *arg;
    int thread;
} start;

#if !defined(_WIN32)
/* A helper waits at the gate until every helper has started: where one could not be, the team
   runs on the calling thread alone, and the helpers leave without running the body. */
static void *helper_main(void *p)
{
    start *s = p;
    fm_team *team = s->team;
    pthread_mutex_lock(&team->lock);
    while (team->gate == 0)
        pthread_cond_wait(&team->woken, &team->lock);
    int go = team->gate > 0;
    pthread_mutex_unlock(&team->lock);
    if (go)
        s->body(s->arg, s->thread, team->size);
    return NULL;
}

static void open_gate(fm_team *team, int go)
{
    pthread_mutex_lock(&team->lock);
    team->gate = go ? 1 : -1;
    pthread_cond_broadcast(&team->woken);
    pthread_mutex_unlock(&team->lock);
}

/* Returns n_threads, or 0 where the team could not be had (nothing ran). */
static int run_many(fm_team *team, fm_team_body body, void *arg, int n_threads)
{
    pthread_t helpers[FM_TEAM_MAX_THREADS];
    start starts[FM_TEAM_MAX_THREADS];
    int started = 0;
    team->sleepers = 0;
    team->gate = 0;
    if (pthread_mutex_init(&team->lock, NULL) != 0)
        return 0;
    if (pthread_cond_init(&team->woken, NULL) != 0) {
        pthread_mutex_destroy(&team->lock);
        return 0;
    }
    team->size = n_threads;
    for (; started < n_threads - 1; started++) {
        starts[started] = (start){team, body, arg, started + 1};
        if (pthread_create(&helpers[started], NULL, helper_main, &starts[started]) != 0)
            break;
    }
    int all = started == n_threads - 1;
    open_gate(team, all);
    if (all)
        body(arg, 0, n_threads);
    for (int i = 0; i < started; i++)
        pthread_join(helpers[i], NULL);
    pthread_cond_destroy(&team->woken);
    pthread_mutex_destroy(&team->lock);
    return all ? n_threads : 0;
}
#endif

int fm_team_run(fm_team *team, fm_team_body body, void *arg, int n_threads)
{
    team->arrived = team->generation = 0;
    team->size = 1;
    n_threads = n_threads > FM_TEAM_MAX_THREADS ? FM_TEAM_MAX_THREADS : n_threads;
#if !defined(_WIN32)
    if (n_threads >= 2 && run_many(team, body, arg, n_threads) == n_threads)
        return n_threads;
    team->size = 1; /* no threads to be had: do it all here */
#else
    (void)n_threads;
#endif
    body(arg, 0, 1);
    return 1;
}
