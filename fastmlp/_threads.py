"""How many threads each call into the compiled training loop gets.

A minibatch step is cut in fixed parts (fastmlp._plan, csrc/minibatch.c), and any number of threads
up to the plan's runs them with the same bits, so the count only changes the speed. All of them win
on an idle machine; when another process holds a core, the thread sharing it slows the others down
at every barrier and one thread wins. The tuner tries both, one and all, keeps the faster, and now
and then tries the other again, since the load on a machine changes. A try costs: one chunk in
eight with one thread instead of two took 8% off the speed on an idle machine. So each try that
keeps the choice of all threads doubles the wait for the next (up to 64 chunks); on fewer, the
wait stays 8 chunks, as a spell of load on a shared host passes in seconds; and a chunk clearly
slower than its count's best (the load changed) brings the wait back to 8. The first try of all
threads also warms the other cores' caches, so where it loses it runs once more at once (a
fit's first such try ran at 52k samples/s, where two threads run at 140k, and left two fits on
one thread). And a try runs a third of a chunk
(`chunk`): long enough to time, and short enough that a 1-thread try within a one-epoch fit of
MNIST at batch 32 no longer takes a sixth off it. A try too short to time (the first chunk of a
fit is a few steps, before its length adapts) runs again at once, over twice its steps or a third
of the chunk, whichever is more: dropped, it had left a fit on one thread for good. Only that
retry is longer; the tries after a timed one run a third of a chunk again (a whole chunk at one
thread had cost a one-epoch fit 3-4% at each try). A try of fewer threads than the choice, once
due, waits while the choice's chunks keep their speed (at least KEPT_SPEED of its best): no
process has taken a core then, and the try would only lose time (a one-epoch fit at batch 128
lost 5-8% to one). What it learns is kept per kind of work (network, batch size), across fits:
the load belongs to the machine, not to one model.
"""

import os
import threading

PROBE_EVERY = 8  # chunks (of about 0.1 s) between tries of the count not in use, at first
PROBE_AT_MOST_EVERY = 64  # ... and after tries that kept the choice
TRY_SHARE = 3  # a try runs this fraction (1 / TRY_SHARE) of a chunk's steps
SLOWED = 0.5  # a chunk below this share of its count's best: the load changed (a chunk
# is often 30% off on a busy host; a process taking a core halves it)
REMEMBERED = 3  # chunk speeds kept per count; the best of them is what counts
KEPT_SPEED = 0.75  # a chunk this near its count's best ever: nothing took a core (chunks of an
# idle machine vary by a fifth)
FEWER_MUST_WIN_BY = 1.15  # a chunk's speed is noisy: fewer threads must be clearly faster
MIN_SECONDS = 0.02  # shorter chunks (the first of a fit) mostly time the start of a thread

_tuners = {}
_lock = threading.Lock()


