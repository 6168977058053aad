"""diagnose's checks of the learner's backprop: each gradient judged in their layout, then grouped so
that one mistake is one finding."""

from dataclasses import dataclass

import numpy as np

from fastmlp import reference
from fastmlp.diagnostics import _gradients as gradients
from fastmlp.diagnostics._case import GRADIENT_TOL, where
from fastmlp.diagnostics._layout import _dict_kind, _layer_number
from fastmlp.diagnostics._learner import Raised, call, nan_origin


@dataclass
class Verdict:
    """What one of the learner's gradients is, against the true one."""

    slot: object
    verdict: str
    factor: float = None
    mistake: str = None
    detail: str = ""


def check_gradients(case, backprop):
    """Findings about the gradients backprop returns, grouped so that one mistake is one finding."""
    try:
        value = call("backprop", backprop, case.copy_params(), case.learner_X(), case.learner_Y())
    except Raised as exc:
        case.add(
            "raised",
            where("backprop", backprop),
            exc.message,
            "fix the line above; the shapes diagnose read are in the notes",
        )
        return
    place = where("backprop", backprop)
    grads, note = read_gradients(case, value)
    if grads is not None and _random(case, grads, backprop):
        case.notes.append(
            "backprop returns different gradients on two calls with the same arguments (dropout, "
            "or a random minibatch?): switch the randomness off to have it checked"
        )
        return
    if grads is None:
        case.add(
            "bad-return",
            place,
            note,
            "return the gradients in the structure of params, or a pair (weight_grads, bias_grads)",
        )
        return
    if note:
        case.notes.append(note)
    if any(g is not None and _non_finite(g) for g in grads.values()):
        origin = nan_origin(backprop, case.copy_params(), case.learner_X(), case.learner_Y())
        names = ", ".join(s.name for s, g in grads.items() if g is not None and _non_finite(g))
        case.add(
            "not-finite",
            place,
            f"the gradients of {names} hold NaN or infinity" + (f": {origin}" if origin else ""),
            "keep np.log and divisions away from 0",
        )
        return
    verdicts = [judge_gradient(case, slot, grads.get(slot)) for slot in case.structure.slots]
    case.facts["gradients"] = {v.slot: v for v in verdicts}
    case.facts["their_gradients"] = grads
    report_gradients(case, verdicts, place)


def _random(case, grads, backprop):
    """Whether a second call of backprop on the same arguments gives other gradients."""
    try:
        again, _ = read_gradients(
            case, call("backprop", backprop, case.copy_params(), case.learner_X(), case.learner_Y())
        )
    except Raised:
        return True
    if again is None:
        return True
    return not all(_same(grads[s], again.get(s)) for s in grads)


def _same(a, b):
    if a is None or b is None:
        return a is b
    try:
        return bool(np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), equal_nan=True))
    except (TypeError, ValueError):
        return False


def _non_finite(g):
    try:
        return not np.all(np.isfinite(np.asarray(g, dtype=np.float64)))
    except (TypeError, ValueError):
        return False


def _grad_key_matches(param_key, grad_key):
    p, g = str(param_key).lower(), str(grad_key).lower()
    return g in (p, "d" + p, "d_" + p, "grad_" + p, "grad" + p, "nabla_" + p, "delta_" + p, p + "_grad", "g" + p)


