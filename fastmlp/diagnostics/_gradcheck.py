"""``gradcheck``: a network's gradients against float64 central differences."""
import math

import numpy as np

from fastmlp import reference
from fastmlp._validation import check_int, check_X, check_y

_GRADCHECK_FLOOR = 1e-2       # gradcheck: entries are compared on at least this share of the largest


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
    y : array-like of shape (n_samples,)
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
    float
        ``max |a - n| / max(|a|, |n|, 0.01 * s)`` over the checked coordinates, where ``a`` is the
        network's gradient, ``n`` the numerical one and ``s`` the largest gradient magnitude in
        that parameter (the floor keeps near-zero entries from dominating). Below 1e-4 is
        float32 rounding; above 1e-2 means a wrong gradient.
    dict of str to float, optional
        With ``per_parameter=True``: the error for ``"W1"``, ``"b1"``, ``"W2"``, ...

    Examples
    --------
    >>> net = fastmlp.MLP([784, 32, 10], activation="tanh", seed=0)   # doctest: +SKIP
    >>> fastmlp.gradcheck(net, X, y) < 1e-4                           # doctest: +SKIP
    True
    """
    sizes = list(net.sizes)
    rows = check_int("rows", rows, minimum=1)
    max_coords = check_int("max_coords", max_coords, minimum=1)
    if not (isinstance(eps, (int, float, np.floating)) and 0 < eps < 1):
        raise ValueError(f"eps: got {eps!r}; expected a number in (0, 1)")
    X = check_X(X, sizes[0])
    y = check_y(y, len(X), sizes[-1]).astype(np.int64)
    X, y = X[:rows], y[:rows]

    _, grads = net.loss_and_gradients(X, y)
    twin = _float64_twin(net)
    X64 = X.astype(np.float64)
    rng = np.random.default_rng(seed)
    errors = {}
    for layer, (dW, db) in enumerate(grads):
        for name, analytic, param in ((f"W{layer + 1}", dW, twin.weights[layer]),
                                      (f"b{layer + 1}", db, twin.biases[layer])):
            analytic = np.asarray(analytic, dtype=np.float64)
            if analytic.shape != param.shape:
                errors[name] = math.inf
                continue
            flat = param.reshape(-1)       # a view: writing into it moves the twin's parameter
            coords = np.arange(flat.size) if flat.size <= max_coords else \
                rng.choice(flat.size, max_coords, replace=False)
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
            checked = analytic.reshape(-1)[coords]
            scale = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(numeric), initial=0.0)))
            errors[name] = _relative_error(checked, numeric, scale)
    worst = max(errors.values())
    return (worst, errors) if per_parameter else worst
