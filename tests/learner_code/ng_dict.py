"""Andrew Ng's course: samples in columns, parameters {"W1", "b1", "W2", "b2"} with b of shape (k, 1),
784-20-10, tanh hidden layer, softmax output with cross-entropy; forward_propagation returns
(A2, cache), backward_propagation grads {"dW1", ...}, update_parameters a new dict."""
import numpy as np

from ._corpus import Bug
from ._data import load, one_hot

learning_rate = 0.5
m = 60000  # training examples


def initialize_parameters(n_x, n_h, n_y):
    rs = np.random.RandomState(2)
    W1 = rs.randn(n_h, n_x) * np.sqrt(1. / n_x)
    b1 = np.zeros((n_h, 1))
    W2 = rs.randn(n_y, n_h) * np.sqrt(1. / n_h)
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def make():
    X, labels = load(64, seed=20)
    return initialize_parameters(784, 20, 10), X.T, one_hot(labels).T


def softmax(Z):
    e = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def forward_propagation(X, parameters):
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = softmax(Z2)
    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
    return A2, cache


def compute_cost(A2, Y):
    return -np.sum(Y * np.log(A2)) / Y.shape[1]


def linear_backward(dZ, A_prev, W):
    m = A_prev.shape[1]
    dW = 1. / m * np.dot(dZ, A_prev.T)
    db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def tanh_backward(dA, Z):
    return dA * (1 - np.power(np.tanh(Z), 2))


def backward_propagation(parameters, cache, X, Y):
    dZ2 = cache["A2"] - Y
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], parameters["W2"])
    dZ1 = tanh_backward(dA1, cache["Z1"])
    dA0, dW1, db1 = linear_backward(dZ1, X, parameters["W1"])
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def update_parameters(parameters, grads, learning_rate):
    L = len(parameters) // 2
    for l in range(1, L + 1):
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return parameters


# what the learner wrote to call fastmlp.diagnose
def forward(parameters, X):
    return forward_propagation(X, parameters)


def loss(parameters, X, Y):
    return compute_cost(forward_propagation(X, parameters)[0], Y)


def backprop(parameters, X, Y):
    A2, cache = forward_propagation(X, parameters)
    return backward_propagation(parameters, cache, X, Y)


def step(parameters, X, Y):
    return update_parameters(parameters, backprop(parameters, X, Y), learning_rate)


def predict(parameters, X):
    A2, cache = forward_propagation(X, parameters)
    return np.argmax(A2, axis=0)


CORRECT = dict(forward=forward, backprop=backprop, step=step, predict=predict,
               activation="tanh", output="softmax", loss="cross_entropy", lr=learning_rate)


# ---- what learners wrote instead ----

def softmax_axis1(Z):
    return np.exp(Z) / np.sum(np.exp(Z), axis=1, keepdims=True)


def relu_backward(dA, Z):
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def linear_backward_db_axis0(dZ, A_prev, W):
    m = A_prev.shape[1]
    dW = 1. / m * np.dot(dZ, A_prev.T)
    db = np.sum(dZ, axis=0, keepdims=True) / m
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def linear_backward_global_m(dZ, A_prev, W):
    dW = np.dot(dZ, A_prev.T) / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


BUGS = [
    Bug("softmax-axis", "softmax summed over axis=1, the samples, with samples in columns",
        softmax=softmax_axis1),
    Bug("activation-derivative", "relu_backward, copied from the deep network, in the tanh network",
        tanh_backward=relu_backward),
    Bug("bias-gradient-axis", "db summed over axis=0, the units: shape (1, m)",
        linear_backward=linear_backward_db_axis0),
    Bug("scaled", "gradients divided by the global m = 60000 (the training set) instead of the batch's 64",
        linear_backward=linear_backward_global_m),
    Bug("lr-too-high", "learning_rate = 10: the loss climbs from 2.3 to about 80 and stays",
        learning_rate=10.0),
]