def read_gradients(case, value):
    """({slot: array or None}, note) from backprop's return; (None, reason) when it cannot be read."""
    structure = case.structure
    slots = structure.slots
    weight_slots = [s for s in slots if s.kind == "W"]
    bias_slots = [s for s in slots if s.kind == "b"]
    if isinstance(value, dict):
        out = {}
        for slot in slots:
            keys = [k for k in value if _grad_key_matches(slot.key if structure.kind == "dict" else slot.name, k)]
            # else by kind and layer number: dW1 for weights1, db2 for bias2
            keys = keys or [
                k
                for k in value
                if _dict_kind(str(k)[1:]) == slot.kind
                and str(k)[:1].lower() == "d"
                and _layer_number(k) == slot.layer + 1
            ]
            out[slot] = value[keys[0]] if keys else None
        if all(v is None for v in out.values()):
            return None, (
                f"backprop returned a dict with keys {list(value)[:8]}; expected the keys of params "
                "with or without a 'd' prefix"
            )
        return out, ""
    if not isinstance(value, (list, tuple)):
        return None, f"backprop returned {type(value).__name__}; expected gradients in the structure of params"
    candidates = []
    if len(value) == 2 and all(isinstance(v, (list, tuple)) for v in value):
        first, second = list(value[0]), list(value[1])
        candidates.append((_pairs(weight_slots, first) | _pairs(bias_slots, second), ""))
        candidates.append(
            (
                _pairs(weight_slots, second) | _pairs(bias_slots, first),
                "backprop returns (bias_grads, weight_grads), biases first as in Nielsen's network.py; "
                "read it that way",
            )
        )
    if len(value) == structure.n_layers and all(isinstance(v, (list, tuple)) and len(v) == 2 for v in value):
        candidates.append(({s: value[s.layer][0 if s.kind == "W" else 1] for s in slots}, ""))
    if structure.kind in ("list", "pairs", "pair"):
        try:
            candidates.append((structure.read(value), ""))
        except Exception:  # noqa: BLE001 -- an unreadable candidate is just not a candidate
            pass
    if len(value) == len(slots) and all(isinstance(v, np.ndarray) for v in value):
        candidates.append(({s: v for s, v in zip(slots, value)}, ""))
    if not candidates:
        return None, (
            f"backprop returned a {type(value).__name__} of {len(value)} items; expected gradients "
            f"in the structure of params ({structure.describe()})"
        )
    best = max(candidates, key=lambda c: _shape_hits(case, c[0]))
    return best


def _pairs(slots, values):
    return {s: (values[s.layer] if s.layer < len(values) else None) for s in slots}


def _shape_hits(case, grads):
    values = case.structure.read(case.params)
    return sum(np.shape(g) == np.shape(values[s]) for s, g in grads.items() if isinstance(g, np.ndarray))


def _true_gradient(case, slot):
    """The true gradient of one parameter in the learner's layout and shape."""
    dW, db = case.true_gradients()[slot.layer]
    if slot.kind == "W":
        return case.layout.learner_weight(dW)
    return case.layout.learner_bias(db, slot.layer)


def _mistaken(case):
    """{mistake key: {slot: gradient in the learner's layout}} for the textbook mistakes."""
    if "mistakes" not in case.facts:
        Yc = reference.one_hot(case.labels, case.sizes[-1])
        out = {}
        keys = gradients._applicable_mistakes(case.output, case.loss, case.activation)
        with np.errstate(all="ignore"):
            for key in keys:
                dW, db = gradients._mistaken_backprop(
                    case.weights, case.biases, case.Xc, Yc, case.activation, case.output, case.loss, key
                )
                out[key] = {
                    s: (
                        case.layout.learner_weight(dW[s.layer])
                        if s.kind == "W"
                        else case.layout.learner_bias(db[s.layer], s.layer)
                    )
                    for s in case.structure.slots
                }
        case.facts["mistakes"] = out
    return case.facts["mistakes"]


