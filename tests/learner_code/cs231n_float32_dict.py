"""A two-layer net in the style of CS231n, in float32: X float32 (n, 784), params {"W1", "b1", "W2", "b2"}
with W (in, out) and b (k,), 784-50-10, tanh hidden layer, softmax + cross-entropy on integer labels with
dscores[range(N), y] -= 1; loss_and_grads returns (loss, grads) keyed like params; train_step in place."""
import numpy as np

from ._corpus import Bug
from ._data import load

learning_rate = 0.2


def init_params():
    rng = np.random.default_rng(90)
    return {"W1": (rng.standard_normal((784, 50)) / np.sqrt(784)).astype(np.float32),
            "b1": np.zeros(50, np.float32),
            "W2": (rng.standard_normal((50, 10)) / np.sqrt(50)).astype(np.float32),
            "b2": np.zeros(10, np.float32)}


def make():
    X, y = load(128, seed=91)
    return init_params(), X.astype(np.float32), y


def hidden_and_probs(params, X):
    h = np.tanh(X.dot(params["W1"]) + params["b1"])
    scores = h.dot(params["W2"]) + params["b2"]
    scores = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(scores)
    return h, p / p.sum(axis=1, keepdims=True)


def tanh_backward(dh, h):
    return dh * (1 - h ** 2)


def loss_and_grads(params, X, y):
    N = X.shape[0]
    h, probs = hidden_and_probs(params, X)
    loss = -np.log(probs[range(N), y]).mean()
    dscores = probs.copy()
    dscores[range(N), y] -= 1
    dscores /= N
    grads = {"W2": h.T.dot(dscores), "b2": dscores.sum(axis=0)}
    dh = tanh_backward(dscores.dot(params["W2"].T), h)
    grads["W1"] = X.T.dot(dh)
    grads["b1"] = dh.sum(axis=0)
    return loss, grads


def train_step(params, X, y):
    loss, grads = loss_and_grads(params, X, y)
    for k in params:
        params[k] -= learning_rate * grads[k]
    return loss


# what the learner wrote to call fastmlp.diagnose
def forward(params, X):
    return hidden_and_probs(params, X)[1]


def backprop(params, X, y):
    return loss_and_grads(params, X, y)[1]


def predict(params, X):
    return np.argmax(forward(params, X), axis=1)


CORRECT = dict(forward=forward, backprop=backprop, step=train_step, predict=predict,
               activation="tanh", output="softmax", loss="cross_entropy", lr=learning_rate)


# ---- what learners wrote instead ----

def tanh_backward_missing(dh, h):
    return dh


def loss_and_grads_not_averaged(params, X, y):
    N = X.shape[0]
    h, probs = hidden_and_probs(params, X)
    loss = -np.log(probs[range(N), y]).mean()
    dscores = probs.copy()
    dscores[range(N), y] -= 1
    grads = {"W2": h.T.dot(dscores), "b2": dscores.sum(axis=0)}
    dh = tanh_backward(dscores.dot(params["W2"].T), h)
    grads["W1"] = X.T.dot(dh)
    grads["b1"] = dh.sum(axis=0)
    return loss, grads


def train_step_plus(params, X, y):
    loss, grads = loss_and_grads(params, X, y)
    for k in params:
        params[k] += learning_rate * grads[k]
    return loss


def forward_scores(params, X):
    h = np.tanh(X.dot(params["W1"]) + params["b1"])
    return np.exp(h.dot(params["W2"]) + params["b2"])


BUGS = [
    Bug("activation-derivative", "tanh_backward returns dh: the derivative 1 - h**2 left out",
        tanh_backward=tanh_backward_missing),
    Bug("scaled", "dscores not divided by N: the gradients are summed over the 128 rows",
        loss_and_grads=loss_and_grads_not_averaged),
    Bug("ascent", "params[k] += learning_rate * grads[k]", train_step=train_step_plus),
    Bug("not-probabilities", "forward returns np.exp(scores), never divided by their sum", forward=forward_scores),
]
