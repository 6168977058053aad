"""Network 3 as the learner wrote it: 784-16-16-10, ReLU, softmax + cross-entropy, full-batch descent.

A two-layer from-scratch network from a popular tutorial, grown by one hidden layer. Images
are columns (X is (784, m)), W is (out, in), biases are (k, 1) columns, and every function
takes the arrays one by one. The bug is marked; ``net3_relu_full_batch.py`` explains it and
runs ``fastmlp.diagnose`` on this code.

    python examples/learners/net3_learner_code.py      # trains it: prints an accuracy near 10%
"""
import numpy as np


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    W1, b1 = rng.normal(0, np.sqrt(2 / 784), (16, 784)), np.zeros((16, 1))
    W2, b2 = rng.normal(0, np.sqrt(2 / 16), (16, 16)), np.zeros((16, 1))
    W3, b3 = rng.normal(0, np.sqrt(2 / 16), (10, 16)), np.zeros((10, 1))
    return W1, b1, W2, b2, W3, b3


def ReLU(Z):
    return np.maximum(Z, 0)


def softmax(Z):
    A = np.exp(Z - Z.max(axis=0))
    return A / A.sum(axis=0)


def forward_prop(W1, b1, W2, b2, W3, b3, X):
    Z1 = W1.dot(X) + b1
    A1 = ReLU(Z1)
    Z2 = W2.dot(A1) + b2
    A2 = ReLU(Z2)
    Z3 = W3.dot(A2) + b3
    A3 = softmax(Z3)
    return Z1, A1, Z2, A2, Z3, A3


def backward_prop(Z1, A1, Z2, A2, Z3, A3, W1, W2, W3, X, Y):
    m = Y.size
    dZ3 = A3 - np.eye(10)[Y].T
    dW3, db3 = 1 / m * dZ3.dot(A2.T), 1 / m * np.sum(dZ3, axis=1, keepdims=True)
    dZ2 = W3.T.dot(dZ3) * (Z2 > 0)
    dW2, db2 = 1 / m * dZ2.dot(A1.T), 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = W2.T.dot(dZ2) * (Z1 > 0)
    dW1, db1 = 1 / m * dZ1.dot(X.T), 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return dW1, db1, dW2, db2, dW3, db3


def get_predictions(W1, b1, W2, b2, W3, b3, X):
    Z1, A1, Z2, A2, Z3, A3 = forward_prop(W1, b1, W2, b2, W3, b3, X)
    return np.argmax(A2, 0)             # the bug: A2 is hidden layer 2, the output is A3


def get_accuracy(predictions, Y):
    return np.sum(predictions == Y) / Y.size


def gradient_descent(X, Y, alpha, iterations):
    W1, b1, W2, b2, W3, b3 = init_params()
    for i in range(iterations):
        Z1, A1, Z2, A2, Z3, A3 = forward_prop(W1, b1, W2, b2, W3, b3, X)
        dW1, db1, dW2, db2, dW3, db3 = backward_prop(Z1, A1, Z2, A2, Z3, A3, W1, W2, W3, X, Y)
        W1, b1, W2, b2 = W1 - alpha * dW1, b1 - alpha * db1, W2 - alpha * dW2, b2 - alpha * db2
        W3, b3 = W3 - alpha * dW3, b3 - alpha * db3
        if i % 50 == 0:
            print(f"iteration {i}: accuracy {get_accuracy(get_predictions(W1, b1, W2, b2, W3, b3, X), Y):.3f}")
    return W1, b1, W2, b2, W3, b3


if __name__ == "__main__":
    import learners_common
    (X_train, y_train), (X_test, y_test) = learners_common.load(None)
    params = gradient_descent(X_train[:10000].T, y_train[:10000], 0.1, 300)
    print(f"test accuracy: {get_accuracy(get_predictions(*params, X_test.T), y_test):.2%}")
