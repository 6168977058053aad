"""Regression in the core: MLP(..., output="identity", loss="mse") with float targets, on every
engine (batch 1, minibatches in parts, mostly-zero inputs), step by step against the float64
reference, its gradients against finite differences, and its checks and scores."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp
from fastmlp import SGD, Adam, _kernels, reference
from plans import force_plan

OPTIMIZERS = {
    "sgd": lambda: SGD(lr=0.05),
    "momentum": lambda: SGD(lr=0.02, momentum=0.9, weight_decay=1e-3),
    "nesterov": lambda: SGD(lr=0.02, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(lr=0.005),
}


def data(n=96, n_features=12, n_outputs=3, zeros=0.0, seed=0):
    """Inputs (mostly zero where asked, as images are) and smooth targets that depend on them."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features)).astype(np.float32)
    X[rng.random(X.shape) < zeros] = 0.0
    Y = np.tanh(X @ rng.standard_normal((n_features, n_outputs)) / 3) + 0.1 * rng.standard_normal((n, n_outputs))
    return X, Y.astype(np.float32)


def twins(sizes, seed=0, activation="tanh", loss="mse"):
    net = fastmlp.MLP(sizes, activation=activation, output="identity", loss=loss, seed=seed)
    ref = reference.MLP(sizes, activation=activation, output="identity", loss=loss, seed=seed, dtype=np.float64)
    for target, source in zip(ref.weights + ref.biases, net.weights + net.biases):
        target[...] = source
    return net, ref


