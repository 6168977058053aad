"""``check_backprop``: a learner's backpropagation, in fastmlp's conventions, against the truth."""

import math
import os
import textwrap

import numpy as np

from fastmlp import reference
from fastmlp._validation import check_choice, check_int, check_sizes
from fastmlp.diagnostics._gradients import (
    _OK_TOLERANCE,
    ParamCheck,
    _applicable_mistakes,
    _check_one,
    _mistaken_backprop,
    _norm_rel,
)
from fastmlp.diagnostics._learner import _a, _learner_frame
from fastmlp.diagnostics._report import _count, _table, _terminal_width


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
        lines.append(
            "ok: every gradient matches"
            if self.ok
            else f"NOT OK: {bad} of {len(self.params)} gradients are not the true ones"
        )
        return "\n".join(lines)


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
            candidates.append(
                (
                    [first],
                    [second],
                    ("fn returned (dW, db) arrays, not (dW_list, db_list); read them as the one layer's gradients"),
                )
            )
        elif is_seq(first) and is_seq(second):
            candidates.append((list(first), list(second), None))
            candidates.append(
                (
                    list(second),
                    list(first),
                    (
                        "fn returned (db_list, dW_list), biases first as in Nielsen's network.py; "
                        "expected (dW_list, db_list). Read it swapped."
                    ),
                )
            )
    if is_seq(result) and len(result) == n_layers and all(is_seq(p) and len(p) == 2 for p in result):
        candidates.append(
            (
                [p[0] for p in result],
                [p[1] for p in result],
                (
                    f"fn returned a list of {n_layers} (dW, db) pairs; expected the pair "
                    "(dW_list, db_list). Read it as pairs."
                ),
            )
        )
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
            notes.append(
                f"{what}: got {_count(len(value), 'array')}; expected {n_layers}, one per layer"
                + (" (the extra ones were ignored)" if len(value) > n_layers else "")
            )
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
    weights = [rng.normal(0.0, 1.0 / math.sqrt(n_in), size=(n_in, n_out)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
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
    problem = {"weights": weights, "biases": biases, "X": X, "Y": Y, "loss": true_loss, "grads": (true_dW, true_db)}
    title = f"check_backprop: sizes {sizes}, activation={activation!r}, output={output!r}, loss={loss!r}, n={n} rows"
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
        params = [
            ParamCheck(name, "missing", math.nan, "fn raised before returning it", expected_shape=truth.shape)
            for name, truth in zip(names, truths)
        ]
        return BackpropReport(params, [], error, False, problem, title)

    dW_list, db_list, notes, structure_ok = _read_return(
        result, n_layers, [W.shape for W in weights], [b.shape for b in biases]
    )

    mistakes = {
        key: _mistaken_backprop(weights, biases, X, Y, activation, output, loss, key)
        for key in _applicable_mistakes(output, loss)
    }
    params = []
    for layer in range(n_layers):
        for kind, theirs, truth in (("W", dW_list[layer], true_dW[layer]), ("b", db_list[layer], true_db[layer])):
            index = 0 if kind == "W" else 1
            candidates = [
                (key, grads[index][layer])
                for key, grads in mistakes.items()
                if _norm_rel(grads[index][layer], truth) >= _OK_TOLERANCE
            ]
            params.append(_check_one(f"{kind}{layer + 1}", theirs, truth, n, candidates))
    return BackpropReport(params, notes, error, structure_ok, problem, title)
