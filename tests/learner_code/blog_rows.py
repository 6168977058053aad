"""A blog post's network: samples in rows, params [W1, b1, W2, b2] with biases (k,), 784-30-10,
sigmoid hidden layer, softmax output with cross-entropy, full-batch steps."""
import numpy as np

from ._corpus import Bug
from ._data import load, one_hot

LR = 0.5


def init_params():
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((784, 30)) * np.sqrt(1 / 784)
    b1 = np.zeros(30)
    W2 = rng.standard_normal((30, 10)) * np.sqrt(1 / 30)
    b2 = np.zeros(10)
    return [W1, b1, W2, b2]


def make():
    X, labels = load(64, seed=10)
    return init_params(), X, one_hot(labels)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    z = z - np.max(z, axis=1, keepdims=True)
    return np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)


def layers(params, X):
    W1, b1, W2, b2 = params
    h = sigmoid(X @ W1 + b1)
    out = softmax(h @ W2 + b2)
    return h, out


def forward(params, X):
    return layers(params, X)[1]


def loss(params, X, Y):
    return -np.mean(np.sum(Y * np.log(forward(params, X)), axis=1))


def backprop(params, X, Y):
    W1, b1, W2, b2 = params
    h, out = layers(params, X)
    d2 = (out - Y) / len(X)
    d1 = d2 @ W2.T * h * (1 - h)
    return [X.T @ d1, d1.sum(axis=0), h.T @ d2, d2.sum(axis=0)]


def update(params, grads):
    for i in range(len(params)):
        params[i] -= LR * grads[i]


def step(params, X, Y):
    grads = backprop(params, X, Y)
    update(params, grads)
    return loss(params, X, Y)


def predict(params, X):
    return np.argmax(forward(params, X), axis=1)


CORRECT = dict(forward=forward, backprop=backprop, step=step, predict=predict,
               activation="sigmoid", output="softmax", loss="cross_entropy", lr=LR)


# ---- what learners wrote instead ----

def init_params_uniform():
    rng = np.random.default_rng(0)
    return [rng.random((784, 30)), rng.random(30), rng.random((30, 10)), rng.random(10)]


def softmax_axis0(z):
    z = z - np.max(z, axis=0)
    return np.exp(z) / np.sum(np.exp(z), axis=0)


def backprop_summed(params, X, Y):
    W1, b1, W2, b2 = params
    h, out = layers(params, X)
    d2 = out - Y
    d1 = d2 @ W2.T * h * (1 - h)
    return [X.T @ d1, d1.sum(axis=0), h.T @ d2, d2.sum(axis=0)]


def backprop_softmax_derivative(params, X, Y):
    W1, b1, W2, b2 = params
    h, out = layers(params, X)
    d2 = (out - Y) * out * (1 - out) / len(X)
    d1 = d2 @ W2.T * h * (1 - h)
    return [X.T @ d1, d1.sum(axis=0), h.T @ d2, d2.sum(axis=0)]


def backprop_np_sum_bias(params, X, Y):
    W1, b1, W2, b2 = params
    h, out = layers(params, X)
    d2 = (out - Y) / len(X)
    d1 = d2 @ W2.T * h * (1 - h)
    return [X.T @ d1, np.sum(d1), h.T @ d2, np.sum(d2)]


def step_update_never_called(params, X, Y):
    grads = backprop(params, X, Y)
    return loss(params, X, Y)


def predict_axis0(params, X):
    return np.argmax(forward(params, X), axis=0)


BUGS = [
    Bug("softmax-axis", "softmax normalised over axis=0, the samples, with samples in rows",
        softmax=softmax_axis0),
    Bug("scaled", "gradients summed over the 64 rows, not averaged (no / len(X))",
        backprop=backprop_summed),
    Bug("extra-softmax-derivative", "out * (1 - out) multiplied onto the cross-entropy delta out - Y",
        backprop=backprop_softmax_derivative),
    Bug("bias-gradient-axis", "bias gradients np.sum(d) over everything: one number per layer",
        backprop=backprop_np_sum_bias),
    Bug("update-not-applied", "update(params, grads) written but never called in step",
        step=step_update_never_called),
    Bug("saturated-units", "weights and biases drawn uniform in [0, 1)", init_params=init_params_uniform),
    Bug("predict-wrong", "argmax over axis=0: one label per class, not per sample",
        predict=predict_axis0),
]
