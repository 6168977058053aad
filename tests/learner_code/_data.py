"""Real MNIST rows for the learner-style networks, from the MNIST inside fastmlp.

Each returns ``(X, labels)`` with X ``(n, 784)`` float64 and labels ``(n,)``; a file puts the
samples in columns itself where its learner does.
"""
import functools

import numpy as np

from fastmlp.datasets import MNIST_DIR, load_mnist


@functools.lru_cache(maxsize=1)
def _training_set():
    (X, y), _ = load_mnist(MNIST_DIR)
    return X, y


def load(n=64, seed=0):
    """n training rows drawn at random: pixels in [0, 1]."""
    X, y = _training_set()
    rows = np.random.default_rng(seed).choice(len(X), size=n, replace=False)
    return X[rows].astype(np.float64), y[rows]


def load_pixels(n=64, seed=0):
    """The same rows with the pixels left at 0..255, as a learner who forgot ``X / 255`` has them."""
    X, labels = load(n, seed)
    return np.round(X * 255), labels


def load_sorted(n=64, seed=0):
    """The first n rows of the training set once it is sorted by label: all of them zeros."""
    X, y = _training_set()
    rows = np.argsort(y, kind="stable")[:n]
    return X[rows].astype(np.float64), y[rows]


def one_hot(labels):
    """``(n, 10)`` rows of zeros with a one at each label (``(10,)`` for a single label)."""
    return np.eye(10)[labels]
