"""A per-sample network without biases: net {"w1", "w2"} with w (in, out), one image x of shape (784,)
at a time (for x, y in zip(X, Y)), 784-100-10, sigmoid hidden layer, softmax output with
cross-entropy; backprop returns minus the gradient (y - p) and the step adds it."""
import numpy as np

from ._corpus import Bug
from ._data import load, one_hot

lr = 0.1


def init_net():
    rng = np.random.default_rng(50)
    return {"w1": rng.normal(0, 1 / np.sqrt(784), (784, 100)),
            "w2": rng.normal(0, 1 / np.sqrt(100), (100, 10))}


def make():
    X, labels = load(1, seed=51)
    return init_net(), X[0], one_hot(labels[0])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def dsigmoid(s):  # s = sigmoid(x)
    return s * (1 - s)


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def layers(net, x):
    hidden = sigmoid(x @ net["w1"])
    return hidden, softmax(hidden @ net["w2"])


def forward(net, x):
    return layers(net, x)[1]


def loss(net, x, y):
    return -np.sum(y * np.log(forward(net, x)))


def output_error(p, y):
    return y - p  # points downhill, so the step adds it


def backprop(net, x, y):
    hidden, p = layers(net, x)
    e2 = output_error(p, y)
    e1 = net["w2"] @ e2 * dsigmoid(hidden)
    return {"dw1": np.outer(x, e1), "dw2": np.outer(hidden, e2)}


def train(net, x, y):
    grads = backprop(net, x, y)
    net["w1"] += lr * grads["dw1"]
    net["w2"] += lr * grads["dw2"]


def predict(net, x):
    return np.argmax(forward(net, x))


CORRECT = dict(forward=forward, backprop=backprop, step=train, predict=predict,
               activation="sigmoid", output="softmax", loss="cross_entropy", lr=lr)


# ---- what learners wrote instead ----

def softmax_over_scores(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(x)


def output_error_by_hand(p, y):
    e = p.copy()  # the other classes
    e[y == 1] = 1 - p[y == 1]
    return e


def dsigmoid_of_z(s):
    return sigmoid(s) * (1 - sigmoid(s))


def predict_hidden(net, x):
    hidden, p = layers(net, x)
    return np.argmax(hidden)


BUGS = [
    Bug("not-probabilities", "softmax divides by np.sum(x), the sum of the scores, not of the exponentials",
        softmax=softmax_over_scores),
    Bug("wrong", "the cross-entropy error worked out by hand: +p for the other classes instead of -p",
        output_error=output_error_by_hand),
    Bug("activation-derivative",
        "dsigmoid copied as sigmoid(s) * (1 - sigmoid(s)), applied to s = sigmoid(x)",
        dsigmoid=dsigmoid_of_z),
    Bug("predict-wrong", "the label is the argmax of the hidden layer (100 units)", predict=predict_hidden),
]
