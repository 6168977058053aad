"""User input is validated here, once, at the public entry points.

The public functions and constructors pass their arguments through these checks; the code
behind them (the compiled kernels, the NumPy reference) then trusts what it receives. A bad
argument raises TypeError (the wrong kind of thing) or ValueError (the right kind, a wrong
value), with a message of one form::

    <argument>: got <what was received>; expected <what is needed>[. <hint>]

Arrays are described by shape and dtype, never printed in full. Hints address the mistakes
learners make most often: one sample passed as a 1-D row, images not flattened, one-hot labels.
Every function here is pure: it returns the checked (and, for arrays, converted) value.
"""

import difflib
import numbers
import reprlib

import numpy as np

from fastmlp import _kernels

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 60

_KIND_NAMES = {
    "U": "strings",
    "S": "bytes",
    "c": "complex numbers",
    "M": "datetimes",
    "m": "timedeltas",
    "V": "structured records",
}


def _describe(value):
    """A short description of value for a message: arrays by shape and dtype."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return _repr.repr(value)


def _error(cls, name, got, expected, hint=None):
    return cls(f"{name}: got {got}; expected {expected}" + (f". {hint}" if hint else ""))


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return _is_int(value) or isinstance(value, (float, np.floating))


def _as_array(value, name, expected):
    """np.asarray(value), with ragged nested lists reported as a ValueError naming the argument."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise _error(ValueError, name, _describe(value), f"{expected}, every row of the same length") from exc


def _fits_float(number):
    try:
        float(number)
    except OverflowError:
        return False
    return True


def _as_real(arr, original, name, hint=None):
    """arr if its dtype is real (bool, int, uint, float); object arrays of numbers as float64.

    hint is added to the message when arr holds strings."""
    kind = arr.dtype.kind
    if kind in "biuf":
        return arr
    if kind == "O" and arr.ndim > 0:
        for index, item in np.ndenumerate(arr):
            if not isinstance(item, numbers.Real):
                got = f"an object array holding {type(item).__name__} {_repr.repr(item)} at {index}"
                raise _error(TypeError, name, got, "real numbers")
        try:
            return arr.astype(np.float64)
        except OverflowError:  # an int such as 10**400 that no float holds
            index = next(i for i, item in np.ndenumerate(arr) if not _fits_float(item))
            raise _error(ValueError, name, f"a number too large for a float at {index}", "finite numbers") from None
    if kind == "O":  # a 0-d object array: something NumPy could not see as an array at all
        sparse = hasattr(original, "toarray")
        raise _error(
            TypeError,
            name,
            _describe(original),
            "an array of real numbers",
            f"Sparse matrices are not supported: pass {name}.toarray()" if sparse else None,
        )
    raise _error(
        TypeError,
        name,
        f"{_describe(arr)} holding {_KIND_NAMES.get(kind, 'non-numbers')}",
        "real numbers (bool, int or float)",
        hint if kind in "US" else None,
    )


def check_sizes(sizes):
    """Check the layer sizes ``[n_features, hidden..., n_classes]``; return them as a list of ints.

    Parameters
    ----------
    sizes : list, tuple or 1-D array of int
        At least two positive ints. NumPy ints are accepted; bools and floats (even ``30.0``)
        are not.

    Returns
    -------
    list of int

    Raises
    ------
    TypeError
        If sizes is not a list, tuple or 1-D array, or holds anything but ints.
    ValueError
        If there are fewer than two sizes or one is below 1.
    """
    if isinstance(sizes, np.ndarray) and sizes.ndim == 1:
        items = sizes.tolist()
    elif isinstance(sizes, (list, tuple)):
        items = list(sizes)
    else:
        raise _error(TypeError, "sizes", _describe(sizes), "a list of ints such as [784, 30, 10]")
    shown = _repr.repr(items)
    for i, item in enumerate(items):
        if not _is_int(item):
            raise _error(
                TypeError, "sizes", shown, f"a list of ints, but sizes[{i}] is {item!r} ({type(item).__name__})"
            )
    if len(items) < 2:
        raise _error(
            ValueError, "sizes", shown, "at least two sizes, [n_features, hidden..., n_classes], such as [784, 30, 10]"
        )
    for i, item in enumerate(items):
        if item < 1:
            raise _error(
                ValueError,
                "sizes",
                shown,
                f"positive ints, but sizes[{i}] is {item}: every layer needs at least one unit",
            )
    return [int(item) for item in items]


