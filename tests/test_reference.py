"""fastmlp.reference: gradients against float64 finite differences, initialisation, numerical
stability, the training loop and the optimizer maths."""

import gzip
import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastmlp import SGD, Adam
from fastmlp.callbacks import Callback, History
from fastmlp.datasets import MNIST_DIR
from fastmlp.init import initial_parameters, resolve_init
from fastmlp.reference import ACTIVATION_FUNCTIONS, ACTIVATIONS, MLP, OUTPUT_LOSS_PAIRS, one_hot, sigmoid, softmax

MNIST_DIR = str(MNIST_DIR)  # read straight from the gzipped IDX files below


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def numerical_gradients(net, X, y, eps=1e-6):
    """Central differences of net's mean loss for every weight and bias, in net's dtype."""
    grads = []
    for W, b in zip(net.weights, net.biases):
        pair = []
        for param in (W, b):
            num = np.zeros_like(param)
            flat, num_flat = param.reshape(-1), num.reshape(-1)
            for i in range(flat.size):
                saved = flat[i]
                flat[i] = saved + eps
                loss_plus, _ = net.loss_and_gradients(X, y)
                flat[i] = saved - eps
                loss_minus, _ = net.loss_and_gradients(X, y)
                flat[i] = saved
                num_flat[i] = (loss_plus - loss_minus) / (2 * eps)
            pair.append(num)
        grads.append(tuple(pair))
    return grads


def rel_error(num, ana):
    scale = max(np.max(np.abs(num)), np.max(np.abs(ana)), 1e-12)
    return np.max(np.abs(num - ana)) / scale


def pre_activations(net, X):
    """Every hidden layer's pre-activation, to check finite differences stay clear of kinks."""
    z_all, a = [], X
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        z = a @ W + b
        z_all.append(z)
        a = net._activate(z)
    return z_all


