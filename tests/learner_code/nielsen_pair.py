"""Nielsen's book, as functions: params (weights, biases) with W (out, in) and b (k, 1), one sample x
of shape (784, 1) at a time, 784-30-10, sigmoid layers with the quadratic cost; backprop returns
(nabla_b, nabla_w) and update_mini_batch sums the samples' gradients and steps by eta / n."""
import numpy as np

from ._corpus import Bug
from ._data import load, one_hot

sizes = [784, 30, 10]
num_layers = len(sizes)
eta = 3.0


def init_network():
    rs = np.random.RandomState(30)
    biases = [rs.randn(y, 1) for y in sizes[1:]]
    weights = [rs.randn(y, x) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
    return weights, biases


def make():
    X, labels = load(1, seed=31)
    return init_network(), X.T, one_hot(labels).T


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def feedforward(params, a):
    for w, b in zip(*params):
        a = sigmoid(np.dot(w, a) + b)
    return a


def cost(params, x, y):
    return 0.5 * np.sum((feedforward(params, x) - y) ** 2)


def cost_derivative(output_activations, y):
    return output_activations - y


def backprop(params, x, y):
    weights, biases = params
    activation, activations, zs = x, [x], []
    for w, b in zip(weights, biases):
        zs.append(np.dot(w, activation) + b)
        activation = sigmoid(zs[-1])
        activations.append(activation)
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    delta = cost_derivative(activation, y) * sigmoid_prime(zs[-1])
    for l in range(1, num_layers):
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        if l + 1 < num_layers:
            delta = np.dot(weights[-l].transpose(), delta) * sigmoid_prime(zs[-l - 1])
    return nabla_b, nabla_w


def sum_gradients(params, X, Y):
    weights, biases = params
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    for i in range(X.shape[1]):
        delta_nabla_b, delta_nabla_w = backprop(params, X[:, [i]], Y[:, [i]])
        nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
        nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
    return nabla_b, nabla_w


def update_mini_batch(params, X, Y):
    weights, biases = params
    nabla_b, nabla_w = sum_gradients(params, X, Y)
    n = X.shape[1]
    weights[:] = [w - (eta / n) * nw for w, nw in zip(weights, nabla_w)]
    biases[:] = [b - (eta / n) * nb for b, nb in zip(biases, nabla_b)]


def evaluate(params, x):
    return np.argmax(feedforward(params, x))


CORRECT = dict(forward=feedforward, backprop=backprop, step=update_mini_batch, predict=evaluate,
               activation="sigmoid", output="sigmoid", loss="mse", lr=eta)


# ---- what learners wrote instead ----

def init_network_large():
    rs = np.random.RandomState(30)
    biases = [rs.randn(y, 1) for y in sizes[1:]]
    weights = [rs.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]
    return weights, biases


def sigmoid_prime_of_output(z):
    return z * (1 - z)


def cost_derivative_flipped(output_activations, y):
    return y - output_activations


def update_mini_batch_new_lists(params, X, Y):
    weights, biases = params
    nabla_b, nabla_w = sum_gradients(params, X, Y)
    n = X.shape[1]
    weights = [w - (eta / n) * nw for w, nw in zip(weights, nabla_w)]
    biases = [b - (eta / n) * nb for b, nb in zip(biases, nabla_b)]


BUGS = [
    Bug("saturated-units", "weights drawn randn(y, x), not scaled by 1 / sqrt(x)",
        init_network=init_network_large),
    Bug("activation-derivative", "sigmoid_prime written for the output, a * (1 - a), but called with z",
        sigmoid_prime=sigmoid_prime_of_output),
    Bug("sign-flipped", "cost_derivative returns y - output, and the step still subtracts it",
        cost_derivative=cost_derivative_flipped),
    Bug("zero", "num_layers counts the weight matrices (2), so the first layer's gradients stay zero",
        num_layers=2),
    Bug("update-not-applied", "weights = [w - ...] builds new lists inside the function, never kept",
        update_mini_batch=update_mini_batch_new_lists),
]
