"""``doctor``: train a copy of a network briefly and report what looks wrong with its setup."""

import copy as _copy
import math
import warnings
from dataclasses import dataclass

import numpy as np

from fastmlp import reference
from fastmlp._validation import _error, check_int, check_X, check_y
from fastmlp.diagnostics._report import SEVERITIES, Finding, FindingsReport, _count, _describe_net, _table
from fastmlp.init import draw_weights, resolve_init
from fastmlp.model import _chance_loss, _describe_unscaled, _unscaled_inputs
from fastmlp.optim import SGD, Adam

# Thresholds. Each is a judgement call, documented in doctor's docstring.
_SCALE_LOW = 1e-2  # max |x| below this: inputs squashed towards zero
_SCALE_SPREAD = 1e3  # ratio of the largest to the smallest column scale: info
_LOSS_HIGH = 3.0  # initial loss above this many times chance: warning
_LOSS_HIGH_INFO = 1.5  # ... above this many times: info
_LOSS_LOW = 0.5  # initial loss below this fraction of chance: the net is already trained
_SATURATION_MARGIN = 0.01  # an activation this close to a bound of sigmoid/tanh is saturated
_SATURATED_WARNING = 0.5  # share of saturated activations in a layer: warning
_SATURATED_INFO = 0.2  # ... info
_DEAD_WARNING = 0.5  # share of never-active ReLUs in a layer: warning
_DEAD_INFO = 0.1  # ... info
_CONSTANT_SHARE = 0.95  # one class in this share of predictions: constant predictions
_DIVERGING_FACTOR = 1.5  # final loss above this many times the initial: diverging
_SPIKE_FACTOR = 3.0  # any loss above this many times the initial: diverging
_DECREASE_FACTOR = 0.95  # final loss above this many times the initial: not decreasing
_UNSTABLE_SHARE = 0.5  # a rise undoing this share of the progress so far: unstable
_UNSTABLE_FLOOR = 0.05  # ... and at least this share of the chance loss
_GRAD_RATIO_LOW = 1e-3  # first/last layer gradient norm: vanishing
_GRAD_RATIO_HIGH = 1e3  # ... exploding
_GRAD_TINY = 1e-7  # every layer's gradient norm below this: vanishing
_GRAD_HUGE = 1e4  # some layer's gradient norm above this: exploding
_IMBALANCE_WARNING = 10.0  # commonest / rarest class count: warning
_IMBALANCE_INFO = 3.0  # ... info
_CHECKPOINTS = 10  # loss measurements during the short run
_GRAD_ROWS = 256  # rows for the per-layer gradient norms
_CURVE_ROWS = 500  # rows on which the loss is followed during the short run
_INIT_OFF = 3.0  # weights this many times larger (or smaller) than the default init's
_BIAS_OFF = 1.0  # a bias beyond this at the start: far from the default init's zero

# Bounds on the sizes a caller passes, documented in doctor's docstring. doctor makes up to five
# short runs (the run, then up to four reruns at other learning rates), so its time grows with
# steps x batch_size x the network's parameters; these keep the worst case under a minute on two
# cores (the measurements are in docs/diagnostics.md).
_MAX_STEPS = 20_000  # steps: each costs a fit call's overhead besides its rows
_MAX_BATCH = 1_000_000  # batch_size: in effect at most len(X), and _MAX_ROWS with steps
_MAX_ROWS = 500_000  # steps x batch_size, the rows of one run
_MAX_WORK = 30e9  # rows x parameters in one run
_MAX_PARAMETERS = 8_000_000  # the network: its measurements alone take seconds beyond this
_MAX_SAMPLE = 10_000  # sample: shares measured on 10000 rows are within about 1% of all rows'
_COPY_BYTES = 1 << 25  # rows of X copied for one fit call (at least one batch): 32 MiB
_ACTIVATION_BYTES = 1 << 25  # hidden activations held at once while counting saturated/dead units

# Root causes first, then what they cause: a finding's place is that of its (code, stage) here.
# "start" is measured on the network as given, "run" during the short run, "end" after it. Units
# saturated or dead from the start are a cause (the inputs, the init); the same code found only
# after the run is a symptom of the run (steps too large), listed after the loss findings.
_CAUSAL_ORDER = (
    ("inputs-not-scaled", "start"),
    ("saturated-units", "start"),
    ("dead-units", "start"),
    ("nan-loss", "start"),
    ("initial-loss-off", "start"),
    ("exploding-gradients", "start"),
    ("vanishing-gradients", "start"),
    ("class-imbalance", "start"),
    ("nan-loss", "run"),
    ("loss-diverging", "run"),
    ("loss-unstable", "run"),
    ("loss-not-decreasing", "run"),
    ("saturated-units", "end"),
    ("dead-units", "end"),
    ("constant-predictions", "end"),
)
_INIT_NAMES = {"he": "He", "glorot": "Glorot", "lecun": "LeCun"}


@dataclass(frozen=True)
class DoctorFinding(Finding):
    """A :class:`Finding` of :func:`doctor`'s, with the stage at which it was measured.

    Attributes
    ----------
    stage : {"start", "run", "end"}
        ``"start"``: on the network and data as given, before any training (a root cause);
        ``"run"``: during the short training run; ``"end"``: after it (a symptom of the run).
    """

    stage: str = "start"


