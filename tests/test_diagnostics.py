"""fastmlp.diagnostics: doctor, gradcheck, check_backprop and the ``fastmlp doctor`` command."""

import argparse
import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import reference
from fastmlp.cli import _doctor as cli_doctor
from fastmlp.diagnostics import check_backprop, doctor, gradcheck

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_DIR = str(fastmlp.datasets.MNIST_DIR)
PAIRS = reference.OUTPUT_LOSS_PAIRS
ACTIVATIONS = reference.ACTIVATIONS
CODES = (
    "inputs-not-scaled",
    "initial-loss-off",
    "saturated-units",
    "dead-units",
    "constant-predictions",
    "loss-diverging",
    "nan-loss",
    "loss-unstable",
    "loss-not-decreasing",
    "vanishing-gradients",
    "exploding-gradients",
    "class-imbalance",
)


@pytest.fixture(scope="module")
def data():
    """3000 training rows of the bundled MNIST: float32 in [0, 1], int64 labels."""
    (X, y), _ = fastmlp.datasets.load_mnist(fastmlp.datasets.MNIST_DIR)
    return X[:3000], y[:3000]


def params_of(net):
    return [np.array(p, copy=True) for p in list(net.weights) + list(net.biases)]


# ----------------------------------------------------------------------------------------------
# doctor
# ----------------------------------------------------------------------------------------------


def test_healthy_setup_gets_no_warning_or_error(data):
    X, y = data
    report = doctor(fastmlp.MLP([784, 128, 10], activation="relu", seed=0), X, y, optimizer=fastmlp.SGD(0.1))
    assert report.ok, str(report)
    assert not [f for f in report.findings if f.severity in ("warning", "error")]
    assert not set(report.codes) & set(CODES)
    assert report.measurements["final_loss"] < 0.5 * report.measurements["initial_loss"]
    assert "no problems found" in str(report)


def test_healthy_nielsen_network_is_ok(data):
    X, y = data
    net = fastmlp.MLP([784, 30, 10], activation="sigmoid", output="sigmoid", loss="mse", seed=0)
    report = doctor(net, X, y, optimizer=fastmlp.SGD(3.0))
    assert report.ok, str(report)


def test_doctor_leaves_the_callers_net_bit_identical(data):
    X, y = data
    net = fastmlp.MLP([784, 32, 10], seed=3)
    twin = fastmlp.MLP([784, 32, 10], seed=3)
    before = params_of(net)
    doctor(net, X, y, optimizer=fastmlp.SGD(50.0))  # a diverging run, retried at lower rates
    doctor(net, X * 255, y)
    for a, b in zip(before, params_of(net)):
        assert a.tobytes() == b.tobytes()
    # The random state is untouched too: the same training from here gives the same bits.
    net.fit(X[:500], y[:500], epochs=1, verbose=0)
    twin.fit(X[:500], y[:500], epochs=1, verbose=0)
    for a, b in zip(params_of(net), params_of(twin)):
        assert a.tobytes() == b.tobytes()


def test_doctor_accepts_the_reference_mlp(data):
    X, y = data
    net = reference.MLP([784, 16, 10], seed=0)
    before = params_of(net)
    report = doctor(net, X, y, steps=50)
    assert report.measurements["final_loss"] < report.measurements["initial_loss"]
    for a, b in zip(before, params_of(net)):
        assert a.tobytes() == b.tobytes()
    assert "inputs-not-scaled" in doctor(net, X * 255, y, steps=20).codes


def _dead_biases(net):
    net.biases[0] = np.full(net.sizes[1], -10.0)
    return net


def _imbalanced(X, y):
    rows = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:15]])
    return X[rows], y[rows]


