"""Network 1 as the learner wrote it: 784-15-10, sigmoid, softmax + cross-entropy, one image at a time.

Images are (784, 1) columns, W is (out, in), biases are (k, 1) columns. The bug is marked;
``net1_sigmoid_softmax_per_sample.py`` explains it and runs ``fastmlp.diagnose`` on this code.

    python examples/learners/net1_learner_code.py      # trains it: stays near 10%
"""
import numpy as np

LR = 0.01


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(0, 1 / np.sqrt(784), (15, 784))
    b1 = np.zeros((15, 1))
    W2 = rng.normal(0, 1 / np.sqrt(15), (10, 15))
    b2 = np.zeros((10, 1))
    return [W1, b1, W2, b2]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def forward(params, x):
    W1, b1, W2, b2 = params
    h = sigmoid(W1 @ x + b1)
    p = softmax(W2 @ h + b2)
    return h, p


def backprop(params, x, label):
    W2 = params[2]
    h, p = forward(params, x)
    # loss = -log(p[t]), so dloss/dz[j] = -(1 / p[t]) * dp[t]/dz[j]
    dz2 = np.zeros_like(p)
    for j in range(10):
        if j == label:
            dz2[j] = -(1 / p[label]) * p[label] * (1 - p[label])
        else:
            dz2[j] = -(1 / p[label]) * p[label] * p[j]      # the bug: dp[t]/dz[j] is -p[t] * p[j]
    dz1 = (W2.T @ dz2) * h * (1 - h)
    return [dz1 @ x.T, dz1, dz2 @ h.T, dz2]


def train(params, X, y, epochs=1):
    """X is (784, n), one image per column; y the n labels."""
    for epoch in range(epochs):
        for i in np.random.permutation(X.shape[1]):
            grads = backprop(params, X[:, [i]], y[i])
            for P, G in zip(params, grads):
                P -= LR * G


def accuracy(params, X, y):
    return np.mean(np.argmax(forward(params, X)[1], axis=0) == y)


if __name__ == "__main__":
    import learners_common
    (X_train, y_train), (X_test, y_test) = learners_common.load(None)
    params = init_params()
    train(params, X_train.T, y_train)
    print(f"test accuracy after one epoch: {accuracy(params, X_test.T, y_test):.2%}")