def judge_gradient(case, slot, value):
    """The Verdict on one returned gradient."""
    if value is None:
        return Verdict(slot, "missing", detail="not returned")
    arr, reason = gradients._as_float_array(value)
    if arr is None:
        return Verdict(slot, "invalid", detail=reason)
    truth = _true_gradient(case, slot)
    tol = GRADIENT_TOL[case.dtype]
    if _both_zero(case, arr, truth):
        return Verdict(slot, "ok")
    if slot.kind == "b":
        axis = _bias_axis(case, slot, arr)
        if axis is not None:
            return axis
    if arr.shape != truth.shape:
        if arr.ndim == 2 and arr.shape == truth.shape[::-1] and slot.kind == "W":
            verdict = judge_values(case, slot, arr.T, truth, tol)
            if verdict.verdict == "ok":
                return Verdict(slot, "transposed", detail=f"shape {arr.shape} where {slot.label} is {truth.shape}")
            return Verdict(
                slot,
                "shape",
                detail=f"shape {arr.shape} where {slot.label} is {truth.shape}; "
                f"transposed back it is {verdict.verdict}",
            )
        if arr.size != truth.size:
            return Verdict(slot, "shape", detail=f"shape {arr.shape} where {slot.label} is {truth.shape}")
        param_shape = truth.shape
        try:
            grown = np.broadcast_shapes(param_shape, arr.shape) != param_shape
        except ValueError:
            grown = True
        verdict = judge_values(case, slot, arr.reshape(truth.shape), truth, tol)
        if grown:
            return Verdict(
                slot,
                "shape",
                detail=f"shape {arr.shape} where {slot.label} is {param_shape}, so "
                f"{slot.label} - lr * d{slot.name} has shape "
                f"{_broadcast_text(param_shape, arr.shape)}"
                + ("" if verdict.verdict == "ok" else f"; reshaped, it is {verdict.verdict}"),
            )
        return verdict
    return judge_values(case, slot, arr, truth, tol)


def _both_zero(case, arr, truth):
    """A true gradient that is zero (a layer after all-zero weights, a balanced batch's output
    bias) up to rounding, and the learner's too: there is nothing to compare."""
    scale = max(float(np.linalg.norm(dW)) + float(np.linalg.norm(db)) for dW, db in case.true_gradients())
    tiny = 1e-9 * scale
    return np.linalg.norm(truth) <= tiny and np.linalg.norm(arr) <= tiny


def _l2_included(case, slot, arr, truth, tol):
    """lambda when arr is the true gradient plus lambda times the weights (L2 regularisation)."""
    if slot.kind != "W":
        return None
    W = np.asarray(case.structure.read(case.params)[slot], dtype=np.float64)
    if W.shape != arr.shape:
        return None
    A = np.stack([truth.reshape(-1), W.reshape(-1)], axis=1)
    (a, lam), *_ = np.linalg.lstsq(A, arr.reshape(-1), rcond=None)
    residual = np.linalg.norm(A @ (a, lam) - arr.reshape(-1))
    if abs(a - 1) <= 10 * tol and lam > 0 and residual <= tol * np.linalg.norm(arr):
        return float(lam)
    return None


def _broadcast_text(a, b):
    try:
        return str(np.broadcast_shapes(a, b))
    except ValueError:
        return "an error"


def judge_values(case, slot, arr, truth, tol):
    mistakes = [
        (key, grads[slot]) for key, grads in _mistaken(case).items() if gradients._norm_rel(grads[slot], truth) >= tol
    ]
    verdict, rel, factor, _, mistake = gradients._judge(arr, truth, case.n, mistakes, tol)
    if verdict == "wrong" and mistake is None:
        lam = _l2_included(case, slot, arr, truth, tol)
        if lam is not None:
            case.notes.append(
                f"the gradient of {slot.label} includes L2 regularisation ({lam:.3g} * W); "
                "diagnose compares the rest with the unregularised loss"
            )
            return Verdict(slot, "ok")
    scale = None
    if mistake is not None:
        candidate = dict(mistakes)[mistake]
        scale = float(np.vdot(arr, candidate) / np.vdot(candidate, candidate))
    detail = "it equals the true one transposed" if verdict == "transposed" else f"{rel:.2g}"
    return Verdict(slot, verdict, factor=factor if mistake is None else scale, mistake=mistake, detail=detail)


