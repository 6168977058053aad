"""Why does my network not learn? Three tools that answer it.

- :func:`doctor` trains a copy of a network briefly and reports what looks wrong with the setup:
  unscaled inputs, an initial loss far from chance, saturated or dead hidden units, a loss that
  diverges, turns NaN or does not move, vanishing or exploding gradients, constant predictions,
  imbalanced classes. Every finding carries the measured number and the fix.
- :func:`gradcheck` compares a network's gradients with float64 central differences.
- :func:`check_backprop` runs a learner's own backpropagation on a small random problem and names,
  for each parameter, what is wrong with the gradient it returns: a flipped sign, a scale factor
  (a sum where a mean was meant), a transposed weight gradient, a wrong shape, zeros, or plain
  wrong values -- and, where it can, which textbook mistake produces exactly those numbers.

All three accept the compiled ``fastmlp.MLP`` and, by duck typing, ``fastmlp.reference.MLP``.
"""
import copy as _copy
import math
import os
import shutil
import textwrap
import traceback
from dataclasses import dataclass

import numpy as np

from fastmlp import reference
from fastmlp._validation import check_choice, check_int, check_sizes, check_X, check_y
from fastmlp.optim import SGD, Adam

__all__ = ["doctor", "gradcheck", "check_backprop", "Finding", "DoctorReport", "ParamCheck",
           "BackpropReport"]

SEVERITIES = ("info", "warning", "error")

# Thresholds. Each is a judgement call, documented in doctor's docstring.
_SCALE_HIGH = 10.0            # max |x| above this: inputs not scaled (pixels 0..255, raw units)
_SCALE_LOW = 1e-2             # max |x| below this: inputs squashed towards zero
_SCALE_SPREAD = 1e3           # ratio of the largest to the smallest column scale: info
_LOSS_HIGH = 3.0              # initial loss above this many times chance: warning
_LOSS_HIGH_INFO = 1.5         # ... above this many times: info
_LOSS_LOW = 0.5               # initial loss below this fraction of chance: the net is already trained
_SATURATION_MARGIN = 0.01     # an activation this close to a bound of sigmoid/tanh is saturated
_SATURATED_WARNING = 0.5      # share of saturated activations in a layer: warning
_SATURATED_INFO = 0.2         # ... info
_DEAD_WARNING = 0.5           # share of never-active ReLUs in a layer: warning
_DEAD_INFO = 0.1              # ... info
_CONSTANT_SHARE = 0.95        # one class in this share of predictions: constant predictions
_DIVERGING_FACTOR = 1.5       # final loss above this many times the initial: diverging
_SPIKE_FACTOR = 3.0           # any loss above this many times the initial: diverging
_DECREASE_FACTOR = 0.95       # final loss above this many times the initial: not decreasing
_UNSTABLE_SHARE = 0.5         # a rise undoing this share of the progress so far: unstable
_UNSTABLE_FLOOR = 0.05        # ... and at least this share of the chance loss
_GRAD_RATIO_LOW = 1e-3        # first/last layer gradient norm: vanishing
_GRAD_RATIO_HIGH = 1e3        # ... exploding
_GRAD_TINY = 1e-7             # every layer's gradient norm below this: vanishing
_GRAD_HUGE = 1e4              # some layer's gradient norm above this: exploding
_IMBALANCE_WARNING = 10.0     # commonest / rarest class count: warning
_IMBALANCE_INFO = 3.0         # ... info
_CHECKPOINTS = 10             # loss measurements during the short run
_GRAD_ROWS = 256              # rows for the per-layer gradient norms
_CURVE_ROWS = 500             # rows on which the loss is followed during the short run
_GRADCHECK_FLOOR = 1e-2       # gradcheck: entries are compared on at least this share of the largest


# ----------------------------------------------------------------------------------------------
# Tables for the terminal
# ----------------------------------------------------------------------------------------------

def _terminal_width():
    return max(72, min(120, shutil.get_terminal_size((100, 24)).columns))


def _table(headers, rows, wrap_column):
    """Rows of strings as aligned columns; the cell in wrap_column is wrapped to the width left.

    A cell may hold several paragraphs separated by newlines; each is wrapped on its own."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    indent = sum(w + 2 for w in widths[:wrap_column])
    room = max(30, _terminal_width() - indent)
    widths[wrap_column] = min(widths[wrap_column], room)
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for row in rows:
        wrapped = []
        for paragraph in row[wrap_column].split("\n"):
            wrapped += textwrap.wrap(paragraph, room, subsequent_indent="  ") or [""]
        cells = list(row)
        cells[wrap_column] = wrapped[0]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        lines += [" " * indent + more for more in wrapped[1:]]
    return "\n".join(lines)


def _count(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def _describe_net(net):
    return (f"{type(net).__name__}({list(net.sizes)}, activation={net.activation!r}, "
            f"output={net.output!r}, loss={net.loss!r})")


# ----------------------------------------------------------------------------------------------
# doctor
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One thing :func:`doctor` noticed.

    Attributes
    ----------
    code : str
        A stable identifier such as ``"inputs-not-scaled"``, for programs and tests.
    severity : {"info", "warning", "error"}
        ``warning`` and ``error`` mean the setup will probably not train well.
    message : str
        What was measured, with the number.
    hint : str
        How to fix it.
    """

    code: str
    severity: str
    message: str
    hint: str


class DoctorReport:
    """What :func:`doctor` found.

    Attributes
    ----------
    findings : list of Finding
        Errors first, then warnings, then info.
    ok : bool
        True when no finding is a warning or an error.
    measurements : dict
        The numbers behind the findings: ``initial_loss``, ``final_loss``, ``loss_curve``
        (list of ``(step, loss)``), ``chance_loss``, ``final_accuracy``, ``grad_norms``,
        ``input_max``, ``steps_run``, and so on.
    """

    def __init__(self, findings, measurements, title):
        order = {severity: i for i, severity in enumerate(reversed(SEVERITIES))}
        self.findings = sorted(findings, key=lambda f: order[f.severity])
        self.measurements = measurements
        self._title = title

    @property
    def ok(self):
        return not any(f.severity in ("warning", "error") for f in self.findings)

    @property
    def codes(self):
        """The codes of the findings, in report order."""
        return [f.code for f in self.findings]

    def __getitem__(self, code):
        """The first finding with this code; KeyError when there is none."""
        for finding in self.findings:
            if finding.code == code:
                return finding
        raise KeyError(code)

    def __contains__(self, code):
        return code in self.codes

    def __iter__(self):
        return iter(self.findings)

    def __len__(self):
        return len(self.findings)

    def __repr__(self):
        inner = ", ".join(f"{f.severity}:{f.code}" for f in self.findings)
        return f"DoctorReport(ok={self.ok}, findings=[{inner}])"

    def __str__(self):
        m = self.measurements
        lines = [self._title]
        if "initial_loss" in m:
            curve = f"loss {m['initial_loss']:.4g} -> {m['final_loss']:.4g} over {m['steps_run']} steps"
            if m.get("nan_at") is not None:
                curve += f", then NaN by step {m['nan_at']}"
            if m.get("final_accuracy") is not None:
                curve += f", accuracy {m['final_accuracy']:.3f} on {m['sample_rows']} training rows"
            lines.append(curve)
        lines.append("")
        if self.findings:
            rows = [(f.severity, f.code, f"{f.message}\nfix: {f.hint}") for f in self.findings]
            lines.append(_table(("severity", "code", "finding"), rows, 2))
            lines.append("")
        counts = [_count(sum(f.severity == s for f in self.findings), s).replace("infos", "info")
                  for s in reversed(SEVERITIES)]
        verdict = "ok" if self.ok else "NOT OK"
        lines.append(f"{verdict}: " + ", ".join(counts) if self.findings else "ok: no problems found")
        return "\n".join(lines)


