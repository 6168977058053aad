"""The thread tuner: it may only change how fast fit runs, never what it computes
(tests/test_split.py checks the bits); here, that it picks the faster count sensibly."""

import numpy as np
import pytest

import fastmlp
from fastmlp import _threads
from fastmlp._threads import ThreadTuner


def run(tuner, rates, chunks):
    """Drive the tuner for `chunks` chunks where each thread count runs at rates[threads]."""
    picked = []
    for _ in range(chunks):
        threads = tuner.next()
        picked.append(threads)
        tuner.record(threads, rows=rates[threads] / 10, seconds=0.1)
    return picked


def run_varying(tuner, rates, chunks, spread):
    """As run, each chunk's speed `spread` below its count's rate at most, in turns."""
    picked = []
    for chunk in range(chunks):
        threads = tuner.next()
        picked.append(threads)
        tuner.record(threads, rows=rates[threads] * (1 - spread * (chunk % 3) / 2) / 10, seconds=0.1)
    return picked


def test_tries_one_thread_first_then_two():
    assert run(ThreadTuner(2), {1: 100.0, 2: 150.0}, 2) == [1, 2]


def test_keeps_two_threads_when_they_are_faster_or_about_as_fast():
    for one, two in [(100.0, 150.0), (100.0, 100.0), (110.0, 100.0)]:
        picked = run(ThreadTuner(2), {1: one, 2: two}, 40)
        assert picked[2:].count(2) > 0.8 * len(picked[2:])  # the rest: probes


def test_switches_to_one_thread_when_it_is_clearly_faster():
    # another process holds a core: the thread sharing it stalls its partner at every barrier
    picked = run(ThreadTuner(2), {1: 200.0, 2: 100.0}, 40)
    assert picked[2:].count(1) > 0.8 * len(picked[2:])


def test_probes_the_other_count_again_and_follows_a_change_of_load():
    tuner = ThreadTuner(2)
    run(tuner, {1: 200.0, 2: 100.0}, 40)  # busy machine: one thread
    picked = run(tuner, {1: 100.0, 2: 200.0}, 200)  # the other job ended
    assert picked[-50:].count(2) > 40


def test_one_slow_chunk_does_not_flip_the_choice():
    tuner = ThreadTuner(2)
    run_varying(tuner, {1: 100.0, 2: 150.0}, 20, spread=0.3)
    tuner.record(2, rows=1.0, seconds=0.1)  # a hiccup
    assert tuner.next() == 2


def test_a_single_thread_tuner_always_says_one():
    assert set(run(ThreadTuner(1), {1: 100.0}, 10)) == {1}


def test_tuners_are_kept_per_kind_of_work():
    a = _threads.tuner_for(("test", 32), 2)
    assert _threads.tuner_for(("test", 32), 2) is a
    assert _threads.tuner_for(("test", 128), 2) is not a


def test_tries_the_other_count_less_often_while_the_choice_holds():
    # each try of one thread costs a chunk at its slower speed: on a machine whose chunks vary
    # (here by up to 30%, as where another process comes and goes), 8, 16, 32, then every 64
    picked = run_varying(ThreadTuner(2), {1: 100.0, 2: 150.0}, 400, spread=0.3)
    assert picked[2:].count(1) <= 12
    assert picked[2:].count(1) >= 6  # but it keeps trying


def test_does_not_try_fewer_threads_while_the_choice_keeps_its_speed():
    # every chunk of two threads within KEPT_SPEED of their best: no process took a core
    picked = run_varying(ThreadTuner(2), {1: 100.0, 2: 150.0}, 400, spread=1 - _threads.KEPT_SPEED)
    assert picked[2:] == [2] * 398


def test_a_due_try_runs_at_the_first_chunk_that_lost_speed():
    tuner = ThreadTuner(2)
    run(tuner, {1: 100.0, 2: 150.0}, 2 + 3 * _threads.PROBE_EVERY)  # due, and put off
    assert tuner.since_probe >= tuner.interval
    tuner.record(2, rows=10.0, seconds=0.1)  # 100 rows/s: two thirds of the best
    assert tuner.next() == 1


def test_a_slowdown_brings_the_next_try_sooner():
    tuner = ThreadTuner(2)
    run_varying(tuner, {1: 100.0, 2: 150.0}, 300, spread=0.3)  # long settled on two threads
    assert tuner.interval > _threads.PROBE_EVERY
    picked = run(tuner, {1: 100.0, 2: 40.0}, 30)  # another process takes a core
    assert picked[8:].count(1) >= 0.85 * len(picked[8:])  # the rest: tries of two again


def test_a_slowdown_never_puts_a_due_try_off():
    tuner = ThreadTuner(2)
    run(tuner, {1: 40.0, 2: 100.0}, 2)
    chunk = 0
    while not (tuner.interval == _threads.PROBE_AT_MOST_EVERY and tuner.since_probe == 60):
        run(tuner, {1: 40.0, 2: 70.0 if chunk % 2 else 100.0}, 1)  # varying: tries are not put off
        chunk += 1
    # the next try was due in 4 chunks; the load now halves two threads' speed
    assert 1 in run(tuner, {1: 38.0, 2: 45.0}, 4)


def test_a_clearly_slower_try_brings_the_wait_back_to_the_shortest():
    tuner = ThreadTuner(2)
    run(tuner, {1: 60.0, 2: 100.0}, 2)
    while tuner.next() != 1:
        tuner.record(2, rows=7.0, seconds=0.1)  # 70: a due try is not put off
    tuner.record(1, rows=2.5, seconds=0.1)  # the try ran at 25, under half its best of 60
    assert tuner.interval == _threads.PROBE_EVERY


