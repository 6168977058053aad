"""Reliability: bad input, divergence, Ctrl-C, files, threads and memory never crash or lose work.

Every mistake a user can make at a public entry point must come back as a ValueError or TypeError
that names the argument, the value received and what was expected; NaN or Inf during training
must stop fit with a FloatingPointError and leave a usable model; Ctrl-C must reach the caller
quickly; corrupt files must raise ValueError or OSError; the same seed must give the same bits,
also in threads; and repeated calls must not leak memory.
"""

import gzip
import json
import math
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastmlp
from fastmlp import MLP, SGD, Adam
from fastmlp.datasets import load_mnist, read_idx

# These tests feed raw, unscaled or unlearnable data on purpose; fit's advice about it is expected.
pytestmark = pytest.mark.filterwarnings("ignore:fit. :UserWarning")

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

RNG = np.random.default_rng(0)
X = RNG.normal(size=(10, 4)).astype(np.float32)
Y = np.arange(10) % 3
X_NAN = X.copy()
X_NAN[3, 2] = np.nan
X_INF = X.copy()
X_INF[7, 1] = np.inf


def small_net(**kwargs):
    return MLP([4, 5, 3], seed=0, **kwargs)


def params_of(net):
    return [a.copy() for a in net.weights] + [b.copy() for b in net.biases]


def all_finite(net):
    return all(np.isfinite(a).all() for a in list(net.weights) + list(net.biases))


def assert_same_params(a, b):
    for p, q in zip(params_of(a) if isinstance(a, MLP) else a, params_of(b) if isinstance(b, MLP) else b):
        assert p.dtype == q.dtype and p.shape == q.shape
        assert_array_equal(p, q)


def check_message(excinfo, needles):
    message = str(excinfo.value)
    missing = [n for n in needles if n not in message]
    assert not missing, f"message {message!r} lacks {missing}"


# =============================================================================================
# Input validation at every public entry
# =============================================================================================

# (X, y) pairs with a bad X, and what the message must contain.
BAD_X = {
    "wrong-features": (X[:, :3], Y, ["X", "(10, 3)", "4"]),
    "1-d": (X[0], Y[:1], ["X", "(4,)", "2-D"]),
    "3-d": (X.reshape(10, 2, 2), Y, ["X", "(10, 2, 2)", "2-D"]),
    "empty": (np.empty((0, 4), np.float32), np.empty(0, np.int64), ["X", "(0, 4)"]),
    "nan": (X_NAN, Y, ["X", "nan", "finite"]),
    "inf": (X_INF, Y, ["X", "inf", "finite"]),
    "float64-overflow": (np.full((10, 4), 1e300), Y, ["X", "1e+300", "finite"]),
    "object": (np.array([[object()] * 4] * 10, dtype=object), Y, ["X", "object", "real numbers"]),
    "strings": (X.astype(str), Y, ["X", "str", "real numbers"]),
    "complex": (X.astype(np.complex64), Y, ["X", "complex", "real numbers"]),
    "none": (None, Y, ["X", "None"]),
    "ragged": ([[1.0, 2.0, 3.0, 4.0], [1.0]], [0, 1], ["X", "2-D"]),
}

BAD_Y = {
    "length-mismatch": (Y[:9], ["X", "y", "10", "9", "same number"]),
    "fractional": (Y + 0.5, ["y", "0.5", "integer"]),
    "negative": (Y - 1, ["y", "-1", "[0, 3)"]),
    "too-large": (Y + 1, ["y", "3", "[0, 3)"]),
    "huge": (Y + 2**40, ["y", str(2 + 2**40), "[0, 3)"]),
    "strings": (Y.astype(str), ["y", "str", "real numbers"]),
    "nan": (np.where(Y == 1, np.nan, Y), ["y", "nan", "integer"]),
    "inf": (np.where(Y == 1, np.inf, Y), ["y", "inf", "integer"]),
    "one-hot": (np.eye(3)[Y], ["y", "(10, 3)", "1-D"]),
    "object": (np.array([object()] * 10, dtype=object), ["y", "object", "real numbers"]),
    "none": (None, ["y", "None"]),
}


def _call(entry, net, X_, y_):
    if entry == "fit":
        return net.fit(X_, y_, verbose=0)
    if entry == "evaluate":
        return net.evaluate(X_, y_)
    if entry == "loss_and_gradients":
        return net.loss_and_gradients(X_, y_)
    return getattr(net, entry)(X_)


@pytest.mark.parametrize("entry", ["fit", "predict", "predict_proba", "evaluate", "loss_and_gradients"])
@pytest.mark.parametrize("case", list(BAD_X), ids=list(BAD_X))
def test_bad_X_raises_naming_it(entry, case):
    bad_X, y_, needles = BAD_X[case]
    net = small_net()
    before = params_of(net)
    with pytest.raises((ValueError, TypeError)) as excinfo:
        _call(entry, net, bad_X, y_)
    check_message(excinfo, needles + ["got", "expected"])
    assert_same_params(before, net)


@pytest.mark.parametrize("entry", ["fit", "evaluate", "loss_and_gradients"])
@pytest.mark.parametrize("case", list(BAD_Y), ids=list(BAD_Y))
def test_bad_y_raises_naming_it(entry, case):
    bad_y, needles = BAD_Y[case]
    net = small_net()
    before = params_of(net)
    with pytest.raises((ValueError, TypeError)) as excinfo:
        _call(entry, net, X, bad_y)
    check_message(excinfo, needles + ["got", "expected"])
    assert_same_params(before, net)


def test_wrong_width_at_predict_after_training():
    net = small_net()
    net.fit(X, Y, epochs=2, verbose=0)
    for method in (net.predict, net.predict_proba):
        with pytest.raises(ValueError) as excinfo:
            method(np.ones((2, 5), np.float32))
        check_message(excinfo, ["X", "5", "4", "got", "expected"])