def _hidden_activations(net, X):
    """Every hidden layer's activations for the rows of X, from net.weights and net.biases."""
    layers = []
    a = X
    with np.errstate(over="ignore", invalid="ignore"):
        for W, b in zip(net.weights[:-1], net.biases[:-1]):
            z = a @ np.asarray(W, dtype=a.dtype) + np.asarray(b, dtype=a.dtype)
            if net.activation == "relu":
                a = np.maximum(z, 0)
            elif net.activation == "leaky_relu":
                a = np.where(z > 0, z, reference.LEAKY_SLOPE * z)
            elif net.activation == "sigmoid":
                a = reference.sigmoid(z)
            else:
                a = np.tanh(z)
            layers.append(a)
    return layers


def _chance_loss(output, loss, n_classes):
    """The loss of a network whose logits are all zero: what an untrained network should show."""
    if output == "softmax" and loss == "cross_entropy":
        return math.log(n_classes)
    if output == "sigmoid" and loss == "cross_entropy":
        return n_classes * math.log(2.0)
    if output == "sigmoid":  # mse with every output at 0.5
        return 0.125 * n_classes
    return 0.5 * (1 - 1 / n_classes)  # softmax + mse with every output at 1/k


def _with_lr(optimizer, lr):
    twin = _copy.copy(optimizer)
    twin.lr = lr
    return twin