def check_choice(name, value, choices):
    """Check that value is one of the strings in choices; return it as a str.

    Raises
    ------
    TypeError
        If value is not a str.
    ValueError
        If value is not among choices (the message lists them, and suggests a close match).
    """
    expected = "one of " + ", ".join(repr(choice) for choice in choices)
    if not isinstance(value, str):
        raise _error(TypeError, name, _describe(value), expected)
    if value not in choices:
        close = difflib.get_close_matches(value.lower(), list(choices), n=1)
        hint = f"Did you mean {close[0]!r}?" if close else None
        raise _error(ValueError, name, repr(value), expected, hint)
    return str(value)


def check_int(name, value, minimum=None, maximum=None, above=None):
    """Check that value is a Python or NumPy int (not a bool) from minimum to maximum; return an int.

    ``above`` is a hint for a value over maximum: how to get what it was meant for.

    Raises
    ------
    TypeError
        If value is not an int (``32.0`` and ``True`` are not).
    ValueError
        If value < minimum or value > maximum.
    """
    if maximum is None:
        expected = "an int" if minimum is None else f"an int >= {minimum}"
    else:
        expected = f"an int <= {maximum}" if minimum is None else f"an int from {minimum} to {maximum}"
    if not _is_int(value):
        hint = None
        if isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(value) < 1e18:
            hint = f"Write {int(value)}, not {value!r}"
        raise _error(TypeError, name, _describe(value), expected, hint)
    if minimum is not None and value < minimum:
        raise _error(ValueError, name, repr(int(value)), expected)
    if maximum is not None and value > maximum:
        raise _error(ValueError, name, repr(int(value)), expected, above)
    return int(value)


def check_float(name, value, low=None, high=None, low_open=False, high_open=False):
    """Check that value is a finite real number within the given bounds; return a float.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : int or float
        Python or NumPy; bools are refused.
    low, high : float, optional
        Bounds; None means unbounded on that side.
    low_open, high_open : bool, default False
        Whether the bound itself is excluded, e.g. ``[0, 1)`` is ``low=0, high=1, high_open=True``.

    Raises
    ------
    TypeError
        If value is not a real number.
    ValueError
        If value is NaN, infinite or out of bounds.
    """
    if low is not None and high is not None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        expected = f"a finite number in {left}{low}, {high}{right}"
    elif low is not None:
        expected = f"a finite number {'>' if low_open else '>='} {low}"
    elif high is not None:
        expected = f"a finite number {'<' if high_open else '<='} {high}"
    else:
        expected = "a finite number"
    if not _is_real(value):
        raise _error(TypeError, name, _describe(value), expected)
    value = float(value)
    ok = np.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise _error(ValueError, name, repr(value), expected)
    return value


def check_X(X, n_features=None, name="X"):
    """Check a batch of samples and return it as a float32, C-contiguous, 2-D array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Any real dtype (bool, int, uint, float16/32/64) and any memory layout (Fortran order,
        strided, negative strides), or nested lists. It is converted once; an X that already
        is float32 and C-contiguous is returned as is, without a copy.
    n_features : int, optional
        The network's input size; when given, X must have that many columns.
    name : str, default "X"
        The argument's name, for messages.

    Returns
    -------
    ndarray of float32, shape (n_samples, n_features), C-contiguous

    Raises
    ------
    TypeError
        For strings, complex numbers, datetimes, objects that are not numbers, sparse matrices.
    ValueError
        If X is not 2-D, has no rows or no columns, has the wrong number of columns, or holds
        NaN or Inf (float64 values beyond float32's range count: they would become Inf).
    """
    arr = _as_array(X, name, "a 2-D array of shape (n_samples, n_features)")
    arr = _as_real(arr, X, name, f"If the strings hold numbers, convert them with {name}.astype(np.float32)")
    if arr.ndim != 2:
        hint = None
        if arr.ndim == 1:
            hint = f"Use {name}.reshape(1, -1) for one sample or {name}.reshape(-1, 1) for one feature"
        elif arr.ndim >= 3:
            hint = f"Use {name}.reshape(len({name}), -1) to flatten images into rows"
        raise _error(ValueError, name, _describe(arr), "a 2-D array of shape (n_samples, n_features)", hint)
    n_rows, n_cols = arr.shape
    if n_rows == 0:
        raise _error(ValueError, name, _describe(arr), f"at least one row ({name} is empty)")
    if n_cols == 0:
        raise _error(ValueError, name, _describe(arr), "at least one feature (column)")
    if n_features is not None and n_cols != n_features:
        hint = None
        if n_rows == n_features:
            hint = f"{name} looks transposed: samples go in rows, so pass {name}.T"
        elif arr.size == n_features:  # one image, (28, 28) for 784 inputs
            hint = f"{name} looks like one sample of {arr.size} values: {name}.reshape(1, -1) makes it one row"
        raise _error(
            ValueError, name, f"{n_cols} features (shape {arr.shape})", f"{n_features}, the network's input size", hint
        )

    # Casting float64 beyond float32's range gives Inf, which the check below reports.
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    # one compiled pass over the exponent bits (csrc/finite.c); the details only when it fails
    if arr.dtype.kind == "f" and not _kernels.all_finite(out.reshape(-1)):
        bad = ~np.isfinite(out)
        count = int(bad.sum())
        if count:
            row, col = divmod(int(np.argmax(bad)), n_cols)
            got = f"{count} non-finite value{'s' if count > 1 else ''} (NaN or Inf)"
            n_overflow = int(np.count_nonzero(bad & np.isfinite(arr)))
            if n_overflow:
                got += f", {n_overflow} of them {arr.dtype} values too large for float32 (|x| > 3.4e38)"
            got += f", the first {arr[row, col].item()!r} at (row {row}, col {col})"
            raise _error(
                ValueError,
                name,
                got,
                "finite numbers",
                "Fill or drop missing values first, and scale large values down",
            )
    return out