def _bias_axis(case, slot, arr):
    """bias-gradient-axis when a bias gradient is summed over the units (one value per sample) or
    over everything (one number)."""
    delta = _true_delta(case, slot.layer)
    n, k = delta.shape
    flat = arr.reshape(-1)
    candidates = []
    if n != k and n > 1 and flat.size == n:
        candidates.append((flat, delta.sum(axis=1), "one value per sample: summed over the units"))
    if flat.size == 1 or (k > 1 and flat.size == k and np.all(flat == flat[0])):
        candidates.append((flat[:1], np.array([delta.sum()]), "one number: summed over everything"))
    tiny = 1e-9 * float(np.abs(delta).sum())  # a sum that cancels to rounding is zero
    for values, candidate, what in candidates:
        norm = float(np.vdot(candidate, candidate))
        if np.max(np.abs(candidate)) <= tiny:
            if np.max(np.abs(values)) <= tiny:
                return Verdict(
                    slot,
                    "bias-gradient-axis",
                    detail=what + " (for softmax + cross-entropy that sum is exactly zero, so the bias never moves)",
                )
            continue
        if not np.any(values):
            continue
        scale = float(np.vdot(values, candidate) / norm)
        if np.linalg.norm(values - scale * candidate) <= GRADIENT_TOL[case.dtype] * np.linalg.norm(values):
            return Verdict(slot, "bias-gradient-axis", factor=scale, detail=what)
    return None


def _true_delta(case, layer):
    """dLoss/dz of a layer (0-based), canonical (n, k), for the mean loss."""
    if "deltas" not in case.facts:
        _, acts = case.true_pass()
        case.facts["deltas"] = _back_through(case, _output_delta(case, acts[-1]))
    return case.facts["deltas"][layer]


def _output_delta(case, out):
    """dLoss/dz of the output layer, for the mean loss, from the output activations out."""
    g = out - reference.one_hot(case.labels, case.sizes[-1])
    if case.loss == "cross_entropy":
        delta = g
    elif case.output == "sigmoid":
        delta = g * out * (1 - out)
    else:
        delta = out * (g - np.sum(g * out, axis=1, keepdims=True))
    return delta / case.n


def _back_through(case, delta):
    """dLoss/dz of every layer, from the output layer's delta back through the true network."""
    _, acts = case.true_pass()
    table = reference.ACTIVATION_FUNCTIONS[case.activation]
    deltas = [None] * len(case.weights)
    deltas[-1] = delta
    for i in range(len(case.weights) - 1, 0, -1):
        deltas[i - 1] = (deltas[i] @ case.weights[i].T) * table.derivative(acts[i])
    return deltas


def _names(verdicts):
    return ", ".join(v.slot.name for v in sorted(verdicts, key=lambda v: (v.slot.layer, v.slot.kind != "W")))


def _group(verdicts, key):
    groups = {}
    for v in verdicts:
        groups.setdefault(key(v), []).append(v)
    return groups


