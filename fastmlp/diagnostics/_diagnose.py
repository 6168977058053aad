"""``diagnose``: name what is wrong in a learner's own NumPy network, root cause first.

The learner's arrays are read in their own layout (``_layout``), the true network is computed in
float64 by ``fastmlp.reference`` from the same parameters, and each of the learner's functions
is run on copies and compared with it: the forward pass and the gradients here, the training
step and predict in ``_step_checks``, the setup (inputs, initial weights, learning rate) in
``_setup_checks``.
"""
import textwrap
from dataclasses import dataclass, field

import numpy as np

from fastmlp import reference
from fastmlp._validation import check_choice
from fastmlp.diagnostics import _gradients as gradients
from fastmlp.diagnostics._layout import LayoutError, labels_of, read_layout, read_structure
from fastmlp.diagnostics._learner import Raised, call, defined_at, nan_origin
from fastmlp.diagnostics._report import Finding, _terminal_width

# Root cause first: the setup, then each function in the order the data flows through them.
CODE_ORDER = (
    "layout-ambiguous",
    "inputs-not-scaled", "saturated-units", "single-class-batches",
    "softmax-axis", "hidden-layer-output", "not-probabilities", "forward-wrong",
    "extra-softmax-derivative", "activation-derivative", "bias-gradient-axis", "sign-flipped", "scaled",
    "transposed", "shape", "zero", "wrong",
    "update-not-applied", "ascent", "step-scaled", "step-wrong",
    "lr-too-high", "predict-wrong",
)
STAGES = ("setup", "forward", "backprop", "step", "learning rate", "predict")
FORWARD_RTOL = {np.float64: 1e-6, np.float32: 1e-3}
GRADIENT_TOL = {np.float64: 1e-6, np.float32: 1e-3}


class DiagnoseReport:
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
        self.notes = notes
        self._title = title

    @property
    def ok(self):
        return not self.findings

    @property
    def codes(self):
        return [f.code for f in self.findings]

    def __contains__(self, code):
        return code in self.codes

    def __getitem__(self, code):
        for finding in self.findings:
            if finding.code == code:
                return finding
        raise KeyError(code)

    def __iter__(self):
        return iter(self.findings)

    def __len__(self):
        return len(self.findings)

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
        lines.append("ok: nothing wrong found" if self.ok else
                     f"NOT OK: {len(self.findings)} finding{'s' if len(self.findings) > 1 else ''}, "
                     "the first is the root cause")
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
    "layout-ambiguous": "setup", "inputs-not-scaled": "setup", "saturated-units": "setup",
    "single-class-batches": "setup",
    "softmax-axis": "forward", "hidden-layer-output": "forward", "not-probabilities": "forward",
    "forward-wrong": "forward",
    "update-not-applied": "step", "ascent": "step", "step-scaled": "step", "step-wrong": "step",
    "lr-too-high": "learning rate", "predict-wrong": "predict",
}


@dataclass
class Case:
    """Everything diagnose knows about the learner's network, in both layouts."""

    structure: object
    layout: object
    params: object              # the learner's own object, never written to
    X: object                   # the learner's X and Y, as given
    Y: object
    activation: str
    output: str
    loss: str
    lr: float
    weights: list               # canonical float64 (n_in, n_out)
    biases: list                # canonical float64 (n_out,), zeros where the learner has none
    Xc: np.ndarray              # canonical (n, n_in)
    labels: np.ndarray
    dtype: type
    findings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    facts: dict = field(default_factory=dict)   # what one check tells a later one

    @property
    def n(self):
        return len(self.Xc)

    @property
    def sizes(self):
        return self.layout.sizes

    def truth(self):
        """The float64 reference network holding the learner's parameters."""
        return reference.MLP.from_parameters(self.weights, self.biases, self.activation, self.output, self.loss)

    def true_pass(self):
        """(pre-activations [z1, ...], activations [X, a1, ..., out]) of the true network."""
        if "pass" not in self.facts:
            table = reference.ACTIVATION_FUNCTIONS[self.activation]
            pre, acts = [], [self.Xc]
            with np.errstate(all="ignore"):
                for layer, (W, b) in enumerate(zip(self.weights, self.biases)):
                    pre.append(acts[-1] @ W + b)
                    last = layer == len(self.weights) - 1
                    acts.append(output_activation(self.output, pre[-1]) if last else table.f(pre[-1]))
            self.facts["pass"] = (pre, acts)
        return self.facts["pass"]

    def true_gradients(self):
        """[(dW, db), ...] of the mean loss, canonical."""
        if "grads" not in self.facts:
            with np.errstate(all="ignore"):
                self.facts["grads"] = self.truth().loss_and_gradients(self.Xc, self.labels)[1]
        return self.facts["grads"]

    def copy_params(self):
        return self.structure.copy(self.params)

    def learner_X(self):
        return np.array(self.X, copy=True)

    def learner_Y(self):
        return np.array(self.Y, copy=True)

    def add(self, code, where, message, fix="", severity="error"):
        self.findings.append(Finding(code, severity, message, fix, where))

    def slot_label(self, slot):
        return slot.label


