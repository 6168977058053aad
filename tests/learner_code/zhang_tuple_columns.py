"""A popular Kaggle notebook's network, corrected: samples in columns, a 784-10-10 ReLU network (the hidden
layer as wide as the output), W1 = rand(10, 784) - 0.5, biases (10, 1), softmax written with Python's sum
(over axis 0, the classes), integer labels one-hot encoded inside backward_prop; params a tuple
(W1, b1, W2, b2), forward_prop returns (Z1, A1, Z2, A2), update_params returns the new tuple."""
import numpy as np

from ._corpus import Bug
from ._data import load, load_pixels, load_sorted

alpha = 0.10


def init_params():
    rs = np.random.RandomState(3)
    W1 = rs.rand(10, 784) - 0.5
    b1 = rs.rand(10, 1) - 0.5
    W2 = rs.rand(10, 10) - 0.5
    b2 = rs.rand(10, 1) - 0.5
    return W1, b1, W2, b2


def make():
    X, Y = load(100, seed=80)
    return init_params(), X.T, Y


def ReLU(Z):
    return np.maximum(Z, 0)


def softmax(Z):
    A = np.exp(Z) / sum(np.exp(Z))
    return A


def forward_prop(W1, b1, W2, b2, X):
    Z1 = W1.dot(X) + b1
    A1 = ReLU(Z1)
    Z2 = W2.dot(A1) + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2


def ReLU_deriv(Z):
    return Z > 0


def one_hot(Y):
    one_hot_Y = np.zeros((Y.size, 10))
    one_hot_Y[np.arange(Y.size), Y] = 1
    return one_hot_Y.T


def backward_prop(Z1, A1, Z2, A2, W1, W2, X, Y):
    m = Y.size
    one_hot_Y = one_hot(Y)
    dZ2 = A2 - one_hot_Y
    dW2 = 1 / m * dZ2.dot(A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = W2.T.dot(dZ2) * ReLU_deriv(Z1)
    dW1 = 1 / m * dZ1.dot(X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return dW1, db1, dW2, db2


def update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, alpha):
    W1 = W1 - alpha * dW1
    b1 = b1 - alpha * db1
    W2 = W2 - alpha * dW2
    b2 = b2 - alpha * db2
    return W1, b1, W2, b2


def get_predictions(A2):
    return np.argmax(A2, 0)


# what the learner wrote to call fastmlp.diagnose
def forward(params, X):
    return forward_prop(*params, X)


def backprop(params, X, Y):
    W1, b1, W2, b2 = params
    return backward_prop(*forward_prop(W1, b1, W2, b2, X), W1, W2, X, Y)


def step(params, X, Y):
    return update_params(*params, *backprop(params, X, Y), alpha)


def predict(params, X):
    return get_predictions(forward_prop(*params, X)[3])


CORRECT = dict(forward=forward, backprop=backprop, step=step, predict=predict,
               activation="relu", output="softmax", loss="cross_entropy", lr=alpha)


# ---- what learners wrote instead ----

def backward_prop_db_np_sum(Z1, A1, Z2, A2, W1, W2, X, Y):
    m = Y.size
    one_hot_Y = one_hot(Y)
    dZ2 = A2 - one_hot_Y
    dW2 = 1 / m * dZ2.dot(A1.T)
    db2 = 1 / m * np.sum(dZ2)
    dZ1 = W2.T.dot(dZ2) * ReLU_deriv(Z1)
    dW1 = 1 / m * dZ1.dot(X.T)
    db1 = 1 / m * np.sum(dZ1)
    return dW1, db1, dW2, db2


def softmax_np_sum(Z):
    return np.exp(Z) / np.sum(np.exp(Z))


def get_predictions_axis1(A2):
    return np.argmax(A2, 1)


def predict_from_hidden(params, X):
    Z1, A1, Z2, A2 = forward_prop(*params, X)
    return get_predictions(A1)


def make_pixels():
    X, Y = load_pixels(100, seed=80)
    return init_params(), X.T, Y


def make_sorted():
    X, Y = load_sorted(100)
    return init_params(), X.T, Y


BUGS = [
    Bug("bias-gradient-axis", "db = 1 / m * np.sum(dZ): np.sum over everything, as in the notebook",
        backward_prop=backward_prop_db_np_sum),
    Bug("not-probabilities", "np.sum(np.exp(Z)) sums over the whole batch where Python's sum went over axis 0",
        softmax=softmax_np_sum),
    Bug("predict-wrong", "np.argmax(A2, 1): one label per class", get_predictions=get_predictions_axis1),
    Bug("predict-wrong", "accuracy from A1, the hidden layer (as wide as the output)", predict=predict_from_hidden),
    Bug("lr-too-high", "alpha = 5", alpha=5.0),
    Bug("inputs-not-scaled", "pixels left at 0..255", make=make_pixels),
    Bug("single-class-batches", "the first 100 rows of the training set sorted by label", make=make_sorted),
]
