"""How many threads each call into the compiled training loop gets.

A minibatch step is cut in two fixed halves (csrc/split.c), and one thread or two run them with the
same bits, so the count only changes the speed. Two threads win on an idle machine; when another
process holds a core, the thread sharing it slows its partner down at every barrier and one thread
wins. The tuner tries both, keeps the faster, and now and then tries the other again, since the
load on a machine changes.
"""

PROBE_EVERY = 32  # chunks (of about 0.1 s) between tries of the slower count


class ThreadTuner:
    def __init__(self, max_threads):
        self.choices = list(range(max(1, max_threads), 0, -1))
        self.rates = {}  # threads -> rows per second in the latest chunk run with them
        self.chunks = 0

    def next(self):
        """The thread count for the next chunk."""
        untried = [threads for threads in self.choices if threads not in self.rates]
        if untried:
            return untried[0]
        self.chunks += 1
        ranked = sorted(self.choices, key=lambda threads: -self.rates[threads])
        if len(ranked) > 1 and self.chunks % PROBE_EVERY == 0:
            return ranked[1]
        return ranked[0]

    def record(self, threads, rows, seconds):
        if rows > 0 and seconds > 0:
            self.rates[threads] = rows / seconds
