"""A two-hidden-layer ReLU network: samples in rows, params [W1, b1, W2, b2, W3, b3] with biases
(1, k) started at 0.1, 784-50-24-10, softmax output with cross-entropy; forward returns the list of
the layers' activations."""
import numpy as np

from ._corpus import Bug
from ._data import load, load_sorted, one_hot

LR = 0.1
sizes = [784, 50, 24, 10]


def init_params():
    rng = np.random.default_rng(40)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in))
        params.append(np.full((1, n_out), 0.1))
    return params


def make():
    X, labels = load(64, seed=41)
    return init_params(), X, one_hot(labels)


def relu(z):
    return np.maximum(0, z)


def softmax(z):
    exps = np.exp(z - np.max(z, axis=1, keepdims=True))
    return exps / np.sum(exps, axis=1, keepdims=True)


def forward(params, X):
    W1, b1, W2, b2, W3, b3 = params
    h1 = relu(X @ W1 + b1)
    h2 = relu(h1 @ W2 + b2)
    return [h1, h2, softmax(h2 @ W3 + b3)]


def cross_entropy(params, X, Y):
    probs = forward(params, X)[-1]
    return -np.mean(np.sum(Y * np.log(probs), axis=1))


def dense_backward(a, delta):
    return a.T @ delta, np.sum(delta, axis=0, keepdims=True)


def backprop(params, X, Y):
    acts = [X] + forward(params, X)
    delta = (acts[-1] - Y) / X.shape[0]
    grads = []
    for i in reversed(range(len(params) // 2)):
        grads = list(dense_backward(acts[i], delta)) + grads
        delta = delta @ params[2 * i].T * (acts[i] > 0)
    return grads


def sgd_step(params, X, Y):
    grads = backprop(params, X, Y)
    for i in range(len(params)):
        params[i] -= LR * grads[i]


def predict(params, X):
    return np.argmax(forward(params, X)[-1], axis=1)


CORRECT = dict(forward=forward, backprop=backprop, step=sgd_step, predict=predict,
               activation="relu", output="softmax", loss="cross_entropy", lr=LR)


# ---- what learners wrote instead ----

def forward_no_b2(params, X):
    W1, b1, W2, b2, W3, b3 = params
    h1 = relu(X @ W1 + b1)
    h2 = relu(h1 @ W2)
    return [h1, h2, softmax(h2 @ W3 + b3)]


def forward_tanh_h2(params, X):
    W1, b1, W2, b2, W3, b3 = params
    h1 = relu(X @ W1 + b1)
    h2 = np.tanh(h1 @ W2 + b2)
    return [h1, h2, softmax(h2 @ W3 + b3)]


def dense_backward_transposed(a, delta):
    return delta.T @ a, np.sum(delta, axis=0, keepdims=True)


def dense_backward_bias_per_sample(a, delta):
    return a.T @ delta, delta


def sgd_step_lr_over_n(params, X, Y):
    grads = backprop(params, X, Y)
    for i in range(len(params)):
        params[i] -= LR / len(X) * grads[i]


def sgd_step_equals_minus(params, X, Y):
    grads = backprop(params, X, Y)
    for i in range(len(params)):
        params[i] =- LR * grads[i]  # noqa: E225


BUGS = [
    Bug("forward-wrong", "the second hidden layer's bias b2 left out of forward", forward=forward_no_b2),
    Bug("forward-wrong", "np.tanh in the second hidden layer of the ReLU network", forward=forward_tanh_h2),
    Bug("transposed", "weight gradients delta.T @ a: shape (out, in) for W of shape (in, out)",
        dense_backward=dense_backward_transposed),
    Bug("shape", "bias gradients left per sample, (64, k), for b of shape (1, k)",
        dense_backward=dense_backward_bias_per_sample),
    Bug("step-scaled", "the step divides by len(X) again: lr / 64 on an averaged gradient",
        sgd_step=sgd_step_lr_over_n),
    Bug("step-wrong", "params[i] =- LR * grads[i]: the typo for -= sets the parameters to -LR * grad",
        sgd_step=sgd_step_equals_minus),
    Bug("single-class-batches", "the first 64 rows of the training set sorted by label: all zeros",
        load=load_sorted),
]