def _causal_key(finding):
    """Root cause first (see _CAUSAL_ORDER); within one place, errors before warnings before info."""
    where = (finding.code, getattr(finding, "stage", "start"))
    rank = _CAUSAL_ORDER.index(where) if where in _CAUSAL_ORDER else len(_CAUSAL_ORDER)
    return rank, -SEVERITIES.index(finding.severity)


class DoctorReport(FindingsReport):
    """What :func:`doctor` found.

    Attributes
    ----------
    findings : list of DoctorFinding
        Root causes first, then their symptoms: the inputs, then the initial parameters (units
        saturated or dead from the start, the initial loss, the gradients), the classes, then
        the short run (NaN, diverging, unstable, flat loss), then what the run left behind
        (units saturated or dead only after it, constant predictions). Within one place,
        errors before warnings before info. Each finding's ``.stage`` says when it was
        measured: ``"start"``, ``"run"`` or ``"end"``.
    ok : bool
        True when no finding is a warning or an error.
    measurements : dict
        The numbers behind the findings: ``initial_loss``, ``final_loss``, ``loss_curve``
        (list of ``(step, loss)``), ``chance_loss``, ``final_accuracy``, ``grad_norms``,
        ``input_max``, ``steps_run``, and so on.
    """

    def __init__(self, findings, measurements, title):
        self.findings = sorted(findings, key=_causal_key)
        self.measurements = measurements
        self._title = title

    @property
    def ok(self):
        return not any(f.severity in ("warning", "error") for f in self.findings)

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
        counts = [
            _count(sum(f.severity == s for f in self.findings), s).replace("infos", "info")
            for s in reversed(SEVERITIES)
        ]
        verdict = "ok" if self.ok else "NOT OK"
        lines.append(f"{verdict}: " + ", ".join(counts) if self.findings else "ok: no problems found")
        return "\n".join(lines)


def _n_parameters(net):
    return sum(int(np.size(W)) + int(np.size(b)) for W, b in zip(net.weights, net.biases))


def _hidden_activations(net, X):
    """Every hidden layer's activations for the rows of X, from net.weights and net.biases."""
    f = reference.ACTIVATION_FUNCTIONS[net.activation].f
    layers = []
    a = X
    with np.errstate(over="ignore", invalid="ignore"):
        for W, b in zip(net.weights[:-1], net.biases[:-1]):
            a = f(a @ np.asarray(W, dtype=a.dtype) + np.asarray(b, dtype=a.dtype))
            layers.append(a)
    return layers