# (id, code, expected severity, a function (X, y) -> doctor keyword arguments)
PROBLEMS = [
    (
        "raw-pixels",
        "inputs-not-scaled",
        "warning",
        lambda X, y: dict(net=fastmlp.MLP([784, 32, 10], seed=0), X=X * 255, y=y),
    ),
    (
        "tiny-inputs",
        "inputs-not-scaled",
        "warning",
        lambda X, y: dict(net=fastmlp.MLP([784, 32, 10], seed=0), X=X * 1e-4, y=y, steps=50),
    ),
    (
        "uniform-init",
        "initial-loss-off",
        "warning",
        lambda X, y: dict(net=fastmlp.MLP([784, 32, 10], init=("uniform", 0.0, 1.0), seed=0), X=X, y=y),
    ),
    (
        "big-sigmoid-weights",
        "saturated-units",
        "warning",
        lambda X, y: dict(net=fastmlp.MLP([784, 32, 10], "sigmoid", init=("normal", 1.0), seed=0), X=X, y=y),
    ),
    (
        "negative-biases",
        "dead-units",
        "warning",
        lambda X, y: dict(net=_dead_biases(fastmlp.MLP([784, 32, 10], seed=0)), X=X, y=y, steps=20),
    ),
    (
        "negative-biases",
        "constant-predictions",
        "warning",
        lambda X, y: dict(net=_dead_biases(fastmlp.MLP([784, 32, 10], seed=0)), X=X, y=y, steps=20),
    ),
    (
        "lr-50",
        "loss-diverging",
        "error",
        lambda X, y: dict(net=fastmlp.MLP([784, 32, 10], seed=0), X=X, y=y, optimizer=fastmlp.SGD(50.0)),
    ),
    (
        "lr-1e15",
        "nan-loss",
        "error",
        lambda X, y: dict(net=fastmlp.MLP([784, 32, 10], seed=0), X=X, y=y, optimizer=fastmlp.SGD(1e15)),
    ),
    (
        "momentum-lr-5",
        "loss-unstable",
        "warning",
        lambda X, y: dict(
            net=fastmlp.MLP([784, 32, 10], seed=0), X=X, y=y, optimizer=fastmlp.SGD(5.0, momentum=0.9), steps=100
        ),
    ),
    (
        "lr-1e-5",
        "loss-not-decreasing",
        "warning",
        lambda X, y: dict(net=fastmlp.MLP([784, 32, 10], seed=0), X=X, y=y, optimizer=fastmlp.SGD(1e-5), steps=100),
    ),
    (
        "deep-sigmoid",
        "vanishing-gradients",
        "warning",
        lambda X, y: dict(net=fastmlp.MLP([784] + [32] * 8 + [10], "sigmoid", seed=0), X=X, y=y, steps=20),
    ),
    (
        "deep-big-init",
        "exploding-gradients",
        "warning",
        lambda X, y: dict(net=fastmlp.MLP([784] + [32] * 6 + [10], init=("normal", 1.0), seed=0), X=X, y=y, steps=20),
    ),
    (
        "imbalanced",
        "class-imbalance",
        "warning",
        lambda X, y: dict(
            net=fastmlp.MLP([784, 16, 2], seed=0), X=_imbalanced(X, y)[0], y=_imbalanced(X, y)[1], steps=50
        ),
    ),
]


@pytest.mark.parametrize("name, code, severity, setup", PROBLEMS, ids=[f"{p[1]}:{p[0]}" for p in PROBLEMS])
def test_each_problem_raises_its_code(data, name, code, severity, setup):
    report = doctor(**setup(*data))
    assert code in report.codes, str(report)
    finding = report[code]
    assert finding.severity == severity
    assert not report.ok
    assert any(ch.isdigit() for ch in finding.message), finding.message  # the measured number
    assert finding.hint and finding.hint != finding.message
    assert code in str(report) and finding.severity in str(report)


def test_too_high_learning_rate_hint_names_a_rate_that_trains(data):
    X, y = data
    report = doctor(fastmlp.MLP([784, 32, 10], seed=0), X, y, optimizer=fastmlp.SGD(50.0))
    hint = report["loss-diverging"].hint
    assert "lr=5 " in hint or "lr=0.5 " in hint or "lr=0.05 " in hint, hint
    assert report.measurements["safer_lr"] in (5.0, 0.5, 0.05)


