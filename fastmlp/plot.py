"""Plots for training and for looking inside a network, with matplotlib.

Each function returns a ``matplotlib.figure.Figure``, made through ``matplotlib.pyplot`` so that
``plt.show()`` displays it in a script and Jupyter shows it inline; save it with
``fig.savefig("name.png")`` and free it with ``plt.close(fig)`` when making many.

matplotlib is an optional dependency: ``pip install "fastmlp[plot]"``.

    >>> import fastmlp.plot
    >>> history = net.fit(X, y, epochs=5, validation_data=(X_test, y_test))  # doctest: +SKIP
    >>> fastmlp.plot.history(history).savefig("history.png")                  # doctest: +SKIP
"""

import math

import numpy as np

from fastmlp._validation import _describe, _error, check_int

__all__ = ["history", "confusion_matrix", "misclassified", "weights"]

# Bounds on the sizes a caller passes: beyond them a figure is unreadable, or slow and large to
# draw. Each is documented in its function's docstring (times measured with the Agg backend,
# building the figure and saving it as a PNG).
_MAX_CLASSES = 1000  # confusion_matrix: 1000 x 1000 cells are about one pixel each already
_ANNOTATED_CLASSES = 20  # ... numbers in the cells up to this many classes (400 texts)
_NAMED_CLASSES = 30  # ... a tick per class up to this many; beyond, about 20 ticks
_MATRIX_INCHES = 12.0  # ... the figure's side stops growing here (reached at 20 classes)
_MAX_IMAGES = 100  # misclassified, weights: a 10 x 10 grid, about 3 s to draw
_SHOWN_SIDE = 256  # images above this many pixels a side are shown block-averaged
_MAX_PANELS = 12  # history: metrics, in rows of at most _PANELS_PER_ROW panels
_PANELS_PER_ROW = 3
_MAX_HISTORY_VALUES = 200_000  # history: values in all the series together, about 2 s to draw


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            'fastmlp.plot needs matplotlib: pip install "fastmlp[plot]" (or pip install matplotlib)'
        ) from exc
    return plt


def _check_title(title):
    if title is not None and not isinstance(title, str):
        raise _error(TypeError, "title", _describe(title), "a str or None")


def _image_side(n_features, name):
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"{name}: got {n_features} features per sample; expected a square image such as 784 = 28 x 28 pixels"
        )
    return side


