"""``gradcheck``: a network's gradients against float64 central differences."""

import math

import numpy as np

from fastmlp import reference
from fastmlp._validation import check_int, check_targets, check_X, check_y

_GRADCHECK_FLOOR = 1e-2  # gradcheck: entries are compared on at least this share of the largest
_WRONG = 1e-2  # a relative error above this is a wrong gradient, not rounding
_ROUNDING = np.finfo(np.float64).eps


def _float64_twin(net):
    return reference.MLP.from_parameters(net.weights, net.biases, net.activation, net.output, net.loss)


def _relative_error(analytic, numeric, layer_scale):
    """max |a - n| / max(|a|, |n|, floor), the floor keeping near-zero entries from dominating.

    A float32 gradient entry that is a sum of terms cancelling to almost nothing keeps the
    rounding error of its terms, up to about 1e-6 of the parameter's largest gradient; measured
    against a floor of 1% of that largest gradient this stays below 1e-4."""
    floor = max(_GRADCHECK_FLOOR * layer_scale, 1e-30)
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    return float(np.max(np.abs(analytic - numeric) / denominator)) if analytic.size else 0.0


def _resolution(loss, eps):
    """The smallest gradient that central differences at this loss and step can judge.

    Each float64 loss value is off by about machine epsilon times its size (at least 1: a
    cross-entropy near 0 is still a difference of log-sum-exp terms of order 1), so the
    difference quotient is off by about ``u * max(|L|, 1) / eps``. Entries are compared on a
    floor of 1% of the parameter's largest gradient; below 1e4 times the noise, the noise alone
    could take an entry past the 1% that means wrong."""
    if not math.isfinite(loss):
        return math.inf
    return _ROUNDING * max(abs(loss), 1.0) / eps / (_GRADCHECK_FLOOR * _WRONG)


class GradcheckResult(float):
    """What :func:`gradcheck` returns: a float, the largest relative error, with the verdict.

    It compares and formats as that float (``gradcheck(net, X, y) < 1e-4``,
    ``f"{gradcheck(net, X, y):.1e}"``); ``print`` and ``str`` give it in words.

    Attributes
    ----------
    verdict : {"ok", "wrong", "inconclusive"}
        ``"wrong"`` when some parameter's relative error is above 1e-2; otherwise
        ``"inconclusive"`` when the gradients of some parameter are too small for float64
        central differences to judge (see ``resolution``), as in a network whose hidden units
        are all saturated; otherwise ``"ok"``.
    per_parameter : dict of str to float
        The relative error of ``"W1"``, ``"b1"``, ``"W2"``, ...; NaN for an inconclusive one.
    inconclusive : tuple of str
        The parameters that could not be judged, in network order.
    resolution : float
        The smallest gradient magnitude the check judges, ``1e4 * u * max(|L|, 1) / eps``
        with ``u`` float64's machine epsilon and ``L`` the loss: central differences are off
        by about ``u * max(|L|, 1) / eps``, entries are compared on a floor of 1% of the
        parameter's largest gradient, and below 1e4 times the noise the noise alone could take
        a right gradient past the 1% that means wrong. A parameter is inconclusive when both
        its own gradient and the central differences stay below it everywhere they are
        compared. For an ordinary network (``L`` about 2, ``eps=1e-6``) it is about 5e-6.

    The float itself is the largest error over the parameters that could be judged, and NaN
    when none could.
    """

    def __new__(cls, value, verdict="ok", per_parameter=None, inconclusive=(), resolution=0.0):
        result = super().__new__(cls, value)
        result.verdict = verdict
        result.per_parameter = dict(per_parameter or {})
        result.inconclusive = tuple(inconclusive)
        result.resolution = float(resolution)
        return result

    def __reduce__(self):
        return (type(self), (float(self), self.verdict, self.per_parameter, self.inconclusive, self.resolution))

    def __repr__(self):
        more = f", inconclusive={self.inconclusive!r}" if self.inconclusive else ""
        return f"GradcheckResult({float(self)!r}, verdict={self.verdict!r}{more})"

    def __str__(self):
        judged = [name for name in self.per_parameter if name not in self.inconclusive]
        if self.verdict == "wrong":
            bad = ", ".join(f"{name} {error:.3g}" for name, error in self.per_parameter.items() if error > _WRONG)
            text = (
                f"wrong: the gradients differ from float64 central differences by a relative "
                f"error of {float(self):.3g} ({bad})"
            )
        elif judged:
            worst = max(judged, key=lambda name: self.per_parameter[name])
            text = (
                f"{self.verdict}: largest relative error {float(self):.2e} ({worst}) against "
                "float64 central differences"
            )
        else:
            text = "inconclusive"
        if self.inconclusive and not math.isfinite(self.resolution):
            text += f"{'; ' if judged else ': '}the float64 loss is not finite, so central differences say nothing"
        elif self.inconclusive:
            names = ", ".join(self.inconclusive)
            text += (
                f"{'; ' if judged else ': '}the gradients of {names} are below what float64 central "
                f"differences resolve at this loss (|g| < {self.resolution:.2g}): vanishing "
                "gradients, as in a network whose hidden units are saturated (fastmlp.doctor "
                "says whether they are)"
            )
        return text


