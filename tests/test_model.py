"""fastmlp.MLP against its NumPy twin fastmlp.reference.MLP in float64, and its public contract:
live parameters, copy, save/load, input layouts, input validation, divergence, determinism."""

import io
import os
import re
import subprocess
import sys
import zlib

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp
from fastmlp import SGD, Adam, reference
from plans import force_plan

# These tests feed raw, unscaled or unlearnable data on purpose; fit's advice about it is expected.
pytestmark = pytest.mark.filterwarnings("ignore:fit. :UserWarning")

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
HEADS = (("softmax", "cross_entropy"), ("sigmoid", "mse"), ("sigmoid", "cross_entropy"), ("softmax", "mse"))


# ---- helpers ----------------------------------------------------------------------------------


def rng_for(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make_data(n, n_features, n_classes, seed=0, dtype=np.float32):
    """Gaussian inputs with labels that depend on them, so training has something to learn."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    w = rng.normal(size=(n_features, n_classes))
    y = np.argmax(X @ w + 0.5 * rng.normal(size=(n, n_classes)), axis=1)
    return X.astype(dtype), y.astype(np.int64)


def twins(sizes, seed=0, **kwargs):
    """The compiled model and its float64 reference, starting from exactly the same parameters."""
    net = fastmlp.MLP(sizes, seed=seed, **kwargs)
    ref = reference.MLP(sizes, seed=seed, dtype=np.float64, **kwargs)
    sync(ref, net)
    return net, ref


def sync(ref, net):
    """Copy the compiled model's float32 parameters into the reference (its random state untouched)."""
    for target, source in zip(ref.weights + ref.biases, net.weights + net.biases):
        target[...] = source


def rel_error(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(np.max(np.abs(expected)), 1e-12)
    return np.max(np.abs(actual - expected)) / scale


def params_of(net):
    return [p.copy() for p in list(net.weights) + list(net.biases)]


def assert_same_params(a, b):
    for pa, pb in zip(params_of(a), params_of(b)):
        assert_array_equal(pa, pb)


def names(message_name):
    """pytest.raises for a ValueError or TypeError whose message names the argument."""
    return pytest.raises((ValueError, TypeError), match=r"(?<![\w\[])" + re.escape(message_name) + r"(?![\w\[])")


# ---- initialisation ---------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["auto", "he", "glorot", "xavier", "lecun", ("normal", 0.3), ("uniform", -0.2, 0.5)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [[1, 2], [5, 130, 3], [17, 33, 5, 2]])
def test_same_initial_weights_as_reference(sizes, activation, init):
    net = fastmlp.MLP(sizes, activation=activation, init=init, seed=11)
    ref = reference.MLP(sizes, activation=activation, init=init, seed=11, dtype=np.float64)
    assert len(net.weights) == len(sizes) - 1 == len(net.biases)
    for layer, (W, b, rW, rb) in enumerate(zip(net.weights, net.biases, ref.weights, ref.biases)):
        assert W.dtype == np.float32 and W.flags.c_contiguous
        assert W.shape == (sizes[layer], sizes[layer + 1])
        assert b.dtype == np.float32 and b.shape == (sizes[layer + 1],)
        assert_array_equal(W, rW.astype(np.float32))
        assert_array_equal(b, np.zeros(sizes[layer + 1], np.float32))


def test_different_seeds_differ_and_same_seed_repeats():
    a, b, c = (fastmlp.MLP([5, 7, 3], seed=s) for s in (1, 1, 2))
    assert_same_params(a, b)
    assert not np.array_equal(a.weights[0], c.weights[0])


# ---- loss and gradients -----------------------------------------------------------------------

GRADIENT_SHAPES = [([3, 5, 2], 1), ([1, 130, 3], 3), ([17, 33, 5], 17), ([5, 7, 6, 4], 33), ([4, 3], 5)]


@pytest.mark.parametrize("output, loss", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes, n", GRADIENT_SHAPES)
def test_loss_and_gradients_match_reference(sizes, n, activation, output, loss):
    rng = rng_for("grad", tuple(sizes), n, activation, output, loss)
    net, ref = twins(sizes, seed=3, activation=activation, output=output, loss=loss)
    for b in net.biases:  # non-zero biases, so every path is exercised
        b[...] = rng.normal(0.0, 0.1, size=b.shape)
    sync(ref, net)
    X = rng.normal(size=(n, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=n)
    before = params_of(net)

    loss_c, grads_c = net.loss_and_gradients(X, y)
    loss_r, grads_r = ref.loss_and_gradients(X, y)

    assert isinstance(loss_c, float)
    assert abs(loss_c - loss_r) <= 1e-4 * max(abs(loss_r), 1e-12)
    assert len(grads_c) == len(sizes) - 1
    for layer, ((dW, db), (rW, rb)) in enumerate(zip(grads_c, grads_r)):
        assert dW.dtype == np.float32 and dW.shape == net.weights[layer].shape
        assert db.dtype == np.float32 and db.shape == net.biases[layer].shape
        assert rel_error(dW, rW) < 1e-4, f"dW{layer + 1}"
        assert rel_error(db, rb) < 1e-4, f"db{layer + 1}"
    for p, q in zip(before, params_of(net)):  # the model itself is untouched
        assert_array_equal(p, q)


def test_loss_and_gradients_returns_copies():
    X, y = make_data(9, 4, 3)
    net = fastmlp.MLP([4, 6, 3], seed=0)
    _, first = net.loss_and_gradients(X, y)
    saved = first[0][0].copy()
    net.loss_and_gradients(X[:3] * 5, y[:3])
    assert_array_equal(first[0][0], saved)


# ---- inference --------------------------------------------------------------------------------


@pytest.mark.parametrize("output, loss", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n", [1, 17, 1100])  # 1100 rows go through several blocks
def test_inference_matches_reference(n, activation, output, loss):
    rng = rng_for("inference", n, activation, output, loss)
    net, ref = twins([6, 33, 5], seed=4, activation=activation, output=output, loss=loss)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = rng.integers(0, 5, size=n)

    proba = net.predict_proba(X)
    assert proba.dtype == np.float32 and proba.shape == (n, 5)
    assert_allclose(proba, ref.predict_proba(X), rtol=1e-4, atol=1e-6)
    labels = net.predict(X)
    assert labels.dtype == np.int64 and labels.shape == (n,)
    assert_array_equal(labels, np.argmax(proba, axis=1))
    assert_array_equal(labels, ref.predict(X))

    scores, expected = net.evaluate(X, y), ref.evaluate(X, y)
    assert set(scores) == {"loss", "accuracy"}
    assert isinstance(scores["loss"], float) and isinstance(scores["accuracy"], float)
    assert abs(scores["loss"] - expected["loss"]) <= 1e-4 * abs(expected["loss"])
    assert scores["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-12)
    # evaluate's loss is the mean of loss_and_gradients' over the same rows.
    assert scores["loss"] == pytest.approx(net.loss_and_gradients(X, y)[0], rel=1e-5)


def test_one_row_at_a_time_matches_batch():
    X, _ = make_data(17, 130, 5)
    net = fastmlp.MLP([130, 33, 5], activation="tanh", seed=0)
    batched = net.predict_proba(X)
    rows = np.vstack([net.predict_proba(X[i : i + 1]) for i in range(len(X))])
    assert_allclose(rows, batched, rtol=1e-5, atol=1e-6)


# ---- training, step by step against the reference ---------------------------------------------

OPTIMIZERS = {
    "sgd": lambda: SGD(lr=0.1),
    "momentum": lambda: SGD(lr=0.1, momentum=0.9),
    "nesterov": lambda: SGD(lr=0.1, momentum=0.9, nesterov=True),
    "weight_decay": lambda: SGD(lr=0.1, weight_decay=0.01),
    "momentum_weight_decay": lambda: SGD(lr=0.05, momentum=0.8, weight_decay=0.05),
    "nesterov_weight_decay": lambda: SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05),
    "adam": lambda: Adam(lr=0.01),
    "adam_weight_decay": lambda: Adam(lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.05),
}
# (batch_size, rows, epochs): 20 steps each; 7 on 33 rows leaves a short last batch.
SCHEDULES = {"batch1": (1, 20, 1), "batch7": (7, 35, 4), "batch7_ragged": (7, 33, 4), "full": (None, 35, 20)}


def train_twins(sizes, optimizer, schedule, shuffle, seed=5, **kwargs):
    batch_size, n, epochs = SCHEDULES[schedule]
    X, y = make_data(n, sizes[0], sizes[-1], seed=1)
    batch_size = n if batch_size is None else batch_size
    net, ref = twins(sizes, seed=seed, **kwargs)
    h_c = net.fit(
        X, y, epochs=epochs, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer](), shuffle=shuffle, verbose=0
    )
    h_r = ref.fit(
        X, y, epochs=epochs, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer](), shuffle=shuffle, verbose=0
    )
    return net, ref, h_c, h_r


def assert_twins_close(net, ref, h_c, h_r):
    for layer in range(len(net.weights)):
        assert_allclose(net.weights[layer], ref.weights[layer], rtol=1e-3, atol=1e-4, err_msg=f"W{layer + 1}")
        assert_allclose(net.biases[layer], ref.biases[layer], rtol=1e-3, atol=1e-4, err_msg=f"b{layer + 1}")
    assert_allclose(h_c.history["loss"], h_r.history["loss"], rtol=1e-3, atol=1e-6)
    assert_allclose(h_c.history["accuracy"], h_r.history["accuracy"], atol=1e-12)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_training_follows_reference(optimizer, schedule, shuffle):
    net, ref, h_c, h_r = train_twins([6, 9, 4], optimizer, schedule, shuffle, activation="tanh")
    assert_twins_close(net, ref, h_c, h_r)


@pytest.mark.parametrize("output, loss", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_training_follows_reference_every_network_kind(optimizer, activation, output, loss):
    net, ref, h_c, h_r = train_twins(
        [5, 8, 7, 3], optimizer, "batch7_ragged", True, activation=activation, output=output, loss=loss
    )
    assert_twins_close(net, ref, h_c, h_r)


def test_training_from_written_weights_follows_reference():
    X, y = make_data(21, 4, 3, seed=2)
    net, ref = twins([4, 5, 3], seed=0)
    rng = np.random.default_rng(9)
    net.weights[0][...] = rng.normal(size=(4, 5))
    net.biases[1][...] = rng.normal(size=3)
    sync(ref, net)
    opt_c, opt_r = SGD(lr=0.1, momentum=0.5), SGD(lr=0.1, momentum=0.5)
    for _ in range(2):  # a second fit continues from where the first stopped
        h_c = net.fit(X, y, epochs=2, batch_size=4, optimizer=opt_c, verbose=0)
        h_r = ref.fit(X, y, epochs=2, batch_size=4, optimizer=opt_r, verbose=0)
        assert_twins_close(net, ref, h_c, h_r)
    # A new optimizer object starts from fresh state in both models.
    h_c = net.fit(X, y, epochs=2, batch_size=4, optimizer=Adam(lr=0.01), verbose=0)
    h_r = ref.fit(X, y, epochs=2, batch_size=4, optimizer=Adam(lr=0.01), verbose=0)
    assert_twins_close(net, ref, h_c, h_r)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_fit_twice_equals_fit_once_with_two_epochs(optimizer, shuffle):
    X, y = make_data(40, 6, 3, seed=3)
    once, twice = fastmlp.MLP([6, 10, 3], seed=8), fastmlp.MLP([6, 10, 3], seed=8)
    h_once = once.fit(X, y, epochs=2, batch_size=7, optimizer=OPTIMIZERS[optimizer](), shuffle=shuffle, verbose=0)
    opt = OPTIMIZERS[optimizer]()
    h1 = twice.fit(X, y, epochs=1, batch_size=7, optimizer=opt, shuffle=shuffle, verbose=0)
    h2 = twice.fit(X, y, epochs=1, batch_size=7, optimizer=opt, shuffle=shuffle, verbose=0)
    assert_same_params(once, twice)
    # Metrics are summed per chunk of batches, so only their last bits may depend on the chunking.
    assert_allclose(h_once.history["loss"], h1.history["loss"] + h2.history["loss"], rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["nesterov", "adam", "momentum_weight_decay"])
def test_inference_between_fits_does_not_disturb_training(optimizer):
    # loss_and_gradients, predict and evaluate share buffers with training; calling them between
    # two fits with the same optimizer must not change where the second fit goes.
    X, y = make_data(40, 6, 3, seed=3)
    once, twice = fastmlp.MLP([6, 10, 3], seed=8), fastmlp.MLP([6, 10, 3], seed=8)
    once.fit(X, y, epochs=2, batch_size=7, optimizer=OPTIMIZERS[optimizer](), verbose=0)
    opt = OPTIMIZERS[optimizer]()
    twice.fit(X, y, epochs=1, batch_size=7, optimizer=opt, verbose=0)
    twice.loss_and_gradients(X[:5] * 3, y[:5])
    twice.predict_proba(X)
    twice.evaluate(X, y)
    twice.copy().fit(X, y, epochs=1, batch_size=3, optimizer=opt, verbose=0)
    twice.fit(X, y, epochs=1, batch_size=7, optimizer=opt, verbose=0)
    assert_same_params(once, twice)


def test_training_is_independent_of_chunking(monkeypatch):
    # fit hands the compiled loop chunks of minibatches sized by wall time; one batch per chunk
    # must give bit for bit what the default chunks give.
    import fastmlp.model as model_module

    X, y = make_data(300, 8, 4, seed=4)
    for optimizer in ("momentum", "adam"):
        default = fastmlp.MLP([8, 16, 4], seed=1)
        h_default = default.fit(X, y, epochs=2, batch_size=5, optimizer=OPTIMIZERS[optimizer](), verbose=0)
        with monkeypatch.context() as patch:
            patch.setattr(model_module, "_CHUNK_SECONDS", 1e-9)
            chunked = fastmlp.MLP([8, 16, 4], seed=1)
            h_chunked = chunked.fit(X, y, epochs=2, batch_size=5, optimizer=OPTIMIZERS[optimizer](), verbose=0)
        assert_same_params(default, chunked)
        for key in ("loss", "accuracy"):
            assert_allclose(h_default.history[key], h_chunked.history[key], rtol=1e-12)


def test_training_reduces_loss():
    X, y = make_data(200, 5, 3, seed=6)
    net = fastmlp.MLP([5, 16, 3], seed=0)
    start = net.evaluate(X, y)["loss"]
    history = net.fit(X, y, epochs=20, batch_size=16, optimizer=SGD(lr=0.1, momentum=0.9), verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert net.evaluate(X, y)["loss"] < 0.5 * start
    assert net.evaluate(X, y)["accuracy"] > 0.85


# ---- History ----------------------------------------------------------------------------------


def test_history_keys_and_lengths():
    X, y = make_data(50, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    history = net.fit(X, y, epochs=3, batch_size=8, verbose=0)
    assert isinstance(history, fastmlp.callbacks.History)
    assert net.history is history
    assert set(history.history) == {"loss", "accuracy"}
    assert all(len(v) == 3 for v in history.history.values())
    assert all(0.0 <= a <= 1.0 for a in history.history["accuracy"])

    history = net.fit(X, y, epochs=2, batch_size=8, validation_data=(X[:10], y[:10]), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.history.values())
    assert history.history["val_loss"][-1] == pytest.approx(net.evaluate(X[:10], y[:10])["loss"])

    history = net.fit(X, y, epochs=2, batch_size=8, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}

    history = net.fit(X, y, epochs=0, verbose=0)
    assert all(len(v) == 0 for v in history.history.values())


def test_verbose_modes_train_the_same(capsys):
    X, y = make_data(30, 4, 3)
    nets = [fastmlp.MLP([4, 5, 3], seed=0) for _ in range(3)]
    for verbose, net in enumerate(nets):
        net.fit(X, y, epochs=2, batch_size=8, verbose=verbose)
    assert_same_params(nets[0], nets[1])
    assert_same_params(nets[0], nets[2])
    capsys.readouterr()


def test_verbose_output(capsys):
    X, y = make_data(30, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    net.fit(X, y, epochs=2, verbose=0)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    net.fit(X, y, epochs=2, verbose=2)
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "loss:" in lines[0] and "accuracy:" in lines[0]
    net.fit(X, y, epochs=2, verbose=1)  # output is not a terminal here: a line per epoch, no bar
    out1, err = capsys.readouterr()
    assert err == "" and [line.split(" - ")[0] for line in out1.splitlines()] == ["Epoch 1/2", "Epoch 2/2"]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_1_on_a_terminal_shows_a_bar_with_the_validation_metrics(monkeypatch, capsys):
    X, y = make_data(30, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    net.fit(X, y, epochs=2, verbose=1, validation_data=(X[:10], y[:10]))
    bar = terminal.getvalue()
    assert "Epoch 1/2" in bar and "Epoch 2/2" in bar
    for metric in ("loss=", "accuracy=", "val_loss=", "val_accuracy="):
        assert metric in bar
    assert capsys.readouterr().out == ""


# ---- live parameters --------------------------------------------------------------------------


def test_writing_into_weights_changes_the_model():
    X, _ = make_data(10, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    before = net.predict_proba(X)
    for W in net.weights:
        W[...] = 0.0
    proba = net.predict_proba(X)
    assert not np.allclose(proba, before)
    assert_allclose(proba, np.full((10, 3), 1 / 3), rtol=1e-6)  # all zero: uniform softmax
    net.biases[-1][...] = [0.0, 0.0, 5.0]
    assert_array_equal(net.predict(X), np.full(10, 2))


def test_fit_updates_the_same_arrays():
    X, y = make_data(20, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    W, b = net.weights[0], net.biases[0]
    before = W.copy()
    net.fit(X, y, epochs=1, batch_size=4, verbose=0)
    assert not np.array_equal(W, before)  # the views saw the update
    assert np.shares_memory(W, net.weights[0]) and np.shares_memory(b, net.biases[0])


def test_assigning_weights_copies_into_the_model():
    X, _ = make_data(10, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    before = net.predict_proba(X)
    view = net.weights[0]
    new = np.random.default_rng(1).normal(size=(4, 5))  # float64: converted on the way in
    net.weights[0] = new
    assert_array_equal(net.weights[0], new.astype(np.float32))
    assert np.shares_memory(view, net.weights[0])  # still the same live array
    assert net.weights[0].dtype == np.float32
    assert not np.allclose(net.predict_proba(X), before)
    after = net.predict_proba(X)
    new[...] = 0.0  # the model holds a copy
    assert_array_equal(net.predict_proba(X), after)

    net.biases[1] = [1.0, 2.0, 3.0]
    assert_array_equal(net.biases[1], [1.0, 2.0, 3.0])

    other = fastmlp.MLP([4, 5, 3], seed=7)
    net.weights = other.weights
    net.biases = other.biases
    assert_array_equal(net.predict_proba(X), other.predict_proba(X))


@pytest.mark.parametrize("value", [np.zeros((5, 4)), np.zeros((4, 6)), np.zeros(20), np.zeros((4, 5, 1))])
def test_assigning_wrong_shape_raises(value):
    net = fastmlp.MLP([4, 5, 3], seed=0)
    before = net.weights[0].copy()
    with pytest.raises(ValueError, match=r"weights\[0\]"):
        net.weights[0] = value
    assert_array_equal(net.weights[0], before)


def test_assigning_bad_parameters_raises():
    net = fastmlp.MLP([4, 5, 3], seed=0)
    with pytest.raises(ValueError, match=r"biases\[1\]"):
        net.biases[1] = np.zeros(4)
    with pytest.raises(ValueError, match="weights"):
        net.weights = [np.zeros((4, 5))]  # one array for two layers
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        net.weights[1] = np.full((5, 3), np.nan)


def test_assigning_values_beyond_float32_raises():
    # 1e39 is a finite float64 but becomes inf in the float32 model: it must be refused as
    # non-finite, as check_X refuses it in X, rather than silently planting inf in the weights.
    net = fastmlp.MLP([4, 5, 3], seed=0)
    before = net.weights[0].copy()
    with np.errstate(over="ignore"):
        with pytest.raises(ValueError, match=r"weights\[0\]"):
            net.weights[0] = np.full((4, 5), 1e39)
    assert np.all(np.isfinite(net.weights[0]))
    assert_array_equal(net.weights[0], before)


# ---- copy -------------------------------------------------------------------------------------


def test_copy_is_independent():
    X, y = make_data(30, 4, 3)
    net = fastmlp.MLP([4, 5, 3], activation="tanh", seed=0)
    net.fit(X, y, epochs=1, batch_size=5, verbose=0)
    twin = net.copy()
    assert type(twin) is type(net)
    assert (twin.sizes, twin.activation, twin.output, twin.loss) == (net.sizes, net.activation, net.output, net.loss)
    assert_same_params(net, twin)
    assert_array_equal(twin.predict_proba(X), net.predict_proba(X))
    for mine, theirs in zip(params_of(net), list(twin.weights) + list(twin.biases)):
        assert not np.shares_memory(mine, theirs)

    saved = params_of(net)
    twin.fit(X, y, epochs=2, batch_size=5, verbose=0)
    twin.weights[0][...] = 0.0
    for p, q in zip(saved, params_of(net)):
        assert_array_equal(p, q)
    net.biases[0][...] = 3.0
    assert not np.any(twin.biases[0] == 3.0)


def test_copy_trains_like_the_original():
    X, y = make_data(30, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    net.fit(X, y, epochs=1, batch_size=5, verbose=0)
    twin = net.copy()
    net.fit(X, y, epochs=2, batch_size=5, optimizer=SGD(lr=0.05, momentum=0.9), verbose=0)
    twin.fit(X, y, epochs=2, batch_size=5, optimizer=SGD(lr=0.05, momentum=0.9), verbose=0)
    assert_same_params(net, twin)


def test_parameters_and_optimizer_state_start_on_a_cache_line():
    # csrc/'s AVX-512 loads straddle two lines where a layer's rows do not start on one
    X, y = make_data(30, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    net.fit(X, y, epochs=1, batch_size=5, optimizer=Adam(lr=0.01), verbose=0)
    twin = net.copy()
    for model in (net, twin):
        for buffer in (model._params, model._grads) + model._opt_state:
            assert buffer.ctypes.data % 64 == 0
            assert buffer.flags.c_contiguous and buffer.dtype == np.float32
    assert len(net._opt_state) == 2
    assert_same_params(net, twin)


# ---- save and load ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(activation="sigmoid", output="sigmoid", loss="mse"),
        dict(activation="leaky_relu", init=("uniform", -0.1, 0.1)),
        dict(activation="tanh", output="softmax", loss="mse", init=("normal", 0.2)),
    ],
)
def test_save_load_round_trip(tmp_path, kwargs):
    X, y = make_data(40, 6, 3)
    net = fastmlp.MLP([6, 17, 5, 3], seed=2, **kwargs)
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    path = net.save(tmp_path / "model.npz")
    assert os.path.exists(path)
    loaded = fastmlp.load(path)
    assert isinstance(loaded, fastmlp.MLP)
    assert loaded.sizes == net.sizes
    assert (loaded.activation, loaded.output, loaded.loss) == (net.activation, net.output, net.loss)
    assert_same_params(net, loaded)
    assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    assert loaded.evaluate(X, y) == net.evaluate(X, y)
    with np.load(path, allow_pickle=False) as archive:  # a plain npz, no pickles
        assert len(archive.files) >= 1
    # The loaded model trains on.
    loaded.fit(X, y, epochs=1, verbose=0)


def test_save_appends_npz_and_accepts_str(tmp_path):
    net = fastmlp.MLP([3, 2], seed=0)
    path = net.save(str(tmp_path / "plain"))
    assert str(path).endswith(".npz") and os.path.exists(path)
    assert_same_params(net, fastmlp.load(path))
    assert os.listdir(tmp_path) == ["plain.npz"]  # no temporary files left behind


def test_load_truncated_file_raises(tmp_path):
    net = fastmlp.MLP([6, 17, 3], seed=0)
    path = net.save(tmp_path / "model.npz")
    data = open(path, "rb").read()
    for cut in (0, 10, len(data) // 2, len(data) - 10):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError):
            fastmlp.load(bad)


@pytest.mark.parametrize("content", [b"garbage, not a model at all" * 10, b"\x00" * 1000, b"PK\x03\x04" + b"x" * 100])
def test_load_garbage_raises(tmp_path, content):
    bad = tmp_path / "garbage.npz"
    bad.write_bytes(content)
    with pytest.raises(ValueError):
        fastmlp.load(bad)


def test_load_other_npz_raises(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError):
        fastmlp.load(tmp_path / "other.npz")
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ValueError):
        fastmlp.load(tmp_path / "array.npy")
    net = fastmlp.MLP([3, 4, 2], seed=0)
    np.savez(
        tmp_path / "short.npz",
        params=net._params[:-1],
        metadata=np.array(
            '{"format": "fastmlp", "version": 1, "sizes": [3, 4, 2], "activation": "relu", '
            '"output": "softmax", "loss": "cross_entropy", "init": "auto", "seed": 0}'
        ),
    )
    with pytest.raises(ValueError):
        fastmlp.load(tmp_path / "short.npz")


def test_load_missing_file_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastmlp.load(tmp_path / "missing.npz")
    with pytest.raises(OSError):
        fastmlp.load(str(tmp_path / "nowhere" / "missing.npz"))


# ---- input dtypes and layouts -----------------------------------------------------------------


def layouts(X32):
    """The same values as X32 in other dtypes and memory layouts."""
    n, f = X32.shape
    big = np.zeros((2 * n, 3 * f), dtype=np.float32)
    big[::2, ::3] = X32
    reversed_rows = np.ascontiguousarray(X32[::-1])[::-1]
    readonly = X32.copy()
    readonly.setflags(write=False)
    return {
        "float64": X32.astype(np.float64),
        "fortran": np.asfortranarray(X32),
        "strided": big[::2, ::3],
        "negative_strides": reversed_rows,
        "transposed_view": np.ascontiguousarray(X32.T).T,
        "readonly": readonly,
        "list": X32.tolist(),
    }


@pytest.mark.parametrize(
    "layout", ["float64", "fortran", "strided", "negative_strides", "transposed_view", "readonly", "list"]
)
def test_input_layouts_give_the_same_results(layout):
    X32, y = make_data(37, 5, 3, seed=7)
    X = layouts(X32)[layout]
    net = fastmlp.MLP([5, 8, 3], seed=0)
    assert_array_equal(net.predict_proba(X), net.predict_proba(X32))
    assert_array_equal(net.predict(X), net.predict(X32))
    assert net.evaluate(X, y) == net.evaluate(X32, y)
    loss, grads = net.loss_and_gradients(X, y)
    loss32, grads32 = net.loss_and_gradients(X32, y)
    assert loss == loss32
    for (dW, db), (dW32, db32) in zip(grads, grads32):
        assert_array_equal(dW, dW32)
        assert_array_equal(db, db32)
    a, b = net.copy(), net.copy()
    a.fit(X, y, epochs=2, batch_size=6, verbose=0)
    b.fit(X32, y, epochs=2, batch_size=6, verbose=0)
    assert_same_params(a, b)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.int64, np.float16, np.bool_])
def test_integer_and_other_dtypes(dtype):
    rng = np.random.default_rng(8)
    raw = rng.integers(0, 2 if dtype == np.bool_ else 256, size=(23, 7))
    X = raw.astype(dtype)
    X32 = X.astype(np.float32)
    y = rng.integers(0, 4, size=23)
    net = fastmlp.MLP([7, 9, 4], activation="tanh", seed=1)
    assert_array_equal(net.predict_proba(X), net.predict_proba(X32))
    assert_array_equal(net.predict(X), net.predict(X32))
    a, b = net.copy(), net.copy()
    a.fit(X, y, epochs=1, batch_size=4, optimizer=SGD(lr=1e-4), verbose=0)
    b.fit(X32, y, epochs=1, batch_size=4, optimizer=SGD(lr=1e-4), verbose=0)
    assert_same_params(a, b)


@pytest.mark.parametrize("y_kind", ["int32", "uint8", "float_whole", "column", "list"])
def test_label_forms(y_kind):
    X, y = make_data(20, 4, 3)
    forms = {
        "int32": y.astype(np.int32),
        "uint8": y.astype(np.uint8),
        "float_whole": y.astype(np.float64),
        "column": y.reshape(-1, 1),
        "list": y.tolist(),
    }
    net = fastmlp.MLP([4, 5, 3], seed=0)
    assert net.evaluate(X, forms[y_kind]) == net.evaluate(X, y)
    assert net.loss_and_gradients(X, forms[y_kind])[0] == net.loss_and_gradients(X, y)[0]


# ---- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sizes", [[5], [], [5, 0, 3], [0, 3], [4, -2, 3], [4, 0], [4, 1], [4, 3.5, 3], "784,10", None, 10, [4, True, 3]]
)
def test_bad_sizes(sizes):
    with names("sizes"):
        fastmlp.MLP(sizes)


@pytest.mark.parametrize(
    "argument, value",
    [
        ("activation", "foo"),
        ("activation", "softmax"),
        ("activation", "identity"),
        ("activation", None),
        ("output", "relu"),
        ("output", "tanh"),
        ("output", 3),
        ("loss", "hinge"),
        ("loss", "mae"),
        ("loss", None),
        ("init", "zeros"),
        ("init", ("normal", -1.0)),
        ("init", ("uniform", 1.0, 0.0)),
        ("init", ("normal",)),
        ("init", 3),
        ("init", ("normal", float("nan"))),
        ("seed", -1),
        ("seed", 1.5),
        ("seed", "a"),
    ],
)
def test_bad_constructor_arguments(argument, value):
    with names(argument):
        fastmlp.MLP([4, 5, 3], **{argument: value})


def bad_X_cases(X):
    n, f = X.shape
    nan, inf, big = X.copy(), X.copy(), X.astype(np.float64)
    nan[3, 2] = np.nan
    inf[1, 0] = -np.inf
    big[0, 0] = 1e39
    return {
        "wrong_features": X[:, :-1],
        "too_many_features": np.hstack([X, X[:, :1]]),
        "one_dimensional": X[0],
        "three_dimensional": X.reshape(n, f, 1),
        "scalar": 3.0,
        "nan": nan,
        "inf": inf,
        "overflow_float32": big,
        "empty": np.empty((0, f), np.float32),
        "strings": X.astype(str),
        "complex": X.astype(np.complex64),
        "ragged": [[1.0] * f, [1.0] * (f - 1)],
        "none": None,
    }


BAD_X = sorted(bad_X_cases(np.zeros((5, 4), np.float32)))


@pytest.mark.parametrize("case", BAD_X)
@pytest.mark.parametrize("method", ["fit", "predict", "predict_proba", "evaluate", "loss_and_gradients"])
def test_bad_X(method, case):
    X, y = make_data(12, 4, 3)
    X = bad_X_cases(X)[case]
    net = fastmlp.MLP([4, 5, 3], seed=0)
    before = params_of(net)
    with names("X"):
        if method in ("predict", "predict_proba"):
            getattr(net, method)(X)
        elif method == "fit":
            net.fit(X, y[: len(X)] if case == "empty" else y, verbose=0)
        else:
            getattr(net, method)(X, y[:0] if case == "empty" else y)
    for p, q in zip(before, params_of(net)):
        assert_array_equal(p, q)


def bad_y_cases(y):
    frac, nan = y.astype(np.float64), y.astype(np.float64)
    frac[2] = 0.5
    nan[1] = np.nan
    return {
        "out_of_range": np.where(np.arange(len(y)) == 3, 3, y),
        "far_out_of_range": np.where(np.arange(len(y)) == 3, 10**6, y),
        "negative": np.where(np.arange(len(y)) == 0, -1, y),
        "fractional": frac,
        "nan": nan,
        "too_short": y[:-1],
        "too_long": np.append(y, 0),
        "one_hot": np.eye(3)[y],
        "strings": y.astype(str),
        "empty": y[:0],
        "none": None,
        "scalar": 1,
    }


BAD_Y = sorted(bad_y_cases(np.zeros(5, np.int64)))


@pytest.mark.parametrize("case", BAD_Y)
@pytest.mark.parametrize("method", ["fit", "evaluate", "loss_and_gradients"])
def test_bad_y(method, case):
    X, y = make_data(12, 4, 3)
    y = bad_y_cases(y)[case]
    net = fastmlp.MLP([4, 5, 3], seed=0)
    before = params_of(net)
    with names("y"):
        if method == "fit":
            net.fit(X, y, verbose=0)
        else:
            getattr(net, method)(X, y)
    for p, q in zip(before, params_of(net)):
        assert_array_equal(p, q)


@pytest.mark.parametrize(
    "argument, value",
    [
        ("batch_size", 0),
        ("batch_size", -3),
        ("batch_size", 2.5),
        ("batch_size", None),
        ("batch_size", "32"),
        ("epochs", -1),
        ("epochs", 1.5),
        ("epochs", None),
        ("optimizer", "sgd"),
        ("optimizer", object()),
        ("optimizer", SGD),
        ("shuffle", "yes"),
        ("shuffle", None),
        ("verbose", 5),
        ("verbose", -1),
        ("validation_split", 1.0),
        ("validation_split", -0.1),
        ("validation_split", float("nan")),
        ("validation_split", 0.001),
        ("validation_data", "data"),
        ("callbacks", [object()]),
    ],
)
def test_bad_fit_arguments(argument, value):
    X, y = make_data(12, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    before = params_of(net)
    with names(argument):
        net.fit(X, y, verbose=0, **{argument: value})
    for p, q in zip(before, params_of(net)):
        assert_array_equal(p, q)


@pytest.mark.parametrize(
    "value, name",
    [
        ((np.zeros((3, 4)),), "validation_data"),
        ((np.zeros((3, 5)), np.zeros(3, int)), "validation_data[0]"),
        ((np.zeros((3, 4)), np.array([0, 1, 3])), "validation_data[1]"),
        ((np.zeros((3, 4)), np.zeros(2, int)), "validation_data[1]"),
        ((np.full((3, 4), np.nan), np.zeros(3, int)), "validation_data[0]"),
    ],
)
def test_bad_validation_data(value, name):
    X, y = make_data(12, 4, 3)
    net = fastmlp.MLP([4, 5, 3], seed=0)
    with pytest.raises((ValueError, TypeError), match=re.escape(name)):
        net.fit(X, y, validation_data=value, verbose=0)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: SGD(lr=0), "lr"),
        (lambda: SGD(lr=-0.1), "lr"),
        (lambda: SGD(lr=float("nan")), "lr"),
        (lambda: SGD(lr=float("inf")), "lr"),
        (lambda: SGD(lr="0.1"), "lr"),
        (lambda: SGD(lr=None), "lr"),
        (lambda: SGD(momentum=1.0), "momentum"),
        (lambda: SGD(momentum=-0.1), "momentum"),
        (lambda: SGD(nesterov=True), "nesterov"),
        (lambda: SGD(momentum=0.9, nesterov="yes"), "nesterov"),
        (lambda: SGD(weight_decay=-1e-4), "weight_decay"),
        (lambda: SGD(weight_decay=float("inf")), "weight_decay"),
        (lambda: Adam(lr=0), "lr"),
        (lambda: Adam(lr=float("nan")), "lr"),
        (lambda: Adam(lr=-1.0), "lr"),
        (lambda: Adam(beta1=1.0), "beta1"),
        (lambda: Adam(beta2=-0.5), "beta2"),
        (lambda: Adam(eps=0.0), "eps"),
        (lambda: Adam(weight_decay=-1.0), "weight_decay"),
    ],
)
def test_bad_optimizer_settings(make, name):
    with names(name):
        make()


# ---- divergence -------------------------------------------------------------------------------

DIVERGING = {  # (activation, batch_size, optimizer): each makes the loss overflow on unscaled pixels
    "relu-batch1-sgd": ("relu", 1, lambda: SGD(lr=1e6)),
    "relu-batch10-sgd": ("relu", 10, lambda: SGD(lr=1e6)),
    "relu-batch10-momentum": ("relu", 10, lambda: SGD(lr=1e6, momentum=0.9)),
    "relu-batch10-adam": ("relu", 10, lambda: Adam(lr=1e15)),
    "leaky_relu-batch1-sgd": ("leaky_relu", 1, lambda: SGD(lr=1e6)),
    "leaky_relu-batch10-nesterov": ("leaky_relu", 10, lambda: SGD(lr=1e6, momentum=0.9, nesterov=True)),
    "leaky_relu-full-sgd": ("leaky_relu", 200, lambda: SGD(lr=1e6)),
    "leaky_relu-full-momentum": ("leaky_relu", 200, lambda: SGD(lr=1e6, momentum=0.9)),
}


@pytest.mark.parametrize("case", sorted(DIVERGING))
def test_divergence_raises_and_leaves_a_usable_model(case):
    activation, batch_size, make_optimizer = DIVERGING[case]
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 255, size=(200, 20)).astype(np.float32)  # unscaled pixels
    y = rng.integers(0, 3, size=200)
    net = fastmlp.MLP([20, 16, 16, 3], activation=activation, seed=0)
    with pytest.raises(FloatingPointError, match="lr"):
        net.fit(X, y, epochs=20, batch_size=batch_size, optimizer=make_optimizer(), verbose=0)
    for p in params_of(net):
        assert np.all(np.isfinite(p))
    # fit's promise: "restored to the last finite ones first, so the model stays usable".
    labels = net.predict(X)
    assert labels.shape == (200,) and labels.min() >= 0 and labels.max() < 3
    proba = net.predict_proba(X)
    assert np.all(np.isfinite(proba)), (
        f"after the FloatingPointError, predict_proba on the training data has "
        f"{np.count_nonzero(~np.isfinite(proba))} non-finite values; largest |W| "
        f"{max(float(np.abs(W).max()) for W in net.weights):.3g}"
    )
    assert np.isfinite(net.evaluate(X, y)["loss"])


def test_bounded_loss_does_not_diverge():
    # sigmoid + mse is bounded by 0.5 per unit: a huge learning rate saturates the units but
    # never makes the loss infinite, so fit completes and the model stays finite.
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 255, size=(200, 20)).astype(np.float32)
    y = rng.integers(0, 3, size=200)
    net = fastmlp.MLP([20, 16, 3], activation="sigmoid", output="sigmoid", loss="mse", seed=0)
    history = net.fit(X, y, epochs=3, batch_size=10, optimizer=SGD(lr=1e6), verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert max(history.history["loss"]) <= 0.5 * 3
    for p in params_of(net):
        assert np.all(np.isfinite(p))


# ---- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam"])
def test_same_seed_same_training_bit_for_bit(optimizer):
    X, y = make_data(301, 13, 5, seed=11)
    nets = []
    for _ in range(2):
        net = fastmlp.MLP([13, 33, 17, 5], seed=42)
        net.fit(X, y, epochs=3, batch_size=7, optimizer=OPTIMIZERS[optimizer](), shuffle=True, verbose=0)
        nets.append(net)
    assert_same_params(*nets)
    assert_array_equal(nets[0].predict_proba(X), nets[1].predict_proba(X))


def test_unseeded_models_differ():
    a, b = fastmlp.MLP([5, 7, 3]), fastmlp.MLP([5, 7, 3])
    assert not np.array_equal(a.weights[0], b.weights[0])


# ---- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize("setting, value", [("momentum", 0.9), ("weight_decay", 0.01)])
def test_changing_a_reused_optimizer_does_not_crash(setting, value, tmp_path):
    # Keras users change an optimizer's settings between fits (learning-rate schedules). Here a
    # plain SGD gains momentum or weight decay and is passed again: the model must either train
    # with the new settings or raise a Python error, never crash the interpreter. Run apart, so a
    # crash fails this test instead of killing the test session.
    code = f"""
import numpy as np, fastmlp
rng = np.random.default_rng(0)
X = rng.normal(size=(50, 4)).astype(np.float32); y = rng.integers(0, 3, 50)
net = fastmlp.MLP([4, 8, 3], seed=0)
opt = fastmlp.SGD(lr=0.1)
net.fit(X, y, epochs=1, optimizer=opt, verbose=0)
opt.{setting} = {value!r}
try:
    net.fit(X, y, epochs=1, optimizer=opt, verbose=0)
except (ValueError, TypeError, RuntimeError):
    pass
assert all(np.isfinite(w).all() for w in net.weights)
print("survived")
"""
    # run outside the source tree, so the installed (compiled) package is the one imported
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0 and "survived" in result.stdout, (
        f"exit code {result.returncode}; stderr: {result.stderr[-2000:]}"
    )


def test_learning_rate_change_between_fits_is_used():
    X, y = make_data(30, 4, 3)
    net, ref = twins([4, 6, 3], seed=0)
    opt_c, opt_r = SGD(lr=0.1, momentum=0.9), SGD(lr=0.1, momentum=0.9)
    net.fit(X, y, epochs=1, batch_size=5, optimizer=opt_c, verbose=0)
    ref.fit(X, y, epochs=1, batch_size=5, optimizer=opt_r, verbose=0)
    opt_c.lr = opt_r.lr = 0.01
    h_c = net.fit(X, y, epochs=1, batch_size=5, optimizer=opt_c, verbose=0)
    h_r = ref.fit(X, y, epochs=1, batch_size=5, optimizer=opt_r, verbose=0)
    assert_twins_close(net, ref, h_c, h_r)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("chunk", [7, 4096])
def test_batch1_lazy_first_layer_momentum_matches_the_reference(monkeypatch, weight_decay, chunk):
    # Mostly-zero inputs at batch 1 with momentum: the first layer's rows whose input is zero
    # are brought up to date lazily, in one matrix power, when next read or at a chunk's end.
    force_plan(monkeypatch, fixed_chunk_steps=chunk)  # chunks of `chunk` steps (4096: epochs whole)
    rng = np.random.default_rng(3)
    X = rng.random((120, 300))
    X[X < 0.7] = 0.0
    y = rng.integers(0, 3, size=120)
    fast = fastmlp.MLP([300, 60, 3], seed=4)
    ref = reference.MLP([300, 60, 3], seed=4, dtype=np.float64)
    fast.fit(X, y, epochs=2, batch_size=1, optimizer=SGD(lr=0.01, momentum=0.9, weight_decay=weight_decay), verbose=0)
    ref.fit(X, y, epochs=2, batch_size=1, optimizer=SGD(lr=0.01, momentum=0.9, weight_decay=weight_decay))
    for mine, theirs in zip(fast.weights + fast.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
    again = fastmlp.MLP([300, 60, 3], seed=4)
    again.fit(X, y, epochs=2, batch_size=1, optimizer=SGD(lr=0.01, momentum=0.9, weight_decay=weight_decay), verbose=0)
    for mine, theirs in zip(fast.weights, again.weights):
        np.testing.assert_array_equal(mine, theirs)