def _shown(pixels, side):
    """Images as drawn: pixels of shape (side * side,) or (side * side, m), m images in columns,
    give (side, side) or (side, side, m). Above _SHOWN_SIDE pixels a side, each image is the mean
    of square blocks of pixels, at most _SHOWN_SIDE a side (a cell of a grid is about 150 pixels
    wide), computed on views: matplotlib then keeps small arrays however large the images."""
    pixels = np.asarray(pixels)
    cube = pixels.reshape(side, side, *pixels.shape[1:])
    block = -(-side // _SHOWN_SIDE)
    if block == 1:
        return cube
    kept = side // block * block
    cut = cube[:kept, :kept].reshape(kept // block, block, kept // block, block, *pixels.shape[1:])
    return cut.mean(axis=(1, 3), dtype=np.float64)


def _grid(count):
    cols = max(1, math.ceil(math.sqrt(count)))
    return math.ceil(count / cols), cols


def _pack_grid(fig, rows, right=0.98):
    # A fixed layout: tight_layout on a grid of dozens of images costs seconds and gains nothing.
    # The figure's title gets 0.8 inch: with less, it sat on the first row's titles.
    top = 1.0 - 0.8 / fig.get_figheight()
    fig.subplots_adjust(left=0.02, right=right, bottom=0.02, top=top, wspace=0.1, hspace=0.45 if rows > 1 else 0.2)


def history(history_or_dict, title=None):
    """Loss and accuracy per epoch, training and (when present) validation.

    Parameters
    ----------
    history_or_dict : fastmlp.callbacks.History or dict
        What ``fit`` returns, or its ``.history`` dict: lists under ``loss``, ``accuracy``,
        ``val_loss``, ``val_accuracy`` (any may be missing; other keys are plotted on a panel
        of their own). Values are numbers; NaN and infinite ones (a diverged run) leave gaps.
        At most 12 panels (metrics, each with its ``val_`` twin), and at most 200000 values in
        all the lists together: beyond that a line has more points than the figure has pixels,
        and drawing it takes seconds. To plot more epochs, plot every k-th value.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One panel for the losses and one for the accuracies (and one per other metric), at
        most three panels a row.

    Raises
    ------
    TypeError
        If history_or_dict is not a History or a dict, a key is not a str, or a value is not a
        list of numbers.
    ValueError
        If there is no epoch, or more panels or values than the bounds above.
    """
    logs = getattr(history_or_dict, "history", history_or_dict)
    if not isinstance(logs, dict):
        raise TypeError(
            f"history_or_dict: got {type(history_or_dict).__name__}; expected a History "
            "(what fit returns) or a dict of per-epoch lists"
        )
    for key, values in logs.items():
        if not isinstance(key, str):
            raise _error(TypeError, "history_or_dict", f"the key {key!r}", "metric names (str) as keys")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
            raise TypeError(f"history_or_dict[{key!r}]: got {values!r}; expected a list of per-epoch values")
    total = sum(len(values) for values in logs.values())
    if total > _MAX_HISTORY_VALUES:
        longest = max(logs, key=lambda key: len(logs[key]))
        raise _error(
            ValueError,
            "history_or_dict",
            f"{total} values in {len(logs)} lists (history_or_dict[{longest!r}] has {len(logs[longest])})",
            f"at most {_MAX_HISTORY_VALUES} values in all",
            "Plot every k-th epoch: {key: values[::k] for key, values in history.items()}",
        )
    series = {}
    for key, values in logs.items():
        if len(values) == 0:
            continue
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise _error(
                TypeError, f"history_or_dict[{key!r}]", _describe(values), "a list of numbers, one per epoch"
            ) from None
        if array.ndim != 1:
            raise _error(
                ValueError, f"history_or_dict[{key!r}]", _describe(array), "a flat list of numbers, one per epoch"
            )
        series[key] = array
    if not series:
        raise ValueError("history_or_dict: got no epochs; expected at least one epoch of metrics")
    panels = {}
    for key in series:
        metric = key[4:] if key.startswith("val_") else key
        panels.setdefault(metric, []).append(key)
    if len(panels) > _MAX_PANELS:
        names = sorted(panels)
        listed = ", ".join(names[: _MAX_PANELS + 1]) + (", ..." if len(names) > _MAX_PANELS + 1 else "")
        raise _error(
            ValueError,
            "history_or_dict",
            f"{len(panels)} metrics ({listed})",
            f"at most {_MAX_PANELS}, one panel each",
            "Pass a dict of the ones to plot: {key: history.history[key] for key in (...)}",
        )
    order = sorted(panels, key=lambda m: (m != "loss", m != "accuracy", m))
    _check_title(title)

    plt = _pyplot()
    cols = min(len(order), _PANELS_PER_ROW)
    rows = -(-len(order) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    for ax in axes.ravel()[len(order) :]:
        fig.delaxes(ax)
    for ax, metric in zip(axes.ravel(), order):
        for key in sorted(panels[metric], key=lambda k: k.startswith("val_")):
            values = series[key]
            epochs = np.arange(1, len(values) + 1)
            label = "validation" if key.startswith("val_") else "training"
            ax.plot(epochs, values, marker="o" if len(values) < 30 else None, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
        if len(series[panels[metric][0]]) < 15:
            ax.set_xticks(np.arange(1, len(series[panels[metric][0]]) + 1))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _class_labels(name, values):
    """values as a 1-D array of class labels: ints, whole floats, bools or strings."""
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        hint = f"One-hot rows or probabilities: pass {name}.argmax(axis=1)" if arr.ndim == 2 else None
        raise _error(ValueError, name, _describe(arr), "a 1-D array of class labels", hint)
    if arr.dtype.kind not in "biufUS":
        raise _error(TypeError, name, _describe(arr), "class labels: ints (or strings)")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = int(np.argmax(bad))
            raise _error(
                ValueError,
                name,
                f"{arr[i].item()!r} at index {i}",
                "class labels (whole numbers)",
                "Pass predicted labels (net.predict(X)), not probabilities",
            )
    return arr


def confusion_matrix(y_true, y_pred, labels=None, normalize=False, title=None):
    """A confusion matrix: true classes in rows, predicted classes in columns.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Class labels: ints (floats holding whole numbers, or strings, also work).
    labels : sequence, optional
        The classes to show, in order, each once; default all classes in either array. Samples
        whose true or predicted class is not among them are left out of the matrix (but not of
        the accuracy in the default title). At most 1000 classes: a matrix of more has cells
        smaller than a pixel and takes memory in their square; pass ``labels=`` to show a
        subset of the classes.
    normalize : bool, default False
        Show each row as fractions of its true class instead of counts.
    title : str, optional
        Default: the overall accuracy.

    Returns
    -------
    matplotlib.figure.Figure
        Each cell shows its count (or fraction) up to 20 classes; beyond, only its colour, as
        with scikit-learn's ``ConfusionMatrixDisplay.plot(include_values=False)``, since
        hundreds of numbers would overlap and take long to draw. Every class is named on the
        axes up to 30 classes, about 20 of them beyond. The figure grows with the classes up to
        12 inches a side (20 classes) and stays there: 1000 classes take about a second to draw.

    Raises
    ------
    TypeError
        For labels that are not ints, whole floats, bools or strings, y_true, y_pred and labels
        of different kinds (numbers and strings), or a normalize that is not a bool.
    ValueError
        For arrays of different lengths, no samples, NaN or fractional labels, 2-D labels
        (one-hot or probabilities), repeated labels, or more than 1000 classes.
    """
    y_true = _class_labels("y_true", y_true)
    y_pred = _class_labels("y_pred", y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred: got {y_true.size} and {y_pred.size} labels; expected the same number")
    if y_true.size == 0:
        raise ValueError("y_true: got no labels; expected at least one")
    if not isinstance(normalize, (bool, np.bool_)):
        raise _error(
            TypeError,
            "normalize",
            _describe(normalize),
            "True (each row as fractions of its true class) or False (counts)",
        )
    _check_title(title)
    strings = [name for name, arr in (("y_true", y_true), ("y_pred", y_pred)) if arr.dtype.kind in "US"]
    if len(strings) == 1:
        raise _error(
            TypeError,
            "y_true and y_pred",
            f"{y_true.dtype} and {y_pred.dtype} labels",
            "labels of one kind: numbers in both, or strings in both",
        )
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
        where = "in y_true and y_pred"
    else:
        labels = _class_labels("labels", labels)
        if len(labels) == 0:
            raise _error(ValueError, "labels", "no classes", "at least one class")
        if (labels.dtype.kind in "US") != bool(strings):
            raise _error(
                TypeError,
                "labels",
                f"{labels.dtype} labels for {y_true.dtype} y_true",
                "labels of the same kind as y_true and y_pred",
            )
        values, counts = np.unique(labels, return_counts=True)
        if (counts > 1).any():
            repeated = values[np.argmax(counts > 1)]
            raise _error(ValueError, "labels", f"class {repeated.item()!r} more than once", "each class once")
        where = "in labels"
    k = len(labels)
    if k > _MAX_CLASSES:
        raise _error(
            ValueError,
            "labels",
            f"{k} classes {where}",
            f"at most {_MAX_CLASSES} classes: beyond, each cell of the matrix is smaller than a pixel",
            "Pass labels=[...] to show a subset of the classes",
        )

    # Each label's row (or column) in the matrix, or -1 when it is not among labels.
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]

    def positions(values):
        at = np.minimum(np.searchsorted(ordered, values), k - 1)
        return np.where(ordered[at] == values, order[at], -1)

    rows, cols = positions(y_true), positions(y_pred)
    both = (rows >= 0) & (cols >= 0)
    counts = np.bincount(rows[both] * k + cols[both], minlength=k * k).reshape(k, k)
    shown = counts.astype(np.float64)
    if normalize:
        shown /= np.maximum(shown.sum(axis=1, keepdims=True), 1)

    plt = _pyplot()
    size = max(4.0, min(0.5 * k + 2, _MATRIX_INCHES))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    names = [str(label) for label in labels.tolist()]
    if k <= _NAMED_CLASSES:
        ax.set_xticks(range(k), names)
        ax.set_yticks(range(k), names)
    else:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        name = FuncFormatter(lambda x, _: names[int(x)] if float(x).is_integer() and 0 <= x < k else "")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(nbins=20, integer=True))
            axis.set_major_formatter(name)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= _ANNOTATED_CLASSES:
        threshold = shown.max() / 2 if shown.max() > 0 else 1
        for i in range(k):
            for j in range(k):
                text = f"{shown[i, j]:.2f}" if normalize else str(counts[i, j])
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if shown[i, j] > threshold else "black",
                )
    accuracy = float(np.mean(y_true == y_pred))
    ax.set_title(title if title is not None else f"accuracy {accuracy:.2%} on {y_true.size} samples")
    fig.tight_layout()
    return fig


def misclassified(X, y_true, y_pred, n=25, title=None):
    """A grid of the first ``n`` misclassified images, each titled with its true and predicted label.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_pixels) or (n_samples, side, side)
        Square images, one per row (784 = 28 x 28 for MNIST), any scale. Images larger than
        256 x 256 are shown as the means of square blocks of pixels, at most 256 a side (a cell
        of the grid is about 150 pixels wide), so the figure stays small however large they are.
    y_true, y_pred : array-like of shape (n_samples,)
    n : int, default 25
        The most images to show, from 1 to 100 (a 10 x 10 grid: about 3 s to draw; a grid of
        more is slow and its images too small). To see more, draw several figures from slices
        of X, y_true and y_pred.
    title : str, optional
        Default: how many of how many samples are misclassified.

    Returns
    -------
    matplotlib.figure.Figure
        With a note instead of images when nothing is misclassified.

    Raises
    ------
    TypeError
        If n is not an int, or X does not hold real numbers.
    ValueError
        If n is out of bounds, X is not 2-D (or 3-D square images), its rows are not square
        images, or X, y_true and y_pred have different numbers of rows.
    """
    n = check_int(
        "n",
        n,
        1,
        _MAX_IMAGES,
        "Draw several figures: misclassified(X[i:j], y_true[i:j], y_pred[i:j]) for slices of the samples",
    )
    _check_title(title)
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise _error(TypeError, "X", _describe(X), "an array of real numbers (pixel values)")
    if X.ndim == 3:
        X = X.reshape(len(X), -1)
    if X.ndim != 2:
        raise ValueError(f"X: got an array of shape {X.shape}; expected (n_samples, n_pixels)")
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if not len(X) == len(y_true) == len(y_pred):
        raise ValueError(
            f"X, y_true and y_pred: got {len(X)}, {len(y_true)} and {len(y_pred)} rows; expected the same number"
        )
    side = _image_side(X.shape[1], "X")
    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[:n]

    plt = _pyplot()
    if len(shown) == 0:
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"no misclassified samples among {len(X)}", ha="center", va="center")
        return fig
    rows, cols = _grid(len(shown))
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.7 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), shown):
        # MNIST stores a light digit on a dark background: gray_r draws it as ink on paper
        ax.imshow(_shown(X[i], side), cmap="gray_r")
        ax.set_title(f"true {y_true[i]}, pred {y_pred[i]}", fontsize=8, color="tab:red")
    fig.suptitle(title if title is not None else f"{len(wrong)} of {len(X)} misclassified (first {len(shown)})")
    _pack_grid(fig, rows)
    return fig