def test_nan_loss_is_reported_not_raised(data):
    X, y = data
    report = doctor(fastmlp.MLP([784, 32, 10], seed=0), X, y, optimizer=fastmlp.SGD(1e15))
    assert report.findings[0].code == "nan-loss"  # the setup is sound: the rate leads
    assert "step" in report["nan-loss"].message and "lr=" in report["nan-loss"].hint


def test_initial_loss_message_has_the_measured_loss(data):
    X, y = data
    report = doctor(fastmlp.MLP([784, 32, 10], init=("uniform", 0.0, 1.0), seed=0), X, y, steps=10)
    assert f"{report.measurements['initial_loss']:.4g}" in report["initial-loss-off"].message
    assert "ln(10)" in report["initial-loss-off"].message


def test_doctor_on_an_already_trained_net_is_ok(data):
    X, y = data
    net = fastmlp.MLP([784, 64, 10], seed=0)
    net.fit(X, y, epochs=3, batch_size=32, verbose=0)
    report = doctor(net, X, y, optimizer=fastmlp.SGD(0.01), steps=50)
    assert report.ok, str(report)


def test_invalid_input_raises_like_fit(data):
    X, y = data
    net = fastmlp.MLP([784, 16, 10], seed=0)
    with pytest.raises(ValueError, match="label"):
        doctor(net, X[:100], y[:100] + 10)
    with pytest.raises(ValueError, match="features"):
        doctor(net, X[:100, :700], y[:100])
    bad = X[:100].copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        doctor(net, bad, y[:100])
    with pytest.raises(TypeError, match="optimizer"):
        doctor(net, X[:100], y[:100], optimizer="sgd")
    with pytest.raises(TypeError, match="net"):
        doctor("not a net", X[:100], y[:100])


def test_report_str_and_repr(data):
    X, y = data
    report = doctor(fastmlp.MLP([784, 32, 10], seed=0), X * 255, y, steps=20)
    text = str(report)
    assert text.splitlines()[0].startswith("fastmlp doctor: MLP([784, 32, 10]")
    assert "severity" in text and "fix:" in text and "NOT OK" in text
    assert all(len(line) <= 140 for line in text.splitlines()[1:])
    assert repr(report).startswith("DoctorReport(ok=False, findings=[")
    assert "warning:inputs-not-scaled" in repr(report)
    assert report.codes[0] == "inputs-not-scaled"  # the root cause before the error it causes
    with pytest.raises(KeyError):
        report["no-such-code"]


# ----------------------------------------------------------------------------------------------
# gradcheck
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradcheck_of_the_compiled_model_is_below_1e_4(data, activation, output, loss):
    X, y = data
    net = fastmlp.MLP([784, 16, 12, 10], activation, output, loss, seed=1)
    net.fit(X[:1000], y[:1000], epochs=1, verbose=0)  # off the initial point: biases non-zero
    error, per_parameter = gradcheck(net, X[1000:], y[1000:], per_parameter=True)
    assert error < 1e-4, per_parameter
    assert sorted(per_parameter) == ["W1", "W2", "W3", "b1", "b2", "b3"]


def test_gradcheck_of_the_float64_reference_is_tiny(data):
    X, y = data
    net = reference.MLP([784, 8, 10], "tanh", dtype=np.float64, seed=0)
    assert gradcheck(net, X, y) < 1e-6


class _WrongGradients:
    """A net whose loss_and_gradients is deliberately wrong, everything else delegated."""

    def __init__(self, net, corrupt):
        self._net, self._corrupt = net, corrupt

    def __getattr__(self, name):
        return getattr(self._net, name)

    def loss_and_gradients(self, X, y):
        loss, grads = self._net.loss_and_gradients(X, y)
        return loss, self._corrupt(grads)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda g: [(1.1 * dW, 1.1 * db) for dW, db in g],
        lambda g: [(dW, 0 * db) for dW, db in g],
        lambda g: [(dW, db) for dW, db in g[:-1]] + [(-g[-1][0], g[-1][1])],
    ],
    ids=["scaled-1.1", "bias-zero", "last-layer-sign"],
)
def test_gradcheck_catches_wrong_gradients(data, corrupt):
    X, y = data
    net = fastmlp.MLP([784, 16, 10], "sigmoid", seed=0)
    net.fit(X[:500], y[:500], verbose=0)
    assert gradcheck(net, X, y) < 1e-4
    assert gradcheck(_WrongGradients(net, corrupt), X, y) > 1e-2


