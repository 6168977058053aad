"""A network without biases, samples in columns: weights [W1, W2] with W (out, in), 784-40-10, ReLU
hidden layer, sigmoid output with the quadratic cost 0.5 * sum((out - Y)**2) averaged over the
batch."""
import numpy as np

from ._corpus import Bug
from ._data import load, load_pixels, one_hot

lr = 2.0


def init_weights():
    rng = np.random.default_rng(60)
    W1 = rng.normal(0, np.sqrt(2 / 784), (40, 784))
    W2 = rng.normal(0, np.sqrt(1 / 40), (10, 40))
    return [W1, W2]


def make():
    X, labels = load(64, seed=61)
    return init_weights(), X.T, one_hot(labels).T


def relu(z):
    return np.maximum(z, 0)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def feedforward(weights, X):
    W1, W2 = weights
    H = relu(W1 @ X)
    out = sigmoid(W2 @ H)
    return out


def cost(weights, X, Y):
    return 0.5 * np.sum((feedforward(weights, X) - Y) ** 2) / X.shape[1]


def gradients(weights, X, Y):
    W1, W2 = weights
    m = X.shape[1]
    H = relu(W1 @ X)
    out = sigmoid(W2 @ H)
    d2 = (out - Y) * out * (1 - out)
    d1 = (W2.T @ d2) * (H > 0)
    return [d1 @ X.T / m, d2 @ H.T / m]


def train_step(weights, X, Y):
    for W, dW in zip(weights, gradients(weights, X, Y)):
        W -= lr * dW


def predict(weights, X):
    return np.argmax(feedforward(weights, X), axis=0)


CORRECT = dict(forward=feedforward, backprop=gradients, step=train_step, predict=predict,
               activation="relu", output="sigmoid", loss="mse", lr=lr)


# ---- what learners wrote instead ----

def feedforward_returns_hidden(weights, X):
    A = relu(weights[0] @ X)
    out = sigmoid(weights[1] @ A)
    return A


def train_step_rebinds(weights, X, Y):
    for W, dW in zip(weights, gradients(weights, X, Y)):
        W = W - lr * dW


def train_step_plus(weights, X, Y):
    for W, dW in zip(weights, gradients(weights, X, Y)):
        W += lr * dW


def gradients_m_rows(weights, X, Y):
    W1, W2 = weights
    m = len(X)
    H = relu(W1 @ X)
    out = sigmoid(W2 @ H)
    d2 = (out - Y) * out * (1 - out)
    d1 = (W2.T @ d2) * (H > 0)
    return [d1 @ X.T / m, d2 @ H.T / m]


def init_weights_zeros():
    return [np.zeros((40, 784)), np.zeros((10, 40))]


BUGS = [
    Bug("symmetric-init", "every weight starts at zero: the 40 hidden units stay copies of one",
        init_weights=init_weights_zeros),
    Bug("hidden-layer-output", "feedforward returns A, the 40 hidden units, instead of out",
        feedforward=feedforward_returns_hidden),
    Bug("scaled", "m = len(X): divided by the 784 features, not the 64 samples in columns",
        gradients=gradients_m_rows),
    Bug("update-not-applied", "for W in weights: W = W - lr * dW rebinds the loop variable",
        train_step=train_step_rebinds),
    Bug("ascent", "W += lr * dW", train_step=train_step_plus),
    Bug("inputs-not-scaled", "pixels left at 0..255", load=load_pixels),
]
