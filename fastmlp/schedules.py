"""Learning-rate schedules: the rate as a function of the epoch.

Pass one as an optimizer's rate, ``fit(X, y, epochs=10, optimizer=fastmlp.SGD(lr=schedule))``:
at the start of each epoch of a ``fit`` (0, 1, ... within that call, as Keras counts them),
``optimizer.lr`` becomes ``schedule(epoch)``, and the whole epoch trains at that rate. The
reference twin applies them the same way, so the two still train alike.

>>> from fastmlp.schedules import CosineDecay
>>> schedule = CosineDecay(0.1, epochs=10)
>>> [round(schedule(epoch), 4) for epoch in (0, 5, 9)]
[0.1, 0.05, 0.0024]
"""

import math

from fastmlp._validation import check_float, check_int

__all__ = ["Schedule", "StepDecay", "ExponentialDecay", "LinearDecay", "CosineDecay", "OneCycle", "WarmUp"]


class Schedule:
    """Base class: a learning rate for each epoch. Subclasses define ``rate(epoch)``."""

    def __call__(self, epoch):
        epoch = check_int("epoch", epoch, minimum=0)
        return float(self.rate(epoch))

    def rate(self, epoch):
        raise NotImplementedError

    def __repr__(self):
        settings = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({settings})"


def _rate(name, value):
    return check_float(name, value, 0.0, math.inf, low_open=True, high_open=True)


class StepDecay(Schedule):
    """``lr * drop ** (epoch // every)``: the rate cut by ``drop`` every ``every`` epochs."""

    def __init__(self, lr, drop=0.5, every=10):
        self.lr = _rate("lr", lr)
        self.drop = check_float("drop", drop, 0.0, 1.0, low_open=True)
        self.every = check_int("every", every, minimum=1)

    def rate(self, epoch):
        return self.lr * self.drop ** (epoch // self.every)


class ExponentialDecay(Schedule):
    """``lr * decay ** epoch``: the rate times ``decay`` each epoch."""

    def __init__(self, lr, decay=0.9):
        self.lr = _rate("lr", lr)
        self.decay = check_float("decay", decay, 0.0, 1.0, low_open=True)

    def rate(self, epoch):
        return self.lr * self.decay**epoch


class LinearDecay(Schedule):
    """From ``lr`` at epoch 0 down in equal steps to ``final`` at epoch ``epochs - 1``, then
    ``final``. ``final=None`` is ``lr / epochs``."""

    def __init__(self, lr, epochs, final=None):
        self.lr = _rate("lr", lr)
        self.epochs = check_int("epochs", epochs, minimum=1)
        self.final = self.lr / self.epochs if final is None else _rate("final", final)

    def rate(self, epoch):
        if self.epochs == 1 or epoch >= self.epochs - 1:
            return self.final
        return self.lr + (self.final - self.lr) * epoch / (self.epochs - 1)


class CosineDecay(Schedule):
    """Half a cosine from ``lr`` at epoch 0 towards ``minimum`` at epoch ``epochs`` (SGDR's
    annealing, without restarts); ``minimum`` from then on."""

    def __init__(self, lr, epochs, minimum=0.0):
        self.lr = _rate("lr", lr)
        self.epochs = check_int("epochs", epochs, minimum=1)
        self.minimum = check_float("minimum", minimum, 0.0, self.lr, high_open=True)

    def rate(self, epoch):
        done = min(epoch, self.epochs) / self.epochs
        return self.minimum + (self.lr - self.minimum) * (1.0 + math.cos(math.pi * done)) / 2.0


class OneCycle(Schedule):
    """Smith's one cycle, as PyTorch's OneCycleLR draws it over epochs: up from
    ``max_lr / start_div`` to ``max_lr`` in the first ``warmup`` share of ``epochs``, then down
    along a cosine to ``max_lr / final_div`` at the last epoch."""

    def __init__(self, max_lr, epochs, warmup=0.3, start_div=25.0, final_div=1e4):
        self.max_lr = _rate("max_lr", max_lr)
        self.epochs = check_int("epochs", epochs, minimum=2)
        self.warmup = check_float("warmup", warmup, 0.0, 1.0, low_open=True, high_open=True)
        self.start_div = check_float("start_div", start_div, 1.0, math.inf, high_open=True)
        self.final_div = check_float("final_div", final_div, 1.0, math.inf, high_open=True)

    def rate(self, epoch):
        start, final = self.max_lr / self.start_div, self.max_lr / self.final_div
        peak = max(1, round(self.warmup * (self.epochs - 1)))  # the epoch at max_lr
        last = self.epochs - 1
        if epoch <= peak:
            return _cosine_between(start, self.max_lr, epoch / peak)
        return _cosine_between(self.max_lr, final, min(epoch - peak, last - peak) / max(1, last - peak))


def _cosine_between(begin, end, share):
    return end + (begin - end) * (1.0 + math.cos(math.pi * share)) / 2.0


class WarmUp(Schedule):
    """Goyal et al.'s gradual warm-up: the rate rises in equal steps over ``epochs`` epochs to
    where ``then`` starts (a rate, or a schedule that then runs from its own epoch 0)."""

    def __init__(self, then, epochs=5):
        self.then = then if isinstance(then, Schedule) else _rate("then", then)
        self.epochs = check_int("epochs", epochs, minimum=1)

    def _after(self, epoch):
        return self.then(epoch) if isinstance(self.then, Schedule) else self.then

    def rate(self, epoch):
        if epoch < self.epochs:
            return self._after(0) * (epoch + 1) / (self.epochs + 1)
        return self._after(epoch - self.epochs)