def test_gradcheck_does_not_change_the_net(data):
    X, y = data
    net = fastmlp.MLP([784, 16, 10], seed=0)
    before = params_of(net)
    gradcheck(net, X, y)
    for a, b in zip(before, params_of(net)):
        assert a.tobytes() == b.tobytes()


# ----------------------------------------------------------------------------------------------
# check_backprop: a learner-style backprop with switchable bugs
# ----------------------------------------------------------------------------------------------


def _f(activation, z):
    if activation == "relu":
        return np.maximum(z, 0)
    if activation == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-z))
    return np.tanh(z)


def _f_prime(activation, a):
    """The derivative, in terms of the activation a = f(z)."""
    if activation == "relu":
        return (a > 0).astype(float)
    if activation == "leaky_relu":
        return np.where(a > 0, 1.0, 0.01)
    if activation == "sigmoid":
        return a * (1 - a)
    return 1 - a**2


def learner(activation="sigmoid", output="softmax", loss="cross_entropy", bug=None):
    """A backprop written as a learner writes it, with one optional bug."""

    def backprop(weights, biases, X, Y):
        n = len(X)
        acts = [X]
        for W, b in zip(weights[:-1], biases[:-1]):
            acts.append(_f(activation, acts[-1] @ W + b))
        z = acts[-1] @ weights[-1] + biases[-1]
        if output == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        else:
            out = 1 / (1 + np.exp(-z))
        g = out - Y
        if loss == "cross_entropy":
            delta = g * out * (1 - out) if bug == "softmax-derivative" else g
        elif output == "sigmoid":
            delta = g * out * (1 - out)
        else:
            delta = out * (g - np.sum(g * out, axis=1, keepdims=True))
        delta = delta / n
        if bug == "sign":
            delta = -delta
        dW, db = [], []
        for layer in reversed(range(len(weights))):
            dW.insert(0, acts[layer].T @ delta)
            db.insert(0, delta.sum(axis=0))
            if layer > 0:
                delta = (delta @ weights[layer].T) * _f_prime(activation, acts[layer])
        if bug == "bias-sum":
            db = [b * n for b in db]
        if bug == "transposed":
            dW[0] = dW[0].T
        if bug == "noise":
            dW[1] = dW[1] + 1e-3 * np.random.default_rng(0).normal(size=dW[1].shape)
        if bug == "zero":
            db[0] = np.zeros_like(db[0])
        if bug == "column-bias":
            db[1] = db[1][:, None]
        if bug == "short-bias":
            db[1] = db[1][:-1]
        if bug == "nan":
            dW[0] = dW[0] * np.nan
        if bug == "raise":
            return dW[0] @ dW[1].T  # a shape error, as learners meet them
        if bug == "none":
            return None
        if bug == "one-list":
            return dW
        if bug == "few":
            return dW[:1], db
        if bug == "string":
            return dW, ["db1", "db2"]
        if bug == "swapped":
            return db, dW
        if bug == "pairs":
            return list(zip(dW, db))
        if bug == "mutate":
            for array in weights + biases + [X, Y]:
                array[...] = 0.0
        return dW, db

    return backprop


SIZES = [4, 5, 3]  # distinct, and different from n = 8


@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_correct_backprop_passes(activation, output, loss):
    report = check_backprop(learner(activation, output, loss), SIZES, activation, output, loss)
    assert report.ok, str(report)
    assert [p.name for p in report.params] == ["W1", "b1", "W2", "b2"]
    assert all(p.verdict == "ok" and p.rel_error < 1e-6 for p in report.params)


def test_a_deeper_correct_backprop_passes():
    report = check_backprop(learner("tanh"), [6, 5, 4, 3], "tanh", n=7, seed=4)
    assert report.ok and [p.name for p in report.params] == ["W1", "b1", "W2", "b2", "W3", "b3"]