def output_activation(output, z):
    return reference.softmax(z) if output == "softmax" else reference.sigmoid(z)


def where(name, fn):
    place = defined_at(fn)
    return f"{name}, {place}" if place else name


# ----------------------------------------------------------------------------------------------
# The entry point
# ----------------------------------------------------------------------------------------------

def diagnose(params, X, Y, forward=None, backprop=None, step=None, predict=None, activation="sigmoid",
             output="softmax", loss="cross_entropy", lr=None):
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
        ``{"w1": ..., "w2": ...}``), or a pair ``(weights, biases)`` of lists. Never modified.
    X : ndarray
        A batch of inputs as your code takes it: samples in rows ``(n, n_in)`` with weights
        ``(n_in, n_out)``, or samples in columns ``(n_in, n)`` with weights ``(n_out, n_in)``;
        or one sample, ``(n_in, 1)``, ``(1, n_in)`` or ``(n_in,)``, for per-sample code.
        Biases may be ``(k,)``, ``(k, 1)`` or ``(1, k)``.
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
        ``step(params, X, Y)``: one training step, in place or returning the new parameters.
    predict : callable, optional
        ``predict(params, X)``: the labels your accuracy is computed from.
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}, default "sigmoid"
        The hidden layers' activation your network means to use.
    output : {"softmax", "sigmoid"}, default "softmax"
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        ``mse`` is ``0.5 * sum over classes of (out - y)**2``, averaged over the samples.
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
    The finding codes. Setup: ``inputs-not-scaled``, ``saturated-units``, ``single-class-batches``,
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
    from fastmlp.diagnostics import _setup_checks, _step_checks

    activation = check_choice("activation", activation, reference.ACTIVATIONS)
    output = check_choice("output", output, ("softmax", "sigmoid"))
    loss = check_choice("loss", loss, ("cross_entropy", "mse"))
    for name, fn in (("forward", forward), ("backprop", backprop), ("step", step), ("predict", predict)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name}: got {type(fn).__name__}; expected a function or None")
    if lr is not None and not (isinstance(lr, (int, float, np.number)) and not isinstance(lr, bool)
                               and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: got {lr!r}; expected a positive number or None")
    structure = read_structure(params)
    try:
        layout = read_layout(structure, params, X, Y)
    except LayoutError as exc:
        if not exc.ambiguous:
            raise ValueError(str(exc)) from None
        finding = Finding("layout-ambiguous", "error", str(exc), "call diagnose with a batch of another size", "X")
        return DiagnoseReport([finding], [], "fastmlp.diagnose: the layout could not be read")
    case = _make_case(structure, layout, params, X, Y, activation, output, loss, lr)
    _setup_checks.check_setup(case)
    if forward is not None:
        check_forward(case, forward)
    if backprop is not None:
        check_gradients(case, backprop)
    if step is not None:
        _step_checks.check_step(case, step)
    if lr is not None:
        _setup_checks.check_learning_rate(case)
    if predict is not None:
        _step_checks.check_predict(case, predict)
    return DiagnoseReport(case.findings, case.notes, _title(case))


def _make_case(structure, layout, params, X, Y, activation, output, loss, lr):
    values = structure.read(params)
    weights = [layout.weight(values[s]) for s in structure.slots if s.kind == "W"]
    by_layer = {s.layer: values[s] for s in structure.slots if s.kind == "b"}
    biases = [layout.bias(by_layer.get(i), i) for i in range(len(weights))]
    dtype = np.float64 if all(np.asarray(a).dtype == np.float64 for a in [X, *values.values()]) else np.float32
    Xc = layout.samples(X)
    case = Case(structure, layout, params, X, Y, activation, output, loss, None if lr is None else float(lr),
                weights, biases, Xc, labels_of(Y, layout), dtype)
    case.notes.append(f"read {structure.describe()}; {layout.describe()}; {case.n} sample"
                      f"{'s' if case.n > 1 else ''}, sizes {layout.sizes}")
    return case


def _title(case):
    sizes = "-".join(map(str, case.sizes))
    return (f"fastmlp.diagnose: {sizes} network, {case.activation} hidden layers, {case.output} + "
            f"{case.loss}, {case.n} sample{'s' if case.n > 1 else ''}")


# ----------------------------------------------------------------------------------------------
# Reading what a learner's function returned
# ----------------------------------------------------------------------------------------------

def as_canonical(case, value, what):
    """A learner's (n, width) array (or one sample's vector) as a canonical (n, width) float64 array,
    or raise ValueError saying what its shape is."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} is {type(value).__name__} of dtype {arr.dtype}, not numbers")
    arr = arr.astype(np.float64)
    n = case.n
    if len(case.layout.x_shape) == 1 or n == 1:
        if arr.ndim == 1 or (arr.ndim == 2 and 1 in arr.shape):
            return arr.reshape(1, -1)
        raise ValueError(f"{what} has shape {arr.shape} for one sample")
    if arr.ndim == 2:
        if case.layout.rows and arr.shape[0] == n:
            return arr
        if not case.layout.rows and arr.shape[1] == n:
            return arr.T
    raise ValueError(f"{what} has shape {arr.shape}; expected one {'row' if case.layout.rows else 'column'} "
                     f"per sample ({n} samples)")


def _arrays_in(value):
    """The arrays in a return value: itself, a list's or a dict's items, one level of nesting."""
    if isinstance(value, np.ndarray):
        return [value]
    items = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, (list, tuple)) else []
    out = []
    for item in items:
        if isinstance(item, np.ndarray):
            out.append(item)
        elif isinstance(item, (dict, list, tuple)):
            out += [v for v in (item.values() if isinstance(item, dict) else item) if isinstance(v, np.ndarray)]
    return out


def read_forward(case, value):
    """(output, [other arrays]) from what forward returned; the output as the learner returned it."""
    if isinstance(value, np.ndarray):
        return value, []
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], np.ndarray) and \
            not all(isinstance(v, np.ndarray) for v in value):
        return value[0], _arrays_in(value[1:])          # (output, cache)
    arrays = _arrays_in(value)
    if not arrays:
        raise ValueError(f"forward returned {type(value).__name__}; expected the output array or the "
                         "list of the layers' activations")
    if isinstance(value, dict):
        named = [v for k, v in value.items() if str(k).lower().lstrip("a") == str(len(case.sizes) - 1)
                 or str(k).lower() in ("out", "output", "probs", "y_hat", "yhat", "a_out")]
        if named:
            return named[0], arrays
    last, first = arrays[-1], arrays[0]
    if isinstance(value, (list, tuple)) and _width(case, last) != case.sizes[-1] and \
            _width(case, first) == case.sizes[-1]:
        return first, arrays[1:]                          # (output, hidden...)
    return last, arrays[:-1]


def _width(case, a):
    try:
        return as_canonical(case, a, "").shape[1]
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------------
# The forward pass
# ----------------------------------------------------------------------------------------------

def _close(a, b, case):
    return a.shape == b.shape and np.allclose(a, b, rtol=FORWARD_RTOL[case.dtype], atol=1e-9)


def check_forward(case, forward):
    """Findings about what forward returns: its output, and its hidden layers when it returns them."""
    place = where("forward", forward)
    try:
        value = call("forward", forward, case.copy_params(), case.learner_X())
    except Raised as exc:
        case.add("raised", place, exc.message, "fix the line above; the shapes diagnose read are in the notes")
        case.facts["forward_broken"] = True
        return
    try:
        out, others = read_forward(case, value)
        theirs = as_canonical(case, out, "forward's output")
    except ValueError as exc:
        case.add("bad-return", place, str(exc), "return the output array (or the list of every layer's activations)")
        case.facts["forward_broken"] = True
        return
    if not np.all(np.isfinite(theirs)):
        origin = nan_origin(forward, case.copy_params(), case.learner_X())
        case.add("not-finite", place, "forward's output holds NaN or infinity" + (f": {origin}" if origin else ""),
                 "subtract the row's maximum before np.exp, and keep np.log away from 0")
        case.facts["forward_broken"] = True
        return
    case.facts["forward_output"] = theirs
    pre, acts = case.true_pass()
    k = case.sizes[-1]
    if theirs.shape[1] != k:
        _wrong_width(case, theirs, place)
        return
    if _close(theirs, acts[-1], case):
        return
    if _close(theirs, pre[-1], case):
        case.notes.append("forward returns the logits (before the output activation); fine if your loss "
                          "and predict apply it")
        return
    case.facts["forward_broken"] = True
    if _softmax_axis(case, theirs, pre[-1], place):
        return
    hidden = [as_canonical(case, a, "an activation") for a in others
              if np.ndim(a) >= 1 and _sample_count_fits(case, a)]
    explanation = _explain_forward(case, hidden)
    if explanation is None and case.output == "softmax" and not _are_probabilities(theirs):
        case.add("not-probabilities", place, _not_probabilities_message(case, theirs),
                 f"out = np.exp(z - z.max({_axis(case)}, keepdims=True)); "
                 f"out /= out.sum({_axis(case)}, keepdims=True)")
        return
    rel = float(np.max(np.abs(theirs - acts[-1])))
    message = f"forward's output differs from the true network's on the same parameters (by up to {rel:.3g})"
    case.add("forward-wrong", place, message + (f": {explanation[0]}" if explanation else
                                                ": return the list of every layer's activations to find "
                                                "the first layer that differs"),
             explanation[1] if explanation else "")


def _axis(case):
    return f"axis={case.layout.fix_axis()}"


def _sample_count_fits(case, a):
    try:
        as_canonical(case, a, "")
        return True
    except ValueError:
        return False


def _are_probabilities(out):
    return bool(np.all(out >= 0) and np.all(out <= 1) and np.allclose(out.sum(axis=1), 1, atol=1e-4))


def _softmax_axis(case, theirs, logits, place):
    """softmax-axis when the outputs sum to 1 over the samples instead of over the classes."""
    if case.output != "softmax" or case.sizes[-1] < 2:
        return False
    over_samples = np.allclose(theirs.sum(axis=0), 1, atol=1e-4) and np.all(theirs >= 0)
    if not over_samples or np.allclose(theirs.sum(axis=1), 1, atol=1e-4):
        return False
    axis, wrong = case.layout.fix_axis(), case.layout.sample_axis()
    if case.n == 1:
        measured = f"every output is 1.0 for the one sample: the softmax is taken over axis={wrong}, " \
                   "the samples, of which there is one"
    else:
        measured = (f"the outputs sum to 1 over the {case.n} samples for each of the {case.sizes[-1]} classes, "
                    f"instead of over the classes for each sample: the softmax is taken over axis={wrong}")
    case.add("softmax-axis", place, measured,
             f"np.exp(z) / np.exp(z).sum(axis={axis}, keepdims=True)  (subtract z.max(axis={axis}, "
             "keepdims=True) first to avoid overflow)")
    return True


def _not_probabilities_message(case, theirs):
    pre, _ = case.true_pass()
    sums = theirs.sum(axis=1)
    text = (f"forward's outputs should be probabilities (softmax: each sample's {case.sizes[-1]} values in "
            f"[0, 1], summing to 1), but they range over [{theirs.min():.3g}, {theirs.max():.3g}] and a "
            f"sample's values sum to {sums.min():.3g}..{sums.max():.3g}")
    with np.errstate(all="ignore"):
        if _close(theirs, np.exp(pre[-1]), case):
            text += ": they are np.exp(z), not divided by their sum"
        elif _close(theirs, reference.sigmoid(pre[-1]), case):
            text += ": they are sigmoid(z); softmax was meant"
    return text


def _wrong_width(case, theirs, place):
    """forward returned (n, width) with width not the number of classes."""
    _, acts = case.true_pass()
    width = theirs.shape[1]
    layers = [i for i, size in enumerate(case.sizes[1:-1], 1) if size == width]
    if layers:
        layer = layers[0]
        same = _close(theirs, acts[layer], case)
        case.add("hidden-layer-output", place,
                 f"forward returns {width} values per sample where the network has {case.sizes[-1]} classes: "
                 f"hidden layer {layer}'s {'activations' if same else 'width'}"
                 + ("" if same else " (with other values than the true activations)")
                 + ", not the output layer's", f"return the last layer's output, computed from layer {layer}'s "
                                               "activations through the output weights")
    elif width == case.sizes[0]:
        case.add("bad-return", place, f"forward returns {width} values per sample, the number of inputs: the "
                 "input itself?", "return the output layer's activations")
    else:
        case.add("bad-return", place, f"forward returns {width} values per sample; the network has "
                 f"{case.sizes[-1]} classes", "return the output layer's activations")


def _explain_forward(case, hidden):
    """(what, fix) for the first layer whose output differs, from their hidden activations or from
    single-change variants of the true network; None when nothing explains it."""
    pre, acts = case.true_pass()
    layers = len(case.weights)
    theirs_by_layer = {}
    for a in hidden:
        for layer in range(1, layers):
            if a.shape[1] == case.sizes[layer] and layer not in theirs_by_layer and \
                    not _close(a, pre[layer - 1], case):
                theirs_by_layer[layer] = a
                break
    for layer in range(1, layers):
        if layer in theirs_by_layer and not _close(theirs_by_layer[layer], acts[layer], case):
            found = _variant_matching(case, layer, theirs_by_layer[layer], acts[layer - 1])
            return found or (f"hidden layer {layer} is the first that differs", "")
    out = case.facts["forward_output"]
    for layer in range(1, layers + 1):
        found = _variant_matching(case, layer, out, acts[layer - 1], through=True)
        if found:
            return found
    return None


def _variants(case, layer):
    """(description, fix, function of the previous activation) for one layer computed wrongly."""
    W, b = case.weights[layer - 1], case.biases[layer - 1]
    last = layer == len(case.weights)
    wanted = case.output if last else case.activation
    fns = {"sigmoid": reference.sigmoid, "softmax": reference.softmax, "identity": lambda z: z}
    fns.update({name: act.f for name, act in reference.ACTIVATION_FUNCTIONS.items()})
    bias = _param_name(case, "b", layer)
    out = []
    if case.structure.has_biases and np.any(b != 0):
        out.append((f"layer {layer} leaves out its bias {bias}",
                    f"z = {_product(case, layer)} + {bias}", lambda a: fns[wanted](a @ W)))
    for other, fn in fns.items():
        if other != wanted and not (last and other in ("relu", "leaky_relu")):
            used = "no activation" if other == "identity" else other
            out.append((f"layer {layer} applies {used} where the network uses {wanted}",
                        f"apply {wanted} to layer {layer}'s pre-activation", lambda a, fn=fn: fn(a @ W + b)))
    return out


def _product(case, layer):
    name = _param_name(case, "W", layer)
    prev = "X" if layer == 1 else f"A{layer - 1}"
    return f"{prev} @ {name}" if case.layout.rows else f"{name} @ {prev}"


def _param_name(case, kind, layer):
    for slot in case.structure.slots:
        if slot.kind == kind and slot.layer == layer - 1:
            return slot.label
    return f"{kind}{layer}"


def _variant_matching(case, layer, target, previous, through=False):
    """The variant of `layer` whose result (or, with through, the network's output computed from it)
    equals target."""
    table = reference.ACTIVATION_FUNCTIONS[case.activation]
    with np.errstate(all="ignore"):
        for description, fix, fn in _variants(case, layer):
            a = fn(previous)
            if through:
                for later in range(layer, len(case.weights)):
                    z = a @ case.weights[later] + case.biases[later]
                    a = output_activation(case.output, z) if later == len(case.weights) - 1 else table.f(z)
            if a.shape == target.shape and _close(target, a, case):
                return description, fix
    return None


# ----------------------------------------------------------------------------------------------
# The gradients
# ----------------------------------------------------------------------------------------------

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
    place = where("backprop", backprop)
    try:
        value = call("backprop", backprop, case.copy_params(), case.learner_X(), case.learner_Y())
    except Raised as exc:
        case.add("raised", place, exc.message, "fix the line above; the shapes diagnose read are in the notes")
        return
    grads, note = read_gradients(case, value)
    if grads is None:
        case.add("bad-return", place, note, "return the gradients in the structure of params, or a pair "
                 "(weight_grads, bias_grads)")
        return
    if note:
        case.notes.append(note)
    if any(g is not None and _non_finite(g) for g in grads.values()):
        origin = nan_origin(backprop, case.copy_params(), case.learner_X(), case.learner_Y())
        names = ", ".join(s.name for s, g in grads.items() if g is not None and _non_finite(g))
        case.add("not-finite", place, f"the gradients of {names} hold NaN or infinity"
                 + (f": {origin}" if origin else ""), "keep np.log and divisions away from 0")
        return
    verdicts = [judge_gradient(case, slot, grads.get(slot)) for slot in case.structure.slots]
    case.facts["gradients"] = {v.slot: v for v in verdicts}
    case.facts["their_gradients"] = grads
    report_gradients(case, verdicts, place)


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
            out[slot] = value[keys[0]] if keys else None
        if all(v is None for v in out.values()):
            return None, (f"backprop returned a dict with keys {list(value)[:8]}; expected the keys of params "
                          "with or without a 'd' prefix")
        return out, ""
    if not isinstance(value, (list, tuple)):
        return None, f"backprop returned {type(value).__name__}; expected gradients in the structure of params"
    candidates = []
    if len(value) == 2 and all(isinstance(v, (list, tuple)) for v in value):
        first, second = list(value[0]), list(value[1])
        candidates.append((_pairs(weight_slots, first) | _pairs(bias_slots, second), ""))
        candidates.append((_pairs(weight_slots, second) | _pairs(bias_slots, first),
                           "backprop returns (bias_grads, weight_grads), biases first as in Nielsen's network.py; "
                           "read it that way"))
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
        return None, (f"backprop returned a {type(value).__name__} of {len(value)} items; expected gradients "
                      f"in the structure of params ({structure.describe()})")
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
                dW, db = gradients._mistaken_backprop(case.weights, case.biases, case.Xc, Yc, case.activation,
                                                      case.output, case.loss, key)
                out[key] = {s: (case.layout.learner_weight(dW[s.layer]) if s.kind == "W"
                                else case.layout.learner_bias(db[s.layer], s.layer)) for s in case.structure.slots}
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
    if slot.kind == "b":
        axis = _bias_axis(case, slot, arr)
        if axis is not None:
            return axis
    if arr.shape != truth.shape:
        if arr.ndim == 2 and arr.shape == truth.shape[::-1] and slot.kind == "W":
            verdict = judge_values(case, slot, arr.T, truth, tol)
            if verdict.verdict == "ok":
                return Verdict(slot, "transposed", detail=f"shape {arr.shape} where {slot.label} is {truth.shape}")
            return Verdict(slot, "shape", detail=f"shape {arr.shape} where {slot.label} is {truth.shape}; "
                                                 f"transposed back it is {verdict.verdict}")
        if arr.size != truth.size:
            return Verdict(slot, "shape", detail=f"shape {arr.shape} where {slot.label} is {truth.shape}")
        param_shape = truth.shape
        try:
            grown = np.broadcast_shapes(param_shape, arr.shape) != param_shape
        except ValueError:
            grown = True
        verdict = judge_values(case, slot, arr.reshape(truth.shape), truth, tol)
        if grown:
            return Verdict(slot, "shape", detail=f"shape {arr.shape} where {slot.label} is {param_shape}, so "
                           f"{slot.label} - lr * d{slot.name} has shape "
                           f"{_broadcast_text(param_shape, arr.shape)}"
                           + ("" if verdict.verdict == "ok" else f"; reshaped, it is {verdict.verdict}"))
        return verdict
    return judge_values(case, slot, arr, truth, tol)


def _broadcast_text(a, b):
    try:
        return str(np.broadcast_shapes(a, b))
    except ValueError:
        return "an error"


def judge_values(case, slot, arr, truth, tol):
    mistakes = [(key, grads[slot]) for key, grads in _mistaken(case).items()
                if gradients._norm_rel(grads[slot], truth) >= tol]
    verdict, rel, factor, _, mistake = gradients._judge(arr, truth, case.n, mistakes, tol)
    scale = None
    if mistake is not None:
        candidate = dict(mistakes)[mistake]
        scale = float(np.vdot(arr, candidate) / np.vdot(candidate, candidate))
    return Verdict(slot, verdict, factor=factor if mistake is None else scale, mistake=mistake,
                   detail=f"relative error {rel:.2g}")


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
    tiny = 1e-9 * float(np.abs(delta).sum())      # a sum that cancels to rounding is zero
    for values, candidate, what in candidates:
        norm = float(np.vdot(candidate, candidate))
        if np.max(np.abs(candidate)) <= tiny:
            if np.max(np.abs(values)) <= tiny:
                return Verdict(slot, "bias-gradient-axis", detail=what + " (for softmax + cross-entropy that "
                               "sum is exactly zero, so the bias never moves)")
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
        pre, acts = case.true_pass()
        out, Y = acts[-1], reference.one_hot(case.labels, case.sizes[-1])
        g = out - Y
        if case.loss == "cross_entropy":
            delta = g
        elif case.output == "sigmoid":
            delta = g * out * (1 - out)
        else:
            delta = out * (g - np.sum(g * out, axis=1, keepdims=True))
        deltas = [None] * len(case.weights)
        deltas[-1] = delta / case.n
        table = reference.ACTIVATION_FUNCTIONS[case.activation]
        for i in range(len(case.weights) - 1, 0, -1):
            deltas[i - 1] = (deltas[i] @ case.weights[i].T) * table.derivative(acts[i])
        case.facts["deltas"] = deltas
    return case.facts["deltas"][layer]


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
    forward_note = " (forward is wrong too: fix it first, these may follow from it)" \
        if case.facts.get("forward_broken") else ""
    for mistake, group in _group([v for v in bad if v.mistake], lambda v: v.mistake).items():
        code = gradients.MISTAKE_CODES.get(mistake, "activation-derivative")
        text = gradients._MISTAKES[mistake].replace("it matches", f"the gradients of {_names(group)} match", 1)
        scale = group[0].factor
        if scale is not None and abs(scale + 1) <= 1e-3:
            text += ", with the sign flipped (right only if your update adds it)"
        elif scale is not None and abs(scale - 1) > 1e-3:
            reason = _scale_cause(case, scale)
            text += f", times {scale:.4g}" + (f" ({reason})" if reason else "")
        case.add(code, place, text + forward_note, _mistake_fix(case, mistake))
    axis_bugs = [v for v in bad if v.verdict == "bias-gradient-axis"]
    if axis_bugs:
        keep = len(case.layout.bias_shapes[axis_bugs[0].slot.layer] or ()) == 2
        parts = [f"{_names(group)} {'is' if len(group) == 1 else 'are each'} {detail}"
                 for detail, group in _group(axis_bugs, lambda v: v.detail).items()]
        case.add("bias-gradient-axis", place,
                 "the bias gradient " + "; ".join(parts) + ". A bias needs one value per unit: the sum over "
                 "the samples",
                 f"db = dZ.sum(axis={case.layout.sample_axis()}{', keepdims=True' if keep else ''})")
    flips = [v for v in bad if v.verdict == "sign-flipped" and not v.mistake]
    if flips:
        case.facts["sign_flipped"] = flips
        case.add("sign-flipped", place, f"the gradients of {_names(flips)} are exactly minus the true ones "
                 "(y - out where out - y was meant). That is right only if your update adds them "
                 "(W += lr * dW); with W -= lr * dW every step climbs the loss. Pass step= to settle it",
                 "dZ = out - Y (not Y - out), and W -= lr * dW")
    for group in _group([v for v in bad if v.verdict == "scaled" and not v.mistake],
                        lambda v: round(v.factor, 6)).values():
        factor = group[0].factor
        case.facts.setdefault("scaled", []).extend(group)
        convention = _mse_convention(case, factor)
        if convention:
            case.notes.append(f"the gradients of {_names(group)} are {factor:.4g} times those of fastmlp's mse "
                              f"(0.5 * sum over the classes): {convention}; your learning rate absorbs it")
            continue
        reason = _scale_cause(case, factor)
        case.add("scaled", place, f"the gradients of {_names(group)} are {factor:.6g} times the true ones"
                 + (f": {reason}" if reason else ""), _scale_fix(case, factor))
    for verdict in ("transposed", "shape", "zero", "missing", "invalid"):
        group = [v for v in bad if v.verdict == verdict]
        if not group:
            continue
        code = {"missing": "bad-return", "invalid": "bad-return"}.get(verdict, verdict)
        details = "; ".join(f"d{v.slot.name}: {v.detail}" for v in group)
        message, fix = _verdict_text(case, verdict, group, details)
        case.add(code, place, message, fix)
    wrong = [v for v in bad if v.verdict == "wrong" and not v.mistake]
    if wrong:
        last = len(case.weights) - 1
        hidden_only = all(v.slot.layer < last for v in wrong)
        hint = (" The output layer's gradients are right, so the error is in passing it back through a "
                "hidden layer (the activation's derivative, or the transpose of the weights)"
                if hidden_only else "")
        case.add("wrong", place, f"the gradients of {_names(wrong)} differ from the true ones "
                 f"({'; '.join(v.detail for v in wrong)}).{hint}{forward_note}",
                 "compare each step of your backprop with fastmlp.reference.MLP.loss_and_gradients")


def _verdict_text(case, verdict, group, details):
    if verdict == "transposed":
        right = "a_prev.T @ dZ" if case.layout.rows else "dZ @ a_prev.T"
        return (f"the gradients of {_names(group)} are the true ones transposed ({details})",
                f"dW = {right}, the shape of W")
    if verdict == "shape":
        return f"the gradients of {_names(group)} have the wrong shape: {details}", \
            "give each gradient its parameter's shape"
    if verdict == "zero":
        return (f"the gradients of {_names(group)} are all zeros: never computed, or overwritten",
                "compute them from dZ, and return the arrays you computed")
    return f"backprop gave no usable gradient for {_names(group)}: {details}", \
        "return one gradient per parameter, in the structure of params"


def _mse_convention(case, factor):
    """Which other way of writing the squared error gives gradients `factor` times fastmlp's, or ''."""
    if case.loss != "mse":
        return ""
    k = case.sizes[-1]
    for value, what in ((2.0, "the loss is (out - y)^2 without the 0.5"),
                        (1 / k, "the loss is averaged over the classes too"),
                        (2 / k, "the loss is the mean of (out - y)^2 over the classes too")):
        if abs(factor - value) <= 1e-4 * value:
            return what
    return ""


def _scale_cause(case, factor):
    reason = gradients._scale_reason(factor, case.n, case.sizes[0], case.sizes[-1])
    if reason:
        return reason
    count = case.n / factor if factor else 0
    if factor > 0 and count > 1 and abs(count - round(count)) < 1e-6 * count:
        return (f"divided by {round(count)} instead of this batch's {case.n} samples: a count from a global "
                "variable (the training set's size?)")
    return ""


def _scale_fix(case, factor):
    axis = case.layout.sample_axis()
    n_expr = "X.shape[0]" if case.layout.rows else "X.shape[1]"
    if abs(factor - case.n) < 1e-4 * case.n:
        return f"divide by the number of samples: dW = ... / {n_expr}"
    return f"divide the sums by the number of samples in this batch, m = {n_expr} (axis {axis})"


def _mistake_fix(case, mistake):
    axis = case.layout.fix_axis()
    fixes = {
        "output-derivative-with-ce": "dZ_out = out - Y  (no softmax or sigmoid derivative on top)",
        "ce-non-target-sign": "dZ_out = out - Y",
        "no-output-derivative-with-mse": "dZ_out = (out - Y) * out * (1 - out)",
        "diagonal-softmax-jacobian": f"dZ_out = out * (g - (g * out).sum(axis={axis}, keepdims=True)), g = out - Y",
    }
    derivative = {"sigmoid": "A * (1 - A)", "tanh": "1 - A ** 2", "relu": "(Z > 0)",
                  "leaky_relu": "np.where(Z > 0, 1, 0.01)"}[case.activation]
    return fixes.get(mistake, f"dZ = dA * {derivative}, with A = {case.activation}(Z) the layer's activation")
