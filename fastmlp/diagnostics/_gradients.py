"""Judging a learner's gradient against the true one: the verdicts and the textbook mistakes that
``check_backprop`` and ``diagnose`` both name."""

import math
from dataclasses import dataclass

import numpy as np

from fastmlp import reference

_OK_TOLERANCE = 1e-6

VERDICTS = ("ok", "sign-flipped", "scaled", "transposed", "shape", "zero", "wrong", "invalid", "missing")


@dataclass
class ParamCheck:
    """The verdict on one gradient returned by a learner's backprop.

    Attributes
    ----------
    name : str
        ``"W1"``, ``"b1"``, ``"W2"``, ...
    verdict : str
        ``ok``; ``sign-flipped``; ``scaled`` (see ``factor``); ``transposed`` (their array is
        the true one transposed: weights stored as ``(n_out, n_in)``); ``shape`` (a shape that
        is neither right nor transposed); ``zero``; ``wrong`` (see ``rel_error``); ``invalid``
        (not an array of numbers, or holding NaN/Inf); ``missing`` (not returned).
    rel_error : float
        ``||theirs - true|| / ||true||`` (NaN when it cannot be computed).
    message : str
        The explanation, with the numbers.
    factor : float or None
        For ``scaled`` (and ``sign-flipped``, -1): theirs / true, fitted by least squares.
    shape : tuple or None
        The shape they returned.
    expected_shape : tuple
    mistake : str or None
        For ``wrong``: the key of the textbook mistake (``_MISTAKES``) the values match.
    """

    name: str
    verdict: str
    rel_error: float
    message: str
    factor: float = None
    shape: tuple = None
    expected_shape: tuple = None
    mistake: str = None

    @property
    def ok(self):
        return self.verdict == "ok"


# Textbook mistakes, key -> explanation. _mistaken_backprop computes the gradients each one
# gives, so a gradient that is simply "wrong" can be matched to the mistake that gives exactly it.
_MISTAKES = {
    "output-derivative-with-ce": (
        "it matches multiplying (p - y) by the output activation's derivative p(1 - p): with "
        "cross-entropy on top of softmax or sigmoid the derivatives cancel, and dLoss/dz is just "
        "(p - y) / n"
    ),
    "no-output-derivative-with-mse": (
        "it matches using (out - y) as dLoss/dz: with the mse loss the output activation's "
        "derivative must be multiplied in"
    ),
    "diagonal-softmax-jacobian": (
        "it matches multiplying (out - y) by p(1 - p), only the diagonal of the softmax "
        "Jacobian: softmax's Jacobian is diag(p) - p p^T, so dLoss/dz = p * (g - sum(g * p)) with "
        "g = out - y"
    ),
    "no-activation-derivative": (
        "it matches leaving out the hidden activation's derivative f'(z) when passing the error "
        "back through a hidden layer"
    ),
    "derivative-of-activation-output": (
        "it matches applying the derivative to the activation instead of the pre-activation, "
        "f'(f(z)) instead of f'(z) (e.g. sigmoid_prime(a) where a is already sigmoid(z)): write the "
        "derivative from the output a, as the fix below does"
    ),
    "activation-as-derivative": (
        "it matches multiplying by the activation f(z) itself where its derivative f'(z) was meant, "
        "when passing the error back through a hidden layer"
    ),
    "labels-shifted-up": (
        "it matches the true gradient for labels one higher than the ones given: the one-hot puts its 1 "
        "at label + 1 (an index off by one?)"
    ),
    "labels-shifted-down": (
        "it matches the true gradient for labels one lower than the ones given: the one-hot puts its 1 "
        "at label - 1 (labels counted from 1?)"
    ),
    "target-not-subtracted": (
        "it matches dLoss/dz = p / n without the target: the 1 at each sample's label was never "
        "subtracted (dscores[range(N), y] -= 1)"
    ),
    "derivative-formula-at-preactivation": (
        "it matches applying a derivative written for the activation's output, such as a * (1 - a), "
        "to the pre-activation z: pass it a = f(z), or use f'(z) written for z"
    ),
    "softmax-derivative-in-hidden": (
        "it matches using a softmax's derivative s(1 - s), with s the softmax over the layer's "
        "units, for the hidden layer"
    ),
    "ce-non-target-sign": (
        "it matches a cross-entropy derivative whose non-target terms have the wrong sign: "
        "dLoss/dz is p - y, which is +p for the classes that are not the label; yours gives -p "
        "there (check the sign of the (1 - y) / (1 - p) term)"
    ),
}
for _name in reference.ACTIVATIONS:
    _MISTAKES[f"derivative-of-{_name}"] = (
        f"it matches using {_name}'s derivative for the hidden layer instead of the network's own activation's"
    )
    _MISTAKES[f"formula-of-{_name}"] = (
        f"it matches using {_name}'s derivative formula, "
        f"{reference.ACTIVATION_FUNCTIONS[_name].derivative_code.format(a='a')}, on the hidden "
        "layer's output instead of the network's own activation's"
    )