BAD_FIT_ARGS = {
    "batch_size-0": ({"batch_size": 0}, ["batch_size", "0", ">= 1"]),
    "batch_size-negative": ({"batch_size": -3}, ["batch_size", "-3", ">= 1"]),
    "batch_size-float": ({"batch_size": 2.5}, ["batch_size", "2.5", "int"]),
    "batch_size-str": ({"batch_size": "32"}, ["batch_size", "'32'", "int"]),
    "epochs-negative": ({"epochs": -1}, ["epochs", "-1", ">= 0"]),
    "epochs-float": ({"epochs": 1.5}, ["epochs", "1.5", "int"]),
    "epochs-none": ({"epochs": None}, ["epochs", "None", "int"]),
    "optimizer-str": ({"optimizer": "sgd"}, ["optimizer", "'sgd'", "SGD"]),
    "validation_split": ({"validation_split": 1.5}, ["validation_split", "1.5"]),
    "validation_data-width": ({"validation_data": (np.ones((3, 5)), [0, 1, 2])}, ["validation_data", "5", "4"]),
    "validation_data-labels": ({"validation_data": (np.ones((3, 4)), [0, 1, 7])}, ["validation_data", "7", "[0, 3)"]),
    "shuffle": ({"shuffle": "yes"}, ["shuffle", "'yes'"]),
    "callbacks": ({"callbacks": [print]}, ["callbacks", "Callback"]),
}


@pytest.mark.parametrize("case", list(BAD_FIT_ARGS), ids=list(BAD_FIT_ARGS))
def test_bad_fit_arguments_raise_naming_them(case):
    kwargs, needles = BAD_FIT_ARGS[case]
    net = small_net()
    before = params_of(net)
    with pytest.raises((ValueError, TypeError)) as excinfo:
        net.fit(X, Y, verbose=0, **kwargs)
    check_message(excinfo, needles + ["got", "expected"])
    assert_same_params(before, net)
    assert net.history is None


@pytest.mark.parametrize("optimizer", [SGD, Adam])
@pytest.mark.parametrize(
    "lr, shown",
    [
        (0, "0"),
        (0.0, "0.0"),
        (-0.1, "-0.1"),
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        ("0.1", "0.1"),
        (None, "None"),
    ],
)
def test_learning_rate_must_be_finite_and_positive(optimizer, lr, shown):
    with pytest.raises((ValueError, TypeError)) as excinfo:
        optimizer(lr=lr)
    check_message(excinfo, ["lr", shown, "got", "expected"])


@pytest.mark.parametrize("optimizer", [SGD, Adam])
@pytest.mark.parametrize(
    "lr", [np.float32(0.01), np.float64(0.01), np.int64(1), 1], ids=["np.float32", "np.float64", "np.int64", "int"]
)
def test_learning_rate_accepts_numpy_scalars(optimizer, lr):
    """A finite positive learning rate is accepted whatever its numeric type (np.float32 included,
    as comes from float32 arithmetic), and fit runs with it."""
    opt = optimizer(lr=lr)
    assert opt.lr == float(lr)
    small_net().fit(X, Y, optimizer=opt, verbose=0)


BAD_MODELS = {
    "one-size": ({"sizes": [4]}, ["sizes", "[4]", "two"]),
    "no-sizes": ({"sizes": []}, ["sizes", "[]", "two"]),
    "zero-size": ({"sizes": [4, 0, 3]}, ["sizes", "0", "positive"]),
    "negative-size": ({"sizes": [4, -2]}, ["sizes", "-2", "positive"]),
    "float-size": ({"sizes": [4.0, 3]}, ["sizes", "4.0", "int"]),
    "str-size": ({"sizes": ["4", 3]}, ["sizes", "'4'", "int"]),
    "scalar-sizes": ({"sizes": 4}, ["sizes", "4", "list"]),
    "string-sizes": ({"sizes": "43"}, ["sizes", "'43'", "list"]),
    "none-sizes": ({"sizes": None}, ["sizes", "None", "list"]),
    "one-output": ({"sizes": [4, 1]}, ["sizes", "1", "2"]),
    "int32-overflow-size": ({"sizes": [2**31, 2]}, ["sizes", "2147483648"]),
    "activation": ({"activation": "rleu"}, ["activation", "'rleu'", "'relu'"]),
    "activation-type": ({"activation": None}, ["activation", "None", "'relu'"]),
    "output": ({"output": "softmx"}, ["output", "'softmx'", "'softmax'"]),
    "loss": ({"loss": "hinge"}, ["loss", "'hinge'", "'cross_entropy'"]),
    "init": ({"init": "kaiming"}, ["init", "'kaiming'", "'he'"]),
    "init-normal-negative": ({"init": ("normal", -1.0)}, ["init", "-1.0", "std"]),
    "init-normal-nan": ({"init": ("normal", math.nan)}, ["init", "nan", "std"]),
    "init-uniform-reversed": ({"init": ("uniform", 1.0, -1.0)}, ["init", "uniform", "low <= high"]),
    "init-number": ({"init": 3}, ["init", "3", "'he'"]),
    "seed-negative": ({"seed": -1}, ["seed", "-1", ">= 0"]),
    "seed-float": ({"seed": 1.5}, ["seed", "1.5", "int"]),
}


@pytest.mark.parametrize("case", list(BAD_MODELS), ids=list(BAD_MODELS))
def test_bad_model_settings_raise_naming_them(case):
    kwargs, needles = BAD_MODELS[case]
    kwargs = {"sizes": [4, 5, 3], **kwargs}
    with pytest.raises((ValueError, TypeError)) as excinfo:
        MLP(**kwargs)
    check_message(excinfo, needles + ["got", "expected"])


BAD_PATHS = {
    "load-int": (lambda: fastmlp.load(5), ["path", "5"]),
    "load-none": (lambda: fastmlp.load(None), ["path", "None"]),
    "read_idx-int": (lambda: read_idx(5), ["path", "5"]),
    "read_idx-none": (lambda: read_idx(None), ["path", "None"]),
    "load_mnist-int": (lambda: load_mnist(5), ["path", "5"]),
    "load_mnist-list": (lambda: load_mnist(["a"]), ["path", "['a']"]),
}