def gradcheck(net, X, y, eps=1e-6, rows=16, max_coords=200, seed=0, per_parameter=False):
    """Largest relative error between a network's gradients and float64 central differences.

    The network's own gradients come from ``net.loss_and_gradients`` (float32 for the compiled
    model). The check differentiates the loss of a float64 ``fastmlp.reference.MLP`` holding the
    same parameters, one coordinate at a time: ``(L(p + eps) - L(p - eps)) / (2 eps)``.

    Parameters
    ----------
    net : fastmlp.MLP or fastmlp.reference.MLP
        Anything with ``sizes``, ``activation``, ``output``, ``loss``, ``weights``, ``biases``
        and ``loss_and_gradients``. It is not changed.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), or (n_samples, n_outputs) for a regression
        Class labels, or a regression's float targets.
    eps : float, default 1e-6
        The step. In float64 a small step keeps the truncation error (order eps**2) negligible
        and makes crossing a ReLU kink unlikely.
    rows : int, default 16
        Only the first ``rows`` rows are used.
    max_coords : int, default 200
        Parameters with more entries than this are checked on a random subset of this size.
    seed : int, default 0
        Chooses that subset.
    per_parameter : bool, default False
        Also return the error of each parameter.

    Returns
    -------
    GradcheckResult
        A float: ``max |a - n| / max(|a|, |n|, 0.01 * s)`` over the checked coordinates, where
        ``a`` is the network's gradient, ``n`` the numerical one and ``s`` the largest gradient
        magnitude in that parameter (the floor keeps near-zero entries from dominating). Below
        1e-4 is float32 rounding; above 1e-2 means a wrong gradient. Its ``.verdict`` is
        ``"ok"``, ``"wrong"`` or ``"inconclusive"``: a parameter whose gradients are all below
        what float64 central differences resolve (``.resolution``; a saturated network's first
        layers) cannot be judged, is listed in ``.inconclusive`` and left out of the float,
        which is NaN when no parameter could be judged. ``print(result)`` says it in words.
    dict of str to float, optional
        With ``per_parameter=True``: the error for ``"W1"``, ``"b1"``, ``"W2"``, ..., NaN for an
        inconclusive parameter (also ``result.per_parameter``).

    Examples
    --------
    >>> net = fastmlp.MLP([784, 32, 10], activation="tanh", seed=0)   # doctest: +SKIP
    >>> fastmlp.gradcheck(net, X, y) < 1e-4                           # doctest: +SKIP
    True
    >>> fastmlp.gradcheck(net, X, y).verdict                          # doctest: +SKIP
    'ok'
    """
    sizes = list(net.sizes)
    rows = check_int("rows", rows, minimum=1)
    max_coords = check_int("max_coords", max_coords, minimum=1)
    if not (isinstance(eps, (int, float, np.floating)) and 0 < eps < 1):
        raise ValueError(f"eps: got {eps!r}; expected a number in (0, 1)")
    X = check_X(X, sizes[0])
    if net.output == "identity":  # a regression's float targets, one per output
        y = check_targets(y, len(X), sizes[-1])
    else:
        y = check_y(y, len(X), sizes[-1]).astype(np.int64)
    X, y = X[:rows], y[:rows]

    _, grads = net.loss_and_gradients(X, y)
    twin = _float64_twin(net)
    X64 = X.astype(np.float64)
    resolution = _resolution(twin.evaluate(X64, y)["loss"], eps)
    rng = np.random.default_rng(seed)
    errors, inconclusive = {}, []
    for layer, (dW, db) in enumerate(grads):
        for name, analytic, param in (
            (f"W{layer + 1}", dW, twin.weights[layer]),
            (f"b{layer + 1}", db, twin.biases[layer]),
        ):
            analytic = np.asarray(analytic, dtype=np.float64)
            if analytic.shape != param.shape:
                errors[name] = math.inf
                continue
            flat = param.reshape(-1)  # a view: writing into it moves the twin's parameter
            coords = (
                np.arange(flat.size) if flat.size <= max_coords else rng.choice(flat.size, max_coords, replace=False)
            )
            numeric = np.empty(len(coords))
            for k, i in enumerate(coords):
                kept = flat[i]
                flat[i] = kept + eps
                plus = twin.evaluate(X64, y)["loss"]
                flat[i] = kept - eps
                minus = twin.evaluate(X64, y)["loss"]
                flat[i] = kept
                numeric[k] = (plus - minus) / (2 * eps)
            if not np.all(np.isfinite(analytic)):
                errors[name] = math.inf
                continue
            scale = max(float(np.max(np.abs(analytic), initial=0.0)), float(np.max(np.abs(numeric), initial=0.0)))
            if not (np.all(np.isfinite(numeric)) and scale >= resolution):
                errors[name] = math.nan
                inconclusive.append(name)
                continue
            errors[name] = _relative_error(analytic.reshape(-1)[coords], numeric, scale)
    judged = [error for name, error in errors.items() if name not in inconclusive]
    worst = max(judged) if judged else math.nan
    verdict = "wrong" if worst > _WRONG else "inconclusive" if inconclusive else "ok"
    result = GradcheckResult(worst, verdict, errors, inconclusive, resolution)
    return (result, result.per_parameter) if per_parameter else result
