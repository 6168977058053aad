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

__all__ = ["history", "confusion_matrix", "misclassified", "weights"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('fastmlp.plot needs matplotlib: pip install "fastmlp[plot]" '
                          "(or pip install matplotlib)") from exc
    return plt


def _image_side(n_features, name):
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(f"{name}: got {n_features} features per sample; expected a square image such as "
                         "784 = 28 x 28 pixels")
    return side


def _grid(count):
    cols = max(1, math.ceil(math.sqrt(count)))
    return math.ceil(count / cols), cols


def _pack_grid(fig, rows):
    # A fixed layout: tight_layout on a grid of dozens of images costs seconds and gains nothing.
    top = 1.0 - 0.5 / fig.get_figheight()
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=top, wspace=0.1, hspace=0.45 if rows > 1 else 0.2)


def history(history_or_dict, title=None):
    """Loss and accuracy per epoch, training and (when present) validation.

    Parameters
    ----------
    history_or_dict : fastmlp.callbacks.History or dict
        What ``fit`` returns, or its ``.history`` dict: lists under ``loss``, ``accuracy``,
        ``val_loss``, ``val_accuracy`` (any may be missing; other keys are plotted on a panel
        of their own).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One panel for the losses and one for the accuracies.
    """
    logs = getattr(history_or_dict, "history", history_or_dict)
    if not isinstance(logs, dict):
        raise TypeError(f"history_or_dict: got {type(history_or_dict).__name__}; expected a History "
                        "(what fit returns) or a dict of per-epoch lists")
    for key, values in logs.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
            raise TypeError(f"history_or_dict[{key!r}]: got {values!r}; expected a list of per-epoch values")
    logs = {key: list(values) for key, values in logs.items() if len(values) > 0}
    if not logs:
        raise ValueError("history_or_dict: got no epochs; expected at least one epoch of metrics")
    panels = {}
    for key in logs:
        metric = key[4:] if key.startswith("val_") else key
        panels.setdefault(metric, []).append(key)
    order = sorted(panels, key=lambda m: (m != "loss", m != "accuracy", m))

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(order), figsize=(5 * len(order), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], order):
        for key in sorted(panels[metric], key=lambda k: k.startswith("val_")):
            values = logs[key]
            epochs = np.arange(1, len(values) + 1)
            label = "validation" if key.startswith("val_") else "training"
            ax.plot(epochs, values, marker="o" if len(values) < 30 else None, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
        if len(logs[panels[metric][0]]) < 15:
            ax.set_xticks(np.arange(1, len(logs[panels[metric][0]]) + 1))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, labels=None, normalize=False, title=None):
    """A confusion matrix: true classes in rows, predicted classes in columns.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Integer class labels.
    labels : sequence of int, optional
        The classes to show, in order; default all classes in either array.
    normalize : bool, default False
        Show each row as fractions of its true class instead of counts.
    title : str, optional
        Default: the overall accuracy.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred: got {y_true.size} and {y_pred.size} labels; expected the same number")
    if y_true.size == 0:
        raise ValueError("y_true: got no labels; expected at least one")
    labels = np.unique(np.concatenate([y_true, y_pred])) if labels is None else np.asarray(labels)
    index = {label: i for i, label in enumerate(labels.tolist())}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        if t in index and p in index:
            counts[index[t], index[p]] += 1
    shown = counts.astype(np.float64)
    if normalize:
        shown /= np.maximum(shown.sum(axis=1, keepdims=True), 1)

    plt = _pyplot()
    size = max(4.0, 0.5 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(labels)), [str(label) for label in labels])
    ax.set_yticks(range(len(labels)), [str(label) for label in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(labels) <= 20:
        threshold = shown.max() / 2 if shown.max() > 0 else 1
        for i in range(len(labels)):
            for j in range(len(labels)):
                text = f"{shown[i, j]:.2f}" if normalize else str(counts[i, j])
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if shown[i, j] > threshold else "black")
    accuracy = float(np.mean(y_true == y_pred))
    ax.set_title(title if title is not None else f"accuracy {accuracy:.2%} on {y_true.size} samples")
    fig.tight_layout()
    return fig


def misclassified(X, y_true, y_pred, n=25, title=None):
    """A grid of the first ``n`` misclassified images, each titled with its true and predicted label.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_pixels)
        Square images, one per row (784 = 28 x 28 for MNIST), any scale.
    y_true, y_pred : array-like of shape (n_samples,)
    n : int, default 25
        The most images to show.
    title : str, optional
        Default: how many of how many samples are misclassified.

    Returns
    -------
    matplotlib.figure.Figure
        With a note instead of images when nothing is misclassified.
    """
    X = np.asarray(X)
    if X.ndim == 3:
        X = X.reshape(len(X), -1)
    if X.ndim != 2:
        raise ValueError(f"X: got an array of shape {X.shape}; expected (n_samples, n_pixels)")
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if not len(X) == len(y_true) == len(y_pred):
        raise ValueError(f"X, y_true and y_pred: got {len(X)}, {len(y_true)} and {len(y_pred)} rows; "
                         "expected the same number")
    if n < 1:
        raise ValueError(f"n: got {n}; expected an int >= 1")
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
        ax.imshow(X[i].reshape(side, side), cmap="gray_r")
        ax.set_title(f"true {y_true[i]}, pred {y_pred[i]}", fontsize=8, color="tab:red")
    fig.suptitle(title if title is not None else f"{len(wrong)} of {len(X)} misclassified (first {len(shown)})")
    _pack_grid(fig, rows)
    return fig


def weights(net, n=64, title=None):
    """The first layer's weights: one image per hidden unit, its column of ``net.weights[0]``.

    Parameters
    ----------
    net : fastmlp.MLP or fastmlp.reference.MLP
        Its input size must be a square (784 = 28 x 28 for MNIST).
    n : int, default 64
        The most units to show (the first ``n``).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Red for positive weights, blue for negative, on one symmetric scale per unit.
    """
    if not hasattr(net, "weights"):
        raise TypeError(f"net: got {type(net).__name__}; expected a fastmlp.MLP")
    W = np.asarray(net.weights[0], dtype=np.float64)
    if n < 1:
        raise ValueError(f"n: got {n}; expected an int >= 1")
    side = _image_side(W.shape[0], "net.weights[0]")
    count = min(n, W.shape[1])
    rows, cols = _grid(count)

    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for unit, ax in zip(range(count), axes.ravel()):
        column = W[:, unit]
        scale = float(np.abs(column).max()) or 1.0
        ax.imshow(column.reshape(side, side), cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(str(unit), fontsize=7)
    fig.suptitle(title if title is not None else f"first-layer weights, {count} of {W.shape[1]} units")
    _pack_grid(fig, rows)
    return fig