@pytest.mark.parametrize("case", list(BAD_PATHS), ids=list(BAD_PATHS))
def test_bad_path_types_raise_naming_the_argument(case):
    call, needles = BAD_PATHS[case]
    with pytest.raises(TypeError) as excinfo:
        call()
    check_message(excinfo, needles + ["expected"])


def test_missing_or_wrong_paths_raise_value_or_os_errors(tmp_path):
    missing = tmp_path / "nothing-here"
    for call in (lambda: fastmlp.load(missing), lambda: read_idx(missing), lambda: load_mnist(missing)):
        with pytest.raises(OSError) as excinfo:
            call()
        assert "nothing-here" in str(excinfo.value)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(ValueError) as excinfo:
        load_mnist(empty_dir)
    check_message(excinfo, ["path", "empty", "expected"])
    for call in (lambda: fastmlp.load(empty_dir), lambda: read_idx(empty_dir)):
        with pytest.raises((ValueError, OSError)) as excinfo:
            call()
        assert "empty" in str(excinfo.value)


# ---- every layout and dtype gives the bits of C-contiguous float32 --------------------------


def _layouts(base):
    """Views and copies of `base` (float32, C) that hold exactly the same values."""
    n, d = base.shape
    big = np.zeros((2 * n, 3 * d), np.float32)
    big[::2, ::3] = base
    flipped = np.ascontiguousarray(base[::-1, ::-1])
    return {
        "fortran": np.asfortranarray(base),
        "strided": big[::2, ::3],
        "negative-strides": flipped[::-1, ::-1],
        "transposed-view": np.ascontiguousarray(base.T).T,
        "float64": base.astype(np.float64),
        "float64-fortran": np.asfortranarray(base.astype(np.float64)),
        "float64-strided": big.astype(np.float64)[::2, ::3],
        "big-endian": base.astype(">f4"),
        "read-only": np.frombuffer(base.tobytes(), np.float32).reshape(n, d),
        "list": base.tolist(),
    }


def _integer_layouts(base_int):
    n, d = base_int.shape
    big = np.zeros((n, 2 * d), base_int.dtype)
    big[:, ::2] = base_int
    return {
        "int-C": base_int,
        "int-fortran": np.asfortranarray(base_int),
        "int-strided": big[:, ::2],
        "int64": base_int.astype(np.int64),
        "int32-fortran": np.asfortranarray(base_int.astype(np.int32)),
        "int16": base_int.astype(np.int16),
    }


LAYOUT_BASE = np.random.default_rng(1).normal(size=(64, 12)).astype(np.float32)
LAYOUT_Y = np.random.default_rng(2).integers(0, 4, 64)
UINT8_BASE = np.random.default_rng(3).integers(0, 256, size=(64, 12)).astype(np.uint8)


def _fit_and_predict(X_, seed=7, lr=0.05):
    net = MLP([12, 9, 4], seed=seed)
    net.fit(X_, LAYOUT_Y, epochs=2, batch_size=8, optimizer=SGD(lr=lr, momentum=0.9), verbose=0)
    return net


@pytest.mark.parametrize("layout", list(_layouts(LAYOUT_BASE)))
def test_layouts_and_float64_give_identical_bits(layout):
    X_ = _layouts(LAYOUT_BASE)[layout]
    probe = MLP([12, 9, 4], seed=3)
    assert_array_equal(probe.predict_proba(X_), probe.predict_proba(LAYOUT_BASE))
    assert_array_equal(probe.predict(X_), probe.predict(LAYOUT_BASE))
    loss_a, grads_a = probe.loss_and_gradients(X_, LAYOUT_Y)
    loss_b, grads_b = probe.loss_and_gradients(LAYOUT_BASE, LAYOUT_Y)
    assert loss_a == loss_b
    for (dw_a, db_a), (dw_b, db_b) in zip(grads_a, grads_b):
        assert_array_equal(dw_a, dw_b)
        assert_array_equal(db_a, db_b)
    assert probe.evaluate(X_, LAYOUT_Y) == probe.evaluate(LAYOUT_BASE, LAYOUT_Y)
    assert_same_params(_fit_and_predict(X_), _fit_and_predict(LAYOUT_BASE))


@pytest.mark.parametrize("layout", list(_integer_layouts(UINT8_BASE)))
def test_integer_X_gives_the_bits_of_its_float32_conversion(layout):
    X_ = _integer_layouts(UINT8_BASE)[layout]
    reference_X = UINT8_BASE.astype(np.float32)
    probe = MLP([12, 9, 4], seed=3)
    assert_array_equal(probe.predict_proba(X_), probe.predict_proba(reference_X))
    assert_same_params(_fit_and_predict(X_, lr=1e-5), _fit_and_predict(reference_X, lr=1e-5))


def test_labels_of_any_integer_dtype_or_whole_floats_give_identical_bits():
    nets = []
    for y_ in (
        LAYOUT_Y,
        LAYOUT_Y.astype(np.uint8),
        LAYOUT_Y.astype(np.int32),
        LAYOUT_Y.astype(np.float64),
        LAYOUT_Y.reshape(-1, 1),
        LAYOUT_Y.tolist(),
        LAYOUT_Y[::-1].copy()[::-1],
    ):
        net = MLP([12, 9, 4], seed=7)
        net.fit(LAYOUT_BASE, y_, epochs=2, batch_size=8, verbose=0)
        nets.append(net)
    for net in nets[1:]:
        assert_same_params(net, nets[0])


# =============================================================================================
# Divergence: NaN or Inf stops fit with FloatingPointError and leaves a usable model
# =============================================================================================


def _assert_divergence_message(excinfo, lr):
    message = str(excinfo.value)
    assert "epoch" in message and "batch" in message, message
    assert "learning rate" in message and str(lr) in message, message


