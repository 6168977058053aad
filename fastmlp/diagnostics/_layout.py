"""Reading a learner's network as they keep it: which array is which parameter, and which way round.

A learner keeps parameters in a list (``[W1, b1, W2, b2]``, or weights only), a dict with their
own key names, or a pair ``(weights, biases)``; samples in rows (``X (n, n_in)``, ``W (n_in,
n_out)``), in columns (``X (n_in, n)``, ``W (n_out, n_in)``), or in rows with ``W (n_out, n_in)``
as PyTorch keeps it; biases as ``(k,)``, ``(k, 1)``, ``(1, k)`` or not at all. :class:`Structure`
knows where each parameter sits in the container and can read any object built the same way
(their gradients, their updated parameters); :class:`Layout` converts between the learner's
arrays and the canonical float64 ones (``X (n, n_in)``, ``W (n_in, n_out)``, ``b (n_out,)``)
that the truth is computed on.
"""

import re
from dataclasses import dataclass

import numpy as np

# Samples in rows with W (n_in, n_out); in columns with W (n_out, n_in); in rows with W (n_out, n_in),
# as PyTorch's nn.Linear keeps it (X @ W.T).
ROWS, COLUMNS, ROWS_OUT_IN = "rows", "columns", "rows, W (out, in)"


def _samples_in_rows(orientation):
    return orientation != COLUMNS


def _weights_in_out(orientation):
    return orientation == ROWS


@dataclass(frozen=True)
class Slot:
    """One parameter: ``kind`` "W" or "b", its ``layer`` (0-based), and where it sits (``key``)."""

    kind: str
    layer: int
    key: object
    label: str  # how the learner's code names it: params["W1"], weights[0], ...

    @property
    def name(self):
        """W1, b1, W2, ...: the name used in messages."""
        return f"{self.kind}{self.layer + 1}"


def _is_array(value):
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf"


def _is_vector(a):
    return a.ndim == 1 or (a.ndim == 2 and 1 in a.shape)


def _is_sequence(value):
    return isinstance(value, (list, tuple))


class Structure:
    """Where each parameter sits in the learner's container, and how to read or rebuild one like it.

    ``kind`` is "list" (``[W1, b1, W2, b2]`` or weights only), "pair" (``(weights, biases)``),
    "pairs" (``[(W1, b1), (W2, b2)]``) or "dict".
    """

    def __init__(self, kind, slots, container=list):
        self.kind = kind
        self.slots = slots
        self.container = container
        self.n_layers = 1 + max(s.layer for s in slots)
        self.has_biases = any(s.kind == "b" for s in slots)

    def describe(self):
        container = "a tuple" if self.container is tuple else "a list"
        shown = {
            "list": container,
            "pair": "a pair (weights, biases)",
            "pairs": f"{container} of (W, b) pairs",
            "dict": "a dict",
        }[self.kind]
        names = ", ".join(s.label for s in self.slots)
        return f"{shown}: {names}"

    # ------------------------------------------------------------------ reading

    def read(self, obj):
        """{slot: value or None} from an object laid out like the parameters (None where absent)."""
        out = {}
        for slot in self.slots:
            out[slot] = _get(obj, slot.key)
        return out

    def build(self, values):
        """An object laid out like the parameters, holding ``values`` ({slot: array})."""
        if self.kind == "dict":
            return {slot.key: values[slot] for slot in self.slots}
        if self.kind == "list":
            return self.container(values[slot] for slot in self.slots)
        if self.kind == "pairs":
            pairs = [[None, None] for _ in range(self.n_layers)]
            for slot in self.slots:
                pairs[slot.key[0]][slot.key[1]] = values[slot]
            return self.container(tuple(p) for p in pairs)
        weights = [values[s] for s in self.slots if s.kind == "W"]
        biases = [values[s] for s in self.slots if s.kind == "b"]
        return self.container((weights, biases))

    def copy(self, params):
        """A deep copy of the parameters: new containers, copied arrays."""
        return self.build({slot: np.array(value, copy=True) for slot, value in self.read(params).items()})