_MISTAKES["derivative-formula-at-preactivation, output too"] = (
    "it matches applying a derivative written for the activation's output, such as a * (1 - a), to "
    "the pre-activation z, in the output layer as well as the hidden ones: pass it a = f(z), or use "
    "f'(z) written for z"
)
_MISTAKES["derivative-of-activation-output, output too"] = (
    "it matches applying the derivative to the activation instead of the pre-activation, f'(f(z)) "
    "instead of f'(z), in the output layer as well as the hidden ones (e.g. sigmoid_prime(a) where a "
    "is already sigmoid(z); write it as a * (1 - a))"
)

# The finding code diagnose reports for each mistake.
MISTAKE_CODES = {
    "output-derivative-with-ce": "extra-softmax-derivative",
    "ce-non-target-sign": "wrong",
    "target-not-subtracted": "wrong",
    "labels-shifted-up": "wrong",
    "labels-shifted-down": "wrong",
    "diagonal-softmax-jacobian": "wrong",
}


def _mistaken_backprop(weights, biases, X, Y, activation, output, loss, mistake):
    """Gradients ([dW], [db]) in float64, with one textbook mistake (or None for the truth)."""
    table = reference.ACTIVATION_FUNCTIONS[activation]
    f = table.f
    n = len(X)
    activations, pre = [X], []
    for W, b in zip(weights[:-1], biases[:-1]):
        pre.append(activations[-1] @ W + b)
        activations.append(f(pre[-1]))
    logits = activations[-1] @ weights[-1] + biases[-1]
    out = reference.softmax(logits) if output == "softmax" else reference.sigmoid(logits)
    if mistake in ("labels-shifted-up", "labels-shifted-down"):
        Y = np.roll(Y, 1 if mistake.endswith("up") else -1, axis=1)
    g = out - Y
    if mistake == "ce-non-target-sign":
        delta = np.where(Y > 0, g, -g)
    elif mistake == "target-not-subtracted":
        delta = out
    elif loss == "cross_entropy":
        delta = g * out * (1 - out) if mistake == "output-derivative-with-ce" else g
    elif output == "sigmoid" and mistake in _EVERYWHERE:
        # The hidden layers' mistake made at the sigmoid output too, as code that uses one
        # sigmoid_prime for every layer does.
        delta = g * _hidden_derivative(_EVERYWHERE[mistake], reference.ACTIVATION_FUNCTIONS["sigmoid"], logits)
    elif output == "sigmoid":
        delta = g if mistake == "no-output-derivative-with-mse" else g * out * (1 - out)
    elif mistake == "no-output-derivative-with-mse":
        delta = g
    elif mistake == "diagonal-softmax-jacobian":
        delta = g * out * (1 - out)
    else:
        delta = out * (g - np.sum(g * out, axis=1, keepdims=True))
    delta = delta / n
    dW, db = [None] * len(weights), [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        dW[layer] = activations[layer].T @ delta
        db[layer] = delta.sum(axis=0)
        if layer > 0:
            back = delta @ weights[layer].T
            z = pre[layer - 1]
            delta = back * _hidden_derivative(_EVERYWHERE.get(mistake, mistake), table, z)
    return dW, db


# Mistakes in the activation's derivative that sigmoid + mse code makes at the output as well.
_EVERYWHERE = {
    f"{key}, output too": key for key in ("derivative-formula-at-preactivation", "derivative-of-activation-output")
}


def _hidden_derivative(mistake, table, z):
    """f'(z) of a hidden layer as the mistake computes it."""
    if mistake == "no-activation-derivative":
        return 1.0
    if mistake == "activation-as-derivative":
        return table.f(z)
    if mistake == "derivative-of-activation-output":
        return table.derivative_at(table.f(z))
    if mistake == "derivative-formula-at-preactivation":
        return table.derivative(z)
    if mistake == "softmax-derivative-in-hidden":
        s = reference.softmax(z)
        return s * (1 - s)
    if mistake is not None and mistake.startswith("derivative-of-"):
        return reference.ACTIVATION_FUNCTIONS[mistake[len("derivative-of-") :]].derivative_at(z)
    if mistake is not None and mistake.startswith("formula-of-"):
        return reference.ACTIVATION_FUNCTIONS[mistake[len("formula-of-") :]].derivative(table.f(z))
    return table.derivative_at(z)


def _applicable_mistakes(output, loss, activation=None):
    """The mistakes worth matching; with ``activation``, the hidden-derivative ones too."""
    keys = ["no-activation-derivative", "derivative-of-activation-output"]
    if activation is not None:
        keys.append("activation-as-derivative")
        keys += ["derivative-formula-at-preactivation", "softmax-derivative-in-hidden"]
        keys += [f"derivative-of-{name}" for name in reference.ACTIVATIONS if name != activation]
        keys += [f"formula-of-{name}" for name in reference.ACTIVATIONS if name != activation]
    if loss == "mse" and output == "sigmoid":
        keys += [key for key, hidden in _EVERYWHERE.items() if hidden in keys]
    if loss == "cross_entropy":
        keys.insert(0, "output-derivative-with-ce")
        keys.insert(1, "ce-non-target-sign")
        keys.insert(2, "target-not-subtracted")
    else:
        keys.insert(0, "no-output-derivative-with-mse")
        if output == "softmax":
            keys.insert(1, "diagonal-softmax-jacobian")
    return keys + ["labels-shifted-up", "labels-shifted-down"]


def _norm_rel(theirs, truth):
    scale = np.linalg.norm(truth)
    return float(np.linalg.norm(theirs - truth) / scale) if scale > 0 else float(np.linalg.norm(theirs))


def _compare_values(theirs, truth, n, tol=_OK_TOLERANCE):
    """(verdict, rel_error, factor, message) for two float64 arrays of the same shape; ``tol`` is
    the relative error (in norm) that still counts as equal."""
    truth_norm, their_norm = np.linalg.norm(truth), np.linalg.norm(theirs)
    rel = _norm_rel(theirs, truth)
    if rel < tol:
        return "ok", rel, None, "matches the true gradient"
    if truth_norm == 0:
        return "wrong", rel, None, (f"the true gradient is zero here but yours has norm {their_norm:.3g}")
    if their_norm <= tol * truth_norm:
        return (
            "zero",
            rel,
            0.0,
            (
                f"your gradient is all zeros (the true one has norm {truth_norm:.3g}): "
                "it was never computed, or was overwritten"
            ),
        )
    if truth.ndim == 2 and truth.shape[0] == truth.shape[1] and _norm_rel(theirs, truth.T) < tol:
        return (
            "transposed",
            rel,
            None,
            (
                "your gradient is the true one transposed: with rows as "
                "examples, dW = a_prev.T @ delta, shape (n_in, n_out)"
            ),
        )
    factor = float(np.vdot(theirs, truth) / np.vdot(truth, truth))
    residual = np.linalg.norm(theirs - factor * truth) / their_norm
    if residual < tol:
        if abs(factor + 1) < 10 * tol:
            return (
                "sign-flipped",
                rel,
                -1.0,
                (
                    "your gradient is exactly minus the true one: use "
                    "out - y, not y - out (or subtract the update, not add it)"
                ),
            )
        return "scaled", rel, factor, _scale_message(factor, n)
    return "wrong", rel, None, f"differs from the true gradient by {rel:.3g} relative (norm)"


def _scale_reason(factor, n, n_features=None, n_classes=None):
    """Why a gradient might be `factor` times the true one, or "" when no common cause fits."""
    counts = []
    if n_features not in (None, n):
        counts.append(
            (
                n / n_features,
                f"n / {n_features}: divided by the number of features "
                f"({n_features}) instead of the number of samples ({n})",
            )
        )
    if n_classes not in (None, n, n_features):
        counts.append(
            (
                n / n_classes,
                f"n / {n_classes}: divided by the number of classes "
                f"({n_classes}) instead of the number of samples ({n})",
            )
        )
    if n > 1:
        counts += [
            (n, f"n = {n} rows, so a sum over the rows where the mean was meant (divide by n)"),
            (-n, f"minus n = {n} rows, so a sum over the rows and a flipped sign"),
            (1 / n, f"1/n with n = {n} rows, so divided by n twice"),
        ]
    for value, why in (
        *counts,
        (2.0, ("a factor 2, as from differentiating (out - y)^2 without the 0.5 of the loss 0.5 * (out - y)^2")),
        (0.5, "a factor 1/2"),
    ):
        if abs(factor - value) <= 1e-4 * abs(value):
            return why
    return ""


def _scale_message(factor, n):
    reason = _scale_reason(factor, n)
    return f"your gradient is {factor:.6g} times the true one" + (f": {reason}" if reason else "")


def _matching_mistake(arr, mistakes, tol=_OK_TOLERANCE):
    """(key, scale) of the first mistake whose gradient, times some scale, equals arr; or (None, None)."""
    for key, candidate in mistakes:
        norm = np.vdot(candidate, candidate)
        if norm == 0:
            continue
        scale = float(np.vdot(arr, candidate) / norm)
        if np.linalg.norm(arr - scale * candidate) < tol * np.linalg.norm(arr):
            return key, scale
    return None, None


def _judge(arr, truth, n, mistakes, tol=_OK_TOLERANCE):
    """_compare_values, and for a wrong gradient the textbook mistake (times a factor) it matches:
    (verdict, rel_error, factor, message, mistake)."""
    verdict, rel, factor, message = _compare_values(arr, truth, n, tol)
    if verdict != "wrong":
        return verdict, rel, factor, message, None
    key, scale = _matching_mistake(arr, mistakes, tol)
    if key is not None:
        message += "; " + _MISTAKES[key]
        if abs(scale - 1) > 10 * tol:
            reason = _scale_reason(scale, n)
            message += f", and then it is {scale:.6g} times that" + (f" ({reason})" if reason else "")
    return verdict, rel, factor, message, key


def _as_float_array(value):
    """value as a float64 ndarray, or (None, reason) when it is not an array of numbers."""
    if isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (list, tuple, int, float, np.number)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError):
            return None, f"a {type(value).__name__} that is not a rectangular array"
    else:
        return None, f"a {type(value).__name__}, not a NumPy array"
    if arr.dtype.kind not in "biuf":
        return None, f"an array of dtype {arr.dtype}, not of numbers"
    return arr.astype(np.float64), None