def test_a_flipped_sign_is_named():
    report = check_backprop(learner(bug="sign"), SIZES)
    assert set(report.verdicts.values()) == {"sign-flipped"}
    assert all(p.factor == -1.0 for p in report.params)
    assert not report.ok


def test_a_bias_gradient_n_times_too_big_is_scaled_by_n():
    report = check_backprop(learner(bug="bias-sum"), SIZES, n=8)
    assert report.verdicts == {"W1": "ok", "b1": "scaled", "W2": "ok", "b2": "scaled"}
    assert report["b1"].factor == pytest.approx(8.0)
    assert "mean" in report["b1"].message


def test_a_transposed_weight_gradient_is_named():
    report = check_backprop(learner(bug="transposed"), SIZES)
    assert report.verdicts == {"W1": "transposed", "b1": "ok", "W2": "ok", "b2": "ok"}
    assert report["W1"].shape == (5, 4) and report["W1"].expected_shape == (4, 5)
    square = check_backprop(learner(bug="transposed"), [5, 5, 3])
    assert square["W1"].verdict == "transposed"


def test_added_noise_is_wrong_with_its_relative_error():
    report = check_backprop(learner(bug="noise"), SIZES)
    assert report["W2"].verdict == "wrong"
    assert 1e-4 < report["W2"].rel_error < 1
    assert f"{report['W2'].rel_error:.3g}" in report["W2"].message
    assert report["W1"].verdict == "ok"


def test_a_zero_gradient_is_named():
    assert check_backprop(learner(bug="zero"), SIZES)["b1"].verdict == "zero"


@pytest.mark.parametrize("bug, got", [("column-bias", "(3, 1)"), ("short-bias", "(2,)")])
def test_a_wrong_shape_gives_both_shapes(bug, got):
    p = check_backprop(learner(bug=bug), SIZES)["b2"]
    assert p.verdict == "shape"
    assert got in p.message and "(3,)" in p.message


def test_the_softmax_derivative_mistake_is_recognised():
    report = check_backprop(learner(bug="softmax-derivative"), SIZES)
    assert set(report.verdicts.values()) == {"wrong"}
    assert all("p(1 - p)" in p.message for p in report.params)


def test_fn_raising_becomes_part_of_the_report():
    report = check_backprop(learner(bug="raise"), SIZES)
    assert not report.ok
    assert set(report.verdicts.values()) == {"missing"}
    assert "ValueError" in report.error and "test_diagnostics.py" in report.error
    assert "dW[0] @ dW[1].T" in report.error  # the learner's line
    assert "ValueError" in str(report)


@pytest.mark.parametrize("bug", ["none", "one-list", "few", "string", "nan"])
def test_garbage_returns_become_part_of_the_report(bug):
    report = check_backprop(learner(bug=bug), SIZES)
    assert not report.ok
    assert any(p.verdict in ("missing", "invalid") for p in report.params)
    str(report), repr(report)


def test_fn_cannot_corrupt_the_truth():
    report = check_backprop(learner(bug="mutate"), SIZES)
    assert report.ok
    assert all(np.any(W != 0) for W in report.problem["weights"])


@pytest.mark.parametrize("bug", ["swapped", "pairs"])
def test_other_layouts_are_read_with_a_note(bug):
    report = check_backprop(learner(bug=bug), SIZES)
    assert report.ok and report.notes


def test_check_backprop_str_is_a_table():
    text = str(check_backprop(learner(bug="bias-sum"), SIZES))
    assert "param" in text and "verdict" in text and "scaled" in text and "NOT OK" in text
    assert "b1" in repr(check_backprop(learner(), SIZES))


def test_check_backprop_checks_its_own_arguments():
    with pytest.raises(TypeError, match="fn"):
        check_backprop("not callable", SIZES)
    with pytest.raises(ValueError, match="activation"):
        check_backprop(learner(), SIZES, activation="softplus")


# ----------------------------------------------------------------------------------------------
# the command line
# ----------------------------------------------------------------------------------------------


