"""Network 4 as the learner wrote it: 784-128-64-10, sigmoid, softmax + cross-entropy, one image at a time.

Samples are rows (one image is a (1, 784) row), W is (in, out), and there are no biases: the
network is the list of its three weight matrices. The bug is marked;
``net4_sigmoid_deep_per_sample.py`` explains it and runs ``fastmlp.diagnose`` on this code.

    python examples/learners/net4_learner_code.py      # trains it: the loss never moves
"""
import numpy as np

SIZES = [784, 128, 64, 10]
LR = 0.05


def init_weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, np.sqrt(2 / (n + m)), (n, m)) for n, m in zip(SIZES[:-1], SIZES[1:])]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forward(weights, x):
    """The activations of every layer, input first; the last is the softmax output."""
    activations = [x]
    for W in weights[:-1]:
        activations.append(sigmoid(activations[-1] @ W))
    activations.append(softmax(activations[-1] @ weights[-1]))
    return activations


def backprop(weights, x, y):
    activations = forward(weights, x)
    delta = activations[-1] - y
    grads = [None] * len(weights)
    for layer in reversed(range(len(weights))):
        grads[layer] = activations[layer].T @ delta
        if layer > 0:
            delta = (delta @ weights[layer].T) * activations[layer] * (1 - activations[layer])
    return grads


def update(weights, grads, lr):
    for W, dW in zip(weights, grads):
        W -= lr * dW


def train_step(weights, x, y):
    """One image: x is (1, 784), y its (1, 10) one-hot label. Returns the loss."""
    loss = -np.sum(y * np.log(forward(weights, x)[-1]))
    grads = backprop(weights, x, y)
    return loss                         # the bug: update(weights, grads, LR) is never called


def train(weights, X, Y, epochs=1):
    for epoch in range(epochs):
        total = 0.0
        for i in np.random.permutation(len(X)):
            total += train_step(weights, X[i:i + 1], Y[i:i + 1])
        print(f"epoch {epoch}: mean loss {total / len(X):.4f}")


def accuracy(weights, X, y):
    return np.mean(np.argmax(forward(weights, X)[-1], axis=1) == y)


if __name__ == "__main__":
    import learners_common
    (X_train, y_train), (X_test, y_test) = learners_common.load(None)
    weights = init_weights()
    train(weights, X_train, np.eye(10)[y_train])
    print(f"test accuracy after one epoch: {accuracy(weights, X_test, y_test):.2%}")
