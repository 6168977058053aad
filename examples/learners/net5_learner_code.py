"""Network 5 as the learner wrote it: 784-64-10, tanh, softmax + cross-entropy, full-batch descent.

Samples are rows (X is (10000, 784)), W is (in, out), biases are (1, k) rows, the parameters a
dict, and ``forward`` returns the output with a cache for ``backward``, as in many course
notebooks. The bug is marked; ``net5_tanh_full_batch.py`` explains it and runs
``fastmlp.diagnose`` on this code.

    python examples/learners/net5_learner_code.py      # trains it: the loss stays above 9
"""
import numpy as np


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0, 0.01, (784, 64)), "b1": np.zeros((1, 64)),
            "W2": rng.normal(0, 0.01, (64, 10)), "b2": np.zeros((1, 10))}


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e, axis=0, keepdims=True)     # the bug: axis=0 is the samples, the classes are axis=1


def forward(params, X):
    H = np.tanh(X @ params["W1"] + params["b1"])
    P = softmax(H @ params["W2"] + params["b2"])
    return P, {"H": H, "P": P}


def cross_entropy(P, Y):
    return -np.mean(np.sum(Y * np.log(P + 1e-12), axis=1))


def backward(params, X, Y, cache):
    n = X.shape[0]
    H, P = cache["H"], cache["P"]
    dZ2 = (P - Y) / n
    dZ1 = (dZ2 @ params["W2"].T) * (1 - H ** 2)
    return {"dW1": X.T @ dZ1, "db1": dZ1.sum(axis=0, keepdims=True),
            "dW2": H.T @ dZ2, "db2": dZ2.sum(axis=0, keepdims=True)}


def train_step(params, X, Y, lr=0.3):
    P, cache = forward(params, X)
    grads = backward(params, X, Y, cache)
    for key in params:
        params[key] -= lr * grads["d" + key]
    return cross_entropy(P, Y)


def accuracy(params, X, y):
    P, _ = forward(params, X)
    return np.mean(np.argmax(P, axis=1) == y)


if __name__ == "__main__":
    import learners_common
    (X_train, y_train), (X_test, y_test) = learners_common.load(None)
    X, y = X_train[:10000], y_train[:10000]
    params = init_params()
    for step in range(100):
        loss = train_step(params, X, np.eye(10)[y])
        if step % 20 == 0:
            print(f"step {step}: loss {loss:.3f}, training accuracy {accuracy(params, X, y):.2%}")
    print(f"test accuracy: {accuracy(params, X_test, y_test):.2%}")
