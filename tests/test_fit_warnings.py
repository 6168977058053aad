"""fit's advice: a UserWarning, once per kind and call, at the caller's line, when X looks unscaled,
when the loss stays at chance after enough updates, or when it grows a hundredfold; never for a
healthy fit, and NaN still raises FloatingPointError."""

import math
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import SGD, Adam
from fastmlp.callbacks import Callback
from fastmlp.model import _chance_loss

HEADS = (("softmax", "cross_entropy"), ("sigmoid", "mse"), ("sigmoid", "cross_entropy"), ("softmax", "mse"))


def fit_recording(net, X, y, **kwargs):
    """(history, warnings) of one fit, every warning recorded, repeats included."""
    kwargs.setdefault("verbose", 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, y, **kwargs)
    return history, caught


def advice(caught):
    return [w for w in caught if issubclass(w.category, UserWarning) and str(w.message).startswith("fit: ")]


def learnable(n, n_features, n_classes, seed=0):
    """Standardised Gaussian inputs with labels a linear function of them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    y = np.argmax(X @ rng.normal(size=(n_features, n_classes)), axis=1)
    return X, y


def dead_relu_net(n_features, n_classes):
    """All weights zero: every ReLU outputs 0 and gets no gradient, so only the output biases learn,
    and on balanced labels the loss stays at ln(n_classes)."""
    net = fastmlp.MLP([n_features, 16, n_classes], seed=0)
    net.weights = [np.zeros_like(W) for W in net.weights]
    return net


# ---- X that looks unscaled ------------------------------------------------------------------


def test_raw_pixels_warn_to_divide_by_255_at_the_callers_line():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(300, 20)).astype(np.uint8)
    y = rng.integers(0, 3, size=300)
    net = fastmlp.MLP([20, 8, 3], seed=0)
    _, caught = fit_recording(net, X, y, epochs=1, optimizer=SGD(lr=1e-5))
    [w] = advice(caught)
    message = str(w.message)
    assert w.category is UserWarning
    assert "X reaches 255" in message and "divide by 255 (X = X / 255.0)" in message, message
    assert w.filename == __file__


def test_scaled_pixels_do_not_warn():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(300, 20)).astype(np.uint8) / 255.0
    y = rng.integers(0, 3, size=300)
    net = fastmlp.MLP([20, 8, 3], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.fit(X, y, epochs=1, verbose=0)


def test_standardised_features_do_not_warn_though_rare_values_are_large(mnist):
    """Standardised per pixel, MNIST reaches 70 and more where a pixel is lit in few images."""
    (X, y), _ = mnist
    X, y = X[:3000], y[:3000]
    Z = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)
    assert Z.max() > 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastmlp.MLP([784, 32, 10], seed=0).fit(Z, y, epochs=1, verbose=0)


@pytest.mark.parametrize("sign", [1, -1])
def test_large_features_warn_to_standardise_without_255(sign):
    X, y = learnable(300, 6, 3)
    X[:, 2] = sign * np.abs(X[:, 2]) * 50  # one raw feature, in the tens
    net = fastmlp.MLP([6, 8, 3], seed=0)
    _, caught = fit_recording(net, X, y, epochs=1, optimizer=SGD(lr=1e-4))
    [w] = advice(caught)
    message = str(w.message)
    typical = np.median(np.abs(X[:, 2]))
    assert f"typical value of feature 2 is {typical:.4g}" in message, message
    assert "(X - mean) / std" in message and "255" not in message, message
    assert w.filename == __file__


def test_values_up_to_10_do_not_warn():
    X, y = learnable(300, 6, 3)
    X[:, 0] = np.clip(X[:, 0] * 10, -10, 10)
    net = fastmlp.MLP([6, 8, 3], seed=0)
    _, caught = fit_recording(net, X, y, epochs=1, optimizer=SGD(lr=0.01))
    assert advice(caught) == []


# ---- the loss at chance -----------------------------------------------------------------------


@pytest.mark.parametrize("output, loss", HEADS)
def test_chance_is_the_loss_of_all_zero_logits(output, loss):
    net = fastmlp.MLP([5, 4], output=output, loss=loss, seed=0)
    net.weights = [np.zeros_like(W) for W in net.weights]
    X, y = learnable(40, 5, 4)
    assert math.isclose(net.evaluate(X, y)["loss"], _chance_loss(output, loss, 4), rel_tol=1e-6)


def test_a_network_stuck_at_chance_warns_once_naming_doctor():
    X, _ = learnable(320, 10, 4)
    y = np.arange(320) % 4
    net = dead_relu_net(10, 4)
    history, caught = fit_recording(net, X, y, epochs=30, batch_size=32)
    [w] = advice(caught)
    message = str(w.message)
    assert "no better than chance" in message and "fastmlp.doctor(net, X, y, optimizer=...)" in message
    # 10 updates an epoch: epoch 11 is the first whose batches came mostly after the 100th update
    assert "in epoch 11," in message, message
    assert w.filename == __file__
    assert min(history.history["loss"]) >= 0.99 * math.log(4)


def test_each_fit_call_warns_again():
    X, _ = learnable(320, 10, 4)
    y = np.arange(320) % 4
    net = dead_relu_net(10, 4)
    for _ in range(2):
        _, caught = fit_recording(net, X, y, epochs=15, batch_size=32)
        assert len(advice(caught)) == 1


def test_a_short_first_epoch_near_chance_does_not_warn():
    # A healthy network that has barely started: 5 updates.
    X, y = learnable(40, 10, 4)
    net = fastmlp.MLP([10, 16, 4], seed=0)
    history, caught = fit_recording(net, X, y, epochs=1, batch_size=8, optimizer=SGD(lr=1e-3))
    assert history.history["loss"][0] >= 0.99 * math.log(4)
    assert advice(caught) == []


def test_a_loss_above_chance_but_still_falling_does_not_warn():
    # Adam at lr=1e-3 starts these iris-sized problems far above chance and needs well over 100
    # updates to come down: slow, not broken.
    X, y = learnable(150, 4, 3, seed=1)
    net = fastmlp.MLP([4, 16, 3], seed=0)
    net.weights[1][...] *= 6  # logits far from zero: the loss starts high
    history, caught = fit_recording(net, X, y, epochs=20, batch_size=16, optimizer=Adam(lr=1e-3))
    losses = history.history["loss"]
    assert losses[-1] >= math.log(3) and losses[-1] < 0.9 * losses[0], losses
    assert advice(caught) == []


# ---- a loss that grows a hundredfold ----------------------------------------------------------


class _Sabotage(Callback):
    """After the first epoch, turns the output layer's confident answers into confident wrong ones."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.model.weights[-1][...] *= -40
            self.model.biases[-1][...] *= -40


