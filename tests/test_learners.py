"""The learners' networks (issue 6): five classic from-scratch MNIST networks, trained as their
authors meant them, and the symptoms of their bugs, reproduced where fastmlp's building blocks
can and found by fastmlp.doctor and fastmlp.check_backprop.

The accuracies are those a correct NumPy implementation reaches on the 60000/10000 split; each
configuration must come within 2 points with fastmlp. The scripts in examples/learners/ explain
each bug; this file repeats the configurations instead of importing them.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

import fastmlp
from fastmlp.reference import sigmoid, softmax

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FULL_BATCH_ROWS = 10000  # the full-batch networks train on the first 10000 training rows
TOLERANCE = 0.02  # two points of accuracy


@dataclass(frozen=True)
class Learner:
    sizes: tuple
    activation: str
    output: str
    loss: str
    init: object
    batch_size: object  # an int, or "full" for full-batch descent on FULL_BATCH_ROWS rows
    lr: float
    epochs: int  # for the full-batch networks: the number of steps
    target: tuple  # the correct accuracy from the issue, (low, high)


LEARNERS = {
    "net1": Learner((784, 15, 10), "sigmoid", "softmax", "cross_entropy", "glorot", 1, 0.01, 1, (0.92, 0.92)),
    "net2": Learner((784, 30, 10), "sigmoid", "sigmoid", "mse", "glorot", 10, 2.0, 1, (0.94, 0.94)),
    "net3": Learner((784, 16, 16, 10), "relu", "softmax", "cross_entropy", "he", "full", 0.1, 300, (0.89, 0.91)),
    "net4": Learner((784, 128, 64, 10), "sigmoid", "softmax", "cross_entropy", "glorot", 1, 0.05, 1, (0.95, 0.95)),
    "net5": Learner(
        (784, 64, 10), "tanh", "softmax", "cross_entropy", ("normal", 0.01), "full", 0.3, 100, (0.886, 0.886)
    ),
}


@pytest.fixture(scope="module")
def mnist():
    """``((X_train, y_train), (X_test, y_test))`` from the MNIST inside fastmlp."""
    return fastmlp.datasets.load_mnist(fastmlp.datasets.MNIST_DIR)


def build(learner, seed=0, init=None):
    return fastmlp.MLP(
        list(learner.sizes),
        activation=learner.activation,
        output=learner.output,
        loss=learner.loss,
        init=learner.init if init is None else init,
        seed=seed,
    )


def training_rows(learner, X, y):
    if learner.batch_size == "full":
        return X[:FULL_BATCH_ROWS], y[:FULL_BATCH_ROWS], FULL_BATCH_ROWS, False
    return X, y, learner.batch_size, True


def train(learner, mnist, seed=0, lr=None, init=None):
    (X, y), _ = mnist
    X, y, batch_size, shuffle = training_rows(learner, X, y)
    net = build(learner, seed, init)
    history = net.fit(
        X,
        y,
        epochs=learner.epochs,
        batch_size=batch_size,
        shuffle=shuffle,
        verbose=0,
        optimizer=fastmlp.SGD(lr=learner.lr if lr is None else lr),
    )
    return net, history


def top_class_share(net, X):
    counts = np.bincount(net.predict(X), minlength=net.sizes[-1])
    return counts.max() / counts.sum()


def doctor_codes(net, X, y, lr, **kwargs):
    from fastmlp.diagnostics import doctor

    report = doctor(net, X, y, optimizer=fastmlp.SGD(lr=lr), **kwargs)
    return set(report.codes), report


# ---- the networks, trained right ----


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_learner_network_reaches_the_issue_accuracy(mnist, name):
    learner = LEARNERS[name]
    net, _ = train(learner, mnist)
    accuracy = net.evaluate(*mnist[1])["accuracy"]
    low, high = learner.target
    assert low - TOLERANCE <= accuracy <= high + TOLERANCE, (
        f"{name}: test accuracy {accuracy:.4f}; the issue's correct implementation reaches {low:.3f}-{high:.3f}"
    )


# ---- the symptoms of the learners' bugs ----


@pytest.mark.slow
def test_net2_uniform_01_init_gives_one_class(mnist):
    """Weights and biases uniform in [0, 1) saturate every hidden sigmoid: one answer for all."""
    learner = LEARNERS["net2"]
    (X, y), (X_test, _) = mnist

    def uniform_01():
        net = build(learner, init=("uniform", 0.0, 1.0))
        rng = np.random.default_rng(0)
        for layer, n_out in enumerate(learner.sizes[1:]):
            net.biases[layer] = rng.uniform(0.0, 1.0, size=n_out)
        return net

    net = uniform_01()
    with pytest.warns(UserWarning, match="no better than chance"):  # fit says it does not learn
        net.fit(X, y, epochs=1, batch_size=learner.batch_size, optimizer=fastmlp.SGD(lr=learner.lr), verbose=0)
    assert top_class_share(net, X_test) >= 0.95
    codes, report = doctor_codes(uniform_01(), X, y, learner.lr, batch_size=learner.batch_size)
    assert codes & {"constant-predictions", "saturated-units"}, str(report)
    assert not report.ok


@pytest.mark.slow
def test_net1_same_sample_every_step_predicts_its_label(mnist):
    learner = LEARNERS["net1"]
    (X, y), (X_test, _) = mnist
    net = build(learner)
    net.fit(
        np.repeat(X[:1], len(X), axis=0),
        np.repeat(y[:1], len(X)),
        epochs=1,
        batch_size=1,
        optimizer=fastmlp.SGD(lr=learner.lr),
        verbose=0,
    )
    assert np.mean(net.predict(X_test) == y[0]) >= 0.95


@pytest.mark.slow
def test_net1_labels_that_are_not_their_images_stay_at_chance(mnist):
    learner = LEARNERS["net1"]
    (X, y), test = mnist
    net = build(learner)
    with pytest.warns(UserWarning, match="no better than chance"):
        net.fit(
            X,
            np.random.default_rng(0).permutation(y),
            epochs=1,
            batch_size=1,
            optimizer=fastmlp.SGD(lr=learner.lr),
            verbose=0,
        )
    assert net.evaluate(*test)["accuracy"] < 0.15
    assert top_class_share(net, test[0]) >= 0.9  # it answers the commonest label, "1"


@pytest.mark.slow
def test_net1_gradient_ascent_climbs_the_loss(mnist):
    """W += lr * dW, one sample at a time, through net.loss_and_gradients."""
    learner = LEARNERS["net1"]
    (X, y), test = mnist
    net = build(learner)
    before = net.evaluate(*test)
    for i in range(2000):
        _, grads = net.loss_and_gradients(X[i : i + 1], y[i : i + 1])
        for W, b, (dW, db) in zip(net.weights, net.biases, grads):
            W += learner.lr * dW
            b += learner.lr * db
    after = net.evaluate(*test)
    assert after["loss"] > 10 * before["loss"]
    assert after["accuracy"] < 0.15


@pytest.mark.slow
def test_net3_learning_rate_too_large_kills_the_relus(mnist):
    """lr 3.0 instead of 0.1: the loss spikes, the ReLUs die, one class for every image (11%)."""
    learner = LEARNERS["net3"]
    (X, y), (X_test, _) = mnist
    X, y = X[:FULL_BATCH_ROWS], y[:FULL_BATCH_ROWS]
    net = build(learner)
    history = net.fit(X, y, epochs=20, batch_size=len(X), shuffle=False, optimizer=fastmlp.SGD(lr=3.0), verbose=0)
    assert max(history.history["loss"]) > 10 * history.history["loss"][0]
    assert top_class_share(net, X_test) >= 0.95
    codes, report = doctor_codes(build(learner), X, y, 3.0, steps=20, batch_size=len(X))
    assert codes & {"loss-diverging", "nan-loss"}, str(report)
    assert codes & {"dead-units", "constant-predictions"}, str(report)


@pytest.mark.slow
def test_net5_gradients_divided_by_the_feature_count_diverge(mnist):
    """Dividing by 784 instead of 10000 rows is lr * 10000 / 784: doctor sees the loss diverge."""
    learner = LEARNERS["net5"]
    (X, y), _ = mnist
    X, y = X[:FULL_BATCH_ROWS], y[:FULL_BATCH_ROWS]
    lr = learner.lr * FULL_BATCH_ROWS / learner.sizes[0]
    codes, report = doctor_codes(build(learner), X, y, lr, steps=10, batch_size=len(X))
    assert codes & {"loss-diverging", "nan-loss"}, str(report)
    assert max(loss for _, loss in report.measurements["loss_curve"]) > 10 * report.measurements["initial_loss"]


@pytest.mark.slow
def test_net4_unscaled_init_saturates_the_sigmoids(mnist):
    """A Xavier init with its scale left out, N(0, 1): doctor finds saturated units."""
    learner = LEARNERS["net4"]
    (X, y), _ = mnist
    codes, report = doctor_codes(build(learner, init=("normal", 1.0)), X, y, learner.lr, steps=200, batch_size=1)
    assert "saturated-units" in codes, str(report)


# ---- the learners' own backprop, as fastmlp.check_backprop sees it ----


def learner_backprop(weights, biases, X, Y, activation="sigmoid", bug=None):
    """A learner's backprop for a softmax + cross-entropy network, with one of the issue's bugs."""
    f = {"sigmoid": sigmoid, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[activation]
    derivative = {
        "sigmoid": lambda z, a: a * (1 - a),
        "tanh": lambda z, a: 1 - a * a,
        "relu": lambda z, a: (z > 0).astype(z.dtype),
        # the bug: a softmax's derivative for a sigmoid layer
        "softmax": lambda z, a: softmax(z) * (1 - softmax(z)),
    }["softmax" if bug == "softmax-derivative-in-hidden" else activation]
    activations, pre = [X], []
    for W, b in zip(weights[:-1], biases[:-1]):
        pre.append(activations[-1] @ W + b)
        activations.append(f(pre[-1]))
    p = softmax(activations[-1] @ weights[-1] + biases[-1])
    delta = (p - Y) / (X.shape[1] if bug == "batch-is-features" else X.shape[0])
    if bug == "softmax-derivative-on-ce":
        delta = delta * p * (1 - p)
    dW, db = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        dW[layer] = activations[layer].T @ delta
        if bug == "bias-summed-to-one-number":
            db[layer] = np.full_like(biases[layer], delta.sum())
        else:
            db[layer] = delta.sum(axis=1 if bug == "bias-wrong-axis" else 0)
        if layer > 0:
            delta = (delta @ weights[layer].T) * derivative(pre[layer - 1], activations[layer])
    if bug == "ascent":  # W += lr * dW descends along -dW
        dW, db = [-g for g in dW], [-g for g in db]
    return dW, db


def check(name, bug):
    from fastmlp.diagnostics import check_backprop

    learner = LEARNERS[name]
    return check_backprop(
        lambda W, b, X, Y: learner_backprop(W, b, X, Y, learner.activation, bug),
        list(learner.sizes),
        activation=learner.activation,
    )


@pytest.mark.parametrize("name", ["net1", "net3", "net4", "net5"])  # the softmax + cross-entropy ones
def test_learner_backprop_without_bugs_is_ok(name):
    report = check(name, None)
    assert report.ok, str(report)


def test_check_backprop_finds_net1_ascent():
    assert set(check("net1", "ascent").verdicts.values()) == {"sign-flipped"}


@pytest.mark.parametrize("name", ["net1", "net4"])
def test_check_backprop_finds_the_softmax_derivative_on_cross_entropy(name):
    report = check(name, "softmax-derivative-on-ce")
    assert set(report.verdicts.values()) == {"wrong"}
    assert "p(1 - p)" in report["W1"].message


def test_check_backprop_finds_net1_softmax_derivative_in_the_sigmoid_layer():
    assert check("net1", "softmax-derivative-in-hidden").verdicts == {
        "W1": "wrong",
        "b1": "wrong",
        "W2": "ok",
        "b2": "ok",
    }


def test_check_backprop_finds_net3_bias_gradients_summed_to_one_number():
    # Summed over the classes, each row's p - y adds up to zero: the output biases never move.
    assert check("net3", "bias-summed-to-one-number").verdicts == {
        "W1": "ok",
        "b1": "wrong",
        "W2": "ok",
        "b2": "wrong",
        "W3": "ok",
        "b3": "zero",
    }


def test_check_backprop_finds_net5_batch_size_taken_as_the_feature_count():
    report = check("net5", "batch-is-features")
    n = report.problem["X"].shape[0]
    for param in report.params:
        assert param.verdict == "scaled"
        assert param.factor == pytest.approx(n / 784, rel=1e-6)


def test_check_backprop_finds_net5_bias_gradients_over_the_wrong_axis():
    assert check("net5", "bias-wrong-axis").verdicts == {"W1": "ok", "b1": "shape", "W2": "ok", "b2": "shape"}


# ---- fastmlp.diagnose on the learners' own code, as the example scripts run it ----

EXAMPLES = os.path.join(REPO, "examples", "learners")
DECISIVE_BUGS = {
    "net1_sigmoid_softmax_per_sample.py": "wrong",  # the cross-entropy sign on the other classes
    "net2_sigmoid_mse_minibatch.py": "scaled",  # summed over a batch of 10 at lr 2.0
    "net3_relu_full_batch.py": "predict-wrong",  # accuracy from a hidden layer
    "net4_sigmoid_deep_per_sample.py": "update-not-applied",  # update() defined, never called
    "net5_tanh_full_batch.py": "softmax-axis",  # axis=0 with samples in rows
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(DECISIVE_BUGS))
def test_example_names_the_learners_bug_first_and_passes_the_fix(script):
    """The script is run as a user runs it (tests never import examples/)."""
    done = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, script), "--diagnose"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    as_written, fixed = done.stdout.split("with the one-line fix")
    first = re.search(r"^\s+1\. (\S+)", as_written, re.MULTILINE)
    assert first and first.group(1) == DECISIVE_BUGS[script], as_written
    assert "ok: nothing wrong found" in fixed, fixed
