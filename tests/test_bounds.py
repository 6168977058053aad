"""Bounds on the sizes users pass to doctor, ``fastmlp doctor`` and the plots (issue 18).

Each bound is tested at its edge (just inside works, just outside raises an error naming the
argument), with the wrong types, and with a size bomb that used to take minutes or gigabytes
and now fails at once.
"""

import argparse
import re
import time

import numpy as np
import pytest

import fastmlp
from fastmlp.cli import _doctor as cli_doctor
from fastmlp.diagnostics import _doctor, doctor

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import fastmlp.plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _fast(seconds=1.0):
    """A context manager asserting that its body takes under `seconds`."""

    class Timer:
        def __enter__(self):
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            took = time.perf_counter() - self.start
            assert took < seconds, f"took {took:.2f} s"

    return Timer()


# ------------------------------------------------------------------------------------- doctor


@pytest.fixture(scope="module")
def small():
    """A learnable 3-class problem of 16 features and a tiny network: doctor runs in milliseconds."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 16)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    return X, y


def _net():
    return fastmlp.MLP([16, 8, 3], seed=0)


@pytest.mark.parametrize(
    "name, limit, inside",
    [
        ("steps", _doctor._MAX_STEPS, dict(batch_size=1)),
        ("batch_size", _doctor._MAX_BATCH, dict(steps=1)),
        ("sample", _doctor._MAX_SAMPLE, dict(steps=5)),
    ],
)
def test_doctor_counts_at_their_bounds(small, name, limit, inside):
    X, y = small
    report = doctor(_net(), X, y, **{name: limit}, **inside)  # just inside: runs
    assert report.measurements["steps_run"] >= 1
    with pytest.raises(ValueError, match=rf"^{name}: got {limit + 1}; expected an int from 1 to {limit}\. "):
        doctor(_net(), X, y, **{name: limit + 1}, **inside)


@pytest.mark.parametrize("name", ["steps", "batch_size", "sample"])
@pytest.mark.parametrize(
    "value, error, got",
    [
        (True, TypeError, "True"),
        (200.0, TypeError, "200.0"),
        (2.5, TypeError, "2.5"),
        (float("nan"), TypeError, "nan"),
        ("200", TypeError, "'200'"),
        (None, TypeError, "None"),
        (0, ValueError, "0"),
        (-3, ValueError, "-3"),
    ],
)
def test_doctor_counts_refuse_bad_values(small, name, value, error, got):
    X, y = small
    with pytest.raises(error, match=rf"^{name}: got {re.escape(got)}; expected an int from 1 to \d+") as info:
        doctor(_net(), X, y, **{name: value})
    if value == 200.0 and not isinstance(value, bool):
        assert str(info.value).endswith("Write 200, not 200.0")


def test_doctor_accepts_numpy_ints_and_refuses_a_bad_seed(small):
    X, y = small
    report = doctor(_net(), X, y, steps=np.int64(20), batch_size=np.int32(16), sample=np.uint16(100))
    assert report.measurements["steps"] == 20 and report.measurements["batch_size"] == 16
    with pytest.raises(ValueError, match=r"^seed: got -1; expected an int >= 0"):
        doctor(_net(), X, y, seed=-1)
    with pytest.raises(TypeError, match=r"^seed: got True"):
        doctor(_net(), X, y, seed=True)


def test_doctor_rows_bound_at_its_edge():
    """steps * batch_size at most _MAX_ROWS (500000): just inside runs, just outside names both."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1000, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    steps = _doctor._MAX_ROWS // 1000
    report = doctor(fastmlp.MLP([4, 2, 2], seed=0), X, y, steps=steps, batch_size=1000)
    assert report.measurements["steps_run"] == steps
    with pytest.raises(
        ValueError,
        match=rf"^steps \* batch_size: got {steps + 1} \* 1000 = {(steps + 1) * 1000} "
        rf"rows; expected at most 500000 rows .*Pass steps={steps} or fewer",
    ):
        doctor(fastmlp.MLP([4, 2, 2], seed=0), X, y, steps=steps + 1, batch_size=1000)


def test_doctor_batch_size_counts_as_at_most_len_X(small):
    """As in fit, a batch_size above len(X) is full-batch: its steps are what the bound counts."""
    X, y = small
    report = doctor(_net(), X, y, steps=10, batch_size=_doctor._MAX_BATCH)
    assert report.measurements["batch_size"] == len(X)