def _assert_still_usable(net, X_, y_):
    assert all_finite(net)
    proba = net.predict_proba(X_[:50])
    assert np.isfinite(proba).all()
    labels = net.predict(X_[:50])
    assert labels.dtype == np.int64 and labels.shape == (50,)
    loss, grads = net.loss_and_gradients(X_[:50], y_[:50])
    assert np.isfinite(loss)
    assert all(np.isfinite(dw).all() and np.isfinite(db).all() for dw, db in grads)
    history = net.fit(X_[:200], y_[:200], epochs=1, batch_size=20, optimizer=SGD(lr=1e-4), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all_finite(net)


def test_divergence_reports_the_exact_epoch_and_batch():
    """Row 5 overflows float32 in the forward pass, so the 6th step of epoch 1 has a NaN loss."""
    X_ = np.random.default_rng(0).uniform(0, 0.1, size=(10, 4)).astype(np.float32)
    X_[5] = 3e38
    y_ = np.arange(10) % 2
    net = MLP([4, 3, 2], init=("uniform", 1.0, 1.0), seed=0)
    with pytest.raises(FloatingPointError) as excinfo:
        net.fit(X_, y_, epochs=3, batch_size=1, shuffle=False, optimizer=SGD(lr=0.01), verbose=0)
    message = str(excinfo.value)
    assert "epoch 1," in message and "batch 6;" in message, message
    _assert_divergence_message(excinfo, 0.01)
    assert all_finite(net)
    assert net.history is None or net.history.history.get("loss", []) == []
    # The parameters are the last finite ones the model had at a return to Python: the start, or
    # those after some of the 5 finite steps before the bad row.
    candidates = []
    for k in range(6):
        replay = MLP([4, 3, 2], init=("uniform", 1.0, 1.0), seed=0)
        if k:
            replay.fit(X_[:k], y_[:k], batch_size=1, shuffle=False, optimizer=SGD(lr=0.01), verbose=0)
        candidates.append(params_of(replay))
    assert any(all(np.array_equal(p, q) for p, q in zip(params_of(net), c)) for c in candidates)
    X_[5] = 0.05
    _assert_still_usable(net, np.tile(X_, (20, 1)), np.tile(y_, 20))


def test_divergence_in_a_later_epoch_keeps_the_completed_epochs_in_history():
    """lr * weight_decay = 2: every step multiplies the weights by about -1, -2, ..., past float32's
    range after ~130 steps: epoch 1 (100 steps) completes, epoch 2 does not."""
    rng = np.random.default_rng(0)
    X_ = rng.uniform(0, 1, size=(100, 6)).astype(np.float32)
    y_ = rng.integers(0, 3, 100)
    net = MLP([6, 8, 3], activation="sigmoid", output="sigmoid", loss="mse", seed=0)
    opt = SGD(lr=3.0, weight_decay=1.0)
    with pytest.raises(FloatingPointError) as excinfo:
        net.fit(X_, y_, epochs=5, batch_size=1, optimizer=opt, verbose=0)
    assert "epoch 2," in str(excinfo.value), str(excinfo.value)
    _assert_divergence_message(excinfo, 3.0)
    assert len(net.history.history["loss"]) == 1
    assert np.isfinite(net.history.history["loss"][0])
    _assert_still_usable(net, X_, y_)


@pytest.mark.parametrize(
    "eps, first_advice", [(1e-30, "Adam's eps=1e-30 is tiny"), (1e-8, "Try a lower learning rate than lr=1e+30")]
)
def test_divergence_message_names_a_tiny_adam_eps_before_the_learning_rate(eps, first_advice):
    rng = np.random.default_rng(0)
    X_ = rng.uniform(0, 1, size=(100, 6)).astype(np.float32)
    y_ = rng.integers(0, 3, 100)
    net = MLP([6, 8, 3], seed=0)
    with pytest.raises(FloatingPointError) as excinfo:
        net.fit(X_, y_, epochs=5, batch_size=1, optimizer=Adam(lr=1e30, eps=eps), verbose=0)
    advice = str(excinfo.value).split("last finite values. ")[1]
    assert advice.startswith(first_advice), advice
    _assert_divergence_message(excinfo, 1e30)
    _assert_still_usable(net, X_, y_)


DIVERGING = {
    "sigmoid-mse-huge-lr": (
        dict(activation="sigmoid", output="sigmoid", loss="mse"),
        [784, 30, 10],
        lambda: SGD(lr=1e10, weight_decay=1.0),
        False,
        10,
    ),
    "relu-raw-pixels-lr10": (dict(), [784, 256, 256, 256, 10], lambda: SGD(lr=10.0), True, 32),
    "relu-raw-pixels-lr10-batch1": (dict(), [784, 100, 100, 10], lambda: SGD(lr=10.0), True, 1),
    "adam-huge-lr": (dict(), [784, 30, 10], lambda: Adam(lr=1e20), True, 32),
    "adam-tanh-huge-lr": (dict(activation="tanh"), [784, 30, 10], lambda: Adam(lr=1e30, weight_decay=1.0), False, 32),
    "momentum-huge-lr": (dict(), [784, 30, 10], lambda: SGD(lr=1e30, momentum=0.9), True, 32),
}


@pytest.mark.parametrize("case", list(DIVERGING))
def test_divergence_raises_and_leaves_a_usable_model(case, mnist):
    kwargs, sizes, make_optimizer, raw_pixels, batch_size = DIVERGING[case]
    (X_train, y_train), _ = mnist
    X_, y_ = X_train[:2000], y_train[:2000]
    if raw_pixels:
        X_ = np.round(X_ * 255).astype(np.uint8)  # the classic mistake: pixels not scaled
    net = MLP(sizes, seed=0, **kwargs)
    optimizer = make_optimizer()
    with pytest.raises(FloatingPointError) as excinfo:
        net.fit(X_, y_, epochs=5, batch_size=batch_size, optimizer=optimizer, verbose=0)
    _assert_divergence_message(excinfo, optimizer.lr)
    assert all_finite(net)
    _assert_still_usable(net, X_train, y_train)


def test_nan_written_into_weights_is_refused():
    net = small_net()
    bad = np.array(net.weights[0])
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        net.weights[0] = bad
    assert all_finite(net)


# =============================================================================================
# Ctrl-C
# =============================================================================================


def _interrupt(mode, tmp_path):
    marker = tmp_path / "started"
    sent_file = tmp_path / "sent"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "interrupt_fit_script.py"), mode, str(marker), str(sent_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(tmp_path),
        env=env,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate(timeout=10)
                pytest.fail(f"training never started (exit {proc.returncode}):\n{out}\n{err}")
            time.sleep(0.02)
        time.sleep(1.0)
        sent_file.write_text(repr(time.time()))
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        waited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    report = json.loads(out.strip().splitlines()[-1])
    print(
        f"Ctrl-C ({mode}): KeyboardInterrupt {report['latency']:.3f} s after SIGINT; "
        f"child exited {waited:.2f} s after; {report['completed']} epochs completed"
    )
    return report


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process needs POSIX")
@pytest.mark.parametrize("mode", ["long", "short"])
def test_ctrl_c_interrupts_fit_within_a_second(mode, tmp_path):
    report = _interrupt(mode, tmp_path)
    assert report["latency"] < 1.0, report
    assert report["finite"] and report["trained"], report
    assert report["history_len"] == report["completed"], report
    assert report["predict_ok"] and report["loss_finite"] and report["after_fit_finite"], report
    if mode == "short":
        assert report["completed"] >= 1, report


# =============================================================================================
# Files
# =============================================================================================

MODEL_SETTINGS = [
    dict(sizes=[5, 7, 3]),
    dict(sizes=[5, 3], activation="tanh", output="sigmoid", loss="mse", init="lecun"),
    dict(sizes=[5, 6, 4, 2], activation="sigmoid", output="sigmoid", loss="cross_entropy", init=("normal", 0.3)),
    dict(sizes=[5, 8, 3], activation="leaky_relu", output="softmax", loss="mse", init=("uniform", -0.2, 0.3)),
]


@pytest.mark.parametrize("settings", MODEL_SETTINGS, ids=lambda s: str(s["sizes"]))
def test_save_load_round_trips_bit_for_bit(settings, tmp_path):
    rng = np.random.default_rng(5)
    X_ = rng.normal(size=(40, 5)).astype(np.float32)
    y_ = rng.integers(0, settings["sizes"][-1], 40)
    net = MLP(seed=11, **settings)
    net.fit(X_, y_, epochs=3, batch_size=7, optimizer=Adam(lr=0.01), verbose=0)
    path = net.save(tmp_path / "model")
    assert str(path).endswith(".npz")
    loaded = fastmlp.load(path)
    assert isinstance(loaded, MLP)
    assert_same_params(loaded, net)
    for a in list(loaded.weights) + list(loaded.biases):
        assert a.dtype == np.float32
    for attr in ("sizes", "activation", "output", "loss", "seed"):
        assert getattr(loaded, attr) == getattr(net, attr)
    assert_array_equal(loaded.predict_proba(X_), net.predict_proba(X_))
    again = fastmlp.load(loaded.save(tmp_path / "again.npz"))
    assert_same_params(again, net)
    with np.load(path, allow_pickle=False) as archive:  # readable without pickle
        assert sorted(archive.files)


def _assert_clean_failure(call, path_text=None):
    """call() returns normally or raises ValueError/OSError (with a message); anything else fails."""
    try:
        return call()
    except (ValueError, OSError) as exc:
        assert str(exc), "empty error message"
        if path_text is not None:
            assert path_text in str(exc), str(exc)
        return exc


@pytest.fixture
def model_bytes(tmp_path):
    net = MLP([6, 5, 3], seed=0)
    net.fit(np.random.default_rng(0).normal(size=(20, 6)), np.arange(20) % 3, verbose=0)
    path = net.save(tmp_path / "good.npz")
    return net, Path(path).read_bytes()


def test_truncated_model_files_raise_value_error(model_bytes, tmp_path):
    net, data = model_bytes
    offsets = sorted(
        {
            0,
            1,
            2,
            3,
            4,
            10,
            29,
            30,
            31,
            len(data) // 4,
            len(data) // 2,
            len(data) - 100,
            len(data) - 23,
            len(data) - 22,
            len(data) - 21,
            len(data) - 1,
        }
    )
    for cut in offsets:
        path = tmp_path / f"cut{cut}.npz"
        path.write_bytes(data[:cut])
        with pytest.raises((ValueError, OSError)) as excinfo:
            fastmlp.load(path)
        assert f"cut{cut}.npz" in str(excinfo.value), str(excinfo.value)


def test_corrupt_model_files_raise_or_load_intact(model_bytes, tmp_path):
    net, data = model_bytes
    rng = np.random.default_rng(1)
    for position in list(range(0, len(data), max(1, len(data) // 60))) + [len(data) - 1]:
        corrupt = bytearray(data)
        corrupt[position] ^= int(rng.integers(1, 256))
        path = tmp_path / "flip.npz"
        path.write_bytes(bytes(corrupt))
        result = _assert_clean_failure(lambda: fastmlp.load(path), "flip.npz")
        if isinstance(result, MLP):  # a flip in a field nothing checks (e.g. a zip timestamp)
            assert all_finite(result)
            assert_same_params(result, net)


def test_garbage_and_foreign_files_are_not_models(tmp_path, mnist_npz):
    cases = {
        "empty.npz": b"",
        "text.npz": b"hello, this is not a model\n",
        "random.npz": np.random.default_rng(0).bytes(3000),
        "zip-header-only.npz": b"PK\x03\x04" + b"\0" * 40,
        "gzip.npz": gzip.compress(b"\0" * 100),
        "pickle.npz": pickle.dumps({"params": np.zeros(3)}),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError) as excinfo:
            fastmlp.load(tmp_path / name)
        assert name in str(excinfo.value)
    with pytest.raises(ValueError):
        fastmlp.load(mnist_npz)  # a valid npz that is not a model


def _crafted_model(path, params=None, **metadata):
    meta = {
        "format": "fastmlp",
        "version": 1,
        "sizes": [3, 2],
        "activation": "relu",
        "output": "softmax",
        "loss": "cross_entropy",
        "init": "auto",
        "seed": 0,
    }
    meta.update(metadata)
    params = np.zeros(8, np.float32) if params is None else params
    np.savez(path, params=params, metadata=np.array(json.dumps(meta)))
    return path


CRAFTED = {
    "wrong-format": dict(format="other"),
    "wrong-version": dict(version=99),
    "bad-sizes": dict(sizes="ab"),
    "bad-activation": dict(activation="swish"),
    "bad-init": dict(init=["normal"]),
    "negative-seed": dict(seed=-5),
    "params-float64": dict(params=np.zeros(8, np.float64)),
    "params-shape": dict(params=np.zeros(9, np.float32)),
    "params-nan": dict(params=np.full(8, np.nan, np.float32)),
    "params-2d": dict(params=np.zeros((2, 4), np.float32)),
    # Sizes that a corrupt file may claim: they must be refused, never allocated or overflowed.
    "sizes-int32-overflow": dict(sizes=[2**31, 2]),
    "sizes-huge": dict(sizes=[200_000, 200_000, 2]),
    "sizes-too-many-layers": dict(sizes=[2] * 100),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_model_files_raise_value_error(case, tmp_path):
    kwargs = dict(CRAFTED[case])
    path = _crafted_model(tmp_path / "crafted.npz", **kwargs)
    with pytest.raises(ValueError) as excinfo:
        fastmlp.load(path)
    assert "crafted.npz" in str(excinfo.value), str(excinfo.value)


# ---- MNIST readers on corrupt files ---------------------------------------------------------


def _idx_bytes(a):
    """uint8 array -> the bytes of an IDX file."""
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


@pytest.fixture
def mnist_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        y_train=np.arange(6) % 10,
        x_test=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        y_test=np.arange(4),
    )
    return path


@pytest.fixture
def mnist_pkl(tmp_path):
    rng = np.random.default_rng(0)
    parts = tuple((rng.random((n, 784)).astype(np.float32), np.arange(n) % 10) for n in (5, 3, 4))
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(parts, protocol=2)))
    return path


def test_truncated_and_corrupt_idx_files_raise_value_error(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    raw = _idx_bytes(images)
    assert_array_equal(read_idx(_write(tmp_path / "ok.idx", raw)), images)
    for data, name in ((raw, "raw"), (gzip.compress(raw), "gz")):
        for cut in sorted({0, 1, 3, 4, 7, 8, 15, 16, len(data) // 2, len(data) - 9, len(data) - 4, len(data) - 1}):
            path = _write(tmp_path / f"{name}-cut{cut}", data[:cut])
            with pytest.raises(ValueError) as excinfo:
                read_idx(path)
            assert path.name in str(excinfo.value)
        path = _write(tmp_path / f"{name}-extra", data + b"\x01\x02")
        with pytest.raises(ValueError):
            read_idx(path)
    # A header that claims far more data than the file holds is refused, not allocated.
    huge = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**31, 2**31, 2**31) + b"\0" * 16
    with pytest.raises(ValueError):
        read_idx(_write(tmp_path / "huge", huge))
    for header in (b"\0\0\x07\x01", b"\x01\0\x08\x01", b"\0\0\x08\xff"):
        with pytest.raises(ValueError):
            read_idx(_write(tmp_path / "bad-header", header + b"\0" * 8))


def _write(path, data):
    path.write_bytes(data)
    return path


def test_truncated_and_corrupt_pickles_raise_value_error(mnist_pkl, tmp_path):
    data = mnist_pkl.read_bytes()
    load_mnist(mnist_pkl)  # the intact file loads
    raw = gzip.decompress(data)
    for blob, name in ((data, "mnist.pkl.gz"), (raw, "mnist.pkl")):
        for cut in sorted({1, 2, 10, 20, len(blob) // 3, len(blob) // 2, len(blob) - 10, len(blob) - 1}):
            path = _write(tmp_path / f"cut{cut}-{name}", blob[:cut])
            with pytest.raises((ValueError, OSError)) as excinfo:
                load_mnist(path)
            assert path.name in str(excinfo.value)


def test_truncated_and_corrupt_npz_raise_value_error(mnist_npz, tmp_path):
    data = mnist_npz.read_bytes()
    load_mnist(mnist_npz)  # the intact file loads
    for cut in sorted({4, 10, 30, 100, len(data) // 2, len(data) - 100, len(data) - 22, len(data) - 1}):
        path = _write(tmp_path / f"cut{cut}.npz", data[:cut])
        with pytest.raises((ValueError, OSError)) as excinfo:
            load_mnist(path)
        assert path.name in str(excinfo.value)


# ---- pickles that would run code ------------------------------------------------------------


class _RunsCode:
    """Unpickling this calls fn(*args): a stand-in for an attacker's payload."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _payloads(marker):
    marker = str(marker)
    import builtins

    return {
        "os.system": pickle.dumps(_RunsCode(os.system, (f"touch '{marker}'",)), protocol=2),
        "builtins.exec": pickle.dumps(_RunsCode(builtins.exec, (f"open({marker!r}, 'w').close()",)), protocol=2),
        "builtins.open": pickle.dumps(_RunsCode(builtins.open, (marker, "w")), protocol=4),
        "subprocess": pickle.dumps(_RunsCode(subprocess.call, (["touch", marker],)), protocol=5),
        "protocol-0-global": (b"cos\nsystem\n(S'touch " + marker.encode() + b"'\ntR."),
        "protocol-0-inst": (b"(S'touch " + marker.encode() + b"'\nios\nsystem\n."),
        "inside-nielsen-layout": pickle.dumps(
            (
                (np.zeros((2, 784), np.float32), np.zeros(2, np.int64)),
                (np.zeros((1, 784), np.float32), _RunsCode(os.system, (f"touch '{marker}'",))),
                (np.zeros((1, 784), np.float32), np.zeros(1, np.int64)),
            ),
            protocol=2,
        ),
        "numpy-object-array": pickle.dumps(
            np.array([_RunsCode(os.system, (f"touch '{marker}'",))], dtype=object), protocol=2
        ),
    }


@pytest.mark.parametrize("payload", list(_payloads("x")))
@pytest.mark.parametrize("compressed", [True, False], ids=["pkl.gz", "pkl"])
def test_pickles_that_would_run_code_are_refused(payload, compressed, tmp_path):
    marker = tmp_path / "pwned"
    data = _payloads(marker)[payload]
    name = "mnist.pkl.gz" if compressed else "mnist.pkl"
    path = _write(tmp_path / name, gzip.compress(data) if compressed else data)
    with pytest.raises(ValueError) as excinfo:
        load_mnist(path)
    assert name in str(excinfo.value)
    assert not marker.exists(), "the pickle ran code"


def test_object_array_npz_is_refused_and_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = np.array([_RunsCode(os.system, (f"touch '{marker}'",))], dtype=object)
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=evil,
        y_train=np.arange(6),
        x_test=rng.integers(0, 256, (4, 784), dtype=np.uint8),
        y_test=np.arange(4),
    )
    with pytest.raises(ValueError) as excinfo:
        load_mnist(path)
    assert "mnist.npz" in str(excinfo.value)
    model = tmp_path / "model.npz"
    np.savez(model, params=evil, metadata=np.array(json.dumps({"format": "fastmlp"})))
    with pytest.raises(ValueError) as excinfo:
        fastmlp.load(model)
    assert "model.npz" in str(excinfo.value)
    np.savez(model, params=np.zeros(8, np.float32), metadata=evil)
    with pytest.raises(ValueError):
        fastmlp.load(model)
    assert not marker.exists(), "loading ran code"


def test_np_load_is_never_called_with_allow_pickle(monkeypatch, tmp_path, mnist_npz, model_bytes):
    calls = []
    real_load = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle", False))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    load_mnist(mnist_npz)
    load_mnist(mnist_npz.parent)
    model_path = _write(tmp_path / "model.npz", model_bytes[1])
    fastmlp.load(model_path)
    assert calls and not any(calls), calls
    for source in (REPO / "fastmlp").glob("*.py"):
        assert "allow_pickle=True" not in source.read_text().replace(" ", ""), source


# =============================================================================================
# Determinism and threads
# =============================================================================================

DET_RNG = np.random.default_rng(42)
DET_X = DET_RNG.normal(size=(1500, 30)).astype(np.float32)
DET_Y = DET_RNG.integers(0, 5, 1500)

SETUPS = {
    "sgd-momentum": (dict(sizes=[30, 64, 5]), lambda: SGD(lr=0.05, momentum=0.9), 16),
    "nesterov-decay": (
        dict(sizes=[30, 32, 16, 5], activation="tanh"),
        lambda: SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        1,
    ),
    "adam": (dict(sizes=[30, 48, 5], activation="leaky_relu"), lambda: Adam(lr=1e-3), 32),
    "sigmoid-mse": (
        dict(sizes=[30, 20, 5], activation="sigmoid", output="sigmoid", loss="mse"),
        lambda: SGD(lr=0.5),
        7,
    ),
}


def _seeded_fit(setup, seed=123, epochs=3):
    settings, make_optimizer, batch_size = SETUPS[setup]
    net = MLP(seed=seed, **settings)
    net.fit(
        DET_X, DET_Y, epochs=epochs, batch_size=batch_size, optimizer=make_optimizer(), validation_split=0.1, verbose=0
    )
    return net


@pytest.mark.parametrize("setup", list(SETUPS))
def test_same_seed_gives_identical_bits_run_after_run(setup):
    first = _seeded_fit(setup)
    for _ in range(2):
        again = _seeded_fit(setup)
        assert_same_params(again, first)
        for key, values in first.history.history.items():
            np.testing.assert_allclose(again.history.history[key], values, rtol=1e-12)
    assert not np.array_equal(_seeded_fit(setup, seed=124).weights[0], first.weights[0])


@pytest.mark.parametrize("setup", ["sgd-momentum", "adam"])
def test_chunk_boundaries_do_not_change_the_result(setup):
    """White-box: fit hands the compiled loop chunks sized by timing; any chunking gives the same bits."""
    settings, make_optimizer, batch_size = SETUPS[setup]
    results = []
    for steps in (1, 7, 10**9):
        net = MLP(seed=5, **settings)
        net._chunk_steps = {batch_size: steps}
        net._adapt_chunk = lambda *args: None
        net.fit(DET_X, DET_Y, epochs=2, batch_size=batch_size, optimizer=make_optimizer(), verbose=0)
        results.append(net)
    for net in results[1:]:
        assert_same_params(net, results[0])
    # The reported loss too: chunks are sized by timing, so a loss summed per chunk would differ in
    # its last bits from run to run.
    for net in results[1:]:
        assert net.history.history == results[0].history.history


def _run_threads(targets):
    results, errors = {}, []

    def work(key, fn):
        try:
            results[key] = fn()
        except BaseException as exc:  # reported below
            errors.append((key, exc))

    threads = [threading.Thread(target=work, args=(key, fn)) for key, fn in targets.items()]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    return results, time.perf_counter() - started


THREAD_X = DET_RNG.normal(size=(4000, 100)).astype(np.float32)
THREAD_Y = DET_RNG.integers(0, 5, 4000)


def _thread_fit(sizes=(100, 256, 128, 5), batch_size=8, epochs=3, seed=123):
    """About a quarter of a second of training: long enough for threads to overlap."""
    net = MLP(list(sizes), seed=seed)
    net.fit(THREAD_X, THREAD_Y, epochs=epochs, batch_size=batch_size, optimizer=SGD(lr=0.01, momentum=0.9), verbose=0)
    return net


def test_four_threads_with_the_same_seed_match_the_sequential_result():
    started = time.perf_counter()
    sequential = _thread_fit()
    one = time.perf_counter() - started
    results, wall = _run_threads({i: _thread_fit for i in range(4)})
    # Timing is only reported: on a loaded two-core machine it proves nothing either way.
    print(
        f"threads: one fit {one:.2f} s; four fits in four threads {wall:.2f} s "
        f"(one after another: ~{4 * one:.2f} s; {os.cpu_count()} cores)"
    )
    for net in results.values():
        assert_same_params(net, sequential)
        # Exact equality of the reported losses is test_chunk_boundaries_do_not_change_the_result's job.
        for key, values in sequential.history.history.items():
            np.testing.assert_allclose(net.history.history[key], values, rtol=1e-12)


def test_threads_with_different_models_do_not_interfere():
    sequential = {setup: _seeded_fit(setup, seed=9) for setup in SETUPS}
    batch1 = dict(sizes=(100, 128, 5), batch_size=1, epochs=1, seed=4)
    sequential["batch-1"] = _thread_fit(**batch1)
    probe = MLP([30, 16, 5], seed=1)
    expected_proba = probe.predict_proba(DET_X)
    targets = {setup: (lambda s=setup: _seeded_fit(s, seed=9)) for setup in SETUPS}
    targets["batch-1"] = lambda: _thread_fit(**batch1)
    # Inference on another model at the same time reads the same bits as alone.
    targets["predict"] = lambda: [probe.predict_proba(DET_X) for _ in range(30)]
    results, _ = _run_threads(targets)
    for setup in sequential:
        assert_same_params(results[setup], sequential[setup])
    for proba in results["predict"]:
        assert_array_equal(proba, expected_proba)


def test_copies_train_independently():
    net = _seeded_fit("adam", epochs=1)
    twin = net.copy()
    before = params_of(net)
    twin.fit(DET_X, DET_Y, epochs=1, optimizer=SGD(lr=0.5), verbose=0)
    assert_same_params(before, net)


# =============================================================================================
# Memory
# =============================================================================================


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_resident_memory_does_not_grow_over_1000_calls():
    rng = np.random.default_rng(0)
    X_ = rng.normal(size=(64, 20))  # float64: every call converts it
    y_ = rng.integers(0, 4, 64)
    net = MLP([20, 32, 4], seed=0)
    adam = Adam(lr=1e-3)

    def one_round(i):
        optimizer = adam if i % 2 else SGD(lr=0.01, momentum=0.9)  # new optimizer state every other call
        net.fit(X_, y_, epochs=1, batch_size=16, optimizer=optimizer, verbose=0)
        net.predict(X_)
        net.predict_proba(X_[:5])
        net.evaluate(X_, y_)
        net.loss_and_gradients(X_, y_)

    for i in range(100):
        one_round(i)
    before = _rss_bytes()
    for i in range(1000):
        one_round(i)
    grown = (_rss_bytes() - before) / 2**20
    print(f"resident memory grew {grown:.2f} MB over 1000 rounds")
    assert grown < 20, f"resident memory grew {grown:.1f} MB over 1000 fit/predict rounds"
    assert all_finite(net)


def _peak_extra_bytes(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_fit_copies_X_at_most_once():
    rng = np.random.default_rng(0)
    X64 = rng.normal(size=(4000, 500))
    y_ = rng.integers(0, 10, 4000)
    X32 = X64.astype(np.float32)
    copy_size = X32.nbytes
    net = MLP([500, 16, 10], seed=0)
    net.fit(X32[:100], y_[:100], verbose=0)  # warm-up: imports, lazily built tables
    for name, X_ in (
        ("float64", X64),
        ("fortran float32", np.asfortranarray(X32)),
        ("uint8", (X64 > 0).astype(np.uint8)),
    ):
        extra = _peak_extra_bytes(lambda: net.fit(X_, y_, epochs=1, batch_size=64, verbose=0))
        assert extra < 1.5 * copy_size, (
            f"{name}: fit allocated {extra / 1e6:.1f} MB for a {copy_size / 1e6:.1f} MB copy"
        )
    extra = _peak_extra_bytes(lambda: net.fit(X32, y_, epochs=1, batch_size=64, verbose=0))
    assert extra < 0.1 * X32.nbytes, f"float32 C-contiguous X: fit allocated {extra / 1e6:.1f} MB"
    # The split takes views: only the evaluation workspace (512 rows) is new, no copy of either half.
    extra = _peak_extra_bytes(lambda: net.fit(X32, y_, epochs=1, batch_size=64, validation_split=0.5, verbose=0))
    assert extra < 0.3 * X32.nbytes, f"validation_split: fit allocated {extra / 1e6:.1f} MB"
    extra = _peak_extra_bytes(lambda: net.predict_proba(X32))
    assert extra < 0.3 * X32.nbytes, f"predict_proba allocated {extra / 1e6:.1f} MB"


def test_load_refuses_a_parameter_array_of_the_wrong_size_before_decompressing_it(tmp_path):
    """A small file may hold a huge compressed array of zeros: its header is read first."""
    path = tmp_path / "bomb.npz"
    metadata = MLP([4, 3, 2], seed=0)._metadata()
    np.savez_compressed(path, params=np.zeros(20_000_000, np.float32), metadata=np.array(json.dumps(metadata)))
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"holds \(20000000,\) float32 parameters"):
            fastmlp.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, f"load allocated {peak} bytes for a refused file"