def report_gradients(case, verdicts, place):
    """One finding per mistake, listing the parameters it affects."""
    bad = [v for v in verdicts if v.verdict != "ok"]
    if not bad:
        return
    forward_note = (
        " (forward is wrong too: fix it first, these may follow from it)" if case.facts.get("forward_broken") else ""
    )
    for mistake, group in _group([v for v in bad if v.mistake], lambda v: v.mistake).items():
        code = gradients.MISTAKE_CODES.get(mistake, "activation-derivative")
        text = gradients._MISTAKES[mistake].replace("it matches", f"the gradients of {_names(group)} match", 1)
        scale = group[0].factor
        if scale is not None and abs(scale + 1) <= 1e-3:
            text += ", with the sign flipped (right only if your update adds it)"
        elif scale is not None and abs(scale - 1) > 1e-3:
            reason = _mse_convention(case, scale) or _scale_cause(case, scale)
            text += f", times {scale:.4g}" + (f" ({reason})" if reason else "")
        case.add(code, place, text + forward_note, _mistake_fix(case, mistake))
    axis_bugs = [v for v in bad if v.verdict == "bias-gradient-axis"]
    if axis_bugs:
        keep = len(case.layout.bias_shapes[axis_bugs[0].slot.layer] or ()) == 2
        parts = [
            f"{_names(group)} {'is' if len(group) == 1 else 'are each'} {detail}"
            for detail, group in _group(axis_bugs, lambda v: v.detail).items()
        ]
        case.add(
            "bias-gradient-axis",
            place,
            "the bias gradient " + "; ".join(parts) + ". A bias needs one value per unit: the sum over the samples",
            f"db = dZ.sum(axis={case.layout.sample_axis()}{', keepdims=True' if keep else ''})",
        )
    flips = [v for v in bad if v.verdict == "sign-flipped" and not v.mistake]
    if flips:
        case.facts["sign_flipped"] = flips
        case.add(
            "sign-flipped",
            place,
            f"the gradients of {_names(flips)} are exactly minus the true ones "
            "(y - out where out - y was meant). That is right only if your update adds them "
            "(W += lr * dW); with W -= lr * dW every step climbs the loss. Pass step= to settle it",
            "dZ = out - Y  # not Y - out; then W -= lr * dW",
        )
    for group in _group(
        [v for v in bad if v.verdict == "scaled" and not v.mistake], lambda v: f"{v.factor:.3g}"
    ).values():
        factor = group[0].factor
        case.facts.setdefault("scaled", []).extend(group)
        convention = _mse_convention(case, factor)
        if convention:
            case.facts["convention"] = factor
            case.notes.append(
                f"the gradients of {_names(group)} are {factor:.4g} times those of fastmlp's mse "
                f"(0.5 * sum over the classes): {convention}; your learning rate absorbs it"
            )
            continue
        reason = _scale_cause(case, factor)
        case.add(
            "scaled",
            place,
            f"the gradients of {_names(group)} are {factor:.6g} times the true ones"
            + (f": {reason}" if reason else ""),
            _scale_fix(case, factor),
        )
    for verdict in ("transposed", "shape", "zero", "missing", "invalid"):
        group = [v for v in bad if v.verdict == verdict]
        if not group:
            continue
        code = {"missing": "bad-return", "invalid": "bad-return"}.get(verdict, verdict)
        details = "; ".join(f"d{v.slot.name}: {v.detail}" for v in group)
        message, fix = _verdict_text(case, verdict, group, details)
        case.add(code, place, message, fix)
    wrong = [v for v in bad if v.verdict == "wrong" and not v.mistake]
    following = [v for v in wrong if _follows_forward(case, v.slot)]
    if following:
        case.notes.append(
            f"backprop's gradients of {_names(following)} are the right ones for the output "
            "forward gives: they will be right once forward is"
        )
        wrong = [v for v in wrong if v not in following]
    if wrong:
        last = len(case.weights) - 1
        hidden_only = all(v.slot.layer < last for v in bad)
        hint = (
            " The output layer's gradients are right, so the error is in passing it back through a "
            "hidden layer (the activation's derivative, or the transpose of the weights)"
            if hidden_only
            else ""
        )
        errors = ", ".join(f"{v.slot.name} {v.detail}" for v in wrong)
        case.add(
            "wrong",
            place,
            f"the gradients of {_names(wrong)} differ from the true ones (relative "
            f"error {errors}).{hint}{forward_note}",
            "print each layer's dZ next to the one fastmlp.reference.MLP.from_parameters(...)"
            ".loss_and_gradients gives on the same parameters, and fix the first that differs",
        )


def _follows_forward(case, slot):
    """Whether the learner's gradient of slot is the true backprop of the output their forward gave
    (a broken softmax, say): then forward is the one to fix."""
    theirs = case.facts.get("their_gradients", {}).get(slot)
    following = _gradients_from_their_output(case)
    if theirs is None or following is None:
        return False
    truth = following[slot]
    arr = np.asarray(theirs, dtype=np.float64)
    if arr.size != truth.size:
        return False
    return gradients._norm_rel(arr.reshape(truth.shape), truth) < GRADIENT_TOL[case.dtype]


def _gradients_from_their_output(case):
    """{slot: gradient in the learner's layout} backpropagated from forward's output instead of the
    true one; None when forward gave no output of the classes' width."""
    if "following_forward" not in case.facts:
        out = case.facts.get("forward_output")
        result = None
        if case.facts.get("forward_broken") and out is not None and out.shape[1] == case.sizes[-1]:
            _, acts = case.true_pass()
            deltas = _back_through(case, _output_delta(case, out))
            result = {
                slot: (
                    case.layout.learner_weight(acts[slot.layer].T @ deltas[slot.layer])
                    if slot.kind == "W"
                    else case.layout.learner_bias(deltas[slot.layer].sum(axis=0), slot.layer)
                )
                for slot in case.structure.slots
            }
        case.facts["following_forward"] = result
    return case.facts["following_forward"]