def _get(obj, key):
    try:
        if isinstance(key, tuple):
            return obj[key[0]][key[1]]
        return obj[key]
    except (KeyError, IndexError, TypeError):
        return None


def _dict_kind(key):
    """ "W", "b" or None from a dict key's letters (W1, w_1, weights1, b2, bias2...)."""
    letters = re.sub(r"[^a-z]", "", str(key).lower())
    if letters in ("w", "weight", "weights", "theta", "wh", "wo"):
        return "W"
    if letters in ("b", "bias", "biases", "bh", "bo"):
        return "b"
    return None


def _layer_number(key):
    digits = re.findall(r"\d+", str(key))
    return int(digits[-1]) if digits else None


def read_structure(params):
    """The Structure of the learner's parameters, or raise TypeError/ValueError saying what is odd."""
    if isinstance(params, dict):
        return _dict_structure(params)
    if not _is_sequence(params) or not params:
        raise TypeError(
            f"params: got {type(params).__name__}; expected the network's arrays as a list "
            "[W1, b1, W2, b2], a dict {'W1': ..., 'b1': ...} or a pair (weights, biases)"
        )
    container = type(params) if type(params) in (list, tuple) else list
    if (
        len(params) == 2
        and all(_is_sequence(p) for p in params)
        and not all(
            len(p) == 2 and all(_is_array(a) for a in p) and p[0].ndim == 2 and _is_vector(np.asarray(p[1]))
            for p in params
        )
    ):
        weights, biases = params
        _require_arrays("params[0] (the weights)", weights)
        _require_arrays("params[1] (the biases)", biases)
        if biases and len(biases) != len(weights):
            raise ValueError(
                f"params: got {len(weights)} weight arrays and {len(biases)} bias arrays; "
                "expected one bias per weight matrix"
            )
        slots = [Slot("W", i, (0, i), f"weights[{i}]") for i in range(len(weights))]
        slots += [Slot("b", i, (1, i), f"biases[{i}]") for i in range(len(biases))]
        return Structure("pair", slots, container)
    if all(_is_sequence(p) and len(p) == 2 for p in params):
        for i, p in enumerate(params):
            _require_arrays(f"params[{i}]", p)
        slots = [Slot(kind, i, (i, j), f"params[{i}][{j}]") for i in range(len(params)) for j, kind in enumerate("Wb")]
        return Structure("pairs", slots, container)
    if all(isinstance(p, dict) for p in params):
        raise TypeError(
            "params: got a list of dicts, one per layer; pass them as (W, b) pairs, e.g. "
            "[(layer['W'], layer['b']) for layer in layers], with backprop and step glued alike"
        )
    _require_arrays("params", params)
    arrays = [np.asarray(p) for p in params]
    interleaved = (
        len(arrays) % 2 == 0
        and all(a.ndim == 2 for a in arrays[::2])
        and all(_is_vector(a) for a in arrays[1::2])
        and not all(a.ndim == 2 and min(a.shape) > 1 for a in arrays[1::2])
    )
    if interleaved:
        slots = [Slot("W" if i % 2 == 0 else "b", i // 2, i, f"params[{i}]") for i in range(len(arrays))]
    else:
        slots = [Slot("W", i, i, f"params[{i}]") for i in range(len(arrays))]
    return Structure("list", slots, container)


def _require_arrays(what, values):
    if not _is_sequence(values):
        raise TypeError(f"{what}: got {type(values).__name__}; expected a list of NumPy arrays")
    for i, value in enumerate(values):
        if not _is_array(value):
            raise TypeError(
                f"{what}[{i}]: got {type(value).__name__}"
                f"{' of dtype ' + str(value.dtype) if isinstance(value, np.ndarray) else ''}; "
                "expected a NumPy array of numbers"
            )


def _dict_structure(params):
    entries = [(key, value) for key, value in params.items() if _is_array(value)]
    if not entries:
        raise TypeError(
            "params: got a dict without NumPy arrays; expected the network's arrays, "
            "e.g. {'W1': ..., 'b1': ..., 'W2': ..., 'b2': ...}"
        )
    kinds = {}
    for key, value in entries:
        kind = _dict_kind(key)
        if kind is None:
            kind = "b" if _is_vector(value) else "W"
        kinds[key] = kind
    slots = []
    for kind in "Wb":
        keys = [key for key, _ in entries if kinds[key] == kind]
        numbers = [_layer_number(key) for key in keys]
        if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
            keys = [key for _, key in sorted(zip(numbers, keys))]
        slots += [Slot(kind, i, key, f"params[{key!r}]") for i, key in enumerate(keys)]
    n_weights = sum(s.kind == "W" for s in slots)
    n_biases = len(slots) - n_weights
    if n_biases and n_biases != n_weights:
        raise ValueError(
            f"params: got {n_weights} weight arrays and {n_biases} bias arrays "
            f"({', '.join(repr(k) for k, _ in entries)}); expected one bias per weight "
            "matrix, or none"
        )
    slots.sort(key=lambda s: (s.layer, s.kind != "W"))
    return Structure("dict", slots)


# ----------------------------------------------------------------------------------------------
# The layout
# ----------------------------------------------------------------------------------------------


class LayoutError(ValueError):
    """The arrays fit no layout, or both: the message says which shapes."""

    def __init__(self, message, ambiguous=False):
        super().__init__(message)
        self.ambiguous = ambiguous


class Layout:
    """Samples in rows or columns, the network's sizes, and conversions to canonical arrays.

    Canonical: ``X (n, n_in)``, ``W (n_in, n_out)``, ``b (n_out,)``, labels ``(n,)``, float64.
    """

    def __init__(self, orientation, sizes, bias_shapes, x_shape, y_form):
        self.orientation = orientation
        self.sizes = sizes
        self.bias_shapes = bias_shapes  # per layer: the learner's bias shape, or None
        self.x_shape = x_shape
        self.y_form = y_form  # "labels", "one-hot" or "label" (one int)

    @property
    def rows(self):
        """Samples in rows."""
        return _samples_in_rows(self.orientation)

    @property
    def weights_in_out(self):
        """W of shape (n_in, n_out): Z = X @ W."""
        return _weights_in_out(self.orientation)

    @property
    def n_classes(self):
        return self.sizes[-1]

    def describe(self):
        text = {
            ROWS: "samples in rows: X (n, n_in), W (n_in, n_out)",
            COLUMNS: "samples in columns: X (n_in, n), W (n_out, n_in)",
            ROWS_OUT_IN: "samples in rows with W (n_out, n_in), as PyTorch keeps it: Z = X @ W.T",
        }[self.orientation]
        shapes = {shape for shape in self.bias_shapes if shape is not None}
        if not shapes:
            text += ", no biases"
        else:
            forms = {"(k,)" if len(s) == 1 else "(k, 1)" if s[1] == 1 else "(1, k)" for s in shapes}
            text += ", biases " + " / ".join(sorted(forms))
        return text

    # learner -> canonical
    def weight(self, W):
        W = np.asarray(W, dtype=np.float64)
        return W if self.weights_in_out else W.T

    def bias(self, b, layer):
        return np.zeros(self.sizes[layer + 1]) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)

    def samples(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            return X[None, :]
        return X if self.rows else X.T

    # canonical -> learner
    def learner_weight(self, W):
        return W if self.weights_in_out else W.T

    def learner_bias(self, b, layer):
        return b.reshape(self.bias_shapes[layer])

    def learner_samples(self, A):
        """A canonical (n, k) array as the learner's code would hold it."""
        if len(self.x_shape) == 1:
            return A[0]
        return A if self.rows else A.T

    def n_samples(self):
        if len(self.x_shape) == 1:
            return 1
        return self.x_shape[0] if self.rows else self.x_shape[1]

    def fix_axis(self):
        """The axis over the classes (or units) in the learner's layout, for one-line fixes."""
        if len(self.x_shape) == 1:
            return 0
        return 1 if self.rows else 0

    def sample_axis(self):
        return 0 if self.rows else 1


def read_layout(structure, params, X, Y):
    """The Layout that fits the arrays, or raise LayoutError (ambiguous=True when both fit)."""
    values = structure.read(params)
    weights = [np.asarray(values[s]) for s in structure.slots if s.kind == "W"]
    biases = {s.layer: np.asarray(values[s]) for s in structure.slots if s.kind == "b"}
    for i, W in enumerate(weights):
        if W.ndim != 2:
            raise LayoutError(f"params: the weight matrix of layer {i + 1} has shape {W.shape}; expected a 2-D array")
    X = np.asarray(X)
    if X.dtype.kind not in "biuf" or X.ndim not in (1, 2):
        hint = "; flatten images first: X = X.reshape(len(X), -1)" if X.ndim > 2 else ""
        raise LayoutError(
            f"X: got an array of shape {X.shape} and dtype {X.dtype}; expected numbers, "
            f"one sample (1-D) or a batch (2-D){hint}"
        )
    fits, reasons, about_y = [], [], []
    for orientation in (ROWS, COLUMNS, ROWS_OUT_IN):
        reason = _misfit(orientation, weights, biases, X, None)
        if reason is None:
            try:
                _y_form(Y, _n_samples(orientation, X), _out_size(orientation, weights), orientation)
            except LayoutError as exc:
                about_y.append(str(exc))
                continue
            fits.append(orientation)
        else:
            reasons.append(f"samples in {orientation}: {reason}")
    if X.ndim == 1 and COLUMNS in fits:
        fits = [o for o in fits if o != ROWS_OUT_IN]  # W @ x either way for one 1-D sample
    shapes = ", ".join(str(W.shape) for W in weights)
    if not fits and about_y:
        raise LayoutError(about_y[0])  # params and X fit: Y is the one that does not
    if not fits:
        raise LayoutError(
            f"params, X and Y fit neither layout (weights {shapes}, X {X.shape}, Y "
            f"{np.shape(Y)}): " + "; ".join(reasons)
        )
    if len(fits) > 1:
        raise LayoutError(
            f"the weights {shapes} and X {X.shape} fit more than one layout ({'; '.join(fits)}), "
            "so diagnose cannot tell which way your code multiplies; pass a batch whose number of "
            "samples differs from the number of features",
            ambiguous=True,
        )
    orientation = fits[0]
    dims = [W.shape if _weights_in_out(orientation) else W.shape[::-1] for W in weights]
    sizes = [dims[0][0]] + [d[1] for d in dims]
    bias_shapes = [biases[i].shape if i in biases else None for i in range(len(weights))]
    n = 1 if X.ndim == 1 else (X.shape[0] if _samples_in_rows(orientation) else X.shape[1])
    return Layout(orientation, sizes, bias_shapes, X.shape, _y_form(Y, n, sizes[-1], orientation))


def _misfit(orientation, weights, biases, X, Y):
    """Why the arrays do not fit this orientation, or None when they do."""
    dims = [W.shape if _weights_in_out(orientation) else W.shape[::-1] for W in weights]
    rows = _samples_in_rows(orientation)
    for i in range(len(dims) - 1):
        if dims[i][1] != dims[i + 1][0]:
            return f"layer {i + 1} gives {dims[i][1]} outputs but layer {i + 2} takes {dims[i + 1][0]} inputs"
    n_in = dims[0][0]
    if X.ndim == 1:
        if len(X) != n_in:
            return f"one sample of {len(X)} values for {n_in} inputs"
        n = 1
    else:
        features = X.shape[1] if rows else X.shape[0]
        if features != n_in:
            return f"X has {features} features where the first layer takes {n_in}"
        n = X.shape[0] if rows else X.shape[1]
    for i, b in biases.items():
        if b.size != dims[i][1]:
            return f"the bias of layer {i + 1} has {b.size} values for {dims[i][1]} units"
        if b.ndim == 2 and b.shape[0 if rows else 1] != 1:
            return f"a bias of shape {b.shape} does not broadcast over samples in {orientation}"
        if b.ndim > 2:
            return f"the bias of layer {i + 1} has shape {b.shape}"
    if Y is not None:
        try:
            _y_form(Y, n, dims[-1][1], orientation)
        except LayoutError as exc:
            return str(exc)
    return None


def _n_samples(orientation, X):
    return 1 if X.ndim == 1 else (X.shape[0] if _samples_in_rows(orientation) else X.shape[1])


def _out_size(orientation, weights):
    return weights[-1].shape[1] if _weights_in_out(orientation) else weights[-1].shape[0]


def _y_form(Y, n, k, orientation):
    """ "labels", "one-hot" or "label" (one int for one sample); LayoutError when Y fits neither."""
    Y = np.asarray(Y)
    if Y.dtype.kind not in "biuf":
        raise LayoutError(f"Y has dtype {Y.dtype}; expected labels or one-hot numbers")
    if Y.ndim == 0:
        if n == 1:
            return "label"
        raise LayoutError(f"Y is one label for {n} samples")
    vector = Y.ndim == 1 or (Y.ndim == 2 and 1 in Y.shape)
    if n == 1 and vector and Y.size == k and k > 1 and _one_hot_vector(Y.reshape(-1)):
        return "one-hot"
    if vector and Y.size == n:
        flat = Y.reshape(-1)
        if np.all(flat == np.round(flat)) and flat.min() >= 0 and flat.max() < k:
            return "labels"
        raise LayoutError(f"Y holds {n} values that are not labels in [0, {k})")
    expected = (n, k) if _samples_in_rows(orientation) else (k, n)
    if Y.shape == expected:
        _check_one_hot(Y, 1 if _samples_in_rows(orientation) else 0)
        return "one-hot"
    if Y.shape == expected[::-1]:
        raise LayoutError(f"Y has shape {Y.shape} where the samples' layout wants {expected}: transpose it (Y = Y.T)")
    raise LayoutError(
        f"Y has shape {Y.shape}; expected labels ({n},) or one-hot {expected} for {n} samples and {k} classes"
    )


def _check_one_hot(Y, class_axis):
    """LayoutError unless Y holds one 1 per sample, along class_axis, and 0 elsewhere."""
    sums = Y.sum(axis=class_axis)
    if np.all((Y == 0) | (Y == 1)) and np.all(sums == 1):
        return
    if np.all((Y == 0) | (Y == 1)) and Y.shape[0] == Y.shape[1] and np.all(Y.sum(axis=1 - class_axis) == 1):
        raise LayoutError(
            "Y is one-hot along the wrong axis: it has one 1 per class instead of one per "
            "sample; transpose it (Y = Y.T)"
        )
    if np.all((Y >= 0) & (Y <= 1)) and np.allclose(sums, 1):
        raise LayoutError(
            "Y holds soft targets (label smoothing?): diagnose compares with hard one-hot targets; "
            "pass the labels, Y.argmax(axis), and smooth them only in your training"
        )
    total = f"{sums.min():g}" if sums.min() == sums.max() else f"{sums.min():g} to {sums.max():g}"
    raise LayoutError(
        f"Y is not one-hot: a sample's values sum to {total}, where each "
        "sample needs a single 1 at its label; build it with Y = np.eye(n_classes)[labels] "
        "(transposed for samples in columns)"
    )


def _one_hot_vector(v):
    return bool(np.all((v == 0) | (v == 1)) and v.sum() == 1)


def labels_of(Y, layout):
    """The labels (n,) int64 from the learner's Y."""
    Y = np.asarray(Y)
    if layout.y_form == "label":
        return np.array([int(Y)])
    if layout.y_form == "labels":
        return Y.reshape(-1).astype(np.int64)
    if layout.n_samples() == 1:
        return np.array([int(np.argmax(Y.reshape(-1)))])
    return np.argmax(Y, axis=1 if layout.rows else 0).astype(np.int64)