def check_y(y, n_samples, n_classes, name="y", x_name="X"):
    """Check class labels and return them as a C-contiguous 1-D int32 array.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, 1)
        Integer labels in ``[0, n_classes)``: any integer or bool dtype, or floats holding
        whole numbers. A column ``(n, 1)`` is raveled; one-hot rows are refused.
    n_samples : int or None
        The number of rows in X; y must have as many labels. None skips this check.
    n_classes : int or None
        The network's output size. None skips the upper bound.
    name, x_name : str, default "y", "X"
        The arguments' names, for messages.

    Returns
    -------
    ndarray of int32, shape (n_samples,)

    Raises
    ------
    TypeError
        For strings, complex numbers, objects that are not numbers.
    ValueError
        For one-hot or other multi-column y, fractional or non-finite values, negative labels,
        labels >= n_classes, a length different from n_samples, or an empty y.
    """
    arr = _as_array(y, name, "a 1-D array of class labels")
    arr = _as_real(
        arr, y, name, f"Map class names to integers first: classes, {name} = np.unique({name}, return_inverse=True)"
    )
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        hint = None
        if arr.ndim == 2 and arr.shape[0] == 1 and arr.shape[1] == n_samples:
            hint = f"Pass {name}.ravel()"
        elif arr.ndim == 2:
            hint = f"{name} must hold class labels, not one-hot rows: pass {name}.argmax(axis=1)"
        raise _error(ValueError, name, _describe(arr), "a 1-D array of class labels", hint)
    if arr.size == 0:
        raise _error(ValueError, name, _describe(arr), f"at least one label ({name} is empty)")
    _check_row_count(arr, n_samples, name, x_name, "labels")
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            i = int(np.argmin(finite))
            got = f"{int((~finite).sum())} non-finite label(s), the first {arr[i].item()!r} at index {i}"
            raise _error(ValueError, name, got, "integer class labels")
        fractional = arr != np.round(arr)
        if fractional.any():
            i = int(np.argmax(fractional))
            raise _error(
                ValueError,
                name,
                f"{arr[i].item()!r} at index {i}",
                "integer class labels (whole numbers)",
                "For values to predict (regression), make the network MLP(..., output='identity', loss='mse')",
            )
    lowest, highest = int(arr.min()), int(arr.max())
    if n_classes is None:
        expected = "labels >= 0"
    else:
        expected = f"labels in [0, {n_classes}) for a network with {n_classes} outputs"
    if lowest < 0:
        hint = None
        if (lowest, highest) == (-1, 1):
            hint = f"Map -1/+1 labels to 0/1 with ({name} + 1) // 2"
        raise _error(ValueError, name, f"label {lowest}", expected, hint)
    if n_classes is not None and highest >= n_classes:
        hint = None
        if lowest >= 1 and highest == n_classes:
            hint = f"The labels look 1-based: pass {name} - 1"
        raise _error(ValueError, name, f"label {highest}", expected, hint)
    if highest > np.iinfo(np.int32).max:
        raise _error(ValueError, name, f"label {highest}", "labels that fit in int32")
    # A private copy, checked again: the compiled code indexes with these labels, so a callback
    # or another thread writing into the caller's array must not reach them.
    labels = np.array(arr, dtype=np.int32, order="C", copy=True)
    if labels.min() < 0 or (n_classes is not None and labels.max() >= n_classes):
        raise _error(ValueError, name, "labels that changed while they were checked", expected)
    return labels