@pytest.mark.parametrize("loss", ["mse", "huber"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("batch_size", [1, 16, 64])
@pytest.mark.parametrize("zeros", [0.0, 0.8])
def test_training_follows_the_reference(optimizer, batch_size, zeros, loss):
    X, Y = data(zeros=zeros)
    if loss == "huber":
        Y = 3 * Y  # errors beyond the quadratic zone, where the two losses differ
    net, ref = twins([12, 16, 3], activation="relu", loss=loss)
    optimizer = OPTIMIZERS[optimizer]
    h_net = net.fit(X, Y, epochs=3, batch_size=batch_size, optimizer=_scaled(optimizer(), batch_size), verbose=0)
    h_ref = ref.fit(X, Y, epochs=3, batch_size=batch_size, optimizer=_scaled(optimizer(), batch_size))
    for mine, theirs in zip(net.weights + net.biases, ref.weights + ref.biases):
        assert_allclose(mine, theirs, rtol=1e-3, atol=1e-4)
    assert_allclose(h_net.history["loss"], h_ref.history["loss"], rtol=1e-4)
    assert set(h_net.history) == {"loss"}  # no accuracy for values
    assert h_net.history["loss"][-1] < h_net.history["loss"][0]


def _scaled(optimizer, batch_size):
    """A rate for batch 16, scaled down for smaller batches: one sample a step is noisier."""
    optimizer.lr *= min(1.0, batch_size / 16)
    return optimizer


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_count_does_not_change_the_bits(monkeypatch, threads):
    X, Y = data(n=300)
    runs = []
    for count in (1, threads):
        with pytest.MonkeyPatch.context() as patch:
            force_plan(patch, threads=count)
            net = fastmlp.MLP([12, 32, 3], output="identity", loss="mse", seed=1)
            net.fit(X, Y, epochs=2, batch_size=128, optimizer=SGD(lr=0.05, momentum=0.9), verbose=0)
            runs.append(net.weights + net.biases)
    for mine, theirs in zip(*runs):
        assert_array_equal(mine, theirs)


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_gradients_match_the_reference_and_finite_differences(loss):
    X, Y = data(n=20)
    Y = 4 * Y  # some errors past Huber's delta
    net, ref = twins([12, 7, 3], loss=loss)
    loss, grads = net.loss_and_gradients(X, Y)
    ref_loss, ref_grads = ref.loss_and_gradients(X, Y)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for (dW, db), (rW, rb) in zip(grads, ref_grads):
        assert_allclose(dW, rW, rtol=1e-4, atol=1e-6)
        assert_allclose(db, rb, rtol=1e-4, atol=1e-6)
    # the reference's own against central differences of its float64 loss
    eps = 1e-6
    for layer in range(2):
        W = ref.weights[layer]
        for index in [(0, 0), (W.shape[0] - 1, W.shape[1] - 1), (2, 1)]:
            saved = W[index]
            W[index] = saved + eps
            up = ref.loss_and_gradients(X, Y)[0]
            W[index] = saved - eps
            down = ref.loss_and_gradients(X, Y)[0]
            W[index] = saved
            assert ref_grads[layer][0][index] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-9)


def test_one_output_takes_a_1d_target_and_predict_gives_values():
    X, Y = data(n_outputs=1)
    net = fastmlp.MLP([12, 8, 1], output="identity", loss="mse", seed=0)
    net.fit(X, Y[:, 0], epochs=2, verbose=0)
    predicted = net.predict(X)
    assert predicted.dtype == np.float32 and predicted.shape == (len(X), 1)
    assert_array_equal(net.evaluate(X, Y[:, 0])["mse"], net.evaluate(X, Y)["mse"])
    with pytest.raises(TypeError, match="predict_proba: a regression network"):
        net.predict_proba(X)


def test_evaluate_gives_scikit_learns_scores():
    metrics = pytest.importorskip("sklearn.metrics")
    X, Y = data()
    net = fastmlp.MLP([12, 16, 3], output="identity", loss="mse", seed=0)
    net.fit(X, Y, epochs=5, batch_size=16, optimizer=SGD(lr=0.05, momentum=0.9), verbose=0)
    scores, predicted = net.evaluate(X, Y), net.predict(X).astype(np.float64)
    assert scores["mse"] == pytest.approx(metrics.mean_squared_error(Y, predicted), rel=1e-6)
    assert scores["mae"] == pytest.approx(metrics.mean_absolute_error(Y, predicted), rel=1e-6)
    assert scores["r2"] == pytest.approx(metrics.r2_score(Y, predicted), rel=1e-6)
    assert scores["loss"] == pytest.approx(0.5 * 3 * scores["mse"], rel=1e-5)  # half the summed squares
    _, ref = twins([12, 16, 3], activation="relu")
    for target, source in zip(ref.weights + ref.biases, net.weights + net.biases):
        target[...] = source
    for key, value in ref.evaluate(X, Y).items():
        assert scores[key] == pytest.approx(value, rel=1e-4)


def test_validation_data_gives_val_loss_and_the_model_saves():
    X, Y = data()
    net = fastmlp.MLP([12, 8, 3], output="identity", loss="mse", seed=0)
    history = net.fit(X[:80], Y[:80], epochs=2, verbose=0, validation_data=(X[80:], Y[80:]))
    assert set(history.history) == {"loss", "val_loss"}
    assert history.history["val_loss"][-1] == pytest.approx(net.evaluate(X[80:], Y[80:])["loss"])


def test_save_and_load_keep_a_regression(tmp_path):
    X, Y = data()
    net = fastmlp.MLP([12, 8, 3], output="identity", loss="mse", seed=0)
    net.fit(X, Y, epochs=1, verbose=0)
    again = fastmlp.load(net.save(tmp_path / "regression.npz"))
    assert again.is_regression
    assert_array_equal(again.predict(X), net.predict(X))


@pytest.mark.parametrize(
    "targets, match",
    [
        (np.arange(96), r"y: got integer labels .* for a regression network .*Pass y.astype\(np.float32\)"),
        (np.zeros((96, 2), np.float32), r"y: got .*shape \(96, 2\).*expected float targets of shape \(96, 3\)"),
        (np.zeros(95, np.float32), r"expected float targets of shape \(96, 3\)"),
        (np.full((96, 3), np.nan, np.float32), r"y: got nan at \(0, 0\); expected finite targets"),
        (np.full((96, 3), 1e300), r"y: got 1e\+300 at \(0, 0\); expected finite targets within float32"),
    ],
)
def test_regression_targets_are_checked(targets, match):
    X, _ = data()
    net = fastmlp.MLP([12, 8, 3], output="identity", loss="mse", seed=0)
    with pytest.raises(ValueError, match=match):
        net.fit(X, targets, verbose=0)


def test_a_classifier_given_values_says_how_to_make_a_regression():
    X, Y = data()
    net = fastmlp.MLP([12, 8, 3], seed=0)
    with pytest.raises(ValueError, match=r"integer class labels \(whole numbers\). For values to predict"):
        net.fit(X, Y[:, 0], verbose=0)


def test_identity_goes_with_mse_only_and_allows_one_output():
    with pytest.raises(ValueError, match=r"output, loss: got \('identity', 'cross_entropy'\)"):
        fastmlp.MLP([4, 2], output="identity")
    assert fastmlp.MLP([4, 1], output="identity", loss="mse").is_regression
    with pytest.raises(ValueError, match="at least 2"):
        fastmlp.MLP([4, 1])


def test_huber_is_squared_near_the_target_and_linear_beyond():
    assert _kernels.HUBER_DELTA == reference.HUBER_DELTA == 1.0
    X = np.zeros((4, 2), np.float32)
    net = fastmlp.MLP([2, 1], output="identity", loss="huber", seed=0)
    net.weights, net.biases = [np.zeros((2, 1), np.float32)], [np.zeros(1, np.float32)]
    targets = np.array([0.5, -0.5, 3.0, -10.0], np.float32)  # the outputs are all 0
    loss, grads = net.loss_and_gradients(X, targets)
    per_row = [0.125, 0.125, 3.0 - 0.5, 10.0 - 0.5]
    assert loss == pytest.approx(np.mean(per_row))
    # the bias's gradient: the mean of the clipped errors 0 - t
    assert grads[0][1][0] == pytest.approx(np.mean([-0.5, 0.5, -1.0, 1.0]))


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_gradcheck_takes_a_regression_and_doctor_says_it_is_for_classifiers(loss):
    X, Y = data()
    net = fastmlp.MLP([12, 16, 3], activation="tanh", output="identity", loss=loss, seed=0)
    assert fastmlp.gradcheck(net, X, 3 * Y).verdict == "ok"
    with pytest.raises(ValueError, match="net: got a regression network .* fastmlp.gradcheck"):
        fastmlp.doctor(net, X, Y)


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_a_regression_with_dropout_and_max_norm_follows_the_reference(loss):
    X, Y = data(zeros=0.5)
    settings = dict(activation="tanh", output="identity", loss=loss, seed=2, dropout=0.3, max_norm=1.0)
    net = fastmlp.MLP([12, 16, 3], **settings)
    ref = reference.MLP([12, 16, 3], dtype=np.float64, **settings)
    for target, source in zip(ref.weights + ref.biases, net.weights + net.biases):
        target[...] = source
    h_net = net.fit(X, 3 * Y, epochs=3, batch_size=16, optimizer=SGD(lr=0.02, momentum=0.9), verbose=0)
    h_ref = ref.fit(X, 3 * Y, epochs=3, batch_size=16, optimizer=SGD(lr=0.02, momentum=0.9))
    for mine, theirs in zip(net.weights + net.biases, ref.weights + ref.biases):
        assert_allclose(mine, theirs, rtol=1e-3, atol=1e-4)
    assert_allclose(h_net.history["loss"], h_ref.history["loss"], rtol=1e-4)
