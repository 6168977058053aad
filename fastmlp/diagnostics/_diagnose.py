"""``diagnose``: name what is wrong in a learner's own NumPy network, root cause first.

The learner's arrays are read in their own layout (``_layout``) into a ``Case`` (``_case``) that
holds the true network, computed in float64 by ``fastmlp.reference`` from the same parameters.
Each of the learner's functions is run on copies and compared with it, one module per stage:
``_setup_checks`` (inputs, initial weights, the rows, the learning rate), ``_forward_checks``,
``_gradient_checks`` and ``_step_checks`` (the step and predict). This module is the entry point
and the report, which orders the findings root cause first.
"""

import textwrap
import warnings

import numpy as np

from fastmlp import reference
from fastmlp._validation import check_choice
from fastmlp.diagnostics import _forward_checks, _gradient_checks, _setup_checks, _step_checks
from fastmlp.diagnostics._case import Case
from fastmlp.diagnostics._layout import LayoutError, labels_of, read_layout, read_structure
from fastmlp.diagnostics._report import Finding, FindingsReport, _terminal_width

# Root cause first: the setup, then each function in the order the data flows through them.
CODE_ORDER = (
    "layout-ambiguous",
    "inputs-not-scaled",
    "symmetric-init",
    "saturated-units",
    "single-class-batches",
    "softmax-axis",
    "hidden-layer-output",
    "not-probabilities",
    "forward-wrong",
    "extra-softmax-derivative",
    "activation-derivative",
    "bias-gradient-axis",
    "sign-flipped",
    "scaled",
    "transposed",
    "shape",
    "zero",
    "wrong",
    "update-not-applied",
    "ascent",
    "step-scaled",
    "step-wrong",
    "lr-too-high",
    "predict-wrong",
)
STAGES = ("setup", "forward", "backprop", "step", "learning rate", "predict")


class DiagnoseReport(FindingsReport):
    """What :func:`diagnose` found in a learner's network.

    Attributes
    ----------
    findings : list of Finding
        Root cause first. Each has ``.code``, ``.where`` (the learner's function or parameter),
        ``.message`` (what was measured) and ``.fix`` (one line of NumPy where there is one).
    codes : list of str
        The findings' codes, in the same order.
    notes : list of str
        How the network was read (layout, structure) and what was right but unusual.
    ok : bool
        True when nothing was found.
    """

    def __init__(self, findings, notes, title):
        self.findings = sorted(findings, key=_rank)
        self.notes = list(dict.fromkeys(notes))
        self._title = title

    @property
    def ok(self):
        return not self.findings

    def __repr__(self):
        return f"DiagnoseReport(ok={self.ok}, codes={self.codes})"

    def __str__(self):
        width = _terminal_width()
        lines = [self._title, ""]
        for i, f in enumerate(self.findings, 1):
            lines.append(f"{i}. {f.code}" + (f"  ({f.where})" if f.where else ""))
            lines += textwrap.wrap(f.message, width, initial_indent="   ", subsequent_indent="   ")
            if f.fix:
                lines += textwrap.wrap(f.fix, width, initial_indent="   fix: ", subsequent_indent="        ")
            lines.append("")
        for note in self.notes:
            lines += textwrap.wrap(note, width, initial_indent="note: ", subsequent_indent="      ")
        if self.notes:
            lines.append("")
        lines.append(
            "ok: nothing wrong found"
            if self.ok
            else f"NOT OK: {len(self.findings)} finding{'s' if len(self.findings) > 1 else ''}, "
            "the first is the root cause"
        )
        return "\n".join(lines)


def _rank(finding):
    """Root cause first: by stage (setup, forward, backprop, step, learning rate, predict), then by code.

    A function that raised or returned something unreadable comes first within its stage."""
    stage = _stage(finding)
    order = CODE_ORDER.index(finding.code) if finding.code in CODE_ORDER else -1
    return (STAGES.index(stage), order)


def _stage(finding):
    if finding.code in _STAGE_OF_CODE:
        return _STAGE_OF_CODE[finding.code]
    head = finding.where.split(",")[0].split(":")[0]
    return head if head in STAGES else "setup"


_STAGE_OF_CODE = {
    "layout-ambiguous": "setup",
    "inputs-not-scaled": "setup",
    "symmetric-init": "setup",
    "saturated-units": "setup",
    "single-class-batches": "setup",
    "softmax-axis": "forward",
    "hidden-layer-output": "forward",
    "not-probabilities": "forward",
    "forward-wrong": "forward",
    "update-not-applied": "step",
    "ascent": "step",
    "step-scaled": "step",
    "step-wrong": "step",
    "lr-too-high": "learning rate",
    "predict-wrong": "predict",
}


# ----------------------------------------------------------------------------------------------
# The entry point
# ----------------------------------------------------------------------------------------------