def _verdict_text(case, verdict, group, details):
    if verdict == "transposed":
        right = (
            "dZ @ a_prev.T"
            if not case.layout.rows
            else "a_prev.T @ dZ"
            if case.layout.weights_in_out
            else "dZ.T @ a_prev"
        )
        return (
            f"the gradients of {_names(group)} are the true ones transposed ({details})",
            f"dW = {right}  # the shape of W"
            if len(case.layout.x_shape) > 1
            else "dW = np.outer(dZ, a_prev)  # the shape of W",
        )
    if verdict == "shape":
        return (
            f"the gradients of {_names(group)} have the wrong shape: {details}",
            "give each gradient its parameter's shape",
        )
    if verdict == "zero":
        return (
            f"the gradients of {_names(group)} are all zeros: never computed, or overwritten",
            "compute them from dZ, and return the arrays you computed",
        )
    return (
        f"backprop gave no usable gradient for {_names(group)}: {details}",
        "return one gradient per parameter, in the structure of params",
    )


def _mse_convention(case, factor):
    """Which other way of writing the squared error gives gradients `factor` times fastmlp's, or ''."""
    if case.loss != "mse":
        return ""
    k = case.sizes[-1]
    for value, what in (
        (2.0, "the loss is (out - y)^2 without the 0.5"),
        (1 / k, "the loss is averaged over the classes too"),
        (2 / k, "the loss is the mean of (out - y)^2 over the classes too"),
    ):
        if abs(factor - value) <= 1e-4 * value:
            return what
    return ""


def _scale_cause(case, factor):
    reason = gradients._scale_reason(factor, case.n, case.sizes[0], case.sizes[-1])
    if reason:
        return reason
    count = case.n / factor if factor else 0
    if factor > 0 and count > 1 and abs(count - round(count)) < 1e-6 * count:
        return (
            f"divided by {round(count)} instead of this batch's {case.n} samples: a count from a global "
            "variable (the training set's size?)"
        )
    return ""


def _scale_fix(case, factor):
    n_expr = "X.shape[0]" if case.layout.rows else "X.shape[1]"
    if abs(factor - case.n) < 1e-4 * case.n:
        return f"m = {n_expr}; dZ = (out - Y) / m  # the mean over the samples, not their sum"
    if abs(factor * case.n - 1) < 1e-3:
        return "divide by the number of samples once: remove the second division"
    return f"m = {n_expr}  # divide by the samples of this batch, not another count"


def _mistake_fix(case, mistake):
    axis = case.layout.fix_axis()
    fixes = {
        "output-derivative-with-ce": "dZ_out = out - Y  # no softmax or sigmoid derivative on top",
        "ce-non-target-sign": "dZ_out = out - Y",
        "no-output-derivative-with-mse": "dZ_out = (out - Y) * out * (1 - out)",
        "diagonal-softmax-jacobian": f"dZ_out = out * (g - (g * out).sum(axis={axis}, keepdims=True)), g = out - Y",
        "labels-shifted-up": "Y[np.arange(n), labels] = 1  # the 1 at each sample's own label",
        "labels-shifted-down": "Y[np.arange(n), labels] = 1  # the 1 at each sample's own label",
        "target-not-subtracted": (
            "dZ_out = out - Y  # subtract 1 at each sample's label"
            if case.layout.y_form != "labels"
            else "dZ_out = out.copy(); dZ_out[np.arange(len(y)), y] -= 1  # samples in rows"
        ),
    }
    derivative = reference.ACTIVATION_FUNCTIONS[case.activation].derivative_code.format(a="A")
    return fixes.get(mistake, f"dZ = dA * {derivative}  # A = {case.activation}(Z), the layer's activation")