def _check_row_count(arr, n_samples, name, x_name, what):
    """One label or target row per row of X (n_samples None: not checked)."""
    if n_samples is not None and len(arr) != n_samples:
        raise _error(
            ValueError,
            f"{x_name} and {name}",
            f"{n_samples} rows in {x_name} and {len(arr)} {what} in {name}",
            "the same number",
        )


def check_targets(y, n_samples, n_outputs, name="y", x_name="X"):
    """Check a regression's targets and return them as a C-contiguous float32 copy of shape
    (n_samples, n_outputs): given as (n_samples, n_outputs), or (n_samples,) for one output.

    Raises
    ------
    TypeError
        For strings, complex numbers, objects that are not numbers.
    ValueError
        For integer or bool labels (a classifier's), another shape, a length different from
        n_samples, non-finite values or values beyond float32.
    """
    arr = _as_array(y, name, "an array of float targets")
    arr = _as_real(arr, y, name)
    shape = f"({n_samples},) or ({n_samples}, 1)" if n_outputs == 1 else f"({n_samples}, {n_outputs})"
    if arr.dtype.kind in "biu":
        raise _error(
            ValueError,
            name,
            f"integer labels ({_describe(arr)}) for a regression network (output='identity')",
            f"float targets of shape {shape}",
            f"Pass {name}.astype(np.float32) if they are values to predict; for classes, make the network "
            "with output='softmax'",
        )
    if arr.ndim == 1 and n_outputs == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != n_outputs:
        raise _error(ValueError, name, _describe(arr), f"float targets of shape {shape}, one per output")
    _check_row_count(arr, n_samples, name, x_name, "rows")
    if arr.size == 0:
        raise _error(ValueError, name, _describe(arr), f"at least one target ({name} is empty)")
    with np.errstate(over="ignore"):
        targets = np.array(arr, dtype=np.float32, order="C", copy=True)  # private: C reads it unguarded
    finite = np.isfinite(targets)
    if not finite.all():
        index = np.unravel_index(int(np.argmin(finite)), targets.shape)
        got = f"{arr[index].item()!r} at {tuple(int(i) for i in index)}"
        raise _error(ValueError, name, got, "finite targets within float32's range")
    return targets


def check_validation_data(validation_data, n_features, n_classes, check=None):
    """Check ``validation_data=(X_val, y_val)``; return the pair as (float32 X, int32 y), or with
    ``check`` (check_targets with the outputs bound, for a regression) its targets.

    Raises
    ------
    TypeError
        If validation_data is not a tuple or list, or its parts have the wrong types.
    ValueError
        If it does not have exactly two parts, or X_val or y_val is invalid (see check_X and
        check_y; the messages name ``validation_data[0]`` and ``validation_data[1]``).
    """
    expected = "a pair (X_val, y_val)"
    if not isinstance(validation_data, (tuple, list)):
        raise _error(TypeError, "validation_data", _describe(validation_data), expected)
    if len(validation_data) != 2:
        hint = "Sample weights are not supported" if len(validation_data) == 3 else None
        got = f"a {type(validation_data).__name__} of length {len(validation_data)}"
        raise _error(ValueError, "validation_data", got, expected, hint)
    X = check_X(validation_data[0], n_features, name="validation_data[0]")
    check = check or check_y
    y = check(validation_data[1], X.shape[0], n_classes, name="validation_data[1]", x_name="validation_data[0]")
    return X, y


# Keywords that belong to an optimizer, not to fit: Keras and PyTorch users pass them to fit first
OPTIMIZER_KEYWORDS = ("lr", "learning_rate", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps")


def unexpected_keywords(function, given, accepted):
    """The TypeError for keywords `given` that `function` does not take, as Python words it, with
    where the value goes instead: the optimizer's settings into the optimizer, a misspelt
    argument to the one it resembles."""
    name = sorted(given)[0]
    message = f"{function}() got an unexpected keyword argument {name!r}"
    if name in OPTIMIZER_KEYWORDS:
        setting = "lr" if name == "learning_rate" else name
        optimizer = "Adam" if setting in ("beta1", "beta2", "eps") else "SGD"
        return TypeError(
            f"{message}: {setting} is a setting of the optimizer; pass "
            f"optimizer=fastmlp.{optimizer}({setting}={given[name]!r})"
        )
    close = difflib.get_close_matches(name, accepted, n=1)
    if close:
        return TypeError(f"{message}; did you mean {close[0]!r}?")
    return TypeError(f"{message}; expected one of {', '.join(accepted)}")


def spread_rows(X, count):
    """Between count and 2 * count rows of X (all of them if fewer), evenly spaced: a view, for
    the checks that judge X on a sample rather than a pass over all of it."""
    return X[:: max(1, len(X) // count)]