def _activation_blocks(net, X):
    """_hidden_activations for blocks of X's rows, each holding at most _ACTIVATION_BYTES of
    activations (at least one row): the memory stays bounded however wide the hidden layers."""
    widest = sum(net.sizes[1:-1]) or 1
    rows = max(1, _ACTIVATION_BYTES // (4 * widest))
    for start in range(0, len(X), rows):
        yield _hidden_activations(net, X[start : start + rows])


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
    # One fit call copies X[rows] for whole batches of at most _COPY_BYTES (at least one batch):
    # the same optimizer object carries its state from one call to the next, so where the calls
    # split the run changes nothing.
    per_call = max(1, _COPY_BYTES // (batch_size * X.shape[1] * X.itemsize))
    done = 0
    while done < steps:
        todo = min(per_segment, steps - done)
        try:
            # fit's own advice ("fit: X reaches 255 ...") is what doctor reports in its findings.
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="fit: ", category=UserWarning)
                for first in range(done, done + todo, per_call):
                    batch = rows[first * batch_size : min(first + per_call, done + todo) * batch_size]
                    net.fit(
                        X[batch],
                        y[batch],
                        epochs=1,
                        batch_size=batch_size,
                        optimizer=optimizer,
                        shuffle=False,
                        verbose=0,
                    )
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
    return _run_verdict(curve, nan_at) == "ok" and curve[-1][1] < chance and _unstable(curve, chance) is None


def _try_rates(net, factors, optimizer, run, chance):
    """Short runs on fresh copies with lr * factor; the first (lr, curve) that trains well, or None."""
    for factor in factors:
        lr = float(f"{optimizer.lr * factor:.6g}")
        curve, _, nan_at = run(net.copy(), _with_lr(optimizer, lr))
        if _trains_well(curve, nan_at, chance):
            return lr, curve
    return None


def _rms(a):
    return float(np.sqrt(np.mean(np.square(np.asarray(a, dtype=np.float64))))) if np.size(a) else 0.0


class _Setup:
    """What the hints may rely on: the network, its initial parameters, the inputs, and the run.

    Each hint is phrased from these measurements, so that it fits the network it is about: no
    advice about depth for one hidden layer, about sigmoid for a ReLU network, or about the
    learning rate when the run did not show it too high."""

    def __init__(self, net, optimizer, inputs_unscaled):
        self.activation = net.activation
        self.n_hidden = len(net.sizes) - 2
        self.optimizer = optimizer
        self.inputs_unscaled = inputs_unscaled
        # Each layer's weights against a draw of the default init for the same shape.
        auto = resolve_init("auto", reference.ACTIVATION_FUNCTIONS[net.activation].auto_init)
        rng = np.random.default_rng(0)
        self.weight_ratio = [_rms(W) / max(_rms(draw_weights(rng, auto, *np.shape(W))), 1e-30) for W in net.weights]
        self.bias_extreme = [
            float(np.asarray(b, dtype=np.float64).reshape(-1)[np.argmax(np.abs(b))]) if np.size(b) else 0.0
            for b in net.biases
        ]
        self.units_at_start = None  # "saturated" or "dead" when a hidden layer is at warning level
        self.lr_high = None  # the run's finding when it showed the steps too large
        self.safer_lr = None  # a learning rate that trained well instead

    @property
    def default_init(self):
        auto = reference.ACTIVATION_FUNCTIONS[self.activation].auto_init
        return f"init='auto' ({_INIT_NAMES[auto]} for {self.activation})"

    def setup_fixes(self, layers=None, weights="large"):
        """The fixes to the inputs and the initial parameters of `layers` (default all) that the
        measurements call for; weights="large" flags only weights above the default's size,
        "either" also those below it. [] when inputs and parameters look as they should."""
        layers = list(range(len(self.weight_ratio)) if layers is None else layers)
        fixes = ["scale the inputs to order 1 (see inputs-not-scaled)"] if self.inputs_unscaled else []
        off = [
            k
            for k in layers
            if self.weight_ratio[k] > _INIT_OFF or (weights == "either" and self.weight_ratio[k] < 1 / _INIT_OFF)
        ]
        if off:
            k = max(off, key=lambda k: abs(math.log(max(self.weight_ratio[k], 1e-30))))
            fixes.append(
                f"use the default init, {self.default_init}: layer {k + 1}'s weights are "
                f"{self.weight_ratio[k]:.2g} times the size it gives"
            )
        far = [k for k in layers if abs(self.bias_extreme[k]) > _BIAS_OFF]
        if far:
            k = max(far, key=lambda k: abs(self.bias_extreme[k]))
            fixes.append(f"start the biases at zero (layer {k + 1}'s reach {self.bias_extreme[k]:.3g})")
        return fixes

    def fix_or(self, fallback, layers=None, weights="large"):
        return "; ".join(self.setup_fixes(layers, weights)) or fallback

    def slow_depth(self, grad_ratio):
        """Advice for sigmoid/tanh layers that learn slowly because of their number, or ''."""
        if self.n_hidden < 2 or self.activation not in ("sigmoid", "tanh") or not grad_ratio < 1e-2:
            return ""
        return (
            f"{self.n_hidden} {self.activation} hidden layers learn slowly (the first layer's "
            f"gradient is {grad_ratio:.2g} times the last's): activation='relu' with its default "
            "He init (init='auto') learns faster"
        )

    def run_fix(self):
        """For a symptom of steps too large: the finding that says so, and the rate that helped."""
        better = f" (lr={self.safer_lr:g} trained well)" if self.safer_lr else ""
        return f"a symptom of steps too large: fix {self.lr_high} first{better}"


def _check_inputs(X, findings, m):
    with np.errstate(all="ignore"):
        col_max = np.abs(X).max(axis=0)
    top = float(col_max.max())
    m["input_max"] = top
    m["input_min"] = float(X.min())
    found = _unscaled_inputs(X)
    if found is not None:
        measured, fix = _describe_unscaled(found)
        findings.append(
            DoctorFinding(
                "inputs-not-scaled", "warning", f"{measured}; a network trains best on features of order 1", fix
            )
        )
    elif 0 < top < _SCALE_LOW:
        findings.append(
            DoctorFinding(
                "inputs-not-scaled",
                "warning",
                f"the inputs are tiny: the largest |x| is {top:.3g}, so the first layer barely sees them",
                "standardise each feature: X = (X - mean) / std with the training rows' mean and std",
            )
        )
    else:
        # Scales differ when both each feature's reach and its typical size (root mean square)
        # do: a standardised feature's typical size is 1 however far its rare values reach, and a
        # pixel lit in few images is typically small though it reaches 1.
        with np.errstate(all="ignore"):
            col_rms = np.sqrt(np.mean(np.square(X, dtype=np.float64), axis=0))
        used = col_rms[col_rms > 0]
        reach = col_max[col_max > 0]
        if len(used) > 1 and min(used.max() / used.min(), reach.max() / reach.min()) > _SCALE_SPREAD:
            big, small = (
                int(np.argmax(np.where(col_rms > 0, col_rms, -np.inf))),
                int(np.argmin(np.where(col_rms > 0, col_rms, np.inf))),
            )
            findings.append(
                DoctorFinding(
                    "inputs-not-scaled",
                    "info",
                    f"feature scales differ by a factor {used.max() / used.min():.3g}: column {big} is typically "
                    f"{col_rms[big]:.3g} (root mean square), column {small} only {col_rms[small]:.3g}",
                    "standardise each feature so small-scale features are not ignored",
                )
            )


def _check_initial_loss(net, initial, chance, setup, findings):
    if net.loss != "cross_entropy" or not np.isfinite(initial):
        return
    ratio = initial / chance
    what = f"ln({net.sizes[-1]})" if net.output == "softmax" else f"{net.sizes[-1]} ln 2"
    base = (
        f"the initial loss is {initial:.4g}, {ratio:.3g} times {what} = {chance:.4g}, "
        "the loss of an untrained network that guesses uniformly"
    )
    if ratio > _LOSS_HIGH:
        findings.append(
            DoctorFinding(
                "initial-loss-off",
                "warning",
                base + ": the network starts confidently wrong",
                setup.fix_or(
                    "the initial parameters are too large for these inputs: use the default "
                    f"init, {setup.default_init}, with zero biases"
                ),
            )
        )
    elif ratio > _LOSS_HIGH_INFO:
        findings.append(
            DoctorFinding(
                "initial-loss-off",
                "info",
                base,
                setup.fix_or(
                    f"slightly large initial parameters: the default init, {setup.default_init}, "
                    "with zero biases starts near chance"
                ),
            )
        )
    elif ratio < _LOSS_LOW:
        findings.append(
            DoctorFinding(
                "initial-loss-off",
                "info",
                base + ": the network looks already trained",
                "nothing to fix if you meant to pass a trained model; a fresh one should start near chance",
            )
        )


def _check_units(net, X, when, m):
    """Saturated sigmoid/tanh or dead ReLU units over the rows of X (the sample), counted block
    by block of rows (see _activation_blocks)."""
    if net.activation in ("sigmoid", "tanh"):
        low = _SATURATION_MARGIN if net.activation == "sigmoid" else -1 + _SATURATION_MARGIN
        bounds = "0 or 1" if net.activation == "sigmoid" else "-1 or 1"
        saturated = np.zeros(len(net.sizes) - 2, dtype=np.int64)
        for layers in _activation_blocks(net, X):
            saturated += [np.count_nonzero((a < low) | (a > 1 - _SATURATION_MARGIN)) for a in layers]
        shares = [float(count / (len(X) * units)) for count, units in zip(saturated, net.sizes[1:-1])]
        m.setdefault("saturated_share", {})[when] = shares
        return [("saturated", i, share, bounds) for i, share in enumerate(shares)]
    if net.activation == "relu":
        peak = [np.full(units, -np.inf, dtype=np.float32) for units in net.sizes[1:-1]]
        for layers in _activation_blocks(net, X):
            for top, a in zip(peak, layers):
                np.maximum(top, a.max(axis=0), out=top)
        dead = [(int(np.sum(top <= 0)), len(top)) for top in peak]
        m.setdefault("dead_units", {})[when] = dead
        return [("dead", i, n_dead / n_units, (n_dead, n_units)) for i, (n_dead, n_units) in enumerate(dead)]
    return []


def _unit_severity(kind, share):
    if kind == "saturated":
        return "warning" if share > _SATURATED_WARNING else "info" if share > _SATURATED_INFO else None
    return "warning" if share >= _DEAD_WARNING else "info" if share >= _DEAD_INFO else None


def _worst_units(items):
    """(severity, item) for the worst layer of one measurement, or (None, None)."""
    worst = max(items, key=lambda item: item[2], default=None)
    return (_unit_severity(worst[0], worst[2]), worst) if worst else (None, None)


def _report_units(net, measured, n_rows, setup, findings):
    """One finding for the worst layer: at the start when the units are already saturated or dead
    there (a root cause: the inputs or the init), otherwise after the run (a symptom of the run).
    measured is [(stage, "at the start" / "after N steps", items)], the start first."""
    by_stage = {stage: (when, items, *_worst_units(items)) for stage, when, items in measured}
    level = {None: -1, **{severity: i for i, severity in enumerate(SEVERITIES)}}
    start, end = by_stage.get("start"), by_stage.get("end")
    if start and start[2] and level[start[2]] >= level[end[2] if end else None]:
        stage, (when, _, severity, item), other = "start", start, end
    elif end and end[2]:
        stage, (when, _, severity, item), other = "end", end, start
    else:
        return
    kind, layer, share, detail = item
    elsewhere = ""
    if other:
        other_share = next(i[2] for i in other[1] if i[1] == layer)
        elsewhere = f"; {other_share:.0%} {other[0]}"
    if kind == "saturated":
        message = (
            f"{share:.0%} of the {net.activation} activations of hidden layer {layer + 1} are "
            f"within {_SATURATION_MARGIN} of {detail} {when}{elsewhere} (over {n_rows} rows): "
            "their derivative is almost zero, so they barely learn"
        )
        if stage == "start":
            hint = setup.fix_or(
                f"use smaller initial weights: the default init, {setup.default_init}", range(layer + 1)
            )
        elif setup.lr_high:
            hint = "they saturated during the run, " + setup.run_fix()
        elif setup.setup_fixes():
            hint = "they saturated during the run: " + "; ".join(setup.setup_fixes())
        else:
            hint = (
                f"the weights grew into saturation during the run: weight decay "
                f"({type(setup.optimizer).__name__}(..., weight_decay=1e-4)) keeps them small"
            )
        findings.append(DoctorFinding("saturated-units", severity, message, hint, stage=stage))
        return
    n_dead, n_units = detail
    message = (
        f"{n_dead} of the {n_units} ReLU units of hidden layer {layer + 1} ({share:.0%}) are never "
        f"active {when}{elsewhere} (over {n_rows} rows): a dead ReLU gets no gradient and never "
        "recovers"
    )
    leaky = "activation='leaky_relu' keeps a small gradient for inactive units, so they can recover"
    if stage == "start":
        hint = (
            setup.fix_or(f"use the default init, {setup.default_init}, with zero biases", range(layer + 1))
            + "; or "
            + leaky
        )
    elif setup.lr_high:
        hint = "they died during the run, " + setup.run_fix()
    else:
        hint = "they died during the run: " + "; ".join(setup.setup_fixes() + [leaky])
    findings.append(DoctorFinding("dead-units", severity, message, hint, stage=stage))


def _gradient_norms(net, X, y, m):
    with np.errstate(all="ignore"):
        _, grads = net.loss_and_gradients(X, y)
    norms = [float(np.linalg.norm(np.asarray(dW, dtype=np.float64))) for dW, _ in grads]
    first, last = norms[0], norms[-1]
    m["grad_norms"] = norms
    m["grad_ratio"] = first / last if last > 0 else (math.inf if first > 0 else 1.0)
    return norms


def _check_gradients(norms, ratio, setup, findings):
    listing = ", ".join(f"{n:.2g}" for n in norms)
    units = {"sigmoid": "saturated units", "tanh": "saturated units", "relu": "dead units"}
    if all(np.isfinite(norms)) and max(norms) < _GRAD_TINY:
        cause = "too small weights or inputs"
        if setup.n_hidden and setup.activation in units:
            cause = f"{units[setup.activation]}, or too small weights"
        findings.append(
            DoctorFinding(
                "vanishing-gradients",
                "warning",
                f"every layer's weight gradient norm is below {_GRAD_TINY:g} ([{listing}]): "
                f"the signal dies out on the way through the network ({cause})",
                setup.fix_or(f"use the default init, {setup.default_init}, with zero biases", weights="either"),
            )
        )
        return
    if not all(np.isfinite(norms)) or max(norms) > _GRAD_HUGE or ratio > _GRAD_RATIO_HIGH:
        if ratio > _GRAD_RATIO_HIGH:
            what = (
                f"the first layer's is {ratio:.3g} times the last layer's, so the first layer "
                "gets far too large updates"
            )
        else:
            what = f"gradients above {_GRAD_HUGE:g} make every update overshoot"
        fixes = setup.setup_fixes() or [f"use the default init, {setup.default_init}"]
        if setup.lr_high:
            fixes.append(f"a smaller learning rate (see {setup.lr_high})")
        findings.append(
            DoctorFinding(
                "exploding-gradients",
                "warning",
                f"the weight gradient norms per layer are [{listing}]: {what}",
                "; ".join(fixes),
            )
        )
    elif ratio < _GRAD_RATIO_LOW:
        if setup.n_hidden >= 2 and setup.activation in ("sigmoid", "tanh"):
            bound = (
                "sigmoid's derivative is at most 0.25"
                if setup.activation == "sigmoid"
                else "tanh's derivative is below 1 away from 0"
            )
            depth = (
                f"{bound}, so each of the {setup.n_hidden} hidden layers shrinks the gradient on "
                "its way back: use activation='relu' with its default He init (init='auto'), "
                "or fewer layers"
            )
            hint = "; ".join(setup.setup_fixes() + [depth])
        elif setup.units_at_start:
            hint = (
                f"the {setup.units_at_start} units at the start (see {setup.units_at_start}-units) pass "
                "back almost no gradient: "
                + setup.fix_or(f"use the default init, {setup.default_init}, with zero biases", weights="either")
            )
        else:
            hint = setup.fix_or(f"use the default init, {setup.default_init}, with zero biases", weights="either")
        findings.append(
            DoctorFinding(
                "vanishing-gradients",
                "warning",
                f"the weight gradient norms per layer are [{listing}]: the first layer's is "
                f"{ratio:.2g} times the last layer's, so the first layers barely learn",
                hint,
            )
        )


def _check_classes(y, n_classes, findings, m):
    counts = np.bincount(y, minlength=n_classes)
    m["class_counts"] = counts.tolist()
    present = counts[counts > 0]
    missing = [c for c in range(n_classes) if counts[c] == 0]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        findings.append(
            DoctorFinding(
                "class-imbalance",
                "info",
                f"{len(missing)} of the {n_classes} classes never appear in y (class {shown})",
                "fine if those outputs are unused on purpose; otherwise check the labels, or size the "
                "output layer to the number of classes",
            )
        )
    if len(present) > 1:
        ratio = present.max() / present.min()
        m["imbalance_ratio"] = float(ratio)
        severity = "warning" if ratio >= _IMBALANCE_WARNING else "info" if ratio >= _IMBALANCE_INFO else None
        if severity:
            common = int(np.argmax(counts))
            rare = int(np.argmin(np.where(counts > 0, counts, np.iinfo(counts.dtype).max)))
            findings.append(
                DoctorFinding(
                    "class-imbalance",
                    severity,
                    f"the commonest class ({common}, {counts[common]} rows) is {ratio:.3g} times as "
                    f"frequent as the rarest ({rare}, {counts[rare]} rows)",
                    "accuracy will flatter the model: look at per-class recall, and oversample the "
                    "rare classes (or undersample the common ones) when training",
                )
            )


def _tried(found, optimizer, steps):
    lr, curve = found
    return (
        f"use a {'smaller' if lr < optimizer.lr else 'larger'} learning rate: lr={lr:g} "
        f"({type(optimizer).__name__}) took the loss from {curve[0][1]:.4g} to "
        f"{curve[-1][1]:.4g} in the same {steps} steps"
    )


_NOT_THE_RATE = (
    "check that each label belongs to its row (shuffle X and y together); run "
    "fastmlp.gradcheck(net, X, y) if you changed the maths"
)


def _check_run(curve, nan_at, steps_run, steps, optimizer, chance, retry, setup, findings, m):
    """Findings about the short run; retry(factors) reruns it with scaled learning rates."""
    initial, final = curve[0][1], curve[-1][1]
    m["safer_lr"] = m["better_lr"] = None
    if not np.isfinite(initial):
        findings.append(
            DoctorFinding(
                "nan-loss",
                "error",
                f"the loss is {initial} before any training: the outputs overflow",
                setup.fix_or(f"use the default init, {setup.default_init}, with zero biases"),
            )
        )
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
        elif setup.setup_fixes():
            fix += "; ".join(setup.setup_fixes()) + "; then lower the learning rate"
        else:
            fix += "the learning rate is not the only problem: " + _NOT_THE_RATE
    if verdict in ("nan", "diverging") or jump is not None:
        setup.lr_high = {"nan": "nan-loss", "diverging": "loss-diverging"}.get(verdict, "loss-unstable")
        setup.safer_lr = m["safer_lr"]
    if verdict == "nan":
        last_step, last = [(step, loss) for step, loss in curve if np.isfinite(loss)][-1]
        findings.append(
            DoctorFinding(
                "nan-loss",
                "error",
                f"the loss became NaN or infinite by step {nan_at} of {steps} "
                f"with lr={optimizer.lr:g} (last finite loss {last:.4g}, at step {last_step})",
                fix,
                stage="run",
            )
        )
        return
    if verdict == "diverging":
        peak = max(loss for _, loss in curve)
        findings.append(
            DoctorFinding(
                "loss-diverging",
                "error",
                f"the loss went from {initial:.4g} to {final:.4g} (peak {peak:.4g}) over {steps_run} "
                f"steps with lr={optimizer.lr:g}",
                fix,
                stage="run",
            )
        )
        return
    if jump is not None:
        step, best, loss = jump
        findings.append(
            DoctorFinding(
                "loss-unstable",
                "warning",
                f"the loss jumped back up from {best:.4g} to {loss:.4g} by step {step} with "
                f"lr={optimizer.lr:g}: the steps overshoot",
                fix,
                stage="run",
            )
        )
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
                fixes = setup.setup_fixes(weights="either")
                if setup.slow_depth(m["grad_ratio"]):
                    fixes.append(setup.slow_depth(m["grad_ratio"]))
                if setup.units_at_start and not fixes:
                    kind = setup.units_at_start
                    fixes = [f"the {kind} hidden units (see {kind}-units) barely learn"]
                hint = "learning rates 100x larger or smaller did not help either: " + (
                    "; ".join(fixes) if fixes else _NOT_THE_RATE
                )
        findings.append(
            DoctorFinding(
                "loss-not-decreasing",
                "info" if already else "warning",
                f"the loss went from {initial:.4g} to {final:.4g} in {steps_run} steps "
                f"({(final - initial) / initial:+.1%})"
                + (": the network already fits these rows well" if already else ""),
                hint,
                stage="run",
            )
        )


def _check_run_size(steps, batch_size, n_parameters):
    """Refuse a short run of more than _MAX_ROWS rows, or of more than _MAX_WORK rows x parameters."""
    rows = steps * batch_size
    limit = max(1, min(_MAX_ROWS, int(_MAX_WORK // n_parameters)))
    if rows <= limit:
        return
    why = f"at most {limit} rows"
    if limit < _MAX_ROWS:
        why += f" for a network of {n_parameters} parameters"
    if batch_size <= limit:
        hint = f"Pass steps={limit // batch_size} or fewer"
    else:
        hint = f"Pass a batch_size of at most {limit}"
    raise _error(
        ValueError,
        "steps * batch_size",
        f"{steps} * {batch_size} = {rows} rows",
        f"{why} in the short run (doctor may make it five times, at other learning rates, "
        f"and each run is bounded to about ten seconds). {hint}",
    )


def doctor(net, X, y, optimizer=None, steps=200, batch_size=32, sample=2000, seed=0):
    """Train a copy of a network briefly and report what looks wrong with the setup.

    The caller's network is never changed: every measurement and all training happen on
    ``net.copy()``.

    The short run trains ``steps * batch_size`` rows (X's rows drawn again when it has fewer),
    and doctor may make it five times (the reruns at other learning rates, see Notes), so the
    sizes are bounded: at most 500000 rows in the run, and at most 3e10 rows x parameters
    (294000 rows for 784-128-10, 16000 for 784-1024-1024-10); the network at most 8 million
    parameters. The worst case then takes under a minute on two cores with ``fastmlp.MLP``
    (``fastmlp.reference.MLP`` is far slower). The memory doctor adds is bounded too: a copy
    of the sample, the batches of 32 MiB (or one batch) it hands ``fit``, and a few copies of
    the network.

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
        Minibatch updates in the short training run, from 1 to 20000.
    batch_size : int, default 32
        Rows per update, from 1 to 1000000; as in ``fit``, a batch_size above ``len(X)`` is
        ``len(X)`` (full-batch descent).
    sample : int, default 2000
        Rows (drawn at random) on which the inputs, the hidden activations and the predictions
        are measured, from 1 to 10000 (all rows when X has fewer); the loss is followed on the
        first 500 of them, the gradient norms measured on the first 256.
    seed : int, default 0
        Seeds which rows are drawn, so two calls give the same report.

    Returns
    -------
    DoctorReport
        ``report.findings`` (each with ``.code``, ``.severity``, ``.message``, ``.hint`` and
        ``.stage``), root cause first; ``report.ok`` (no warning or error) and ``print(report)``
        for a table.

    Raises
    ------
    ValueError, TypeError
        For invalid input (labels out of range, NaN in X, a wrong number of features...): those
        are reported by the same checks as ``fit``. steps, batch_size and sample must be ints
        (not bools or floats) within the bounds above, seed an int >= 0; a ValueError beyond a
        bound (the run's size, the network's) names the argument and what to pass instead.

    Notes
    -----
    The findings are ordered root cause first, then what it causes, so that the first finding
    is the one to fix first:

    1. ``inputs-not-scaled``: the data as given;
    2. the initial parameters, measured before any training: ``saturated-units`` and
       ``dead-units`` present from the start, ``nan-loss`` before any step,
       ``initial-loss-off``, ``exploding-gradients``, ``vanishing-gradients``;
    3. ``class-imbalance``;
    4. the short run: ``nan-loss``, ``loss-diverging``, ``loss-unstable``,
       ``loss-not-decreasing``;
    5. what the run left behind: ``saturated-units`` and ``dead-units`` that appeared only
       during the run (a symptom of steps too large), then ``constant-predictions``.

    Within one place, errors come before warnings before info. Each finding's ``stage``
    (``"start"``, ``"run"`` or ``"end"``) says when it was measured: units saturated or dead
    at the start are reported at the start (a cause), with their share after the run. The
    hints are phrased from the measurements of this network: they name its activation's
    default init, the layer whose weights or biases are off and by how much (weights whose
    root mean square is over 3 times, or under a third of, that of the default init's draw for
    the same shape; biases beyond +-1), depth only for
    a network with several hidden layers, a smaller learning rate only when the run showed the
    steps too large; a symptom's hint names the findings above it that explain it.

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
        0.01 of the bounds, at the start or the end of the short run (reported as at the start
        unless the end reaches a higher severity).
    ``dead-units``
        relu: at least 50% (warning) or 10% (info) of a hidden layer's units never active on the
        sample, at the start or the end of the short run (as for ``saturated-units``).
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
    if getattr(net, "output", None) == "identity":
        raise ValueError(
            "net: got a regression network (output='identity'); expected a classifier: doctor's checks "
            "(chance level, accuracy, saturated softmax) are a classifier's. fastmlp.gradcheck(net, X, y) "
            "checks a regression's gradients"
        )
    for attribute in (
        "sizes",
        "activation",
        "output",
        "loss",
        "weights",
        "biases",
        "copy",
        "fit",
        "evaluate",
        "predict",
        "loss_and_gradients",
    ):
        if not hasattr(net, attribute):
            raise TypeError(
                f"net: got {type(net).__name__}, which has no {attribute!r}; expected a "
                "fastmlp.MLP or fastmlp.reference.MLP"
            )
    # The sizes first: a bad one fails at once, before X is converted.
    n_parameters = _n_parameters(net)
    if n_parameters > _MAX_PARAMETERS:
        raise _error(
            ValueError,
            "net",
            f"a network of {n_parameters} parameters, sizes {list(net.sizes)}",
            f"at most {_MAX_PARAMETERS}: doctor's measurements would take minutes on a larger one",
            "Diagnose a narrower network of the same depth and activation: what doctor finds "
            "(the inputs, the init, the learning rate) carries over",
        )
    steps = check_int(
        "steps",
        steps,
        1,
        _MAX_STEPS,
        "A few hundred steps show whether a setup learns (the default is 200); to train longer, call net.fit",
    )
    batch_size = check_int("batch_size", batch_size, 1, _MAX_BATCH, "For full-batch descent pass batch_size=len(X)")
    sample = check_int(
        "sample",
        sample,
        1,
        _MAX_SAMPLE,
        f"The shares doctor measures on {_MAX_SAMPLE} rows are within about 1% of those on all rows",
    )
    seed = check_int("seed", seed, minimum=0)
    optimizer = SGD(lr=0.1) if optimizer is None else optimizer
    if not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(f"optimizer: got {optimizer!r}; expected fastmlp.SGD(...) or fastmlp.Adam(...)")
    sizes = list(net.sizes)
    n_classes = sizes[-1]
    X = check_X(X, sizes[0])
    y = check_y(y, X.shape[0], n_classes).astype(np.int64)

    n = len(X)
    batch_size = min(batch_size, n)
    _check_run_size(steps, batch_size, n_parameters)
    rng = np.random.default_rng(seed)
    eval_rows = rng.permutation(n)[:sample]
    X_eval, y_eval = X[eval_rows], y[eval_rows]
    need = steps * batch_size
    train_rows = np.concatenate([rng.permutation(n) for _ in range(-(-need // n))])[:need]

    original = net
    net = net.copy()
    findings, m = (
        [],
        {
            "rows": n,
            "sample_rows": len(eval_rows),
            "steps": steps,
            "batch_size": batch_size,
            "optimizer": repr(optimizer),
        },
    )
    chance = _chance_loss(net.output, net.loss, n_classes)
    m["chance_loss"] = chance

    # What the network and data are before any training: the root causes.
    _check_inputs(X_eval, findings, m)
    _check_classes(y, n_classes, findings, m)
    setup = _Setup(net, optimizer, any(f.code == "inputs-not-scaled" and f.severity == "warning" for f in findings))
    m["weight_scale"] = setup.weight_ratio
    start = _check_units(net, X_eval, "start", m)
    severity, item = _worst_units(start)
    setup.units_at_start = item[0] if severity == "warning" else None
    units = [("start", "at the start", start)]
    norms = _gradient_norms(net, X_eval[:_GRAD_ROWS], y_eval[:_GRAD_ROWS], m)

    # The loss curve is followed on fewer rows: its noise (about 0.02) is far below every threshold.
    X_curve, y_curve = X_eval[:_CURVE_ROWS], y_eval[:_CURVE_ROWS]
    curve, steps_run, nan_at = _short_run(net, X, y, train_rows, optimizer, steps, batch_size, X_curve, y_curve)
    initial = curve[0][1]
    m.update(initial_loss=initial, final_loss=curve[-1][1], loss_curve=curve, steps_run=steps_run, nan_at=nan_at)

    def retry(factors):
        return _try_rates(
            original,
            factors,
            optimizer,
            lambda trial, opt: _short_run(trial, X, y, train_rows, opt, steps, batch_size, X_curve, y_curve),
            chance,
        )

    # The run first, so that every hint knows whether it showed the learning rate too high.
    _check_run(curve, nan_at, steps_run, steps, optimizer, chance, retry, setup, findings, m)
    _check_initial_loss(net, initial, chance, setup, findings)
    _check_gradients(norms, m["grad_ratio"], setup, findings)

    collapsed = None
    if _params_finite(net):
        units.append(("end", f"after {steps_run} steps", _check_units(net, X_eval, "end", m)))
        with np.errstate(all="ignore"):
            predictions = np.asarray(net.predict(X_eval))
        m["final_accuracy"] = float(np.mean(predictions == y_eval))
        counts = np.bincount(predictions, minlength=n_classes)
        top = int(np.argmax(counts))
        share = counts[top] / len(predictions)
        label_share = float(np.mean(y_eval == top))
        m["top_prediction_share"] = float(share)
        if share >= _CONSTANT_SHARE and label_share < _CONSTANT_SHARE - 0.05:
            collapsed = (
                f"after {steps_run} steps the network predicts class {top} for {share:.1%} of "
                f"{len(predictions)} rows (only {label_share:.1%} of them are class {top}); "
                f"accuracy {m['final_accuracy']:.1%}"
            )
    else:
        m["final_accuracy"] = None
    _report_units(net, units, len(eval_rows), setup, findings)
    if collapsed:
        # The last symptom: it names the findings that explain it rather than repeat their fixes.
        causes = [f.code for f in sorted(findings, key=_causal_key) if f.severity != "info"]
        if causes:
            hint = (
                f"the network has collapsed to one answer, a symptom of {', '.join(causes)}: "
                f"fix {'that' if len(causes) == 1 else 'those'} first"
            )
        else:
            hint = (
                "the network has collapsed to one answer: check that each label belongs to its "
                "row (shuffle X and y together)"
            )
            if setup.slow_depth(m["grad_ratio"]):
                hint += "; " + setup.slow_depth(m["grad_ratio"])
        findings.append(DoctorFinding("constant-predictions", "warning", collapsed, hint, stage="end"))

    title = f"fastmlp doctor: {_describe_net(original)}, {n} rows, {optimizer!r}, {steps} steps of {batch_size}"
    return DoctorReport(findings, m, title)