class ThreadTuner:
    def __init__(self, max_threads):
        # fewer threads first: the first chunk of a fit also pays for warming up, so its
        # handicap falls on the count that has to prove itself
        self.choices = sorted({1, max(1, max_threads)})
        self.rates = {}  # threads -> rows per second of the latest chunks run with them
        self.peaks = {}  # threads -> the most rows per second a chunk ever ran at with them
        self.interval = PROBE_EVERY  # chunks from one try of the other count to the next
        self.since_probe = 0
        self.probe = None  # (count tried, the choice before) until its chunk is in
        self.try_steps = 0  # steps of the latest try
        self.untimed_try_steps = 0  # ... where it was too short to time: the retry runs twice them

    def next(self):
        """The thread count for the next chunk."""
        with _lock:
            return self._next()[0]

    def chunk(self, steps):
        """(threads, steps) for the next chunk, out of a full chunk's `steps`: a try (a count
        not timed yet, or the other count tried again) runs a third of them, and one after a try
        too short to time twice that try's steps, up to the whole chunk."""
        with _lock:
            threads, trying = self._next()
            if not trying:
                return threads, steps
            self.try_steps = min(steps, max(1, steps // TRY_SHARE, 2 * self.untimed_try_steps))
            return threads, self.try_steps

    def _next(self):
        if len(self.choices) == 1:
            return self.choices[0], False
        untried = [threads for threads in self.choices if threads not in self.rates]
        if untried:
            return untried[0], True
        if self.probe is not None:  # its try was too short to time: again, longer
            return self.probe[0], True
        best, most = self._best(), self.choices[-1]
        if best != most and len(self.rates[most]) < 2:
            # the first chunk on more threads than before also warms the other cores' caches
            # (and once ran at a third under its speed): the most get a second try at once
            self.probe = (most, best)
            return most, True
        self.since_probe += 1
        if self.since_probe >= self.interval and not self._keeps_its_speed(best):
            self.since_probe = 0
            other = next(threads for threads in reversed(self.choices) if threads != best)
            self.probe = (other, best)
            return other, True
        return best, False

    def _best(self):
        best = self.choices[-1]
        for threads in reversed(self.choices[:-1]):
            if self._rate(threads) > FEWER_MUST_WIN_BY * self._rate(best):
                best = threads
        return best

    def _keeps_its_speed(self, best):
        """Whether a due try of fewer threads waits: the choice is the most threads, and its
        latest chunk ran near its best ever."""
        latest = self.rates[best][-1]
        return best == self.choices[-1] and latest >= KEPT_SPEED * self.peaks[best]

    def _rate(self, threads):
        # The best recent chunk: what slows a chunk down on a shared machine (a stolen core, a
        # neighbour's burst) comes and goes, while a count that is slower stays slower.
        return max(self.rates[threads])

    def record(self, threads, rows, seconds):
        if rows > 0 and seconds < MIN_SECONDS:
            with _lock:
                if threads not in self.rates or (self.probe is not None and self.probe[0] == threads):
                    # a try this short is not timed, and the count it tried would go untried
                    # (or be tried as briefly again) for good: the next try runs longer
                    self.untimed_try_steps = self.try_steps
            return
        if rows > 0:
            with _lock:
                if threads not in self.rates or (self.probe is not None and self.probe[0] == threads):
                    self.untimed_try_steps = 0
                latest = self.rates.setdefault(threads, [])
                slowed = bool(latest) and rows / seconds < SLOWED * max(latest)
                latest.append(rows / seconds)
                del latest[:-REMEMBERED]
                self.peaks[threads] = max(self.peaks.get(threads, 0.0), rows / seconds)
                if self.probe is not None and self.probe[0] == threads:
                    # the wait doubles while the most threads keep winning; on fewer, a spell of
                    # load that has passed must not keep a fit there for long
                    kept = self._best() == self.probe[1] == self.choices[-1]
                    self.interval = min(2 * self.interval, PROBE_AT_MOST_EVERY) if kept else PROBE_EVERY
                    self.probe = None
                if slowed:
                    # the load changed: the next try within PROBE_EVERY chunks, never later than
                    # it was due already; after the probe's verdict, which would double it again
                    due_in = self.interval - self.since_probe
                    self.interval = PROBE_EVERY
                    self.since_probe = max(0, PROBE_EVERY - due_in)


def available(requested=None):
    """The threads a call may use: the network's n_threads where set, else OMP_NUM_THREADS where
    set to a count, else the CPUs this process may run on (its affinity, which containers and
    taskset narrow)."""
    if requested is not None:
        return requested
    count = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if count.isdigit() and int(count) >= 1:
        return int(count)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def tuner_for(key, max_threads):
    """The tuner for one kind of work (key: anything hashable naming it)."""
    with _lock:
        tuner = _tuners.get((key, max_threads))
        if tuner is None:
            tuner = _tuners[key, max_threads] = ThreadTuner(max_threads)
        return tuner