def blobs(n=200, seed=0):
    """Two Gaussian blobs in 2-D, linearly separable."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(0.0, 0.5, size=(n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5)
    return X, y


def mnist_slice(n=300):
    """The first n training images of MNIST, read straight from the gzipped IDX files."""
    images = os.path.join(MNIST_DIR, "train-images-idx3-ubyte.gz")
    labels = os.path.join(MNIST_DIR, "train-labels-idx1-ubyte.gz")
    with gzip.open(images, "rb") as f:
        X = np.frombuffer(f.read(16 + n * 784)[16:], dtype=np.uint8).reshape(n, 784)
    with gzip.open(labels, "rb") as f:
        y = np.frombuffer(f.read(8 + n)[8:], dtype=np.uint8).astype(np.int64)
    return X.astype(np.float32) / 255, y


# ----------------------------------------------------------------------------------------------
# gradients against float64 finite differences
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("output, loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [[5, 4, 3, 3], [3, 4]])
def test_gradients_match_finite_differences(sizes, activation, output, loss):
    rng = np.random.default_rng(42)
    net = MLP(sizes, activation=activation, output=output, loss=loss, seed=1, dtype=np.float64)
    for b in net.biases:  # non-zero biases, so their gradients are exercised away from zero
        b[:] = rng.normal(0.0, 0.1, size=b.shape)
    X = rng.normal(size=(6, sizes[0]))
    y = rng.integers(0, sizes[-1], size=6)
    # relu and leaky_relu have a kink at 0: finite differences must not straddle it.
    for z in pre_activations(net, X):
        assert np.min(np.abs(z)) > 1e-4

    _, grads = net.loss_and_gradients(X, y)
    numeric = numerical_gradients(net, X, y)
    assert len(grads) == len(sizes) - 1
    for layer, ((dW, db), (nW, nb)) in enumerate(zip(grads, numeric)):
        assert dW.shape == net.weights[layer].shape and db.shape == net.biases[layer].shape
        assert rel_error(nW, dW) < 1e-6, f"dW{layer + 1}"
        assert rel_error(nb, db) < 1e-6, f"db{layer + 1}"


@pytest.mark.parametrize("output, loss", OUTPUT_LOSS_PAIRS)
def test_loss_values_by_hand(output, loss):
    rng = np.random.default_rng(3)
    net = MLP([4, 3], output=output, loss=loss, seed=0, dtype=np.float64)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    z = X @ net.weights[0] + net.biases[0]
    Y = one_hot(y, 3)
    if output == "softmax":
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    else:
        p = 1 / (1 + np.exp(-z))
    if (output, loss) == ("softmax", "cross_entropy"):
        expected = np.mean(-np.log(p[np.arange(5), y]))
    elif loss == "cross_entropy":
        expected = np.mean(np.sum(-(Y * np.log(p) + (1 - Y) * np.log(1 - p)), axis=1))
    else:
        expected = np.mean(0.5 * np.sum((p - Y) ** 2, axis=1))
    assert_allclose(net.loss_and_gradients(X, y)[0], expected, rtol=1e-12)
    assert_allclose(net.predict_proba(X), p, rtol=1e-12)


def test_float32_gradients_close_to_float64():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 6)), rng.integers(0, 4, size=16)
    net64 = MLP([6, 8, 4], activation="tanh", seed=5, dtype=np.float64)
    net32 = MLP([6, 8, 4], activation="tanh", seed=5, dtype=np.float32)
    loss64, g64 = net64.loss_and_gradients(X, y)
    loss32, g32 = net32.loss_and_gradients(X, y)
    assert_allclose(loss32, loss64, rtol=1e-5)
    for (dW32, db32), (dW64, db64) in zip(g32, g64):
        assert dW32.dtype == np.float32 and db32.dtype == np.float32
        assert_allclose(dW32, dW64, rtol=1e-4, atol=1e-6)
        assert_allclose(db32, db64, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# initialisation
# ----------------------------------------------------------------------------------------------


def test_same_seed_same_weights_across_dtypes():
    sizes = [7, 5, 3]
    a32 = MLP(sizes, seed=123, dtype=np.float32)
    b32 = MLP(sizes, seed=123, dtype=np.float32)
    a64 = MLP(sizes, seed=123, dtype=np.float64)
    for W32, W32b, W64 in zip(a32.weights, b32.weights, a64.weights):
        assert W32.dtype == np.float32 and W64.dtype == np.float64
        assert W32.flags.c_contiguous and W64.flags.c_contiguous
        assert_array_equal(W32, W32b)
        assert_array_equal(W32, W64.astype(np.float32))
    for b32_, b64 in zip(a32.biases, a64.biases):
        assert_array_equal(b32_, 0)
        assert_array_equal(b64, 0)
    other = MLP(sizes, seed=124, dtype=np.float32)
    assert not np.array_equal(a32.weights[0], other.weights[0])


def test_initial_weights_follow_the_shared_sequence():
    # The compiled model draws exactly this way; the reference must too.
    sizes = [4, 6, 3]
    rng = np.random.default_rng(9)
    expected, _ = initial_parameters(sizes, resolve_init("auto", ACTIVATION_FUNCTIONS["sigmoid"].auto_init), rng)
    net = MLP(sizes, activation="sigmoid", seed=9, dtype=np.float64)
    for W, E in zip(net.weights, expected):
        assert_array_equal(W, E)
    assert [W.shape for W in net.weights] == [(4, 6), (6, 3)]
    assert [b.shape for b in net.biases] == [(6,), (3,)]


@pytest.mark.parametrize(
    "init, activation, check",
    [
        ("he", "tanh", ("std", np.sqrt(2 / 1000))),
        ("auto", "relu", ("std", np.sqrt(2 / 1000))),
        ("auto", "leaky_relu", ("std", np.sqrt(2 / 1000))),
        ("lecun", "relu", ("std", np.sqrt(1 / 1000))),
        ("glorot", "relu", ("limit", np.sqrt(6 / 1500))),
        ("xavier", "relu", ("limit", np.sqrt(6 / 1500))),
        ("auto", "sigmoid", ("limit", np.sqrt(6 / 1500))),
        ("auto", "tanh", ("limit", np.sqrt(6 / 1500))),
        (("normal", 0.01), "relu", ("std", 0.01)),
        (("uniform", 0, 1), "relu", ("range", 0.0, 1.0)),
    ],
)
def test_init_schemes(init, activation, check):
    W = MLP([1000, 500], activation=activation, init=init, seed=0, dtype=np.float64).weights[0]
    if check[0] == "std":
        assert abs(W.mean()) < 0.05 * check[1]
        assert_allclose(W.std(), check[1], rtol=0.02)
    elif check[0] == "limit":
        assert np.max(np.abs(W)) <= check[1]
        assert np.max(np.abs(W)) > 0.99 * check[1]
        assert_allclose(W.std(), check[1] / np.sqrt(3), rtol=0.02)
    else:
        low, high = check[1:]
        assert W.min() >= low and W.max() <= high
        assert_allclose(W.mean(), (low + high) / 2, rtol=0.02)


# ----------------------------------------------------------------------------------------------
# numerical stability
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_huge_logits(dtype):
    net = MLP([1, 2], dtype=dtype)
    net.weights[0][:] = [[1e4, -1e4]]
    net.biases[0][:] = 0
    loss, grads = net.loss_and_gradients(np.array([[1.0]]), np.array([1]))
    assert_allclose(loss, 2e4, rtol=1e-6)
    for dW, db in grads:
        assert np.all(np.isfinite(dW)) and np.all(np.isfinite(db))
    assert_allclose(grads[0][1], [1.0, -1.0])  # p - onehot = (1, 0) - (0, 1)


@pytest.mark.parametrize("output, loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_loss_finite_for_huge_logits(output, loss, dtype):
    net = MLP([1, 3], output=output, loss=loss, dtype=dtype)
    net.weights[0][:] = [[1e4, -1e4, 0.0]]
    net.biases[0][:] = 0
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is fine
        value, grads = net.loss_and_gradients(np.array([[1.0], [-1.0]]), np.array([1, 2]))
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(g)) for pair in grads for g in pair)


def test_softmax_and_sigmoid_helpers():
    z = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    p = softmax(z)
    assert_allclose(p.sum(axis=1), 1.0)
    assert_allclose(p[0], [1.0, 0.0, 0.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        s = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    assert_allclose(s, [0.0, 0.5, 1.0])
    assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


# ----------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: SGD(lr=0.1),
        lambda: SGD(lr=0.05, momentum=0.9),
        lambda: SGD(lr=0.05, momentum=0.9, nesterov=True),
        lambda: Adam(lr=1e-3),
    ],
    ids=["sgd", "momentum", "nesterov", "adam"],
)
def test_training_reduces_loss_on_mnist_slice(make_optimizer):
    X, y = mnist_slice(300)
    net = MLP([784, 32, 10], seed=0)
    before = net.evaluate(X, y)["loss"]
    history = net.fit(X, y, epochs=4, batch_size=32, optimizer=make_optimizer(), validation_data=(X[:100], y[:100]))
    after = net.evaluate(X, y)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 4 for values in history.history.values())
    assert history.epoch == [0, 1, 2, 3]
    assert net.history is history
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after["loss"] < 0.5 * before
    assert after["accuracy"] > 0.8


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("output, loss", OUTPUT_LOSS_PAIRS)
def test_training_separates_blobs(activation, output, loss):
    X, y = blobs()
    net = MLP([2, 8, 2], activation=activation, output=output, loss=loss, seed=1)
    history = net.fit(X, y, epochs=20, batch_size=16, optimizer=SGD(lr=0.5, momentum=0.5))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert net.evaluate(X, y)["accuracy"] >= 0.97
    assert set(history.history) == {"loss", "accuracy"}


def test_fit_replays_by_hand_with_the_shared_shuffle():
    # Initialise, then one permutation per epoch, all from one generator seeded with `seed`;
    # batches are consecutive slices of it, the last one smaller.
    X, y = blobs(n=50, seed=3)
    net = MLP([2, 5, 2], seed=7, dtype=np.float64)
    history = net.fit(X, y, epochs=2, batch_size=16, optimizer=SGD(lr=0.2))

    rng = np.random.default_rng(7)
    weights, biases = initial_parameters([2, 5, 2], resolve_init("auto", ACTIVATION_FUNCTIONS["relu"].auto_init), rng)
    hand = MLP([2, 5, 2], seed=0, dtype=np.float64)
    hand.weights, hand.biases = weights, biases
    for epoch in range(2):
        order = rng.permutation(50)
        summed, correct = 0.0, 0
        batches = [order[i : i + 16] for i in range(0, 50, 16)]
        assert [len(b) for b in batches] == [16, 16, 16, 2]
        for batch in batches:
            loss, grads = hand.loss_and_gradients(X[batch], y[batch])
            summed += loss * len(batch)
            correct += np.sum(hand.predict(X[batch]) == y[batch])
            for (W, b), (dW, db) in zip(zip(hand.weights, hand.biases), grads):
                W -= 0.2 * dW
                b -= 0.2 * db
        assert_allclose(history.history["loss"][epoch], summed / 50, rtol=1e-12)
        assert history.history["accuracy"][epoch] == correct / 50
    for W, Wh in zip(net.weights + net.biases, hand.weights + hand.biases):
        assert_allclose(W, Wh, rtol=1e-12, atol=1e-15)


def test_shuffle_false_uses_rows_in_order():
    X, y = blobs(n=20, seed=4)
    a = MLP([2, 3, 2], seed=0, dtype=np.float64)
    b = a.copy()
    a.fit(X, y, epochs=1, batch_size=6, shuffle=False)
    for start in range(0, 20, 6):
        _, grads = b.loss_and_gradients(X[start : start + 6], y[start : start + 6])
        for (W, bias), (dW, db) in zip(zip(b.weights, b.biases), grads):
            W -= 0.1 * dW  # the default optimizer is SGD(lr=0.1)
            bias -= 0.1 * db
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        assert_allclose(p, q, rtol=1e-12, atol=1e-15)


class StopAfter(Callback):
    def __init__(self, epoch):
        self.stop_epoch = epoch
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))
        if epoch == self.stop_epoch:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_callback_stops_training_and_sees_hooks_in_order():
    X, y = blobs(n=40)
    net = MLP([2, 4, 2], seed=0)
    cb = StopAfter(1)
    history = net.fit(X, y, epochs=10, callbacks=[cb], validation_data=(X, y))
    assert cb.model is net
    assert isinstance(history, History)
    assert history.epoch == [0, 1]
    assert len(history.history["loss"]) == 2
    keys = ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert cb.calls == [
        "train_begin",
        ("epoch_begin", 0),
        ("epoch_end", 0, keys),
        ("epoch_begin", 1),
        ("epoch_end", 1, keys),
        "train_end",
    ]
    # stop_training is reset at the start of every fit
    assert len(net.fit(X, y, epochs=2).epoch) == 2


def test_fit_continues_from_current_parameters():
    X, y = blobs(n=64)
    net = MLP([2, 4, 2], seed=2, dtype=np.float64)
    net.fit(X, y, epochs=1)
    after_first = [W.copy() for W in net.weights]
    first = net.evaluate(X, y)["loss"]
    net.fit(X, y, epochs=1)
    assert net.evaluate(X, y)["loss"] < first
    assert not np.array_equal(net.weights[0], after_first[0])
    # Two fits of one epoch equal one fit of two (plain SGD has no state; the generator goes on).
    once = MLP([2, 4, 2], seed=2, dtype=np.float64)
    once.fit(X, y, epochs=2)
    for p, q in zip(net.weights + net.biases, once.weights + once.biases):
        assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_fit_starts_from_weights_written_by_the_user():
    X, y = blobs(n=32)
    net = MLP([2, 2], seed=0, dtype=np.float64)
    net.weights[0][:] = 0
    net.fit(X, y, epochs=1, batch_size=32, shuffle=False, optimizer=SGD(lr=1.0))
    # One full-batch step of lr 1 from zero parameters lands on minus the gradient at zero.
    zero = MLP([2, 2], dtype=np.float64)
    zero.weights[0][:] = 0
    _, grads = zero.loss_and_gradients(X, y)
    assert_allclose(net.weights[0], -grads[0][0], rtol=1e-12)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: SGD(lr=0.1, momentum=0.9),
        lambda: SGD(lr=0.1, momentum=0.9, nesterov=True),
        lambda: Adam(lr=0.01),
    ],
    ids=["momentum", "nesterov", "adam"],
)
def test_optimizer_state_kept_for_the_same_object(make_optimizer):
    X, y = blobs(n=48)
    split = MLP([2, 4, 2], seed=3, dtype=np.float64)
    together = split.copy()
    fresh = split.copy()
    opt = make_optimizer()
    split.fit(X, y, epochs=1, optimizer=opt)
    split.fit(X, y, epochs=1, optimizer=opt)
    together.fit(X, y, epochs=2, optimizer=make_optimizer())
    fresh.fit(X, y, epochs=1, optimizer=make_optimizer())
    fresh.fit(X, y, epochs=1, optimizer=make_optimizer())
    for p, q in zip(split.weights + split.biases, together.weights + together.biases):
        assert_allclose(p, q, rtol=1e-12, atol=1e-15)
    assert not np.allclose(fresh.weights[0], together.weights[0], rtol=1e-9, atol=0)


# ----------------------------------------------------------------------------------------------
# optimizer maths: steps by hand from loss_and_gradients
# ----------------------------------------------------------------------------------------------


def _tiny_problem():
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=6)
    net = MLP([3, 4, 2], activation="tanh", seed=4, dtype=np.float64)
    for b in net.biases:
        b[:] = rng.normal(0.0, 0.1, size=b.shape)
    return net, X, y


def _flat_params(net):
    return [p.copy() for W, b in zip(net.weights, net.biases) for p in (W, b)]


def _hand_steps(net, X, y, batches, step):
    """Run `step(params, grads, state)` by hand over `batches`; return the final parameters."""
    hand = net.copy()
    state = {}
    for batch in batches:
        _, grads = hand.loss_and_gradients(X[batch], y[batch])
        params = [p for W, b in zip(hand.weights, hand.biases) for p in (W, b)]
        step(params, [g for pair in grads for g in pair], state)
    return _flat_params(hand)


@pytest.mark.parametrize(
    "momentum, nesterov, wd",
    [
        (0.0, False, 0.0),
        (0.0, False, 0.01),
        (0.9, False, 0.0),
        (0.9, False, 0.01),
        (0.9, True, 0.0),
        (0.8, True, 0.05),
    ],
)
def test_sgd_steps_by_hand(momentum, nesterov, wd):
    net, X, y = _tiny_problem()
    lr = 0.3

    def step(params, grads, state):
        vs = state.setdefault("v", [np.zeros_like(p) for p in params])
        for p, g, v in zip(params, grads, vs):
            g = g + wd * p
            v[:] = momentum * v - lr * g
            p += (momentum * v - lr * g) if nesterov else v

    batches = [np.arange(0, 3), np.arange(3, 6)]
    expected = _hand_steps(net, X, y, batches, step)
    net.fit(
        X,
        y,
        epochs=1,
        batch_size=3,
        shuffle=False,
        optimizer=SGD(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd),
    )
    for p, e in zip(_flat_params(net), expected):
        assert_allclose(p, e, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adam_steps_by_hand(wd):
    net, X, y = _tiny_problem()
    lr, b1, b2, eps = 0.01, 0.8, 0.9, 1e-7

    def step(params, grads, state):
        state["t"] = state.get("t", 0) + 1
        t = state["t"]
        ms = state.setdefault("m", [np.zeros_like(p) for p in params])
        vs = state.setdefault("v", [np.zeros_like(p) for p in params])
        for p, g, m, v in zip(params, grads, ms, vs):
            g = g + wd * p
            m[:] = b1 * m + (1 - b1) * g
            v[:] = b2 * v + (1 - b2) * g**2
            p -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)

    batches = [np.arange(0, 3), np.arange(3, 6)] * 2
    expected = _hand_steps(net, X, y, batches, step)
    net.fit(
        X, y, epochs=2, batch_size=3, shuffle=False, optimizer=Adam(lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd)
    )
    for p, e in zip(_flat_params(net), expected):
        assert_allclose(p, e, rtol=1e-12, atol=1e-15)


def test_first_adam_step_moves_every_parameter_by_about_lr():
    # With bias correction, the first step is lr * g / (|g| + eps): a sign step.
    net, X, y = _tiny_problem()
    before = _flat_params(net)
    _, grads = net.loss_and_gradients(X, y)
    net.fit(X, y, epochs=1, batch_size=6, optimizer=Adam(lr=0.01, eps=1e-12))
    for p, p0, g in zip(_flat_params(net), before, [g for pair in grads for g in pair]):
        assert_allclose(p - p0, -0.01 * np.sign(g), rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# inference, copies and inputs
# ----------------------------------------------------------------------------------------------


def test_predict_forward_evaluate_shapes_and_dtypes():
    X, y = blobs(n=10)
    net = MLP([2, 5, 3, 2], seed=0)
    acts = net.forward(X)
    assert [a.shape for a in acts] == [(10, 2), (10, 5), (10, 3), (10, 2)]
    assert all(a.dtype == np.float32 for a in acts)
    proba = net.predict_proba(X)
    assert proba.dtype == np.float32 and proba.shape == (10, 2)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    labels = net.predict(X)
    assert labels.dtype == np.int64 and labels.shape == (10,)
    assert_array_equal(labels, proba.argmax(axis=1))
    scores = net.evaluate(X, y)
    assert set(scores) == {"loss", "accuracy"}
    assert isinstance(scores["loss"], float) and isinstance(scores["accuracy"], float)
    assert scores["accuracy"] == np.mean(labels == y)
    assert net.n_classes == 2 and net.sizes == [2, 5, 3, 2] and net.dtype == np.float32


def test_any_input_layout_and_dtype():
    X, y = blobs(n=12)
    net = MLP([2, 3, 2], seed=0, dtype=np.float64)
    expected = net.predict_proba(X)
    assert_allclose(net.predict_proba(np.asfortranarray(X)), expected)
    assert_allclose(net.predict_proba(np.repeat(X, 2, axis=1)[:, ::2]), expected)
    assert_allclose(net.predict_proba(X.tolist()), expected)
    Xi = (X * 10).astype(np.int8)
    assert_allclose(net.predict_proba(Xi), net.predict_proba(Xi.astype(np.float64)))
    assert net.evaluate(X, y.astype(np.int32)) == net.evaluate(X, y)


def test_copy_is_independent_and_trains_identically():
    X, y = blobs(n=40)
    net = MLP([2, 4, 2], seed=5, dtype=np.float64)
    opt = SGD(lr=0.1, momentum=0.9)
    net.fit(X, y, epochs=1, optimizer=opt)
    twin = net.copy()
    twin.weights[0][0, 0] += 1.0
    assert net.weights[0][0, 0] != twin.weights[0][0, 0]
    twin.weights[0][0, 0] -= 1.0
    net.fit(X, y, epochs=1, optimizer=opt)
    twin.fit(X, y, epochs=1, optimizer=opt)
    for p, q in zip(net.weights + net.biases, twin.weights + twin.biases):
        assert_array_equal(p, q)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"sizes": [3]}, ValueError),
        ({"sizes": [3, 0]}, ValueError),
        ({"sizes": [3, 2.5]}, ValueError),
        ({"sizes": 3}, TypeError),
        ({"activation": "softplus"}, ValueError),
        ({"output": "softmax", "loss": "hinge"}, ValueError),
        ({"output": "linear"}, ValueError),
        ({"init": "orthogonal"}, ValueError),
        ({"dtype": np.int32}, ValueError),
    ],
)
def test_bad_constructor_arguments(kwargs, error):
    args = {"sizes": [3, 2], **kwargs}
    with pytest.raises(error):
        MLP(**args)


def test_bad_inputs_raise_with_the_argument_named():
    net = MLP([3, 2], seed=0)
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="X"):
        net.predict(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="X"):
        net.predict(np.zeros(3))
    with pytest.raises(TypeError, match="X"):
        net.predict(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="y"):
        net.evaluate(X, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="y"):
        net.evaluate(X, np.array([0, 1]))
    with pytest.raises(TypeError, match="y"):
        net.evaluate(X, np.array([0.5, 1, 0, 1]))
    with pytest.raises(ValueError, match="batch_size"):
        net.fit(X, y, batch_size=0)
    with pytest.raises(TypeError, match="epochs"):
        net.fit(X, y, epochs=1.5)
    with pytest.raises(TypeError, match="optimizer"):
        net.fit(X, y, optimizer="sgd")
    with pytest.raises(ValueError, match="validation_data"):
        net.fit(X, y, validation_data=X)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_reference_refuses_non_finite_inputs_as_the_compiled_model_does(bad):
    net = MLP([3, 4, 2], seed=0, dtype=np.float64)
    X = np.zeros((5, 3))
    X[2, 1] = bad
    y = np.zeros(5, int)
    for call in (lambda: net.fit(X, y), lambda: net.predict(X), lambda: net.evaluate(X, y)):
        with pytest.raises(ValueError, match="non-finite"):
            call()