def test_cli_doctor_exits_0_on_a_healthy_spec(capsys):
    code = cli_doctor.main(["--data", MNIST_DIR, "--sizes", "784,32,10", "--steps", "100"])
    assert code == 0
    assert "ok: no problems found" in capsys.readouterr().out


def test_cli_doctor_exits_1_on_a_bad_setup(capsys):
    code = cli_doctor.main(["--data", MNIST_DIR, "--sizes", "784,32,10", "--steps", "50", "--input-scale", "255"])
    assert code == 1
    assert "inputs-not-scaled" in capsys.readouterr().out


def test_cli_doctor_on_a_saved_model(tmp_path, capsys):
    path = fastmlp.MLP([784, 32, 10], init=("uniform", 0.0, 1.0), seed=0).save(tmp_path / "bad.npz")
    assert cli_doctor.main(["--data", MNIST_DIR, "--model", str(path), "--steps", "20", "--json"]) == 1
    assert '"initial-loss-off"' in capsys.readouterr().out


def test_cli_doctor_usage_errors_exit_2(tmp_path, capsys):
    assert cli_doctor.main(["--data", MNIST_DIR, "--sizes", "10,5,3"]) == 2
    assert cli_doctor.main(["--data", MNIST_DIR, "--model", str(tmp_path / "missing.npz")]) == 2
    assert "error" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli_doctor.main(["--sizes", "784,x,10"])
    assert exit_info.value.code == 2


def test_cli_doctor_plugs_into_a_subcommand_parser():
    parser = argparse.ArgumentParser(prog="fastmlp")
    cli_doctor.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["doctor", "--data", MNIST_DIR, "--sizes", "784,16,10", "--steps", "30"])
    assert args.func is cli_doctor.run
    assert args.func(args) in (0, 1)


@pytest.mark.slow
def test_python_m_fastmlp_cli_doctor(tmp_path):
    # run outside the source tree, so the installed (compiled) package is the one imported
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastmlp",
            "doctor",
            "--data",
            MNIST_DIR,
            "--sizes",
            "784,32,10",
            "--lr",
            "1e-5",
            "--steps",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "loss-not-decreasing" in result.stdout