def _short_run(net, X, y, rows, optimizer, steps, batch_size, X_eval, y_eval):
    """Train net (a copy) for `steps` minibatches of the given rows, measuring the loss on
    (X_eval, y_eval) at about _CHECKPOINTS points. Returns (curve, steps_run, nan_at)."""
    curve = [(0, _loss(net, X_eval, y_eval))]
    if not np.isfinite(curve[0][1]):
        return curve, 0, 0
    per_segment = max(1, -(-steps // _CHECKPOINTS))
    done = 0
    while done < steps:
        todo = min(per_segment, steps - done)
        batch = rows[done * batch_size:(done + todo) * batch_size]
        try:
            with np.errstate(all="ignore"):
                net.fit(X[batch], y[batch], epochs=1, batch_size=batch_size, optimizer=optimizer,
                        shuffle=False, verbose=0)
        except FloatingPointError:
            return curve, done, done + todo
        done += todo
        loss = _loss(net, X_eval, y_eval)
        curve.append((done, loss))
        if not np.isfinite(loss) or not _params_finite(net):
            return curve, done, done
    return curve, done, None


def _loss(net, X, y):
    with np.errstate(all="ignore"):
        return float(net.evaluate(X, y)["loss"])


def _params_finite(net):
    return all(np.isfinite(p).all() for p in list(net.weights) + list(net.biases))


def _run_verdict(curve, nan_at):
    """'nan', 'diverging', 'flat' or 'ok' for a loss curve."""
    if nan_at is not None:
        return "nan"
    initial, final = curve[0][1], curve[-1][1]
    if final > _DIVERGING_FACTOR * initial or max(loss for _, loss in curve) > _SPIKE_FACTOR * initial:
        return "diverging"
    if final > _DECREASE_FACTOR * initial:
        return "flat"
    return "ok"


def _unstable(curve, chance):
    """The largest jump (step, from, to) back up from the best loss so far, when it undoes more than
    half of the progress made, or None. A noisy but improving curve never qualifies."""
    initial = curve[0][1]
    best = initial
    worst = None
    for step, loss in curve[1:]:
        rise = loss - best
        big = rise > max(_UNSTABLE_SHARE * (initial - best), _UNSTABLE_FLOOR * chance)
        if big and (worst is None or rise > worst[2] - worst[1]):
            worst = (step, best, loss)
        best = min(best, loss)
    return worst


def _trains_well(curve, nan_at, chance):
    """A clean run: it ends below both 95% of where it started and the chance loss, never jumping up."""
    return (_run_verdict(curve, nan_at) == "ok" and curve[-1][1] < chance
            and _unstable(curve, chance) is None)


def _try_rates(net, factors, optimizer, run, chance):
    """Short runs on fresh copies with lr * factor; the first (lr, curve) that trains well, or None."""
    for factor in factors:
        lr = float(f"{optimizer.lr * factor:.6g}")
        curve, _, nan_at = run(net.copy(), _with_lr(optimizer, lr))
        if _trains_well(curve, nan_at, chance):
            return lr, curve
    return None


def _check_inputs(X, findings, m):
    with np.errstate(all="ignore"):
        col_max = np.abs(X).max(axis=0)
    top = float(col_max.max())
    m["input_max"] = top
    m["input_min"] = float(X.min())
    whole = bool(np.all(X == np.round(X)))
    if top > _SCALE_HIGH:
        if whole and m["input_min"] >= 0 and top <= 255:
            hint = ("divide by 255 (X = X / 255.0) so the pixels lie in [0, 1], as "
                    "fastmlp.datasets.load_mnist returns them")
        else:
            hint = ("standardise each feature with statistics of the training rows: "
                    "X = (X - mean) / std, with mean = X_train.mean(0), std = X_train.std(0) + 1e-8")
        worst = int(np.argmax(col_max))
        findings.append(Finding(
            "inputs-not-scaled", "warning",
            f"the inputs reach |x| = {top:.4g} (column {worst}); a network trains best on "
            f"features of order 1" + (" (these look like raw 0..255 pixels)" if whole and top <= 255
                                      and m["input_min"] >= 0 else ""),
            hint))
    elif 0 < top < _SCALE_LOW:
        findings.append(Finding(
            "inputs-not-scaled", "warning",
            f"the inputs are tiny: the largest |x| is {top:.3g}, so the first layer barely sees them",
            "standardise each feature: X = (X - mean) / std with the training rows' mean and std"))
    else:
        used = col_max[col_max > 0]
        if len(used) > 1 and used.max() / used.min() > _SCALE_SPREAD:
            big, small = int(np.argmax(np.where(col_max > 0, col_max, -np.inf))), \
                int(np.argmin(np.where(col_max > 0, col_max, np.inf)))
            findings.append(Finding(
                "inputs-not-scaled", "info",
                f"feature scales differ by a factor {used.max() / used.min():.3g}: column {big} reaches "
                f"{col_max[big]:.3g}, column {small} only {col_max[small]:.3g}",
                "standardise each feature so small-scale features are not ignored"))


def _check_initial_loss(net, initial, chance, findings):
    if net.loss != "cross_entropy" or not np.isfinite(initial):
        return
    inputs_bad = any(f.code == "inputs-not-scaled" and f.severity == "warning" for f in findings)
    cause = ("the unscaled inputs make the first layer's outputs, and so the logits, huge: scale "
             "the inputs first" if inputs_bad else
             "the initial weights are too large for these inputs: use the default init "
             "(init='auto': He for relu, Glorot for sigmoid/tanh), biases at zero, and scaled inputs")
    ratio = initial / chance
    what = f"ln({net.sizes[-1]})" if net.output == "softmax" else f"{net.sizes[-1]} ln 2"
    base = (f"the initial loss is {initial:.4g}, {ratio:.3g} times {what} = {chance:.4g}, "
            "the loss of an untrained network that guesses uniformly")
    if ratio > _LOSS_HIGH:
        findings.append(Finding(
            "initial-loss-off", "warning",
            base + ": the network starts confidently wrong", cause))
    elif ratio > _LOSS_HIGH_INFO:
        findings.append(Finding(
            "initial-loss-off", "info", base,
            "slightly large initial weights or unscaled inputs; the default init keeps it near chance"))
    elif ratio < _LOSS_LOW:
        findings.append(Finding(
            "initial-loss-off", "info", base + ": the network looks already trained",
            "nothing to fix if you meant to pass a trained model; a fresh one should start near chance"))


def _check_units(net, layers, when, m):
    """Saturated sigmoid/tanh or dead ReLU units; layers are hidden activations of the sample."""
    if net.activation in ("sigmoid", "tanh"):
        if net.activation == "sigmoid":
            shares = [float(np.mean((a < _SATURATION_MARGIN) | (a > 1 - _SATURATION_MARGIN))) for a in layers]
            bounds = "0 or 1"
        else:
            shares = [float(np.mean(np.abs(a) > 1 - _SATURATION_MARGIN)) for a in layers]
            bounds = "-1 or 1"
        m.setdefault("saturated_share", {})[when] = shares
        return [("saturated", i, share, bounds) for i, share in enumerate(shares)]
    if net.activation == "relu":
        dead = [(int(np.sum(a.max(axis=0) <= 0)), a.shape[1]) for a in layers]
        m.setdefault("dead_units", {})[when] = dead
        return [("dead", i, n_dead / n_units, (n_dead, n_units)) for i, (n_dead, n_units) in enumerate(dead)]
    return []


def _report_units(net, measured, n_rows, findings):
    """One finding for the worst layer, over the start and the end of the short run."""
    worst = None
    for when, items in measured:
        for kind, layer, share, detail in items:
            if worst is None or share > worst[3]:
                worst = (when, kind, layer, share, detail)
    if worst is None:
        return
    when, kind, layer, share, detail = worst
    if kind == "saturated":
        severity = ("warning" if share > _SATURATED_WARNING else
                    "info" if share > _SATURATED_INFO else None)
        if severity:
            findings.append(Finding(
                "saturated-units", severity,
                f"{share:.0%} of the {net.activation} activations of hidden layer {layer + 1} are "
                f"within {_SATURATION_MARGIN} of {detail} {when} (over {n_rows} rows): their "
                "derivative is almost zero, so they barely learn",
                "scale the inputs to order 1, use the default Glorot init for sigmoid/tanh "
                "(or smaller weights), a lower learning rate, or activation='relu'"))
    else:
        n_dead, n_units = detail
        severity = "warning" if share >= _DEAD_WARNING else "info" if share >= _DEAD_INFO else None
        if severity:
            findings.append(Finding(
                "dead-units", severity,
                f"{n_dead} of the {n_units} ReLU units of hidden layer {layer + 1} ({share:.0%}) are never "
                f"active {when} (over {n_rows} rows): a dead ReLU gets no gradient and never recovers",
                "lower the learning rate, scale the inputs, keep He init (init='auto') with zero biases, "
                "or use activation='leaky_relu'"))


def _check_gradients(net, X, y, findings, m):
    with np.errstate(all="ignore"):
        _, grads = net.loss_and_gradients(X, y)
    norms = [float(np.linalg.norm(np.asarray(dW, dtype=np.float64))) for dW, _ in grads]
    m["grad_norms"] = norms
    listing = ", ".join(f"{n:.2g}" for n in norms)
    first, last = norms[0], norms[-1]
    ratio = first / last if last > 0 else (math.inf if first > 0 else 1.0)
    m["grad_ratio"] = ratio
    if all(np.isfinite(norms)) and max(norms) < _GRAD_TINY:
        findings.append(Finding(
            "vanishing-gradients", "warning",
            f"every layer's weight gradient norm is below {_GRAD_TINY:g} ([{listing}]): "
            "the signal dies out on the way through the network (too small weights, or dead units)",
            "use the default init (He for relu, Glorot for sigmoid/tanh) with zero biases"))
        return norms
    if not all(np.isfinite(norms)) or max(norms) > _GRAD_HUGE or ratio > _GRAD_RATIO_HIGH:
        if ratio > _GRAD_RATIO_HIGH:
            what = (f"the first layer's is {ratio:.3g} times the last layer's, so the early layers "
                    "get far too large updates")
        else:
            what = f"gradients above {_GRAD_HUGE:g} make every update overshoot"
        findings.append(Finding(
            "exploding-gradients", "warning",
            f"the weight gradient norms per layer are [{listing}]: {what}",
            "scale the inputs, use the default init (He for relu, Glorot for sigmoid/tanh), "
            "a lower learning rate, or fewer layers"))
    elif ratio < _GRAD_RATIO_LOW:
        findings.append(Finding(
            "vanishing-gradients", "warning",
            f"the weight gradient norms per layer are [{listing}]: the first layer's is "
            f"{ratio:.2g} times the last layer's, so the early layers barely learn",
            "use activation='relu' with He init (init='auto') instead of sigmoid/tanh in a deep "
            "network, or fewer layers"))
    return norms


def _check_classes(y, n_classes, findings, m):
    counts = np.bincount(y, minlength=n_classes)
    m["class_counts"] = counts.tolist()
    present = counts[counts > 0]
    missing = [c for c in range(n_classes) if counts[c] == 0]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        findings.append(Finding(
            "class-imbalance", "info",
            f"{len(missing)} of the {n_classes} classes never appear in y (class {shown})",
            "fine if those outputs are unused on purpose; otherwise check the labels, or size the "
            "output layer to the number of classes"))
    if len(present) > 1:
        ratio = present.max() / present.min()
        m["imbalance_ratio"] = float(ratio)
        severity = ("warning" if ratio >= _IMBALANCE_WARNING else
                    "info" if ratio >= _IMBALANCE_INFO else None)
        if severity:
            common = int(np.argmax(counts))
            rare = int(np.argmin(np.where(counts > 0, counts, np.iinfo(counts.dtype).max)))
            findings.append(Finding(
                "class-imbalance", severity,
                f"the commonest class ({common}, {counts[common]} rows) is {ratio:.3g} times as "
                f"frequent as the rarest ({rare}, {counts[rare]} rows)",
                "accuracy will flatter the model: look at per-class recall, and oversample the "
                "rare classes (or undersample the common ones) when training"))


def _tried(found, optimizer, steps):
    lr, curve = found
    return (f"use a {'smaller' if lr < optimizer.lr else 'larger'} learning rate: lr={lr:g} "
            f"({type(optimizer).__name__}) took the loss from {curve[0][1]:.4g} to "
            f"{curve[-1][1]:.4g} in the same {steps} steps")


def _check_run(curve, nan_at, steps_run, steps, optimizer, chance, retry, findings, m):
    """Findings about the short run; retry(factors) reruns it with scaled learning rates."""
    initial, final = curve[0][1], curve[-1][1]
    m["safer_lr"] = m["better_lr"] = None
    if not np.isfinite(initial):
        findings.append(Finding(
            "nan-loss", "error",
            f"the loss is {initial} before any training: the outputs overflow",
            "scale the inputs and use the default init (He for relu, Glorot for sigmoid/tanh)"))
        return
    verdict = _run_verdict(curve, nan_at)
    jump = _unstable(curve, chance) if verdict in ("ok", "flat") else None
    lower = None
    if verdict in ("nan", "diverging") or jump is not None:
        lower = retry((0.1, 0.01, 0.001))
        m["safer_lr"] = lower[0] if lower else None
    if lower:
        fix = _tried(lower, optimizer, steps)
    else:
        usual = 1e-3 if isinstance(optimizer, Adam) else 0.1
        fix = f"even lr={optimizer.lr / 1000:g} did not train well: "
        if optimizer.lr / 1000 > usual:
            fix += f"start from a usual learning rate such as lr={usual:g}"
        else:
            fix += "scale the inputs and use the default init first, then lower the learning rate"
    if verdict == "nan":
        findings.append(Finding(
            "nan-loss", "error",
            f"the loss became NaN or infinite by step {nan_at} of {steps} "
            f"with lr={optimizer.lr:g} (last finite loss {curve[-1][1]:.4g}, at step {steps_run})", fix))
        return
    if verdict == "diverging":
        peak = max(loss for _, loss in curve)
        findings.append(Finding(
            "loss-diverging", "error",
            f"the loss went from {initial:.4g} to {final:.4g} (peak {peak:.4g}) over {steps_run} "
            f"steps with lr={optimizer.lr:g}", fix))
        return
    if jump is not None:
        step, best, loss = jump
        findings.append(Finding(
            "loss-unstable", "warning",
            f"the loss jumped back up from {best:.4g} to {loss:.4g} by step {step} with "
            f"lr={optimizer.lr:g}: the steps overshoot", fix))
    if verdict == "flat":
        already = initial < _LOSS_LOW * chance
        if already:
            hint = "nothing to fix for a trained model"
        elif jump is not None:
            hint = "the loss jumps about rather than falls: " + fix
        else:
            other = retry((10.0, 0.1, 100.0, 0.01))
            m["better_lr"] = other[0] if other else None
            if other:
                hint = _tried(other, optimizer, steps)
            else:
                hint = ("learning rates 100x larger or smaller did not help either: check that each "
                        "label belongs to its row (shuffle X and y together), the input scale and "
                        "the init; run fastmlp.gradcheck(net, X, y) if you changed the maths")
        findings.append(Finding(
            "loss-not-decreasing", "info" if already else "warning",
            f"the loss went from {initial:.4g} to {final:.4g} in {steps_run} steps "
            f"({(final - initial) / initial:+.1%})" +
            (": the network already fits these rows well" if already else ""),
            hint))


def doctor(net, X, y, optimizer=None, steps=200, batch_size=32, sample=2000, seed=0):
    """Train a copy of a network briefly and report what looks wrong with the setup.

    The caller's network is never changed: every measurement and all training happen on
    ``net.copy()``.

    Parameters
    ----------
    net : fastmlp.MLP or fastmlp.reference.MLP
        The network as it would start training (fresh, or already trained).
    X : array-like of shape (n_samples, n_features)
        Training inputs, exactly as they would be passed to ``fit``.
    y : array-like of shape (n_samples,)
        Integer class labels in ``[0, n_classes)``.
    optimizer : fastmlp.SGD or fastmlp.Adam, optional
        The optimizer ``fit`` would use; None means ``SGD(lr=0.1)``. It is not modified.
    steps : int, default 200
        Minibatch updates in the short training run.
    batch_size : int, default 32
    sample : int, default 2000
        Rows (drawn at random) on which the inputs, the hidden activations and the predictions
        are measured; the loss is followed on the first 500 of them, the gradient norms
        measured on the first 256.
    seed : int, default 0
        Seeds which rows are drawn, so two calls give the same report.

    Returns
    -------
    DoctorReport
        ``report.findings`` (each with ``.code``, ``.severity``, ``.message``, ``.hint``),
        ``report.ok`` (no warning or error) and ``print(report)`` for a table.

    Raises
    ------
    ValueError, TypeError
        For invalid input (labels out of range, NaN in X, a wrong number of features...): those
        are reported by the same checks as ``fit``.

    Notes
    -----
    The findings and when they are raised:

    ``inputs-not-scaled``
        max |x| over the sample above 10 (e.g. pixels 0..255) or below 0.01 (warning); feature
        scales differing by more than 1000 (info).
    ``initial-loss-off``
        cross-entropy losses only: the initial loss above 3 times (warning) or 1.5 times (info)
        the loss of uniform guessing (``ln(n_classes)`` for softmax), or below half of it (info:
        an already trained network).
    ``saturated-units``
        sigmoid/tanh: over 50% (warning) or 20% (info) of a hidden layer's activations within
        0.01 of the bounds, at the start or the end of the short run.
    ``dead-units``
        relu: at least 50% (warning) or 10% (info) of a hidden layer's units never active on the
        sample, at the start or the end of the short run.
    ``vanishing-gradients`` / ``exploding-gradients``
        first layer's weight gradient norm below 1e-3 / above 1e3 times the last layer's, or every
        norm below 1e-7 / some norm above 1e4 (warning).
    ``nan-loss`` / ``loss-diverging``
        ``fit`` raised ``FloatingPointError`` (or the loss was not finite), or the loss ended
        over 1.5 times where it started or rose above 3 times (error).
    ``loss-unstable``
        the loss jumped back up, undoing more than half of the progress so far (warning).
    ``loss-not-decreasing``
        the loss ended above 95% of where it started (warning; info for an already trained net).

    For the last four, doctor reruns the short run on fresh copies with other learning rates
    (lr/10, /100, /1000 when it was too high; x10, /10, x100, /100 when the loss did not move)
    and names in the hint the first that trained cleanly, with the loss it reached.
    ``constant-predictions``
        one class in at least 95% of the predictions after the short run (warning), unless it
        is that common in y.
    ``class-imbalance``
        the commonest class over 10 times (warning) or 3 times (info) as frequent as the rarest;
        classes that never appear (info).

    Examples
    --------
    >>> import fastmlp
    >>> (X, y), _ = fastmlp.datasets.load_mnist()
    >>> net = fastmlp.MLP([784, 128, 10], seed=0)
    >>> report = fastmlp.doctor(net, X * 255, y)     # doctest: +SKIP
    >>> report.codes                                  # doctest: +SKIP
    ['inputs-not-scaled', 'initial-loss-off', ...]
    >>> print(report)                                 # doctest: +SKIP
    """
    for attribute in ("sizes", "activation", "output", "loss", "weights", "biases", "copy", "fit",
                      "evaluate", "predict", "loss_and_gradients"):
        if not hasattr(net, attribute):
            raise TypeError(f"net: got {type(net).__name__}, which has no {attribute!r}; expected a "
                            "fastmlp.MLP or fastmlp.reference.MLP")
    sizes = list(net.sizes)
    n_classes = sizes[-1]
    X = check_X(X, sizes[0])
    y = check_y(y, X.shape[0], n_classes).astype(np.int64)
    optimizer = SGD(lr=0.1) if optimizer is None else optimizer
    if not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(f"optimizer: got {optimizer!r}; expected fastmlp.SGD(...) or fastmlp.Adam(...)")
    steps = check_int("steps", steps, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    sample = check_int("sample", sample, minimum=1)
    seed = check_int("seed", seed, minimum=0)

    rng = np.random.default_rng(seed)
    n = len(X)
    batch_size = min(batch_size, n)
    eval_rows = rng.permutation(n)[:sample]
    X_eval, y_eval = X[eval_rows], y[eval_rows]
    need = steps * batch_size
    train_rows = np.concatenate([rng.permutation(n) for _ in range(-(-need // n))])[:need]

    original = net
    net = net.copy()
    findings, m = [], {"rows": n, "sample_rows": len(eval_rows), "steps": steps,
                       "batch_size": batch_size, "optimizer": repr(optimizer)}
    chance = _chance_loss(net.output, net.loss, n_classes)
    m["chance_loss"] = chance

    _check_inputs(X_eval, findings, m)
    _check_classes(y, n_classes, findings, m)
    unit_checks = [("at the start", _check_units(net, _hidden_activations(net, X_eval), "start", m))]
    _check_gradients(net, X_eval[:_GRAD_ROWS], y_eval[:_GRAD_ROWS], findings, m)

    # The loss curve is followed on fewer rows: its noise (about 0.02) is far below every threshold.
    X_curve, y_curve = X_eval[:_CURVE_ROWS], y_eval[:_CURVE_ROWS]
    curve, steps_run, nan_at = _short_run(net, X, y, train_rows, optimizer, steps, batch_size, X_curve, y_curve)
    initial = curve[0][1]
    m.update(initial_loss=initial, final_loss=curve[-1][1], loss_curve=curve, steps_run=steps_run,
             nan_at=nan_at)
    _check_initial_loss(net, initial, chance, findings)

    def retry(factors):
        return _try_rates(original, factors, optimizer, lambda trial, opt: _short_run(
            trial, X, y, train_rows, opt, steps, batch_size, X_curve, y_curve), chance)

    _check_run(curve, nan_at, steps_run, steps, optimizer, chance, retry, findings, m)

    if _params_finite(net):
        after = f"after {steps_run} steps"
        unit_checks.append((after, _check_units(net, _hidden_activations(net, X_eval), "end", m)))
        with np.errstate(all="ignore"):
            predictions = np.asarray(net.predict(X_eval))
        m["final_accuracy"] = float(np.mean(predictions == y_eval))
        counts = np.bincount(predictions, minlength=n_classes)
        top = int(np.argmax(counts))
        share = counts[top] / len(predictions)
        label_share = float(np.mean(y_eval == top))
        m["top_prediction_share"] = float(share)
        if share >= _CONSTANT_SHARE and label_share < _CONSTANT_SHARE - 0.05:
            findings.append(Finding(
                "constant-predictions", "warning",
                f"after {steps_run} steps the network predicts class {top} for {share:.1%} of "
                f"{len(predictions)} rows (only {label_share:.1%} of them are class {top}); "
                f"accuracy {m['final_accuracy']:.1%}",
                "the network has collapsed to one answer: check that labels match their rows "
                "(shuffle X and y together), scale the inputs, use the default init, and try "
                "a smaller learning rate"))
    else:
        m["final_accuracy"] = None
    _report_units(net, unit_checks, len(eval_rows), findings)

    title = (f"fastmlp doctor: {_describe_net(original)}, {n} rows, {optimizer!r}, "
             f"{steps} steps of {batch_size}")
    return DoctorReport(findings, m, title)


# ----------------------------------------------------------------------------------------------
# gradcheck
# ----------------------------------------------------------------------------------------------

def _float64_twin(net):
    twin = reference.MLP(list(net.sizes), net.activation, net.output, net.loss, dtype=np.float64)
    twin.weights = [np.array(W, dtype=np.float64) for W in net.weights]
    twin.biases = [np.array(b, dtype=np.float64) for b in net.biases]
    return twin


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


# ----------------------------------------------------------------------------------------------
# check_backprop
# ----------------------------------------------------------------------------------------------

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
    """

    name: str
    verdict: str
    rel_error: float
    message: str
    factor: float = None
    shape: tuple = None
    expected_shape: tuple = None

    @property
    def ok(self):
        return self.verdict == "ok"


class BackpropReport:
    """What :func:`check_backprop` found, parameter by parameter.

    Attributes
    ----------
    params : list of ParamCheck
        One per parameter, in the order W1, b1, W2, b2, ...
    notes : list of str
        Problems with what ``fn`` returned as a whole (an exception, a wrong structure, lists
        of the wrong length), and how the return was read.
    error : str or None
        The exception ``fn`` raised, with the line of the learner's code, or None.
    ok : bool
        True when every parameter is ``ok`` and the return had the expected structure.
    problem : dict
        The random problem: ``weights``, ``biases``, ``X``, ``Y``, ``loss`` and the true
        ``grads`` (``dW_list``, ``db_list``), float64.
    """

    def __init__(self, params, notes, error, structure_ok, problem, title):
        self.params = params
        self.notes = notes
        self.error = error
        self._structure_ok = structure_ok
        self.problem = problem
        self._title = title

    @property
    def ok(self):
        return self._structure_ok and self.error is None and all(p.ok for p in self.params)

    @property
    def verdicts(self):
        """``{name: verdict}`` for every parameter."""
        return {p.name: p.verdict for p in self.params}

    def __getitem__(self, name):
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def __repr__(self):
        inner = ", ".join(f"{p.name}={p.verdict}" for p in self.params)
        return f"BackpropReport(ok={self.ok}, {inner})"

    def __str__(self):
        lines = [self._title, ""]
        rows = []
        for p in self.params:
            error = "-" if p.rel_error is None or np.isnan(p.rel_error) else f"{p.rel_error:.1e}"
            rows.append((p.name, str(p.expected_shape), p.verdict, error, p.message))
        lines.append(_table(("param", "expected", "verdict", "rel_error", "message"), rows, 4))
        for note in ([self.error] if self.error else []) + self.notes:
            lines.append("")
            lines += textwrap.wrap(note, _terminal_width(), initial_indent="note: ", subsequent_indent="      ")
        bad = sum(not p.ok for p in self.params)
        lines.append("")
        lines.append("ok: every gradient matches" if self.ok else
                     f"NOT OK: {bad} of {len(self.params)} gradients are not the true ones")
        return "\n".join(lines)


def _activation_functions(activation):
    """(f, f') as functions of the pre-activation z."""
    if activation == "relu":
        return (lambda z: np.maximum(z, 0)), (lambda z: (z > 0).astype(np.float64))
    if activation == "leaky_relu":
        return ((lambda z: np.where(z > 0, z, reference.LEAKY_SLOPE * z)),
                (lambda z: np.where(z > 0, 1.0, reference.LEAKY_SLOPE)))
    if activation == "sigmoid":
        return reference.sigmoid, (lambda z: reference.sigmoid(z) * (1 - reference.sigmoid(z)))
    return np.tanh, (lambda z: 1 - np.tanh(z) ** 2)


# Textbook mistakes, key -> explanation. _mistaken_backprop computes the gradients each one
# gives, so a gradient that is simply "wrong" can be matched to the mistake that gives exactly it.
_MISTAKES = {
    "output-derivative-with-ce": (
        "it matches multiplying (p - y) by the output activation's derivative p(1 - p): with "
        "cross-entropy on top of softmax or sigmoid the derivatives cancel, and dLoss/dz is just "
        "(p - y) / n"),
    "no-output-derivative-with-mse": (
        "it matches using (out - y) as dLoss/dz: with the mse loss the output activation's "
        "derivative must be multiplied in"),
    "diagonal-softmax-jacobian": (
        "it matches multiplying (out - y) by p(1 - p), only the diagonal of the softmax "
        "Jacobian: softmax's Jacobian is diag(p) - p p^T, so dLoss/dz = p * (g - sum(g * p)) with "
        "g = out - y"),
    "no-activation-derivative": (
        "it matches leaving out the hidden activation's derivative f'(z) when passing the error "
        "back through a hidden layer"),
    "derivative-of-activation-output": (
        "it matches applying the derivative to the activation instead of the pre-activation, "
        "f'(f(z)) instead of f'(z) (e.g. sigmoid_prime(a) where a is already sigmoid(z); write it "
        "as a * (1 - a))"),
}


def _mistaken_backprop(weights, biases, X, Y, activation, output, loss, mistake):
    """Gradients ([dW], [db]) in float64, with one textbook mistake (or None for the truth)."""
    f, f_prime = _activation_functions(activation)
    n = len(X)
    activations, pre = [X], []
    for W, b in zip(weights[:-1], biases[:-1]):
        pre.append(activations[-1] @ W + b)
        activations.append(f(pre[-1]))
    logits = activations[-1] @ weights[-1] + biases[-1]
    out = reference.softmax(logits) if output == "softmax" else reference.sigmoid(logits)
    g = out - Y
    if loss == "cross_entropy":
        delta = g * out * (1 - out) if mistake == "output-derivative-with-ce" else g
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
            if mistake == "no-activation-derivative":
                delta = back
            elif mistake == "derivative-of-activation-output":
                delta = back * f_prime(f(z))
            else:
                delta = back * f_prime(z)
    return dW, db


def _applicable_mistakes(output, loss):
    keys = ["no-activation-derivative", "derivative-of-activation-output"]
    if loss == "cross_entropy":
        keys.insert(0, "output-derivative-with-ce")
    else:
        keys.insert(0, "no-output-derivative-with-mse")
        if output == "softmax":
            keys.insert(1, "diagonal-softmax-jacobian")
    return keys


def _norm_rel(theirs, truth):
    scale = np.linalg.norm(truth)
    return float(np.linalg.norm(theirs - truth) / scale) if scale > 0 else float(np.linalg.norm(theirs))


def _compare_values(theirs, truth, n):
    """(verdict, rel_error, factor, message) for two float64 arrays of the same shape."""
    truth_norm, their_norm = np.linalg.norm(truth), np.linalg.norm(theirs)
    rel = _norm_rel(theirs, truth)
    if rel < _OK_TOLERANCE:
        return "ok", rel, None, "matches the true gradient"
    if truth_norm == 0:
        return "wrong", rel, None, (f"the true gradient is zero here but yours has norm {their_norm:.3g}")
    if their_norm <= _OK_TOLERANCE * truth_norm:
        return "zero", rel, 0.0, (f"your gradient is all zeros (the true one has norm {truth_norm:.3g}): "
                                  "it was never computed, or was overwritten")
    if truth.ndim == 2 and truth.shape[0] == truth.shape[1] and _norm_rel(theirs, truth.T) < _OK_TOLERANCE:
        return "transposed", rel, None, ("your gradient is the true one transposed: with rows as "
                                         "examples, dW = a_prev.T @ delta, shape (n_in, n_out)")
    factor = float(np.vdot(theirs, truth) / np.vdot(truth, truth))
    residual = np.linalg.norm(theirs - factor * truth) / their_norm
    if residual < _OK_TOLERANCE:
        if abs(factor + 1) < 1e-6:
            return "sign-flipped", rel, -1.0, ("your gradient is exactly minus the true one: use "
                                               "out - y, not y - out (or subtract the update, not add it)")
        return "scaled", rel, factor, _scale_message(factor, n)
    return "wrong", rel, None, f"differs from the true gradient by {rel:.3g} relative (norm)"


def _scale_reason(factor, n):
    """Why a gradient might be `factor` times the true one, or "" when no common cause fits."""
    for value, why in ((n, f"n = {n} rows, so a sum over the rows where the mean was meant (divide by n)"),
                       (-n, f"minus n = {n} rows, so a sum over the rows and a flipped sign"),
                       (1 / n, f"1/n with n = {n} rows, so divided by n twice"),
                       (2.0, ("a factor 2, as from differentiating (out - y)^2 without the 0.5 of the "
                              "loss 0.5 * (out - y)^2")),
                       (0.5, "a factor 1/2")):
        if abs(factor - value) <= 1e-6 * abs(value):
            return why
    return ""


def _scale_message(factor, n):
    reason = _scale_reason(factor, n)
    return f"your gradient is {factor:.6g} times the true one" + (f": {reason}" if reason else "")


def _judge(arr, truth, n, mistakes):
    """_compare_values, and for a wrong gradient the textbook mistake (times a factor) it matches."""
    verdict, rel, factor, message = _compare_values(arr, truth, n)
    if verdict != "wrong":
        return verdict, rel, factor, message
    for key, candidate in mistakes:
        scale = float(np.vdot(arr, candidate) / np.vdot(candidate, candidate))
        if np.linalg.norm(arr - scale * candidate) < _OK_TOLERANCE * np.linalg.norm(arr):
            message += "; " + _MISTAKES[key]
            if abs(scale - 1) > 1e-6:
                reason = _scale_reason(scale, n)
                message += f", and then it is {scale:.6g} times that" + (f" ({reason})" if reason else "")
            break
    return verdict, rel, factor, message


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
        return ParamCheck(name, "invalid", math.nan,
                          f"{bad} of {arr.size} entries are NaN or infinite (overflow in exp? divide by zero?)",
                          shape=shape, expected_shape=expected)
    if shape != expected:
        if arr.ndim == 2 and shape == expected[::-1]:
            verdict, rel, factor, message = _judge(arr.T, truth, n, mistakes)
            if verdict == "ok":
                return ParamCheck(name, "transposed", _norm_rel(arr.T, truth),
                                  f"shape {shape} instead of {expected}: your gradient is the true one "
                                  "transposed, as if the weights were stored (n_out, n_in); with rows as "
                                  "examples dW = a_prev.T @ delta",
                                  shape=shape, expected_shape=expected)
            return ParamCheck(name, "shape", math.nan,
                              f"shape {shape} instead of {expected} (transposed), and transposed back it "
                              f"is {verdict}: {message}", factor=factor, shape=shape, expected_shape=expected)
        message = f"shape {shape} instead of {expected}"
        if arr.size == truth.size:
            verdict, rel, _, inner = _judge(arr.reshape(expected), truth, n, mistakes)
            if verdict == "ok":
                message += f": the values are right, reshape it to {expected}"
                if arr.ndim == 2 and 1 in shape:
                    message += " (a column or row vector; use a 1-D bias gradient, e.g. delta.sum(axis=0))"
            else:
                message += f"; reshaped, it is {verdict}: {inner}"
        elif arr.ndim >= 1 and shape[0] == n and arr.ndim == truth.ndim + 1 and shape[1:] == expected:
            message += f": one gradient per row; average over the {n} rows (axis=0)"
        return ParamCheck(name, "shape", math.nan, message, shape=shape, expected_shape=expected)
    verdict, rel, factor, message = _judge(arr, truth, n, mistakes)
    return ParamCheck(name, verdict, rel, message, factor=factor, shape=shape, expected_shape=expected)


def _learner_frame(tb):
    """The innermost traceback frame in the learner's code (not NumPy's, not ours)."""
    frames = traceback.extract_tb(tb)
    numpy_dir = os.path.dirname(np.__file__)
    here = os.path.abspath(__file__)
    for frame in reversed(frames):
        path = os.path.abspath(frame.filename)
        if path != here and not path.startswith(numpy_dir):
            return frame
    return frames[-1] if frames else None


def _a(value):
    """'a list', 'an int': the type of value with its article, for messages."""
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _read_return(result, n_layers, weight_shapes, bias_shapes):
    """(dW_list, db_list, notes, structure_ok) from whatever fn returned.

    Besides the expected (dW_list, db_list), two common layouts are recognised by their shapes
    and read with a note: (db_list, dW_list) as in Nielsen's network.py, and a list of (dW, db)
    pairs as ``fastmlp.MLP.loss_and_gradients`` returns. They do not make the report fail."""
    notes = []

    def is_seq(value):
        return isinstance(value, (list, tuple))

    def shape_hits(ws, bs):
        hits = sum(getattr(v, "shape", None) in (s, s[::-1]) for v, s in zip(ws, weight_shapes))
        return hits + sum(np.size(v) == s[0] for v, s in zip(bs, bias_shapes) if isinstance(v, np.ndarray))

    candidates = []
    if is_seq(result) and len(result) == 2:
        first, second = result
        if n_layers == 1 and isinstance(first, np.ndarray) and isinstance(second, np.ndarray):
            candidates.append(([first], [second], ("fn returned (dW, db) arrays, not (dW_list, db_list); "
                                                   "read them as the one layer's gradients")))
        elif is_seq(first) and is_seq(second):
            candidates.append((list(first), list(second), None))
            candidates.append((list(second), list(first),
                               ("fn returned (db_list, dW_list), biases first as in Nielsen's network.py; "
                                "expected (dW_list, db_list). Read it swapped.")))
    if is_seq(result) and len(result) == n_layers and all(is_seq(p) and len(p) == 2 for p in result):
        candidates.append(([p[0] for p in result], [p[1] for p in result],
                           (f"fn returned a list of {n_layers} (dW, db) pairs; expected the pair "
                            "(dW_list, db_list). Read it as pairs.")))
    ok = True
    if candidates:
        # The expected layout comes first and wins ties: another is read only when it fits better.
        dW, db, note = max(candidates, key=lambda c: shape_hits(c[0], c[1]))
        if note:
            notes.append(note)
    elif is_seq(result) and len(result) == 2:
        dW, db = ([None] * n_layers if not is_seq(v) else list(v) for v in result)
        for what, value in zip(("dW_list", "db_list"), result):
            if not is_seq(value):
                notes.append(f"{what}: got {_a(value)}; expected a list of {n_layers} arrays")
        ok = False
    else:
        got = f"{_a(result)} of length {len(result)}" if is_seq(result) else _a(result)
        notes.append(f"fn returned {got}; expected a pair (dW_list, db_list) of lists of arrays")
        return [None] * n_layers, [None] * n_layers, notes, False
    lists = []
    for what, value in (("dW_list", dW), ("db_list", db)):
        if len(value) != n_layers:
            notes.append(f"{what}: got {_count(len(value), 'array')}; expected {n_layers}, one per layer"
                         + (" (the extra ones were ignored)" if len(value) > n_layers else ""))
            ok = False
        lists.append((value + [None] * n_layers)[:n_layers])
    return lists[0], lists[1], notes, ok


def check_backprop(fn, sizes, activation="sigmoid", output="softmax", loss="cross_entropy", n=8, seed=0):
    """Check a learner's backpropagation against the true gradients, parameter by parameter.

    Builds a small random float64 problem, calls ``fn(weights, biases, X, Y)`` on copies of
    it, and compares each returned gradient with the one computed by ``fastmlp.reference``.
    Nothing that ``fn`` does -- raising, returning the wrong structure, NaN -- escapes as an
    exception: it all ends up in the report.

    Parameters
    ----------
    fn : callable
        ``fn(weights, biases, X, Y) -> (dW_list, db_list)``. ``weights[l]`` has shape
        ``(n_in, n_out)``, ``biases[l]`` shape ``(n_out,)``, ``X`` shape ``(n, n_in)``, ``Y``
        is one-hot of shape ``(n, n_classes)``; the gradients are those of the *mean* loss over
        the ``n`` rows.
    sizes : sequence of int
        ``[n_features, hidden..., n_classes]``. Distinct sizes make a transposed gradient
        easiest to spot (a square one is still recognised by its values).
    activation : {"relu", "leaky_relu", "sigmoid", "tanh"}, default "sigmoid"
    output : {"softmax", "sigmoid"}, default "softmax"
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        As in ``fastmlp.MLP``; mse is ``0.5 * sum over classes of (out - onehot)**2``.
    n : int, default 8
        Rows in the problem. Keep it different from the layer sizes, so that a factor n is
        recognisable as a sum over rows.
    seed : int, default 0

    Returns
    -------
    BackpropReport
        ``.params``: one ``ParamCheck`` per parameter, named ``W1, b1, W2, ...``, with
        ``.verdict`` in ``ok``, ``sign-flipped``, ``scaled`` (with ``.factor``),
        ``transposed``, ``shape``, ``zero``, ``wrong`` (with ``.rel_error``), ``invalid``,
        ``missing``; ``.ok``; ``print(report)`` for a table. A gradient is ``ok`` when its
        relative error (in norm) is below 1e-6.

    Examples
    --------
    >>> def backprop(weights, biases, X, Y):
    ...     ...   # the learner's code
    ...     return dW_list, db_list
    >>> report = fastmlp.check_backprop(backprop, [4, 5, 3])      # doctest: +SKIP
    >>> report.verdicts                                           # doctest: +SKIP
    {'W1': 'ok', 'b1': 'scaled', 'W2': 'ok', 'b2': 'scaled'}
    """
    if not callable(fn):
        raise TypeError(f"fn: got {fn!r}; expected a function fn(weights, biases, X, Y) -> (dW_list, db_list)")
    sizes = check_sizes(sizes)
    activation = check_choice("activation", activation, reference.ACTIVATIONS)
    output = check_choice("output", output, ("softmax", "sigmoid"))
    loss = check_choice("loss", loss, ("cross_entropy", "mse"))
    n = check_int("n", n, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if sizes[-1] < 2:
        raise ValueError(f"sizes: got {sizes}; expected at least 2 outputs, one per class")

    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, 1.0 / math.sqrt(n_in), size=(n_in, n_out))
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    # Non-zero biases, so that a bias gradient used in the forward pass matters.
    biases = [rng.normal(0.0, 0.5, size=n_out) for n_out in sizes[1:]]
    X = rng.normal(0.0, 1.0, size=(n, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=n)
    Y = reference.one_hot(labels, sizes[-1], np.float64)

    truth_net = reference.MLP(sizes, activation, output, loss, dtype=np.float64)
    truth_net.weights = [W.copy() for W in weights]
    truth_net.biases = [b.copy() for b in biases]
    true_loss, true_grads = truth_net.loss_and_gradients(X, labels)
    true_dW = [dW for dW, _ in true_grads]
    true_db = [db for _, db in true_grads]
    problem = {"weights": weights, "biases": biases, "X": X, "Y": Y, "loss": true_loss,
               "grads": (true_dW, true_db)}
    title = (f"check_backprop: sizes {sizes}, activation={activation!r}, output={output!r}, "
             f"loss={loss!r}, n={n} rows")
    n_layers = len(weights)
    names = [f"{kind}{layer + 1}" for layer in range(n_layers) for kind in "Wb"]

    error = None
    try:
        with np.errstate(all="ignore"):
            result = fn([W.copy() for W in weights], [b.copy() for b in biases], X.copy(), Y.copy())
    except Exception as exc:  # noqa: BLE001 -- the learner's bug is the report's subject, not a crash
        frame = _learner_frame(exc.__traceback__)
        where = ""
        if frame is not None:
            where = f" at {os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}()"
            if frame.line:
                where += f": {frame.line.strip()}"
        error = f"fn raised {type(exc).__name__}: {exc}{where}"
        truths = [t for pair in zip(true_dW, true_db) for t in pair]
        params = [ParamCheck(name, "missing", math.nan, "fn raised before returning it",
                             expected_shape=truth.shape) for name, truth in zip(names, truths)]
        return BackpropReport(params, [], error, False, problem, title)

    dW_list, db_list, notes, structure_ok = _read_return(
        result, n_layers, [W.shape for W in weights], [b.shape for b in biases])

    mistakes = {key: _mistaken_backprop(weights, biases, X, Y, activation, output, loss, key)
                for key in _applicable_mistakes(output, loss)}
    params = []
    for layer in range(n_layers):
        for kind, theirs, truth in (("W", dW_list[layer], true_dW[layer]), ("b", db_list[layer], true_db[layer])):
            index = 0 if kind == "W" else 1
            candidates = [(key, grads[index][layer]) for key, grads in mistakes.items()
                          if _norm_rel(grads[index][layer], truth) >= _OK_TOLERANCE]
            params.append(_check_one(f"{kind}{layer + 1}", theirs, truth, n, candidates))
    return BackpropReport(params, notes, error, structure_ok, problem, title)
