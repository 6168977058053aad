/* Internal to csrc/: a team of threads over one loop (team.c). */
#ifndef FASTMLP_TEAM_H
#define FASTMLP_TEAM_H

#if !defined(_WIN32)
#include <pthread.h>
#endif

#include "fastmlp.h"

/* The most threads a team has: the most parts a call is cut in. */
#define FM_TEAM_MAX_THREADS FM_MAX_PARTS

typedef struct {
    int size;                /* threads meeting at the barrier */
    int arrived, generation; /* the barrier's state, used atomically */
#if !defined(_WIN32)
    int sleepers; /* threads asleep on `woken` after spinning in vain */
    int gate;     /* helpers wait while 0: 1 runs the body, -1 leaves */
    pthread_mutex_t lock;
    pthread_cond_t woken;
#endif
} fm_team;

/* body(arg, thread, n_threads): thread 0 .. n_threads - 1 of the team. */
typedef void (*fm_team_body)(void *arg, int thread, int n_threads);

/* Runs body on the calling thread and, for n_threads >= 2, on n_threads - 1 more it starts and
   joins; returns the number of threads that ran (1 where a thread could not be started). */
int fm_team_run(fm_team *team, fm_team_body body, void *arg, int n_threads);

/* Waits for every thread of the team to arrive; returns at once in a team of one. A wait spins
   for about a millisecond, then sleeps until the last thread arrives, so a thread whose
   partners lost their cores to other processes does not keep taking cycles from them. */
void fm_team_barrier(fm_team *team);

#endif
