"""Dropout on hidden layers and the max-norm constraint (csrc/dropout.c, csrc/optim.c): the C draws
against their NumPy mirror, training against the float64 reference, the same bits on any thread
count and chunking, and off in predict and evaluate."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp
import fastmlp.model as model_module
from fastmlp import SGD, Adam, _dropout, _kernels, reference
from plans import force_plan

OPTIMIZERS = {
    "sgd": lambda lr: SGD(lr=lr),
    "momentum": lambda lr: SGD(lr=lr / 2, momentum=0.9, weight_decay=1e-3),
    "nesterov": lambda lr: SGD(lr=lr / 2, momentum=0.9, nesterov=True),
    "adam": lambda lr: Adam(lr=lr / 10),
}


def data(n=96, n_features=12, zeros=0.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features)).astype(np.float32)
    X[rng.random(X.shape) < zeros] = 0.0
    return X, np.argmax(X @ rng.standard_normal((n_features, 3)), axis=1)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("step", [0, 7, 123456789])
def test_c_draws_are_the_numpy_mirrors(rate, step):
    seed = _dropout.stream_seed(5)
    mirror = _dropout.keeps(seed, step, 3, 17, 2, 40, rate)
    drawn = [[_kernels.dropout_keeps(seed, step, 3 + row, 2, unit, rate) for unit in range(40)] for row in range(17)]
    assert_array_equal(mirror, np.array(drawn))


def test_about_rate_of_the_units_are_dropped_and_each_draw_differs():
    masks = _dropout.keeps(_dropout.stream_seed(1), 0, 0, 500, 1, 200, 0.3)
    assert 1 - masks.mean() == pytest.approx(0.3, abs=0.01)
    other_step = _dropout.keeps(_dropout.stream_seed(1), 1, 0, 500, 1, 200, 0.3)
    other_layer = _dropout.keeps(_dropout.stream_seed(1), 0, 0, 500, 2, 200, 0.3)
    assert (masks != other_step).mean() > 0.3 and (masks != other_layer).mean() > 0.3


def twins(sizes, seed=3, **regularisation):
    net = fastmlp.MLP(sizes, activation="tanh", seed=seed, **regularisation)
    ref = reference.MLP(sizes, activation="tanh", seed=seed, dtype=np.float64, **regularisation)
    for target, source in zip(ref.weights + ref.biases, net.weights + net.biases):
        target[...] = source
    return net, ref


@pytest.mark.parametrize("max_norm", [None, 0.5])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("batch_size", [1, 16, 64])
@pytest.mark.parametrize("zeros", [0.0, 0.8])
def test_training_follows_the_reference(optimizer, batch_size, zeros, max_norm):
    X, y = data(zeros=zeros)
    net, ref = twins([12, 16, 8, 3], dropout=[0.3, 0.2], max_norm=max_norm)
    lr = 0.05 if batch_size > 1 else 0.01
    h_net = net.fit(X, y, epochs=3, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer](lr), verbose=0)
    h_ref = ref.fit(X, y, epochs=3, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer](lr))
    for mine, theirs in zip(net.weights + net.biases, ref.weights + ref.biases):
        assert_allclose(mine, theirs, rtol=1e-3, atol=1e-4)
    assert_allclose(h_net.history["loss"], h_ref.history["loss"], rtol=1e-4)
    if max_norm is not None:
        for W in net.weights:
            assert np.linalg.norm(W.astype(np.float64), axis=0).max() <= max_norm * (1 + 1e-5)


def test_dropout_changes_training_and_a_zero_rate_does_not():
    X, y = data()
    plain, zero, dropped = (fastmlp.MLP([12, 16, 3], seed=1, dropout=rate) for rate in (0.0, 0.0, 0.5))
    for net in (plain, zero, dropped):
        net.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert_array_equal(plain.weights[0], zero.weights[0])
    assert not np.array_equal(plain.weights[0], dropped.weights[0])


@pytest.mark.parametrize("threads", [2, 3])
def test_thread_count_and_chunks_do_not_change_the_bits(monkeypatch, threads):
    X, y = data(n=300, zeros=0.5)
    runs = []
    for count, chunk_seconds in ((1, 0.1), (threads, 0.1), (threads, 1e-9)):
        with pytest.MonkeyPatch.context() as patch:
            force_plan(patch, threads=count)
            patch.setattr(model_module, "_CHUNK_SECONDS", chunk_seconds)  # 1e-9: a step a chunk
            net = fastmlp.MLP([12, 32, 16, 3], seed=1, dropout=0.4, max_norm=1.0)
            net.fit(X, y, epochs=2, batch_size=64, optimizer=SGD(lr=0.05, momentum=0.9), verbose=0)
            runs.append(net.weights + net.biases)
    for run in runs[1:]:
        for mine, theirs in zip(run, runs[0]):
            assert_array_equal(mine, theirs)


def test_predict_and_evaluate_do_not_drop():
    X, y = data()
    net = fastmlp.MLP([12, 16, 3], seed=1, dropout=0.5)
    net.fit(X, y, epochs=1, verbose=0)
    ref = reference.MLP.from_parameters(net.weights, net.biases, "relu")
    assert_allclose(net.predict_proba(X), ref.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert_array_equal(net.predict_proba(X), net.predict_proba(X))
    assert net.evaluate(X, y)["loss"] == pytest.approx(ref.evaluate(X, y)["loss"], rel=1e-5)


def test_copy_save_and_load_keep_the_settings(tmp_path):
    X, y = data()
    net = fastmlp.MLP([12, 16, 8, 3], seed=1, dropout=[0.2, 0.1], max_norm=2.0)
    net.fit(X, y, epochs=1, verbose=0)
    twin = net.copy()
    net.fit(X, y, epochs=1, verbose=0)
    twin.fit(X, y, epochs=1, verbose=0)  # the stream goes on from the same step
    assert_array_equal(twin.weights[0], net.weights[0])
    loaded = fastmlp.load(net.save(tmp_path / "net.npz"))
    assert loaded.max_norm == 2.0 and loaded.dropout == [0.2, 0.1]
    assert "dropout=[0.2, 0.1], max_norm=2.0" in repr(loaded)


@pytest.mark.parametrize(
    "settings, error, match",
    [
        (dict(dropout=1.0), ValueError, r"dropout: got 1.0; expected rates in \[0, 1\)"),
        (dict(dropout=-0.1), ValueError, "dropout: got -0.1"),
        (dict(dropout=[0.1]), ValueError, r"dropout: got 1 rates; expected one per hidden layer \(2\)"),
        (dict(dropout="high"), TypeError, "dropout: got 'high'"),
        (dict(max_norm=0.0), ValueError, "max_norm: got 0.0"),
    ],
)
def test_settings_are_checked(settings, error, match):
    with pytest.raises(error, match=match):
        fastmlp.MLP([12, 16, 8, 3], **settings)


def test_regularised_networks_train_in_parts_even_one_row_at_a_time():
    X, _ = data(zeros=0.8)
    for batch_size in (1, 128):
        plan = fastmlp._plan.make_plan("fit", [12, 80, 3], "relu", X, batch_size, SGD(lr=0.1, momentum=0.9), 2, 1, True)
        assert plan.parts > 1 and plan.hidden_lists == () and not plan.private_columns
    infer = fastmlp._plan.make_plan("infer", [12, 80, 3], "relu", X, None, None, 2, 1, True)
    assert infer == fastmlp._plan.make_plan("infer", [12, 80, 3], "relu", X, None, None, 2)