def weights(net, n=64, title=None):
    """The first layer's weights: one image per hidden unit, its column of ``net.weights[0]``.

    Parameters
    ----------
    net : fastmlp.MLP or fastmlp.reference.MLP
        Its input size must be a square (784 = 28 x 28 for MNIST). Inputs of more than 256 x 256
        pixels are shown as the means of square blocks, at most 256 a side.
    n : int, default 64
        The most units to show (the first ``n``), from 1 to 100 (a 10 x 10 grid: about 3 s to
        draw; a grid of more is slow and its images too small).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Red for positive weights, blue for negative, on one symmetric scale per unit.

    Raises
    ------
    TypeError
        If net has no weights, or n is not an int.
    ValueError
        If n is out of bounds, or the network's input size is not a square.
    """
    if not hasattr(net, "weights"):
        raise TypeError(f"net: got {type(net).__name__}; expected a fastmlp.MLP")
    n = check_int("n", n, 1, _MAX_IMAGES, "A grid of more units is too small to read and slow to draw")
    _check_title(title)
    first = np.asarray(net.weights[0])
    if first.ndim != 2:
        raise _error(ValueError, "net.weights[0]", _describe(first), "a 2-D array (n_inputs, n_units)")
    side = _image_side(first.shape[0], "net.weights[0]")
    count = min(n, first.shape[1])
    images = _shown(first[:, :count], side)  # only the columns shown, never a copy of them all
    rows, cols = _grid(count)

    plt = _pyplot()
    # 1.1 inch on the right for the colour bar; at least 3.5 wide, for the title
    fig, axes = plt.subplots(rows, cols, figsize=(max(1.2 * cols + 1.1, 3.5), 1.2 * rows + 0.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    # one scale for every unit, so that the colour bar reads the same on each image
    scale = float(np.abs(np.asarray(images, dtype=np.float64)).max()) or 1.0
    for unit, ax in zip(range(count), axes.ravel()):
        shown = ax.imshow(np.asarray(images[:, :, unit], dtype=np.float64), cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(str(unit), fontsize=7)
    fig.suptitle(title if title is not None else f"first-layer weights, {count} of {first.shape[1]} units")
    right = 1.0 - 1.1 / fig.get_figwidth()
    _pack_grid(fig, rows, right=right)
    bar = fig.add_axes((right + 0.15 / fig.get_figwidth(), 0.1, 0.15 / fig.get_figwidth(), 0.75))
    fig.colorbar(shown, cax=bar, label="weight")
    return fig
