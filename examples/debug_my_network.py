"""Debugging a network that does not learn, the way a learner meets it.

    python examples/debug_my_network.py [--data PATH]

Part 1 is a from-scratch NumPy backprop, as someone writes it while learning, with three classic
bugs in it. ``fastmlp.check_backprop`` compares its gradients with the true ones and names each
bug; we fix them one at a time and print the report after each fix, then train the fixed network.

Part 2 is a badly set-up ``fastmlp.MLP``: raw 0..255 pixels and weights drawn uniformly from
[0, 1), as ``np.random.rand`` gives them. ``fastmlp.doctor`` trains a copy for a moment and says
what is wrong; again we fix one thing at a time until the report is clean.

Runs in well under 30 seconds on the bundled MNIST.
"""

import argparse
import functools

import numpy as np

import fastmlp

# ----------------------------------------------------------------------------------------------
# Part 1: the learner's backprop. Rows are examples; weights[l] is (n_in, n_out).
# ----------------------------------------------------------------------------------------------


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def backprop(weights, biases, X, Y, fixed=()):
    """Gradients of the mean cross-entropy of a sigmoid network with a softmax output.

    ``fixed`` lists the bugs already fixed: "softmax-derivative", "bias-mean", "transpose".
    """
    n = len(X)
    activations = [X]
    for W, b in zip(weights[:-1], biases[:-1]):
        activations.append(sigmoid(activations[-1] @ W + b))
    p = softmax(activations[-1] @ weights[-1] + biases[-1])

    delta = p - Y  # dLoss/dz for softmax + cross-entropy, per row
    if "softmax-derivative" not in fixed:
        delta = delta * p * (1 - p)  # BUG 1: "don't forget the output derivative!"

    dW, db = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        if "transpose" in fixed:
            dW[layer] = activations[layer].T @ delta / n
        else:
            dW[layer] = delta.T @ activations[layer] / n  # BUG 3: (n_out, n_in), as in a textbook with W x
        if "bias-mean" in fixed:
            db[layer] = delta.sum(axis=0) / n
        else:
            db[layer] = delta.sum(axis=0)  # BUG 2: summed over the rows, not averaged
        if layer > 0:
            a = activations[layer]
            delta = (delta @ weights[layer].T) * a * (1 - a)
    return dW, db


def train_numpy(X, y, X_test, y_test, fixed, sizes=(784, 30, 10), lr=0.5, epochs=1, batch_size=32, seed=0):
    """The learner's training loop, using their backprop; returns the test accuracy."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 1 / np.sqrt(a), size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [np.zeros(b) for b in sizes[1:]]
    Y = np.eye(sizes[-1])[y]
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            rows = order[start : start + batch_size]
            dW, db = backprop(weights, biases, X[rows], Y[rows], fixed)
            for W, b, gW, gb in zip(weights, biases, dW, db):
                W -= lr * gW
                b -= lr * gb
    a = X_test
    for W, b in zip(weights[:-1], biases[:-1]):
        a = sigmoid(a @ W + b)
    return float(np.mean(np.argmax(a @ weights[-1] + biases[-1], axis=1) == y_test))


def part1(X, y, X_test, y_test):
    print("=" * 100)
    print("Part 1: check_backprop on a from-scratch NumPy backprop")
    print("=" * 100)
    fixes = [
        ("softmax-derivative", "BUG 1: with cross-entropy, dLoss/dz is just p - y: drop the * p * (1 - p)"),
        ("bias-mean", "BUG 2: the bias gradient is the mean over the rows: divide by n"),
        ("transpose", "BUG 3: with rows as examples, dW = a_prev.T @ delta, shape (n_in, n_out)"),
    ]
    fixed = []
    report = fastmlp.check_backprop(functools.partial(backprop, fixed=tuple(fixed)), [6, 5, 4], n=8)
    print("\nThe learner's backprop, as written:\n")
    print(report)
    for name, explanation in fixes:
        fixed.append(name)
        report = fastmlp.check_backprop(functools.partial(backprop, fixed=tuple(fixed)), [6, 5, 4], n=8)
        print(f"\nAfter fixing {explanation}:\n")
        print(report)
    assert report.ok

    # A transposed dW cannot even be subtracted from W, so compare the first bug against the fix.
    rows = slice(0, 10000)
    buggy = train_numpy(X[rows], y[rows], X_test, y_test, fixed=("bias-mean", "transpose"))
    good = train_numpy(X[rows], y[rows], X_test, y_test, fixed=tuple(fixed))
    print(
        f"\nOne epoch on 10000 rows, 784-30-10 sigmoid, SGD lr=0.5: test accuracy {buggy:.1%} with "
        f"BUG 1 left in, {good:.1%} with every bug fixed."
    )


# ----------------------------------------------------------------------------------------------
# Part 2: doctor on a badly set-up network
# ----------------------------------------------------------------------------------------------


def part2(X, y):
    print()
    print("=" * 100)
    print("Part 2: doctor on a badly set-up fastmlp.MLP")
    print("=" * 100)
    pixels = np.round(X * 255)  # what the IDX files hold: 0..255
    optimizer = fastmlp.SGD(lr=0.1)

    net = fastmlp.MLP([784, 64, 10], init=("uniform", 0.0, 1.0), seed=0)  # like np.random.rand
    print("\nRaw pixels and weights from np.random.rand:\n")
    print(fastmlp.doctor(net, pixels, y, optimizer=optimizer))

    print("\nPixels divided by 255, the same weights:\n")
    print(fastmlp.doctor(net, pixels / 255.0, y, optimizer=optimizer))

    net = fastmlp.MLP([784, 64, 10], seed=0)  # init="auto": He for relu
    print("\nPixels divided by 255 and the default init:\n")
    report = fastmlp.doctor(net, pixels / 255.0, y, optimizer=optimizer)
    print(report)
    print(
        f"\nAnd the compiled gradients agree with float64 finite differences: "
        f"gradcheck = {fastmlp.gradcheck(net, X, y):.1e}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST location (default: the bundled copy)")
    args = parser.parse_args()
    (X, y), (X_test, y_test) = fastmlp.datasets.load_mnist(args.data)
    part1(X.astype(np.float64), y, X_test.astype(np.float64), y_test)
    part2(X, y)


if __name__ == "__main__":
    main()