def test_doctor_work_bound_scales_with_the_network():
    """A larger network may train fewer rows: rows x parameters at most _MAX_WORK."""
    net = fastmlp.MLP([784, 1024, 10], seed=0)
    parameters = 785 * 1024 + 1025 * 10
    limit = int(_doctor._MAX_WORK // parameters)
    _doctor._check_run_size(limit // 64, 64, parameters)  # just inside
    with pytest.raises(ValueError, match=r"^steps \* batch_size: .*for a network of 814090 parameters"):
        _doctor._check_run_size(limit // 64 + 1, 64, parameters)
    X = np.zeros((64, 784), dtype=np.float32)
    y = np.arange(64) % 10
    with (
        _fast(),
        pytest.raises(
            ValueError,
            match=rf"expected at most {limit} rows for a network of "
            rf"{parameters} parameters.*Pass steps={limit // 64} or fewer",
        ),
    ):
        doctor(net, X, y, steps=limit // 64 + 1, batch_size=64)
    # a batch larger than the whole budget is told to shrink
    with pytest.raises(ValueError, match=rf"Pass a batch_size of at most {limit}$"):
        _doctor._check_run_size(1, limit + 1, parameters)


def test_doctor_network_size_at_its_bound(small, monkeypatch):
    X, y = small
    parameters = 17 * 8 + 9 * 3  # the tiny 16-8-3 network's
    monkeypatch.setattr(_doctor, "_MAX_PARAMETERS", parameters)
    doctor(_net(), X, y, steps=5)  # just inside
    monkeypatch.setattr(_doctor, "_MAX_PARAMETERS", parameters - 1)
    with pytest.raises(
        ValueError,
        match=rf"^net: got a network of {parameters} parameters, sizes \[16, 8, 3\]; "
        rf"expected at most {parameters - 1}: .*Diagnose a narrower network",
    ):
        doctor(_net(), X, y, steps=5)
    monkeypatch.undo()
    # the real bound, 8 million: 784-10200-10 has 8.1 million parameters
    net = fastmlp.MLP([784, 10200, 10], seed=0)
    with _fast(), pytest.raises(ValueError, match=r"^net: got a network of 8109010 parameters.*at most 8000000"):
        doctor(net, np.zeros((10, 784), dtype=np.float32), np.arange(10))


def test_doctor_size_bombs_fail_fast(small):
    X, y = small
    with _fast(), pytest.raises(ValueError, match=r"^steps: got 1000000000; expected an int from 1 to 20000"):
        doctor(_net(), X, y, steps=10**9)
    with _fast(), pytest.raises(ValueError, match=r"^batch_size: got 1000000000000; expected an int from 1"):
        doctor(_net(), X, y, batch_size=10**12)
    with _fast(), pytest.raises(ValueError, match=r"^sample: got 1000000000"):
        doctor(_net(), X, y, sample=10**9)
    # 200 full-batch steps of 60000 rows: before the bound, 13 minutes and 4 GB for 784-128-10
    rng = np.random.default_rng(2)
    big = rng.standard_normal((60_000, 16)).astype(np.float32)
    labels = rng.integers(0, 3, 60_000)
    with _fast(), pytest.raises(ValueError, match=r"^steps \* batch_size: got 200 \* 60000 = 12000000 rows"):
        doctor(_net(), big, labels, steps=200, batch_size=60_000)


def test_doctor_splits_its_fit_calls_without_changing_the_report(small, monkeypatch):
    """fit gets X[rows] in pieces of at most _COPY_BYTES (or one batch), and the pieces, like the
    blocks of rows whose hidden activations are counted, change nothing in the report."""
    X, y = small
    for make in (_net, lambda: fastmlp.MLP([16, 8, 8, 3], "tanh", seed=0)):
        whole = doctor(make(), X * 20, y, steps=40, batch_size=8, optimizer=fastmlp.SGD(0.05, momentum=0.9))
        rows = []
        fit = fastmlp.MLP.fit

        def recording_fit(self, X, *args, **kwargs):
            rows.append(len(X))
            return fit(self, X, *args, **kwargs)

        monkeypatch.setattr(fastmlp.MLP, "fit", recording_fit)
        monkeypatch.setattr(_doctor, "_COPY_BYTES", 3 * 8 * 16 * 4)  # 3 batches a call
        monkeypatch.setattr(_doctor, "_ACTIVATION_BYTES", 7 * 16 * 4)  # 7 rows a block
        pieces = doctor(make(), X * 20, y, steps=40, batch_size=8, optimizer=fastmlp.SGD(0.05, momentum=0.9))
        monkeypatch.undo()
        assert rows and max(rows) == 3 * 8
        assert str(pieces) == str(whole)
        assert pieces.measurements["loss_curve"] == whole.measurements["loss_curve"]


# ----------------------------------------------------------------------------- fastmlp doctor


def _parse(*argv):
    return cli_doctor.configure(argparse.ArgumentParser(prog="fastmlp doctor")).parse_args(list(argv))


def _usage_error(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        _parse(*argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "option, limit",
    [("--steps", _doctor._MAX_STEPS), ("--batch-size", _doctor._MAX_BATCH), ("--sample", _doctor._MAX_SAMPLE)],
)
def test_cli_counts_at_their_bounds(capsys, option, limit):
    args = _parse(option, str(limit))
    assert getattr(args, option[2:].replace("-", "_")) == limit
    err = _usage_error(capsys, option, str(limit + 1))
    assert f"argument {option}: got '{limit + 1}'; expected an int from 1 to {limit}" in err
    for bad in ("0", "-1", "1.5", "nan", "1e3", "ten", ""):
        assert f"argument {option}: got {bad!r}" in _usage_error(capsys, option, bad)


@pytest.mark.parametrize(
    "option, good, bad, expected",
    [
        ("--seed", ["0", "12345678901234567890"], ["-1", "1.0", "x"], "an int >= 0"),
        ("--momentum", ["0", "0.99"], ["1", "-0.1", "nan", "inf", "x"], "a finite number in [0, 1)"),
        (
            "--input-scale",
            ["255", "1e6", "1e-6"],
            ["0", "-255", "1e7", "1e-7", "inf", "nan"],
            "a finite number in [1e-06, 1e+06]",
        ),
        ("--lr", ["0.1", "1e15"], ["0", "-1", "inf", "nan"], "a finite number > 0"),
    ],
)
def test_cli_numbers(capsys, option, good, bad, expected):
    for text in good:
        _parse(option, text)
    for text in bad:
        assert f"argument {option}: got {text!r}; expected {expected}" in _usage_error(capsys, option, text)


def test_cli_sizes_bound_the_parameters(capsys):
    limit = cli_doctor._MAX_PARAMETERS
    hidden = (limit - 10) // (785 + 10)  # 784,hidden,10 has 795 * hidden + 10 parameters
    assert _parse("--sizes", f"784,{hidden},10").sizes == [784, hidden, 10]
    err = _usage_error(capsys, "--sizes", f"784,{hidden + 1},10")
    assert (
        f"argument --sizes: got '784,{hidden + 1},10', a network of {795 * (hidden + 1) + 10} parameters; "
        f"expected at most {limit}" in err
    )
    assert limit == _doctor._MAX_PARAMETERS
    # before the bound, this built 2 x 7.8 GB of weights and gradients before anything else
    with _fast():
        assert "argument --sizes" in _usage_error(capsys, "--sizes", "784,10000000,10")


def test_cli_momentum_is_sgds(capsys):
    assert cli_doctor.main(["--optimizer", "adam", "--momentum", "0.5"]) == 2
    assert "--momentum: got 0.5 with --optimizer adam" in capsys.readouterr().err


def test_cli_run_bound_is_a_usage_error(capsys, monkeypatch):
    """steps x batch size is doctor's to check: the command exits 2 with its message."""
    rng = np.random.default_rng(3)
    X = rng.random((2000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 2000)
    monkeypatch.setattr(fastmlp.datasets, "load_mnist", lambda path=None: ((X, y), (X, y)), raising=False)
    with _fast(5):
        assert cli_doctor.main(["--steps", "20000", "--batch-size", "2000"]) == 2
    err = capsys.readouterr().err
    assert "fastmlp doctor: error: steps * batch_size: got 20000 * 2000 = 40000000 rows" in err


# ------------------------------------------------------------------------------------- plots


def _classes(k, n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    return y, np.where(rng.random(n) < 0.7, y, rng.integers(0, k, n))


def test_confusion_matrix_classes_at_the_bound(tmp_path):
    limit = fastmlp.plot._MAX_CLASSES
    y_true, y_pred = np.arange(limit), np.arange(limit)[::-1]
    with _fast(8):
        fig = fastmlp.plot.confusion_matrix(y_true, y_pred)
        fig.savefig(tmp_path / "cm.png")
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (limit, limit) and not ax.texts
    with pytest.raises(
        ValueError,
        match=rf"^labels: got {limit + 1} classes in y_true and y_pred; expected at "
        rf"most {limit} classes.*Pass labels=\[\.\.\.\] to show a subset",
    ):
        fastmlp.plot.confusion_matrix(np.arange(limit + 1), np.arange(limit + 1))
    with pytest.raises(ValueError, match=rf"^labels: got {limit + 1} classes in labels"):
        fastmlp.plot.confusion_matrix([0], [0], labels=range(limit + 1))
    # a subset of the classes is how to see some of them
    fig = fastmlp.plot.confusion_matrix(np.arange(5000), np.arange(5000), labels=[3, 1, 4])
    assert np.asarray(fig.axes[0].images[0].get_array()).tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_confusion_matrix_of_600_classes_degrades(tmp_path):
    """Issue 18's example: before, a 302-inch figure that was killed at 24 GB; now a 12-inch
    heat map without per-cell numbers, with about 20 named ticks, saved in about a second."""
    y_true, y_pred = _classes(600, n=100_000)
    with _fast(6):
        fig = fastmlp.plot.confusion_matrix(y_true, y_pred)
        fig.savefig(tmp_path / "cm600.png")
    ax = fig.axes[0]
    assert max(fig.get_size_inches()) <= 13 and not ax.texts
    assert 5 <= len(ax.get_xticks()) <= 25
    names = [label.get_text() for label in ax.get_xticklabels()]
    assert all(name == "" or 0 <= int(name) < 600 for name in names)


def test_confusion_matrix_annotations_and_ticks_at_their_edges():
    edge = fastmlp.plot._ANNOTATED_CLASSES
    fig = fastmlp.plot.confusion_matrix(*_classes(edge))
    assert len(fig.axes[0].texts) == edge * edge
    assert not fastmlp.plot.confusion_matrix(*_classes(edge + 1)).axes[0].texts
    named = fastmlp.plot._NAMED_CLASSES
    labels = np.arange(100, 100 + named + 1)  # every class named up to the edge
    y = np.repeat(labels, 3)
    ax = fastmlp.plot.confusion_matrix(y[y < 100 + named], y[y < 100 + named]).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in labels[:-1]]
    ax = fastmlp.plot.confusion_matrix(y, y).axes[0]
    assert len(ax.get_xticks()) < named + 1


def test_confusion_matrix_counts_like_a_loop():
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.integers(-3, 9, 5000), rng.integers(-3, 9, 5000)
    for labels in (None, [8, -3, 0, 5], np.array([2.0, 7.0])):
        shown = list(np.unique(np.concatenate([y_true, y_pred])) if labels is None else labels)
        expected = np.zeros((len(shown), len(shown)), dtype=np.int64)
        for t, p in zip(y_true.tolist(), y_pred.tolist()):
            if t in shown and p in shown:
                expected[shown.index(t), shown.index(p)] += 1
        fig = fastmlp.plot.confusion_matrix(y_true, y_pred, labels=labels)
        assert np.array_equal(fig.axes[0].images[0].get_array(), expected)
    names = np.array(["cat", "dog", "emu"])
    fig = fastmlp.plot.confusion_matrix(names[[0, 1, 2, 2]], names[[0, 2, 2, 1]])
    assert np.asarray(fig.axes[0].images[0].get_array()).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["cat", "dog", "emu"]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(y_true=np.arange(100_000), y_pred=np.arange(100_000)), ValueError, r"^labels: got 100000 classes"),
        (dict(y_pred=np.full((4, 3), 0.3)), ValueError, r"^y_pred: got an array of shape \(4, 3\).*argmax\(axis=1\)"),
        (dict(y_pred=[0.2, 0.9, 0.5, 0.1]), ValueError, r"^y_pred: got 0\.2 at index 0; expected class labels \(whole"),
        (dict(y_true=[0, 1, np.nan, 2]), ValueError, r"^y_true: got nan at index 2"),
        (dict(y_true=["a", "b", "c", "d"]), TypeError, r"^y_true and y_pred: got <U1 and int64 labels"),
        (dict(y_true=[0j, 1, 2, 3]), TypeError, r"^y_true: got an array .* complex128"),
        (dict(labels=[1, 2, 1]), ValueError, r"^labels: got class 1 more than once; expected each class once"),
        (dict(labels=[]), ValueError, r"^labels: got no classes"),
        (dict(labels=["a"]), TypeError, r"^labels: got <U1 labels for int64 y_true"),
        (dict(normalize="all"), TypeError, r"^normalize: got 'all'; expected True"),
        (dict(title=5), TypeError, r"^title: got 5; expected a str or None"),
    ],
)
def test_confusion_matrix_bad_input(kwargs, error, message):
    args = dict(y_true=[0, 1, 2, 2], y_pred=[0, 2, 2, 1])
    args.update(kwargs)
    with _fast(), pytest.raises(error, match=message):
        fastmlp.plot.confusion_matrix(**args)


def test_misclassified_n_at_its_bound():
    limit = fastmlp.plot._MAX_IMAGES
    X = np.random.default_rng(0).random((6, 784))
    fig = fastmlp.plot.misclassified(X, [0, 1, 2, 3, 4, 5], [1, 1, 3, 3, 5, 5], n=limit)  # just inside
    assert len([ax for ax in fig.axes if ax.images]) == 3
    with pytest.raises(ValueError, match=rf"^n: got {limit + 1}; expected an int from 1 to {limit}\. Draw several"):
        fastmlp.plot.misclassified(X, [0] * 6, [1] * 6, n=limit + 1)
    with _fast(), pytest.raises(ValueError, match=r"^n: got 1000000000"):  # a size bomb
        fastmlp.plot.misclassified(X, [0] * 6, [1] * 6, n=10**9)


def test_weights_n_at_its_bound():
    limit = fastmlp.plot._MAX_IMAGES
    net = fastmlp.MLP([784, 12, 10], seed=0)
    assert len([ax for ax in fastmlp.plot.weights(net, n=limit).axes if ax.images]) == 12  # just inside
    with pytest.raises(ValueError, match=rf"^n: got {limit + 1}; expected an int from 1 to {limit}"):
        fastmlp.plot.weights(net, n=limit + 1)
    with _fast(), pytest.raises(ValueError, match=r"^n: got 1000000000"):
        fastmlp.plot.weights(net, n=10**9)


@pytest.mark.parametrize("plot", ["misclassified", "weights"])
@pytest.mark.parametrize(
    "value, error, got",
    [
        (True, TypeError, "True"),
        (25.0, TypeError, "25.0"),
        (np.nan, TypeError, "nan"),
        ("25", TypeError, "'25'"),
        (0, ValueError, "0"),
        (-1, ValueError, "-1"),
    ],
)
def test_grid_n_refuses_bad_values(plot, value, error, got):
    call = {
        "misclassified": lambda n: fastmlp.plot.misclassified(np.zeros((2, 4)), [0, 1], [1, 0], n=n),
        "weights": lambda n: fastmlp.plot.weights(fastmlp.MLP([4, 2, 2], seed=0), n=n),
    }[plot]
    with pytest.raises(error, match=rf"^n: got {re.escape(got)}; expected an int from 1 to 100") as info:
        call(value)
    if value == 25.0 and not isinstance(value, bool):
        assert str(info.value).endswith("Write 25, not 25.0")


def test_large_images_are_shown_block_averaged():
    """Images above 256 pixels a side are drawn as block means, so matplotlib keeps small arrays."""
    side = 1024
    rng = np.random.default_rng(0)
    X = rng.random((2, side * side), dtype=np.float32)
    fig = fastmlp.plot.misclassified(X, [0, 0], [1, 1])
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (256, 256)
    np.testing.assert_allclose(shown, X[0].reshape(256, 4, 256, 4).mean(axis=(1, 3)), rtol=1e-6)
    net = fastmlp.MLP([side * side, 3, 2], seed=0)
    fig = fastmlp.plot.weights(net)
    shown = [ax for ax in fig.axes if ax.images][2].images[0].get_array()
    np.testing.assert_allclose(
        shown, np.asarray(net.weights[0])[:, 2].reshape(256, 4, 256, 4).mean(axis=(1, 3)), rtol=1e-5, atol=1e-9
    )
    # a side that is not a multiple of the block: the last row and column of pixels are left out
    X = rng.random((1, 301 * 301))
    shown = fastmlp.plot.misclassified(X, [0], [1]).axes[0].images[0].get_array()
    assert shown.shape == (150, 150)
    np.testing.assert_allclose(shown, X[0].reshape(301, 301)[:300, :300].reshape(150, 2, 150, 2).mean(axis=(1, 3)))
    # 256 a side or less: the image itself
    X = rng.random((1, 256 * 256))
    assert fastmlp.plot.misclassified(X, [0], [1]).axes[0].images[0].get_array().shape == (256, 256)


def test_misclassified_refuses_images_that_are_not_numbers():
    with pytest.raises(TypeError, match=r"^X: got an array .* expected an array of real numbers"):
        fastmlp.plot.misclassified(np.array([["a"] * 4, ["b"] * 4]), [0, 1], [1, 0])


def test_history_values_at_their_bound():
    limit = fastmlp.plot._MAX_HISTORY_VALUES
    half = limit // 2
    with _fast(6):
        fig = fastmlp.plot.history({"loss": np.linspace(2, 0.1, half), "val_loss": np.linspace(2, 0.2, half)})
    assert len(fig.axes[0].lines[0].get_xdata()) == half
    with (
        _fast(),
        pytest.raises(
            ValueError,
            match=rf"^history_or_dict: got {limit + 1} values in 2 lists "
            rf"\(history_or_dict\['loss'\] has {half + 1}\); expected at "
            rf"most {limit} values in all\. Plot every k-th epoch",
        ),
    ):
        fastmlp.plot.history({"loss": np.ones(half + 1), "val_loss": np.ones(half)})
    with _fast(), pytest.raises(ValueError, match=r"^history_or_dict: got 10000000 values"):  # a size bomb
        fastmlp.plot.history({"loss": np.ones(10**7)})


def test_history_panels_at_their_bound():
    limit = fastmlp.plot._MAX_PANELS
    fig = fastmlp.plot.history({f"metric{i:02d}": [1.0, 0.5] for i in range(limit)})
    assert len(fig.axes) == limit
    width, height = fig.get_size_inches()
    assert width <= 15 and height <= 4 * 3.8 + 0.1  # three panels a row
    with pytest.raises(ValueError, match=rf"^history_or_dict: got {limit + 1} metrics .* expected at most {limit}"):
        fastmlp.plot.history({f"metric{i:02d}": [1.0, 0.5] for i in range(limit + 1)})
    # loss with its val_ twin is one panel
    fig = fastmlp.plot.history({"loss": [1, 0.5], "val_loss": [1.2, 0.7], "accuracy": [0.5, 0.7]})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]


@pytest.mark.parametrize(
    "logs, error, message",
    [
        ({"loss": ["a", "b"]}, TypeError, r"^history_or_dict\['loss'\]: got .*; expected a list of numbers"),
        ({"loss": [[1, 2], [3, 4]]}, ValueError, r"^history_or_dict\['loss'\]: got an array of shape \(2, 2\)"),
        ({"loss": [1, [2, 3]]}, TypeError, r"^history_or_dict\['loss'\]"),
        ({1: [1.0, 2.0]}, TypeError, r"^history_or_dict: got the key 1; expected metric names"),
    ],
)
def test_history_bad_values(logs, error, message):
    with pytest.raises(error, match=message):
        fastmlp.plot.history(logs)


def test_history_draws_nan_as_a_gap():
    fig = fastmlp.plot.history({"loss": [1.0, 0.5, float("nan"), float("inf")]})
    assert np.isnan(fig.axes[0].lines[0].get_ydata()[2])


@pytest.mark.parametrize(
    "call",
    [
        lambda: fastmlp.plot.history({"loss": [1.0]}, title=3),
        lambda: fastmlp.plot.misclassified(np.zeros((2, 4)), [0, 1], [1, 0], title=["a"]),
        lambda: fastmlp.plot.weights(fastmlp.MLP([4, 2, 2], seed=0), title=b"w"),
    ],
)
def test_titles_are_strings(call):
    with pytest.raises(TypeError, match=r"^title: got .*; expected a str or None"):
        call()
