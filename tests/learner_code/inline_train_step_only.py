"""No backprop function: train_batch(params, X, y) loops over the rows of a mini-batch (x of shape (784,),
an integer label), accumulates each sample's gradients with np.outer and applies their mean; samples in rows,
W (in, out), b (k,), 784-64-10 ReLU, softmax + cross-entropy. Only forward, step and predict go to
diagnose."""
import numpy as np

from ._corpus import Bug
from ._data import load

lr = 0.2


def init_params():
    rng = np.random.default_rng(100)
    return [rng.normal(0, np.sqrt(2 / 784), (784, 64)), np.zeros(64),
            rng.normal(0, np.sqrt(1 / 64), (64, 10)), np.zeros(10)]


def make():
    X, y = load(32, seed=101)
    return init_params(), X, y


def softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def forward(params, X):
    W1, b1, W2, b2 = params
    return softmax(np.maximum(0, X @ W1 + b1) @ W2 + b2)


def train_batch(params, X, y):
    W1, b1, W2, b2 = params
    gW1, gb1, gW2, gb2 = [np.zeros_like(p) for p in params]
    for x, label in zip(X, y):
        h = np.maximum(0, x @ W1 + b1)
        p = softmax(h @ W2 + b2)
        p[label] -= 1
        gW2 += np.outer(h, p)
        gb2 += p
        dh = (W2 @ p) * (h > 0)
        gW1 += np.outer(x, dh)
        gb1 += dh
    n = len(X)
    W1 -= lr * gW1 / n
    b1 -= lr * gb1 / n
    W2 -= lr * gW2 / n
    b2 -= lr * gb2 / n


def predict(params, X):
    return forward(params, X).argmax(axis=1)


CORRECT = dict(forward=forward, step=train_batch, predict=predict,
               activation="relu", output="softmax", loss="cross_entropy", lr=lr)


# ---- what learners wrote instead ----

def train_batch_sums(params, X, y):
    W1, b1, W2, b2 = params
    gW1, gb1, gW2, gb2 = [np.zeros_like(p) for p in params]
    for x, label in zip(X, y):
        h = np.maximum(0, x @ W1 + b1)
        p = softmax(h @ W2 + b2)
        p[label] -= 1
        gW2 += np.outer(h, p)
        gb2 += p
        dh = (W2 @ p) * (h > 0)
        gW1 += np.outer(x, dh)
        gb1 += dh
    W1 -= lr * gW1
    b1 -= lr * gb1
    W2 -= lr * gW2
    b2 -= lr * gb2


def train_batch_reset_in_loop(params, X, y):
    W1, b1, W2, b2 = params
    for x, label in zip(X, y):
        gW1, gb1, gW2, gb2 = [np.zeros_like(p) for p in params]
        h = np.maximum(0, x @ W1 + b1)
        p = softmax(h @ W2 + b2)
        p[label] -= 1
        gW2 += np.outer(h, p)
        gb2 += p
        dh = (W2 @ p) * (h > 0)
        gW1 += np.outer(x, dh)
        gb1 += dh
    n = len(X)
    W1 -= lr * gW1 / n
    b1 -= lr * gb1 / n
    W2 -= lr * gW2 / n
    b2 -= lr * gb2 / n


def train_batch_rebinds(params, X, y):
    W1, b1, W2, b2 = params
    gW1, gb1, gW2, gb2 = [np.zeros_like(p) for p in params]
    for x, label in zip(X, y):
        h = np.maximum(0, x @ W1 + b1)
        p = softmax(h @ W2 + b2)
        p[label] -= 1
        gW2 += np.outer(h, p)
        gb2 += p
        dh = (W2 @ p) * (h > 0)
        gW1 += np.outer(x, dh)
        gb1 += dh
    n = len(X)
    W1 = W1 - lr * gW1 / n
    b1 = b1 - lr * gb1 / n
    W2 = W2 - lr * gW2 / n
    b2 = b2 - lr * gb2 / n


def train_batch_plus_label(params, X, y):
    W1, b1, W2, b2 = params
    gW1, gb1, gW2, gb2 = [np.zeros_like(p) for p in params]
    for x, label in zip(X, y):
        h = np.maximum(0, x @ W1 + b1)
        p = softmax(h @ W2 + b2)
        p[label] -= 1
        gW2 += np.outer(h, p)
        gb2 += p
        dh = (W2 @ p) * (h > 0)
        gW1 += np.outer(x, dh)
        gb1 += dh
    n = len(X)
    W1 += lr * gW1 / n
    b1 += lr * gb1 / n
    W2 += lr * gW2 / n
    b2 += lr * gb2 / n


BUGS = [
    Bug("step-scaled", "the summed gradients applied without / n: an effective learning rate of 32 * lr",
        train_batch=train_batch_sums),
    Bug("step-wrong", "the accumulators reset inside the loop: only the last sample's gradient, divided by n",
        train_batch=train_batch_reset_in_loop),
    Bug("update-not-applied", "W1 = W1 - ... rebinds the unpacked local names", train_batch=train_batch_rebinds),
    Bug("ascent", "W1 += lr * gW1 / n", train_batch=train_batch_plus_label),
]