def test_a_try_runs_a_third_of_a_chunk():
    # a try of the slower count costs a third of what a whole chunk at its speed would
    tuner = ThreadTuner(2)
    assert tuner.chunk(90) == (1, 30)  # not timed yet
    tuner.record(1, rows=100.0, seconds=0.1)
    assert tuner.chunk(90) == (2, 30)
    tuner.record(2, rows=150.0, seconds=0.1)
    tuner.record(2, rows=100.0, seconds=0.1)  # slower: a try of one thread is not put off
    plans = [tuner.chunk(90) for _ in range(_threads.PROBE_EVERY)]
    assert plans[:-1] == [(2, 90)] * (_threads.PROBE_EVERY - 1)
    assert plans[-1] == (1, 30)  # the other count, tried again


def test_a_try_too_short_to_time_runs_again_longer():
    # Two threads ran a third of a chunk in under MIN_SECONDS: that try was not timed, and the
    # fit once stayed on one thread for good. It is tried again at once, over more steps.
    tuner = ThreadTuner(2)
    assert tuner.chunk(90) == (1, 30)
    tuner.record(1, rows=100.0, seconds=0.1)
    assert tuner.chunk(90) == (2, 30)
    tuner.record(2, rows=50.0, seconds=_threads.MIN_SECONDS / 2)  # too short to time
    assert tuner.chunk(90) == (2, 60)  # again, over twice the steps
    tuner.record(2, rows=50.0, seconds=_threads.MIN_SECONDS / 2)
    assert tuner.chunk(90) == (2, 90)  # and again, at most a whole chunk
    tuner.record(2, rows=150.0, seconds=0.1)
    assert tuner.chunk(90) == (2, 90)  # two threads, timed faster, are kept
    tuner.record(2, rows=100.0, seconds=0.1)  # slower: a try of one thread is not put off
    # a probe of the other count later runs a third again, and is retried the same way
    picked = [tuner.chunk(90) for _ in range(_threads.PROBE_EVERY)]
    assert picked[-1] == (1, 30)
    tuner.record(1, rows=10.0, seconds=_threads.MIN_SECONDS / 4)
    assert tuner.chunk(90) == (1, 60)  # the probe again, not dropped


def test_a_fits_first_chunk_too_short_to_time_is_retried_over_a_third_of_the_grown_chunk():
    # the first chunk of a fit is a few steps (model._first_chunk), its try one step; by the
    # retry the chunk has grown to about _CHUNK_SECONDS, and a third of it is enough to time
    tuner = ThreadTuner(2)
    assert tuner.chunk(4) == (1, 1)
    tuner.record(1, rows=32.0, seconds=0.001)
    assert tuner.chunk(150) == (1, 50)  # not the whole chunk at the count being tried


def test_a_try_runs_at_least_one_step_and_one_thread_never_tries():
    assert ThreadTuner(2).chunk(2) == (1, 1)
    assert [ThreadTuner(1).chunk(90) for _ in range(3)] == [(1, 90)] * 3


def test_available_threads_follow_n_threads_then_omp_num_threads_then_the_affinity(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    machine = _threads.available()
    assert machine >= 1
    assert _threads.available(3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert _threads.available() == 5
    assert _threads.available(2) == 2  # the network's n_threads wins
    monkeypatch.setenv("OMP_NUM_THREADS", "4,2")  # OpenMP's nested form: the outer level counts
    assert _threads.available() == 4
    for ignored in ("", "0", "many", "-3"):
        monkeypatch.setenv("OMP_NUM_THREADS", ignored)
        assert _threads.available() == machine


def test_n_threads_is_checked():
    assert fastmlp.MLP([4, 3, 2], n_threads=8).n_threads == 8
    with pytest.raises(ValueError, match="n_threads"):
        fastmlp.MLP([4, 3, 2], n_threads=0)
    with pytest.raises(TypeError, match="n_threads"):
        fastmlp.MLP([4, 3, 2], n_threads="2")
    net = fastmlp.MLP([4, 3, 2])
    net.n_threads = -1  # an attribute, checked again at each call
    with pytest.raises(ValueError, match="n_threads"):
        net.predict(np.zeros((2, 4), np.float32))


def test_a_first_try_of_all_threads_that_loses_runs_again_at_once():
    # the first chunk on two threads also warms the second core's caches
    tuner = ThreadTuner(2)
    assert tuner.chunk(90) == (1, 30)
    tuner.record(1, rows=100.0, seconds=0.1)
    assert tuner.chunk(90) == (2, 30)
    tuner.record(2, rows=50.0, seconds=0.1)  # half one thread's speed: cold caches
    assert tuner.chunk(90) == (2, 30)  # again, before one thread is kept
    tuner.record(2, rows=150.0, seconds=0.1)
    assert tuner.chunk(90) == (2, 90)


def test_on_fewer_threads_all_are_tried_again_every_few_chunks():
    # a spell of load on a shared host passes in seconds: the wait does not grow on one thread
    picked = run(ThreadTuner(2), {1: 200.0, 2: 100.0}, 400)
    tries = picked[3:].count(2)
    assert 400 // (_threads.PROBE_EVERY + 2) <= tries <= 400 // _threads.PROBE_EVERY
