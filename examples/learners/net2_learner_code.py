"""Network 2 as the learner wrote it: Nielsen's 784-30-10 sigmoid network, vectorised over the minibatch.

Images are columns (X is (784, 10) for a minibatch), W is (out, in), biases are (k, 1) columns,
and the network is the pair ``(weights, biases)``; ``backprop`` returns ``(nabla_b, nabla_w)`` as
in the book. The bug is marked; ``net2_sigmoid_mse_minibatch.py`` explains it and runs
``fastmlp.diagnose`` on this code.

    python examples/learners/net2_learner_code.py      # trains it
"""
import numpy as np

SIZES = [784, 30, 10]
MINI_BATCH_SIZE, ETA = 10, 2.0


def init_network(seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((y, x)) / np.sqrt(x) for x, y in zip(SIZES[:-1], SIZES[1:])]
    biases = [np.zeros((n, 1)) for n in SIZES[1:]]
    return weights, biases


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def feedforward(weights, biases, X):
    for w, b in zip(weights, biases):
        X = sigmoid(w @ X + b)
    return X


def backprop(weights, biases, X, Y):
    """The gradient of the quadratic cost over the minibatch: one column per image in X and Y."""
    activations, zs = [X], []
    for w, b in zip(weights, biases):
        zs.append(w @ activations[-1] + b)
        activations.append(sigmoid(zs[-1]))
    delta = (activations[-1] - Y) * sigmoid_prime(zs[-1])      # the bug: sums over the minibatch, not means
    nabla_b, nabla_w = [None, None], [None, None]
    nabla_b[-1], nabla_w[-1] = delta.sum(axis=1, keepdims=True), delta @ activations[-2].T
    delta = (weights[-1].T @ delta) * sigmoid_prime(zs[-2])
    nabla_b[0], nabla_w[0] = delta.sum(axis=1, keepdims=True), delta @ X.T
    return nabla_b, nabla_w


def update_mini_batch(weights, biases, X, Y, eta):
    nabla_b, nabla_w = backprop(weights, biases, X, Y)
    for w, b, nw, nb in zip(weights, biases, nabla_w, nabla_b):
        w -= eta * nw
        b -= eta * nb


def SGD(weights, biases, X, Y, epochs, eta):
    """X is (784, n), Y the (10, n) one-hot labels."""
    for epoch in range(epochs):
        order = np.random.permutation(X.shape[1])
        for k in range(0, X.shape[1], MINI_BATCH_SIZE):
            batch = order[k:k + MINI_BATCH_SIZE]
            update_mini_batch(weights, biases, X[:, batch], Y[:, batch], eta)


def evaluate(weights, biases, X, y):
    return np.mean(np.argmax(feedforward(weights, biases, X), axis=0) == y)


if __name__ == "__main__":
    import learners_common
    (X_train, y_train), (X_test, y_test) = learners_common.load(None)
    weights, biases = init_network()
    SGD(weights, biases, X_train.T, np.eye(10)[y_train].T, 1, ETA)
    print(f"test accuracy after one epoch: {evaluate(weights, biases, X_test.T, y_test):.2%}")