def _check_one(name, value, truth, n, mistakes):
    """The ParamCheck for one returned gradient; mistakes are (key, gradient) pairs to match."""
    expected = truth.shape
    if value is None:
        return ParamCheck(name, "missing", math.nan, "not returned", expected_shape=expected)
    arr, reason = _as_float_array(value)
    if arr is None:
        return ParamCheck(name, "invalid", math.nan, f"got {reason}", expected_shape=expected)
    shape = arr.shape
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        return ParamCheck(
            name,
            "invalid",
            math.nan,
            f"{bad} of {arr.size} entries are NaN or infinite (overflow in exp? divide by zero?)",
            shape=shape,
            expected_shape=expected,
        )
    if shape != expected:
        if arr.ndim == 2 and shape == expected[::-1]:
            verdict, rel, factor, message, _ = _judge(arr.T, truth, n, mistakes)
            if verdict == "ok":
                return ParamCheck(
                    name,
                    "transposed",
                    _norm_rel(arr.T, truth),
                    f"shape {shape} instead of {expected}: your gradient is the true one "
                    "transposed, as if the weights were stored (n_out, n_in); with rows as "
                    "examples dW = a_prev.T @ delta",
                    shape=shape,
                    expected_shape=expected,
                )
            return ParamCheck(
                name,
                "shape",
                math.nan,
                f"shape {shape} instead of {expected} (transposed), and transposed back it is {verdict}: {message}",
                factor=factor,
                shape=shape,
                expected_shape=expected,
            )
        message = f"shape {shape} instead of {expected}"
        if arr.size == truth.size:
            verdict, rel, _, inner, _ = _judge(arr.reshape(expected), truth, n, mistakes)
            if verdict == "ok":
                message += f": the values are right, reshape it to {expected}"
                if arr.ndim == 2 and 1 in shape:
                    message += " (a column or row vector; use a 1-D bias gradient, e.g. delta.sum(axis=0))"
            else:
                message += f"; reshaped, it is {verdict}: {inner}"
        elif arr.ndim >= 1 and shape[0] == n and arr.ndim == truth.ndim + 1 and shape[1:] == expected:
            message += f": one gradient per row; average over the {n} rows (axis=0)"
        return ParamCheck(name, "shape", math.nan, message, shape=shape, expected_shape=expected)
    verdict, rel, factor, message, mistake = _judge(arr, truth, n, mistakes)
    return ParamCheck(name, verdict, rel, message, factor=factor, shape=shape, expected_shape=expected, mistake=mistake)