def test_a_loss_growing_a_hundredfold_warns_once():
    X, y = learnable(400, 8, 3)
    net = fastmlp.MLP([8, 32, 3], seed=0)
    net.fit(X, y, epochs=30, batch_size=16, optimizer=SGD(lr=0.1), verbose=0)
    history, caught = fit_recording(net, X, y, epochs=6, batch_size=16, optimizer=SGD(lr=1e-4), callbacks=[_Sabotage()])
    losses = history.history["loss"]
    assert max(losses[1:]) >= 100 * losses[0], losses
    [w] = advice(caught)  # not a second one for the loss above chance
    message = str(w.message)
    assert "grew a hundredfold" in message and "in epoch 2" in message, message
    assert "fastmlp.doctor(net, X, y, optimizer=...)" in message and "lr=0.0001" in message
    assert w.filename == __file__


# ---- healthy training, and NaN --------------------------------------------------------------

HEALTHY = {
    "sgd": (dict(), lambda: SGD(lr=0.1), 32),
    "adam": (dict(), lambda: Adam(lr=1e-3), 64),
    "nielsen": (dict(activation="sigmoid", output="sigmoid", loss="mse"), lambda: SGD(lr=3.0), 10),
    "per-sample-sgd": (dict(), lambda: SGD(lr=0.01), 1),
}


@pytest.mark.parametrize("case", list(HEALTHY))
def test_healthy_mnist_fit_does_not_warn(mnist, case):
    settings, make_optimizer, batch_size = HEALTHY[case]
    (X, y), _ = mnist
    net = fastmlp.MLP([784, 32, 10], seed=0, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = net.fit(
            X[:3000],
            y[:3000],
            epochs=3,
            batch_size=batch_size,
            optimizer=make_optimizer(),
            validation_split=0.1,
            verbose=0,
        )
    assert history.history["loss"][-1] < 0.5 * _chance_loss(net.output, net.loss, 10)


def test_warnings_appear_once_per_fit_over_many_epochs():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(64, 6)).astype(np.float32)
    y = np.arange(64) % 2
    net = dead_relu_net(6, 2)
    _, caught = fit_recording(net, X, y, epochs=200, batch_size=4, optimizer=SGD(lr=1e-6))
    kinds = sorted(str(w.message).split(",")[0] for w in advice(caught))
    assert len(kinds) == 2 and kinds[0].startswith("fit: X reaches"), kinds
    assert kinds[1].startswith("fit: the training loss is"), kinds


def test_nan_still_raises_floating_point_error():
    # lr * weight_decay = 2 multiplies the weights by about -1, -2, ... each step: epoch 1 completes.
    X, y = learnable(100, 6, 3)
    net = fastmlp.MLP([6, 8, 3], activation="sigmoid", output="sigmoid", loss="mse", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match="the loss became NaN or infinite at epoch 2"):
            net.fit(X, y, epochs=5, batch_size=1, optimizer=SGD(lr=3.0, weight_decay=1.0), verbose=0)
    assert len(net.history.history["loss"]) == 1


def test_raw_pixels_that_blow_up_warn_and_still_raise():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(200, 20)).astype(np.uint8)
    y = rng.integers(0, 3, size=200)
    net = fastmlp.MLP([20, 16, 16, 3], activation="leaky_relu", seed=0)
    with (
        pytest.warns(UserWarning, match="divide by 255"),
        pytest.raises(FloatingPointError, match="became NaN or infinite"),
    ):
        net.fit(X, y, epochs=5, batch_size=10, optimizer=SGD(lr=1e6), verbose=0)
    assert all(np.isfinite(W).all() for W in net.weights)


def test_the_scikit_learn_wrapper_stays_quiet():
    sklearn_module = pytest.importorskip("fastmlp.sklearn")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(800, 6)).astype(np.float64)
    y = np.arange(800) % 3  # nothing to learn, and 200 updates an epoch
    clf = sklearn_module.MLPClassifier(
        hidden_layer_sizes=(8,), max_iter=3, learning_rate_init=1e-6, batch_size=4, random_state=0
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    assert advice(caught) == []
    # the same epoch through MLP.fit gives both pieces of advice
    _, caught = fit_recording(clf.model_, X, y, epochs=1, batch_size=4, optimizer=SGD(lr=1e-6))
    assert len(advice(caught)) == 2