def diagnose(
    params,
    X,
    Y,
    forward=None,
    backprop=None,
    step=None,
    predict=None,
    activation="sigmoid",
    output="softmax",
    loss="cross_entropy",
    lr=None,
):
    """Find what is wrong in a learner's own NumPy network, in the learner's own code.

    Give it the arrays and functions as your code has them; it reads the layout from the
    arrays, runs each function you pass on copies of your parameters, compares what comes
    back with a correct float64 network holding the same parameters, and says in plain words
    what differs, where, and how to fix it. Nothing your functions do escapes as an exception:
    a raise, a wrong structure or a NaN becomes a finding with the line of your code.

    Parameters
    ----------
    params : list, tuple or dict of ndarray
        Your network's parameters as your code keeps them: ``[W1, b1, W2, b2]`` (or
        ``[W1, W2]`` without biases), a dict with any key names (``{"W1": ..., "b1": ...}``,
        ``{"w1": ..., "w2": ...}``), a pair ``(weights, biases)`` of lists, or a list of
        ``(W, b)`` pairs. Never modified.
    X : ndarray
        A batch of inputs as your code takes it: samples in rows ``(n, n_in)`` with weights
        ``(n_in, n_out)`` (or ``(n_out, n_in)``, as PyTorch keeps them), or samples in columns
        ``(n_in, n)`` with weights ``(n_out, n_in)``; or one sample, ``(n_in, 1)``,
        ``(1, n_in)`` or ``(n_in,)``, for per-sample code. Biases may be ``(k,)``, ``(k, 1)`` or
        ``(1, k)``. A few dozen samples are enough.
    Y : ndarray or int
        The targets as your code takes them: one-hot in the samples' layout, or integer labels.
    forward : callable, optional
        ``forward(params, X)``: what your code uses as the network's output, or the list of its
        layers' activations (the last is the output), or ``(output, cache)``.
    backprop : callable, optional
        ``backprop(params, X, Y)``: the gradients of the mean loss over the samples, in the
        structure of ``params`` (a dict's keys may carry a ``d`` prefix, ``dW1`` for ``W1``), or
        a pair ``(weight_grads, bias_grads)``.
    step : callable, optional
        ``step(params, X, Y)``: one training step on the parameters it is given, in place or
        returning the new parameters (alone or with the loss). A class whose update rebinds its
        attributes (``self.W = self.W - lr * dW``) needs glue that returns them. The first step
        of momentum, Adam, RMSprop or Adagrad is recognised; its later steps are not checked.
    predict : callable, optional
        ``predict(params, X)``: the labels your accuracy is computed from.
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}, default "sigmoid"
        The hidden layers' activation your network means to use (``leaky_relu`` has slope 0.01).
    output : {"softmax", "sigmoid"}, default "softmax"
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        ``mse`` is ``0.5 * sum over classes of (out - y)**2``, averaged over the samples; a
        squared error written without the 0.5 or averaged over the classes too is accepted.
    lr : float, optional
        Your learning rate: checked on a copy of the network, and against the size of the step.

    Returns
    -------
    DiagnoseReport
        ``print(report)`` for plain words; ``report.ok``, ``report.codes``,
        ``report.findings`` (``.code``, ``.where``, ``.message``, ``.fix``), ``report.notes``.

    Raises
    ------
    TypeError, ValueError
        When the arguments themselves cannot be read: ``params`` is not a container of arrays,
        or ``params``, ``X`` and ``Y`` fit no layout.

    Notes
    -----
    The finding codes. Setup: ``inputs-not-scaled``, ``symmetric-init`` (every unit of a hidden
    layer starts the same, as with ``np.zeros``), ``saturated-units``, ``single-class-batches``,
    ``lr-too-high``. Forward: ``softmax-axis``, ``hidden-layer-output``, ``not-probabilities``,
    ``forward-wrong``. Gradients: ``extra-softmax-derivative``, ``activation-derivative``,
    ``bias-gradient-axis``, ``sign-flipped``, ``scaled``, ``transposed``, ``shape``, ``zero``,
    ``wrong``. Step: ``update-not-applied``, ``ascent``, ``step-scaled``, ``step-wrong``.
    Predict: ``predict-wrong``. A function that raises, returns something unreadable or NaN:
    ``raised``, ``bad-return``, ``not-finite``. Where the layout cannot be told:
    ``layout-ambiguous``.

    Examples
    --------
    >>> report = fastmlp.diagnose([W1, b1, W2, b2], X, Y, forward=forward, backprop=backprop,
    ...                           step=step, activation="sigmoid", lr=0.5)    # doctest: +SKIP
    >>> print(report)                                                         # doctest: +SKIP
    """
    activation = check_choice("activation", activation, reference.ACTIVATIONS)
    output = check_choice("output", output, ("softmax", "sigmoid"))
    loss = check_choice("loss", loss, ("cross_entropy", "mse"))
    for name, fn in (("forward", forward), ("backprop", backprop), ("step", step), ("predict", predict)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name}: got {type(fn).__name__}; expected a function or None")
    if lr is not None and not (
        isinstance(lr, (int, float, np.number)) and not isinstance(lr, bool) and np.isfinite(lr) and lr > 0
    ):
        raise ValueError(f"lr: got {lr!r}; expected a positive number or None")
    structure = read_structure(params)
    _refuse_unreadable_arrays(structure, params, X)
    _refuse_one_output(structure, params)
    try:
        layout = read_layout(structure, params, X, Y)
    except LayoutError as exc:
        if not exc.ambiguous:
            raise ValueError(str(exc)) from None
        finding = Finding("layout-ambiguous", "error", str(exc), "call diagnose with a batch of another size", "X")
        return DiagnoseReport([finding], [], "fastmlp.diagnose: the layout could not be read")
    case = _make_case(structure, layout, params, X, Y, activation, output, loss, lr)
    _setup_checks.check_setup(case, forward)
    for role, fn, check in (
        ("forward", forward, _forward_checks.check_forward),
        ("backprop", backprop, _gradient_checks.check_gradients),
        ("step", step, _step_checks.check_step),
        ("predict", predict, _step_checks.check_predict),
    ):
        if fn is not None:
            _checked(case, role, fn, check)
        if role == "step" and lr is not None:
            _setup_checks.check_learning_rate(case)
    return DiagnoseReport(case.findings, case.notes, _title(case))