@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_mistake_catalogue_starts_from_the_true_gradients(activation, output, loss):
    # Every known mistake is computed by one function; without a mistake it must be the truth.
    from fastmlp.diagnostics._gradients import _mistaken_backprop

    problem = check_backprop(learner(activation, output, loss), SIZES, activation, output, loss).problem
    dW, db = _mistaken_backprop(
        problem["weights"], problem["biases"], problem["X"], problem["Y"], activation, output, loss, None
    )
    for mine, true in zip(dW + db, problem["grads"][0] + problem["grads"][1]):
        np.testing.assert_allclose(mine, true, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------------------------
# issue 17: gradcheck says "inconclusive" where float64 central differences cannot judge
# ----------------------------------------------------------------------------------------------


def _saturated(output="softmax", loss="cross_entropy"):
    """A sigmoid 784-30-10 network whose every hidden unit sits at 0 or 1 on raw pixels."""
    net = fastmlp.MLP([784, 30, 10], "sigmoid", output, loss, init=("normal", 1.0), seed=0)
    for W in net.weights:
        W *= 1000
    return net


def test_gradcheck_of_a_saturated_network_is_inconclusive_not_1(data):
    X, y = data
    result, per_parameter = gradcheck(_saturated(), X * 255, y, per_parameter=True)
    assert result.verdict == "inconclusive", result
    assert result.inconclusive == ("W1", "b1")
    assert np.isnan(per_parameter["W1"]) and np.isnan(per_parameter["b1"])
    assert float(result) < 1e-2  # the output layer is judged, and right
    assert "inconclusive" in str(result) and "W1, b1" in str(result)
    assert "inconclusive" in repr(result)
    assert result.resolution > 0


def test_gradcheck_with_nothing_to_judge_is_nan():
    # Saturated sigmoid outputs under MSE: every gradient is ~0, the loss is not.
    X = np.random.default_rng(0).uniform(0, 255, size=(16, 784))
    y = np.arange(16) % 10
    result = gradcheck(_saturated("sigmoid", "mse"), X, y)
    assert result.verdict == "inconclusive"
    assert result.inconclusive == ("W1", "b1", "W2", "b2")
    assert np.isnan(result)
    assert not result < 1e-4 and not result > 1e-2  # neither passes nor fails a float test


def test_gradcheck_of_an_ordinary_network_is_a_float_and_ok(data):
    X, y = data
    result = gradcheck(fastmlp.MLP([784, 16, 10], "sigmoid", seed=0), X, y)
    assert isinstance(result, float) and result < 1e-4
    assert result.verdict == "ok" and result.inconclusive == ()
    assert f"{result:.1e}" == f"{float(result):.1e}"
    assert str(result).startswith("ok: ")
    import pickle

    again = pickle.loads(pickle.dumps(result))
    assert again == result and again.verdict == "ok" and again.per_parameter == result.per_parameter


def _double_the_gradients(net, monkeypatch):
    true = net.loss_and_gradients

    def doubled(X, y):
        loss, grads = true(X, y)
        return loss, [(2 * dW, 2 * db) for dW, db in grads]

    monkeypatch.setattr(net, "loss_and_gradients", doubled, raising=False)
    return net


def test_gradcheck_still_catches_a_doubled_gradient(data, monkeypatch):
    X, y = data
    result = gradcheck(_double_the_gradients(reference.MLP([784, 16, 10], "sigmoid", seed=0), monkeypatch), X, y)
    assert result.verdict == "wrong" and result == pytest.approx(0.5, abs=1e-3)
    assert str(result).startswith("wrong: ")
    # Wrong where it can be judged (the output layer) beats inconclusive where it cannot.
    saturated = gradcheck(_double_the_gradients(_saturated(), monkeypatch), X * 255, y)
    assert saturated.verdict == "wrong" and saturated.inconclusive == ("W1", "b1")


# ----------------------------------------------------------------------------------------------
# issue 17: doctor lists root causes first, with advice that fits the network
# ----------------------------------------------------------------------------------------------

# The causal order the findings must follow, written out here independently of _doctor.py.
ORDER = [
    ("inputs-not-scaled", "start"),
    ("saturated-units", "start"),
    ("dead-units", "start"),
    ("nan-loss", "start"),
    ("initial-loss-off", "start"),
    ("exploding-gradients", "start"),
    ("vanishing-gradients", "start"),
    ("class-imbalance", "start"),
    ("nan-loss", "run"),
    ("loss-diverging", "run"),
    ("loss-unstable", "run"),
    ("loss-not-decreasing", "run"),
    ("saturated-units", "end"),
    ("dead-units", "end"),
    ("constant-predictions", "end"),
]
LOSS_CODES = {"initial-loss-off", "nan-loss", "loss-diverging", "loss-unstable", "loss-not-decreasing"}
LR_CODES = {"nan-loss", "loss-diverging", "loss-unstable"}


def assert_causal_order(report):
    keys = [(ORDER.index((f.code, f.stage)), ("error", "warning", "info").index(f.severity)) for f in report.findings]
    assert keys == sorted(keys), str(report)


ONE_HIDDEN_LAYER = {
    "nielsen-pixels": "sigmoid",
    "tanh-pixels": "tanh",
    "fully-saturated": "sigmoid",
    "relu-pixels": "relu",
    "uniform-init": "relu",
    "negative-biases": "relu",
    "lr-50": "relu",
}


def one_hidden_layer_setups(X, y):
    """Reports on the bad setups of one-hidden-layer networks named in ONE_HIDDEN_LAYER."""
    pixels = np.round(X * 255)
    return {
        "nielsen-pixels": doctor(
            fastmlp.MLP([784, 30, 10], "sigmoid", init=("normal", 1.0), seed=0), pixels, y, steps=100
        ),
        "tanh-pixels": doctor(fastmlp.MLP([784, 30, 10], "tanh", init=("normal", 1.0), seed=0), pixels, y, steps=50),
        "fully-saturated": doctor(_saturated(), pixels, y, steps=50),
        "relu-pixels": doctor(fastmlp.MLP([784, 32, 10], seed=0), pixels, y, steps=20),
        "uniform-init": doctor(fastmlp.MLP([784, 32, 10], init=("uniform", 0.0, 1.0), seed=0), X, y, steps=100),
        "negative-biases": doctor(_dead_biases(fastmlp.MLP([784, 32, 10], seed=0)), X, y, steps=20),
        "lr-50": doctor(fastmlp.MLP([784, 32, 10], seed=0), X, y, optimizer=fastmlp.SGD(50.0), steps=100),
    }


@pytest.fixture(scope="module")
def one_hidden_layer_reports(data):
    return one_hidden_layer_setups(*data)


def test_doctor_names_unscaled_pixels_before_the_saturation_they_cause(one_hidden_layer_reports):
    report = one_hidden_layer_reports["nielsen-pixels"]
    assert report.codes[0] == "inputs-not-scaled", str(report)
    assert report["saturated-units"].stage == "start"
    first_loss = min((i for i, code in enumerate(report.codes) if code in LOSS_CODES), default=len(report))
    assert report.codes.index("saturated-units") < first_loss, str(report)
    assert "scale the inputs" in report["saturated-units"].hint
    assert "Glorot for sigmoid" in report["saturated-units"].hint  # the weights are 20x it


@pytest.mark.parametrize("name", sorted(ONE_HIDDEN_LAYER))
def test_doctor_findings_follow_the_causal_order(one_hidden_layer_reports, name):
    assert_causal_order(one_hidden_layer_reports[name])


@pytest.mark.parametrize("name", sorted(ONE_HIDDEN_LAYER))
def test_doctor_advice_fits_a_one_hidden_layer_network(one_hidden_layer_reports, name):
    report, activation = one_hidden_layer_reports[name], ONE_HIDDEN_LAYER[name]
    assert not report.ok
    lr_shown = bool(set(report.codes) & LR_CODES)
    for finding in report.findings:
        hint = finding.hint
        assert "deep" not in hint and "fewer layers" not in hint, (finding.code, hint)
        if activation == "relu":
            assert not any(word in hint for word in ("sigmoid", "tanh", "Glorot")), (finding.code, hint)
        else:
            assert not any(word in hint for word in ("relu", "He init", "He for")), (finding.code, hint)
            assert activation in hint or "Glorot" not in hint, (finding.code, hint)
        if not lr_shown:
            assert "smaller learning rate" not in hint and "lower the learning rate" not in hint, (finding.code, hint)


def test_dead_units_from_the_start_are_a_cause_and_after_a_diverging_run_a_symptom(one_hidden_layer_reports):
    at_start = one_hidden_layer_reports["negative-biases"]
    assert at_start.codes[0] == "dead-units" and at_start["dead-units"].stage == "start"
    assert "biases at zero" in at_start["dead-units"].hint
    assert at_start.codes[-1] == "constant-predictions"
    after_run = one_hidden_layer_reports["lr-50"]
    assert after_run.codes[:3] == ["loss-diverging", "dead-units", "constant-predictions"], str(after_run)
    assert after_run["dead-units"].stage == "end"
    assert "loss-diverging" in after_run["dead-units"].hint
    assert "loss-diverging" in after_run["constant-predictions"].hint


def test_vanishing_gradients_of_one_saturated_layer_blame_the_saturation_not_depth(one_hidden_layer_reports):
    report = one_hidden_layer_reports["fully-saturated"]
    hint = report["vanishing-gradients"].hint
    assert "saturated-units" in hint and "scale the inputs" in hint, hint
    assert report.codes[:2] == ["inputs-not-scaled", "saturated-units"], str(report)


def test_a_deep_sigmoid_network_may_be_told_about_its_depth(data):
    X, y = data
    report = doctor(fastmlp.MLP([784] + [32] * 5 + [10], "sigmoid", init=("normal", 0.1), seed=0), X, y, steps=20)
    assert "vanishing-gradients" in report.codes, str(report)
    hint = report["vanishing-gradients"].hint
    assert "5 hidden layers" in hint and "activation='relu'" in hint and "fewer layers" in hint
    assert_causal_order(report)
