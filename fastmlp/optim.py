"""Optimizer settings. The state (velocity, Adam moments) lives in flat buffers the model owns,
laid out like its parameters, and the compiled code updates the parameters in place."""

import math
import numbers

import numpy as np

from fastmlp.schedules import Schedule


def _check_rate(name, value, low, high, low_open=False, high_open=False):
    """value as a float, checked against the bounds both as given and in float32, the precision the
    compiled updates use (lr=1e-46 is 0 there, beta2=0.99999999 is 1)."""
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and type(value).__name__ != "bool_"
        and math.isfinite(value)
    )
    with np.errstate(over="ignore"):
        single = float(np.float32(value)) if ok else None
    if ok:
        ok = all(
            (v > low if low_open else v >= low) and (v < high if high_open else v <= high) and math.isfinite(v)
            for v in (float(value), single)
        )
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        in_float32 = f" ({single!r} in float32, the precision training uses)" if single is not None else ""
        raise ValueError(f"{name}: got {value!r}{in_float32}; expected a finite number in {lo}{low}, {high}{hi}")
    return float(value)


class _Validated:
    """Settings checked on every assignment, so ``opt.lr = -1`` fails as ``SGD(lr=-1)`` does."""

    schedule = None  # the fastmlp.schedules.Schedule lr was given as, if it was

    def __setattr__(self, name, value):
        check = type(self)._checks.get(name)
        super().__setattr__(name, check(self, value) if check else value)

    def start_epoch(self, epoch):
        """At the start of epoch ``epoch`` (0-based, within a fit): ``lr`` becomes the schedule's
        rate for it, where ``lr`` was given as a schedule. fit calls this; so does the reference."""
        if self.schedule is not None:
            rate = self.schedule(epoch)
            try:
                checked = _check_rate("lr", rate, *_POSITIVE)
            except ValueError as exc:
                raise ValueError(f"{self.schedule!r} at epoch {epoch}: {exc}") from None
            object.__setattr__(self, "lr", checked)  # lr alone: the schedule stays

    def _lr_repr(self):
        return repr(self.schedule) if self.schedule is not None else repr(self.lr)


def _nesterov(opt, value):
    if not isinstance(value, bool):
        raise TypeError(f"nesterov: got {value!r}; expected True or False")
    if value and opt.momentum == 0.0:
        raise ValueError("nesterov: Nesterov momentum needs momentum > 0")
    return value


def _momentum(opt, value):
    value = _check_rate("momentum", value, 0.0, 1.0, high_open=True)
    if value == 0.0 and getattr(opt, "nesterov", False):
        raise ValueError("momentum: got 0.0 with nesterov=True; expected momentum > 0")
    return value


_POSITIVE = (0.0, math.inf, True, True)
_NON_NEGATIVE = (0.0, math.inf, False, True)
_UNIT = (0.0, 1.0, False, True)


def _rate(name, low, high, low_open, high_open):
    return lambda opt, value: _check_rate(name, value, low, high, low_open, high_open)


def _learning_rate(opt, value):
    """A rate, or a schedule whose epoch-0 rate lr holds until fit moves it on (start_epoch)."""
    schedule = value if isinstance(value, Schedule) else None
    object.__setattr__(opt, "schedule", schedule)
    return _check_rate("lr", schedule(0) if schedule is not None else value, *_POSITIVE)


class SGD(_Validated):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    The update, with g the gradient of the mean loss over the minibatch::

        g = g + weight_decay * W
        v = momentum * v - lr * g
        W = W + v                          (nesterov=False)
        W = W + momentum * v - lr * g      (nesterov=True)

    This is PyTorch's SGD written with the learning rate inside the velocity; the two agree
    exactly when the learning rate is constant.

    Parameters
    ----------
    lr : float or fastmlp.schedules.Schedule, default 0.1
        Learning rate, finite and positive; or a schedule, which sets ``lr`` at the start of
        each epoch of a fit (``schedule`` keeps it).
    momentum : float, default 0.0
        In [0, 1).
    nesterov : bool, default False
        Use Nesterov momentum (needs momentum > 0).
    weight_decay : float, default 0.0
        L2 penalty coefficient added to the gradient, >= 0 (biases included).
    """

    _checks = {
        "lr": _learning_rate,
        "momentum": _momentum,
        "nesterov": _nesterov,
        "weight_decay": _rate("weight_decay", *_NON_NEGATIVE),
    }

    def __init__(self, lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay

    def __repr__(self):
        return (
            f"SGD(lr={self._lr_repr()}, momentum={self.momentum}, nesterov={self.nesterov}, "
            f"weight_decay={self.weight_decay})"
        )


class Adam(_Validated):
    """Adam (Kingma and Ba, 2015), with L2 weight decay added to the gradient as in PyTorch's Adam.

    Parameters
    ----------
    lr : float or fastmlp.schedules.Schedule, default 1e-3
        As SGD's.
    beta1 : float, default 0.9
        In [0, 1).
    beta2 : float, default 0.999
        In [0, 1).
    eps : float, default 1e-8
        Positive.
    weight_decay : float, default 0.0
        L2 penalty coefficient added to the gradient, >= 0.
    """

    _checks = {
        "lr": _learning_rate,
        "beta1": _rate("beta1", *_UNIT),
        "beta2": _rate("beta2", *_UNIT),
        "eps": _rate("eps", *_POSITIVE),
        "weight_decay": _rate("weight_decay", *_NON_NEGATIVE),
    }

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay

    def __repr__(self):
        return (
            f"Adam(lr={self._lr_repr()}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps}, "
            f"weight_decay={self.weight_decay})"
        )