def _checked(case, role, fn, check):
    """check(case, fn), where whatever the learner's function returned that the check could not
    read becomes a finding instead of an exception."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(case, fn)
    except Exception as exc:  # noqa: BLE001 -- the learner's value is the subject, not a crash
        case.add(
            "bad-return",
            role,
            f"diagnose could not read what {role} returned: {type(exc).__name__}: {exc}",
            f"return what diagnose expects of {role} (see help(fastmlp.diagnose))",
        )


def _refuse_unreadable_arrays(structure, params, X):
    try:
        X = np.asarray(X)
    except (ValueError, TypeError):
        raise TypeError(
            f"X: got a {type(X).__name__} that is not a rectangular array (a list of (x, y) "
            "pairs?); expected the inputs as one array, e.g. X = np.hstack([x for x, y in data])"
        ) from None
    if X.dtype.kind in "biuf" and not np.all(np.isfinite(X)):
        raise ValueError(
            f"X: got {int(np.count_nonzero(~np.isfinite(X)))} non-finite values (NaN or Inf); "
            "expected finite numbers: find where they come from before training on them"
        )
    arrays = [X, *[np.asarray(v) for v in structure.read(params).values()]]
    if any(a.dtype == np.float16 for a in arrays):
        raise TypeError(
            "params, X: got float16 arrays; diagnose compares with float32 or float64 precision: "
            "cast them with .astype(np.float32)"
        )


def _refuse_one_output(structure, params):
    last = [v for s, v in structure.read(params).items() if s.kind == "W"][-1]
    if np.ndim(last) == 2 and min(np.shape(last)) == 1:
        raise ValueError(
            f"params: the output layer's weights have shape {np.shape(last)}, one output unit; "
            "diagnose checks networks with one output per class (2 for a yes/no problem, with "
            "labels 0 and 1)"
        )


def _make_case(structure, layout, params, X, Y, activation, output, loss, lr):
    values = structure.read(params)
    weights = [layout.weight(values[s]) for s in structure.slots if s.kind == "W"]
    by_layer = {s.layer: values[s] for s in structure.slots if s.kind == "b"}
    biases = [layout.bias(by_layer.get(i), i) for i in range(len(weights))]
    # The precision the learner's code computes in: float64 unless a float32 (or smaller) array pulls it down.
    computed = np.result_type(*[np.asarray(a).dtype for a in [X, *values.values()]])
    dtype = np.float64 if computed == np.float64 else np.float32
    Xc = layout.samples(X)
    case = Case(
        structure,
        layout,
        params,
        X,
        Y,
        activation,
        output,
        loss,
        None if lr is None else float(lr),
        weights,
        biases,
        Xc,
        labels_of(Y, layout),
        dtype,
    )
    case.notes.append(
        f"read {structure.describe()}; {layout.describe()}; {case.n} sample"
        f"{'s' if case.n > 1 else ''}, sizes {layout.sizes}"
    )
    return case


def _title(case):
    sizes = "-".join(map(str, case.sizes))
    hidden = f"{case.activation} hidden layers" if len(case.sizes) > 2 else "no hidden layer"
    return (
        f"fastmlp.diagnose: {sizes} network, {hidden}, {case.output} + "
        f"{case.loss}, {case.n} sample{'s' if case.n > 1 else ''}"
    )
