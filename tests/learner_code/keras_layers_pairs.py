"""Keras-like layer objects in a list: Dense (W (in, out), b (1, out)), ReLU and Softmax layers with
forward/backward methods, samples in rows, 784-64-32-10, integer labels with grad[range(n), y] -= 1;
params a list of (W, b) pairs, one per Dense layer; backprop returns a list of (dW, db) tuples."""
import numpy as np

from ._corpus import Bug
from ._data import load

LR = 0.1


class Dense:
    def __init__(self, n_in, n_out, rng):
        self.W = rng.normal(0, np.sqrt(2.0 / n_in), (n_in, n_out))
        self.b = np.zeros((1, n_out))

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW = self.x.T @ grad
        self.db = grad.sum(axis=0, keepdims=True)
        return grad @ self.W.T


class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad):
        return grad * self.mask


class Softmax:
    def forward(self, x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.out = e / e.sum(axis=1, keepdims=True)
        return self.out


layers = []


def build():
    rng = np.random.default_rng(70)
    return [Dense(784, 64, rng), ReLU(), Dense(64, 32, rng), ReLU(), Dense(32, 10, rng), Softmax()]


def dense_layers():
    return [layer for layer in layers if hasattr(layer, "W")]


def make():
    global layers
    layers = build()
    X, labels = load(100, seed=71)
    return [(layer.W, layer.b) for layer in dense_layers()], X, labels


def model_forward(x):
    for layer in layers:
        x = layer.forward(x)
    return x


def model_backward(x, y):
    p = model_forward(x)
    grad = p.copy()
    grad[np.arange(len(y)), y] -= 1
    grad /= len(y)
    for layer in reversed(layers[:-1]):
        grad = layer.backward(grad)
    return [(layer.dW, layer.db) for layer in dense_layers()]


def sgd(x, y):
    for layer, (dW, db) in zip(dense_layers(), model_backward(x, y)):
        layer.W -= LR * dW
        layer.b -= LR * db


# what the learner wrote to call fastmlp.diagnose
def load_params(params):
    for layer, (W, b) in zip(dense_layers(), params):
        layer.W, layer.b = W, b


def forward(params, X):
    load_params(params)
    return model_forward(X)


def backprop(params, X, y):
    load_params(params)
    return model_backward(X, y)


def step(params, X, y):
    load_params(params)
    sgd(X, y)


def predict(params, X):
    return forward(params, X).argmax(axis=1)


CORRECT = dict(forward=forward, backprop=backprop, step=step, predict=predict,
               activation="relu", output="softmax", loss="cross_entropy", lr=LR)


# ---- what learners wrote instead ----

class SoftmaxAxis0(Softmax):
    def forward(self, x):
        e = np.exp(x - x.max(axis=0, keepdims=True))
        self.out = e / e.sum(axis=0, keepdims=True)
        return self.out


class ReLUUnmasked(ReLU):
    def backward(self, grad):
        return grad


class DenseBiasPerSample(Dense):
    def backward(self, grad):
        self.dW = self.x.T @ grad
        self.db = grad
        return grad @ self.W.T


class DenseTransposed(Dense):
    def backward(self, grad):
        self.dW = grad.T @ self.x
        self.db = grad.sum(axis=0, keepdims=True)
        return grad @ self.W.T


def sgd_new_attributes(x, y):
    for layer, (dW, db) in zip(dense_layers(), model_backward(x, y)):
        W, b = layer.W, layer.b
        W = W - LR * dW
        b = b - LR * db


BUGS = [
    Bug("softmax-axis", "the Softmax layer normalises over axis=0, the samples", Softmax=SoftmaxAxis0),
    Bug("activation-derivative", "ReLU.backward passes the gradient through without the mask", ReLU=ReLUUnmasked),
    Bug("shape", "Dense.backward keeps db = grad, one row per sample", Dense=DenseBiasPerSample),
    Bug("transposed", "Dense.backward computes dW = grad.T @ x, shape (out, in)", Dense=DenseTransposed),
    Bug("update-not-applied", "sgd rebinds local names W, b instead of updating the layers",
        sgd=sgd_new_attributes),
]
