"""fastmlp.diagnose: reading a learner's network in their layout, their functions' failures, the report.

The bugs themselves are tested on the corpus of learner-style programs (test_learner_code.py);
this file tests the machinery around them on one small network written in every layout.
"""

import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp.reference import sigmoid, softmax

N, SIZES = 12, (7, 5, 3)


def problem(seed=0):
    """Canonical float64 (weights (n_in, n_out), biases (n_out,), X (n, n_in), labels)."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 1 / np.sqrt(a), (a, b)) for a, b in zip(SIZES[:-1], SIZES[1:])]
    biases = [rng.normal(0, 0.1, b) for b in SIZES[1:]]
    X = rng.uniform(0, 1, (N, SIZES[0]))
    labels = np.arange(N) % SIZES[-1]
    return weights, biases, X, labels


def true_grads(weights, biases, X, labels):
    net = fastmlp.reference.MLP.from_parameters(weights, biases, "sigmoid", "softmax", "cross_entropy")
    return net.loss_and_gradients(X, labels)[1]


class RowsNet:
    """A learner's network with samples in rows, written against plain lists."""

    def __init__(self, bias_shape="flat"):
        self.bias_shape = bias_shape

    def forward(self, params, X):
        W1, b1, W2, b2 = params
        A1 = sigmoid(X @ W1 + b1.reshape(1, -1))
        return softmax(A1 @ W2 + b2.reshape(1, -1))

    def backprop(self, params, X, Y):
        W1, b1, W2, b2 = params
        A1 = sigmoid(X @ W1 + b1.reshape(1, -1))
        A2 = softmax(A1 @ W2 + b2.reshape(1, -1))
        dZ2 = (A2 - Y) / len(X)
        dZ1 = dZ2 @ W2.T * A1 * (1 - A1)
        return [X.T @ dZ1, dZ1.sum(0).reshape(b1.shape), A1.T @ dZ2, dZ2.sum(0).reshape(b2.shape)]

    def step(self, params, X, Y):
        for p, g in zip(params, self.backprop(params, X, Y)):
            p -= 0.5 * g


def rows_params(bias_shape="flat", seed=0):
    weights, biases, X, labels = problem(seed)
    shape = {"flat": lambda b: b, "row": lambda b: b.reshape(1, -1)}[bias_shape]
    return [weights[0], shape(biases[0]), weights[1], shape(biases[1])], X, np.eye(SIZES[-1])[labels]


@pytest.mark.parametrize("bias_shape", ["flat", "row"])
def test_correct_rows_network_is_ok(bias_shape):
    net = RowsNet()
    params, X, Y = rows_params(bias_shape)
    report = fastmlp.diagnose(params, X, Y, forward=net.forward, backprop=net.backprop, step=net.step, lr=0.5)
    assert report.ok, str(report)
    assert report.codes == [] and len(report) == 0
    assert "samples in rows" in report.notes[0]
    assert "ok" in str(report).splitlines()[-1]


def test_labels_and_one_hot_are_the_same_targets():
    net = RowsNet()
    params, X, Y = rows_params()

    def backprop(p, X, y):  # takes labels or one-hot, as some learners' code does
        return net.backprop(p, X, y if y.ndim == 2 else np.eye(SIZES[-1])[y.astype(int)])

    for targets in (Y, Y.argmax(1), Y.argmax(1).astype(float)):
        assert fastmlp.diagnose(params, X, targets, backprop=backprop).ok


def test_columns_dict_and_pair_read_the_same_network():
    weights, biases, X, labels = problem()
    Yc = np.eye(SIZES[-1])[labels].T
    columns = {"W1": weights[0].T, "b1": biases[0][:, None], "W2": weights[1].T, "b2": biases[1][:, None]}

    def backprop(p, X, Y):
        A1 = sigmoid(p["W1"] @ X + p["b1"])
        A2 = softmax((p["W2"] @ A1 + p["b2"]).T).T
        dZ2 = (A2 - Y) / X.shape[1]
        dZ1 = p["W2"].T @ dZ2 * A1 * (1 - A1)
        return {"dW1": dZ1 @ X.T, "db1": dZ1.sum(1, keepdims=True), "dW2": dZ2 @ A1.T, "db2": dZ2.sum(1, keepdims=True)}

    report = fastmlp.diagnose(columns, X.T, Yc, backprop=backprop)
    assert report.ok, str(report)
    assert "samples in columns" in report.notes[0]

    def pair_backprop(params, X, Y):
        (W1, W2), (b1, b2) = params
        g = backprop({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, X, Y)
        return (g["dW1"], g["dW2"]), (g["db1"], g["db2"])

    pair = ([columns["W1"], columns["W2"]], [columns["b1"], columns["b2"]])
    assert fastmlp.diagnose(pair, X.T, Yc, backprop=pair_backprop).ok


def test_network_without_biases():
    weights, _, X, labels = problem()
    zeros = [np.zeros(b) for b in SIZES[1:]]
    truth = true_grads(weights, zeros, X, labels)

    def backprop(params, X, Y):
        return [dW for dW, _ in truth]

    assert fastmlp.diagnose(list(weights), X, labels, backprop=backprop).ok
    report = fastmlp.diagnose(
        {"w1": weights[0], "w2": weights[1]},
        X,
        labels,
        backprop=lambda p, X, Y: {"dw1": truth[0][0], "dw2": 2 * truth[1][0]},
    )
    assert report.codes == ["scaled"], str(report)
    assert "no biases" in report.notes[0]


@pytest.mark.parametrize("shape", [(SIZES[0],), (SIZES[0], 1)])
def test_one_sample_as_a_column_or_a_vector(shape):
    weights, biases, X, labels = problem()
    params = [weights[0].T, biases[0][:, None], weights[1].T, biases[1][:, None]]
    x = X[0].reshape(shape)
    y = np.eye(SIZES[-1])[labels[0]].reshape(-1 if len(shape) == 1 else (SIZES[-1], 1))

    def forward(p, x):
        a = sigmoid(p[0] @ x.reshape(-1, 1) + p[1])
        return softmax((p[2] @ a + p[3]).T).T.reshape(y.shape)

    assert fastmlp.diagnose(params, x, y, forward=forward).ok
    assert fastmlp.diagnose(params, x, int(labels[0]), forward=forward).ok


def test_square_network_with_as_many_samples_as_features_is_reported_ambiguous():
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(4, 4)), rng.normal(size=(4, 4))]
    X = rng.uniform(size=(4, 4))
    report = fastmlp.diagnose(params, X, np.arange(4))
    assert report.codes == ["layout-ambiguous"]
    assert not report.ok


def test_the_learner_arrays_are_never_modified():
    net = RowsNet()
    params, X, Y = rows_params()
    kept = [p.copy() for p in params], X.copy(), Y.copy()

    def scribbling_forward(p, X):
        X *= 2
        p[0][:] = 0
        return net.forward(p, X)

    fastmlp.diagnose(params, X, Y, forward=scribbling_forward, backprop=net.backprop, step=net.step)
    for before, after in zip(kept[0], params):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(kept[1], X)
    np.testing.assert_array_equal(kept[2], Y)


def test_a_step_that_writes_into_the_learners_own_arrays_is_read_and_undone():
    net = RowsNet()
    params, X, Y = rows_params()
    kept = [p.copy() for p in params]
    report = fastmlp.diagnose(params, X, Y, step=lambda _p, X, Y: net.step(params, X, Y), lr=0.5)
    assert report.ok, str(report)
    for before, after in zip(kept, params):
        np.testing.assert_array_equal(before, after)


def test_a_raise_in_learner_code_is_a_finding_with_their_line():
    params, X, Y = rows_params()

    def forward(p, X):
        W1, b1, W2, b2 = p
        return sigmoid(X @ W2)  # the learner's line

    report = fastmlp.diagnose(params, X, Y, forward=forward)
    assert report.codes == ["raised"]
    finding = report.findings[0]
    assert "ValueError" in finding.message and "test_diagnose.py" in finding.message
    assert "X @ W2" in finding.message
    assert finding.where.startswith("forward")


def test_nan_in_learner_code_points_at_the_line_that_made_it():
    params, X, Y = rows_params()

    def forward(p, X):
        W1, b1, W2, b2 = p
        A1 = sigmoid(X @ W1 + b1)
        z = A1 @ W2 + b2
        return np.exp(z) / (np.exp(z).sum(1, keepdims=True) * 0)  # 0 / 0 somewhere

    report = fastmlp.diagnose(params, X, Y, forward=forward)
    assert report.codes == ["not-finite"], str(report)
    assert "test_diagnose.py" in report.findings[0].message


def test_unreadable_returns_are_findings_not_exceptions():
    params, X, Y = rows_params()
    report = fastmlp.diagnose(
        params, X, Y, forward=lambda p, X: "probabilities", backprop=lambda p, X, Y: 3.0, predict=lambda p, X: None
    )
    assert set(report.codes) == {"bad-return", "predict-wrong"}, str(report)


def test_sign_flipped_backprop_is_settled_by_a_step_that_adds_it():
    net = RowsNet()
    params, X, Y = rows_params()

    def flipped(p, X, Y):
        return [-g for g in net.backprop(p, X, Y)]

    def adding_step(p, X, Y):
        for a, g in zip(p, flipped(p, X, Y)):
            a += 0.5 * g

    def subtracting_step(p, X, Y):
        for a, g in zip(p, flipped(p, X, Y)):
            a -= 0.5 * g

    assert fastmlp.diagnose(params, X, Y, backprop=flipped).codes == ["sign-flipped"]
    report = fastmlp.diagnose(params, X, Y, backprop=flipped, step=adding_step, lr=0.5)
    assert report.ok, str(report)
    assert any("minus the gradient" in note for note in report.notes)
    report = fastmlp.diagnose(params, X, Y, backprop=flipped, step=subtracting_step, lr=0.5)
    assert report.codes == ["sign-flipped"], str(report)
    assert "climbs" in report.findings[0].message


def test_summed_gradient_with_the_learning_rate_reports_the_effective_rate():
    net = RowsNet()
    params, X, Y = rows_params()

    def summed(p, X, Y):
        return [g * len(X) for g in net.backprop(p, X, Y)]

    def step(p, X, Y):
        for a, g in zip(p, summed(p, X, Y)):
            a -= 2.0 * g

    def step_dividing(p, X, Y):
        for a, g in zip(p, summed(p, X, Y)):
            a -= 2.0 / len(X) * g

    report = fastmlp.diagnose(params, X, Y, backprop=summed, step=step, lr=2.0)
    assert report.codes == ["scaled"], str(report)
    assert f"{2.0 * N:g}" in report.findings[0].message and "sum over the rows" in report.findings[0].message
    assert fastmlp.diagnose(params, X, Y, backprop=summed, step=step_dividing, lr=2.0).ok


@pytest.mark.parametrize(
    "bad, error",
    [
        (dict(params=42), TypeError),
        (dict(params=["a", "b"]), TypeError),
        (dict(X=np.zeros((N, 6))), ValueError),
        (dict(Y=np.zeros((N, 4))), ValueError),
        (dict(Y=np.full(N, 7)), ValueError),
        (dict(forward=3), TypeError),
        (dict(activation="swish"), ValueError),
        (dict(lr=-1.0), ValueError),
        (dict(lr=float("nan")), ValueError),
    ],
)
def test_bad_arguments_raise_naming_them(bad, error):
    params, X, Y = rows_params()
    kwargs = dict(params=params, X=X, Y=Y)
    kwargs.update(bad)
    with pytest.raises(error):
        fastmlp.diagnose(**kwargs)


def test_report_interface():
    params, X, Y = rows_params()
    report = fastmlp.diagnose(params, np.round(X * 255), Y)
    assert "inputs-not-scaled" in report
    finding = report["inputs-not-scaled"]
    assert finding.fix == finding.hint and "255" in finding.fix and finding.where == "X"
    assert repr(report).startswith("DiagnoseReport(ok=False")
    with pytest.raises(KeyError):
        report["zero"]


WEIRD = [
    None,
    3,
    "x",
    [],
    {},
    [None],
    np.array(1.0),
    np.zeros(0),
    np.zeros((2, 3)),
    np.full((N, 3), np.nan),
    np.array(["a"] * N),
    [np.zeros((N, 3)), "b"],
    np.zeros((N, 3), dtype=object),
    np.zeros((N, 3), dtype=complex),
    [np.zeros((7, 5)), np.zeros(5), np.zeros((5, 3))],
    [[np.zeros((7, 5))], [np.zeros(5)]],
    lambda: 1,
]


@pytest.mark.parametrize("role", ["forward", "backprop", "step", "predict"])
@pytest.mark.parametrize("value", WEIRD, ids=lambda v: type(v).__name__)
def test_whatever_a_learner_function_returns_never_escapes(role, value):
    params, X, Y = rows_params()
    fn = (lambda p, X: value) if role in ("forward", "predict") else (lambda p, X, Y: value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = fastmlp.diagnose(params, X, Y, **{role: fn}, lr=0.5)
    str(report)


def test_weights_that_start_equal_for_every_unit_are_symmetric_init():
    params, X, Y = rows_params()
    zeros = [np.zeros_like(p) for p in params]
    assert fastmlp.diagnose(zeros, X, Y).codes == ["symmetric-init"]
    params[0][:] = 0.01  # the hidden units' outgoing weights still differ: fine
    assert "symmetric-init" not in fastmlp.diagnose(params, X, Y)


# ---- correct code in less common styles (found by a false-alarm hunt) ----


def hidden(p, X):
    """The first hidden layer of a rows-layout sigmoid network [W1, b1, ...]."""
    return sigmoid(X @ p[0] + p[1])


def _steps(net, params, X, Y, update):
    """A step function applying ``update(index, param, grad)`` to every parameter."""

    def step(p, X, Y):
        for i, (a, g) in enumerate(zip(p, net.backprop(p, X, Y))):
            update(i, a, g)

    return step


def test_first_steps_of_momentum_and_adaptive_methods_are_not_step_findings():
    net = RowsNet()
    params, X, Y = rows_params()
    velocity, cache = {}, {}

    def ng_momentum(i, a, g):  # v = 0.9 v + 0.1 g: the first step is 0.1 lr g
        velocity[i] = 0.9 * velocity.get(i, 0) + 0.1 * g
        a -= 0.5 * velocity[i]

    def rmsprop(i, a, g):
        cache[i] = 0.9 * cache.get(i, 0) + 0.1 * g * g
        a -= 0.01 * g / (np.sqrt(cache[i]) + 1e-7)

    for update in (ng_momentum, rmsprop):
        velocity.clear(), cache.clear()
        report = fastmlp.diagnose(params, X, Y, step=_steps(net, params, X, Y, update), lr=0.5)
        assert report.ok, str(report)
        assert any("first step" in note for note in report.notes)


def test_a_step_returning_loss_and_new_params_is_read():
    net = RowsNet()
    params, X, Y = rows_params()

    def step(p, X, Y):
        return 1.23, [a - 0.5 * g for a, g in zip(p, net.backprop(p, X, Y))]

    assert fastmlp.diagnose(params, X, Y, step=step, lr=0.5).ok


def test_float32_step_at_a_small_rate_is_along_the_gradient():
    net = RowsNet()
    params, X, Y = rows_params()
    params, X, Y = [p.astype(np.float32) for p in params], X.astype(np.float32), Y.astype(np.float32)

    def step(p, X, Y):
        for a, g in zip(p, net.backprop(p, X, Y)):
            a -= np.float32(1e-4) * g

    assert fastmlp.diagnose(params, X, Y, step=step, lr=1e-4).ok


def test_forward_returning_log_probabilities_or_output_then_hidden_is_ok():
    net = RowsNet()
    params, X, Y = rows_params()
    assert fastmlp.diagnose(params, X, Y, forward=lambda p, X: np.log(net.forward(p, X))).ok
    assert fastmlp.diagnose(params, X, Y, forward=lambda p, X: (net.forward(p, X), hidden(p, X))).ok


def test_l2_regularised_backprop_is_a_note():
    net = RowsNet()
    params, X, Y = rows_params()

    def backprop(p, X, Y):
        g = net.backprop(p, X, Y)
        return [g[0] + 0.01 * p[0], g[1], g[2] + 0.01 * p[2], g[3]]

    report = fastmlp.diagnose(params, X, Y, backprop=backprop)
    assert report.ok, str(report)
    assert any("L2" in note for note in report.notes)


def test_pytorch_layout_samples_in_rows_with_weights_out_by_in():
    net = RowsNet()
    params, X, Y = rows_params()
    torch_params = [params[0].T.copy(), params[1], params[2].T.copy(), params[3]]

    def forward(p, X):
        return net.forward([p[0].T, p[1], p[2].T, p[3]], X)

    def backprop(p, X, Y):
        g = net.backprop([p[0].T, p[1], p[2].T, p[3]], X, Y)
        return [g[0].T, g[1], g[2].T, g[3]]

    report = fastmlp.diagnose(torch_params, X, Y, forward=forward, backprop=backprop)
    assert report.ok, str(report)
    assert "PyTorch" in report.notes[0]
    report = fastmlp.diagnose(torch_params, X, Y, backprop=lambda p, X, Y: [g.T for g in backprop(p, X, Y)])
    assert report.codes == ["transposed"], str(report)


def test_true_gradients_that_are_zero_match_zeros():
    params, X, Y = rows_params()
    params[2][:] = 0  # output weights at zero: no gradient reaches layer 1
    net = RowsNet()
    assert fastmlp.diagnose(params, X, Y, backprop=net.backprop).ok


def test_a_hidden_layer_as_wide_as_the_output_is_told_by_its_values():
    rng = np.random.default_rng(0)
    params = [rng.normal(0, 0.3, (7, 3)), np.zeros(3), rng.normal(0, 0.5, (3, 3)), np.zeros(3)]
    X, labels = rng.uniform(size=(N, 7)), np.arange(N) % 3
    report = fastmlp.diagnose(params, X, labels, forward=hidden)
    assert report.codes == ["hidden-layer-output"], str(report)


def test_another_activations_derivative_formula_is_activation_derivative():
    params, X, Y = rows_params()

    def backprop(p, X, Y):  # a tanh network with sigmoid's a * (1 - a)
        A1 = np.tanh(X @ p[0] + p[1])
        A2 = softmax(A1 @ p[2] + p[3])
        dZ2 = (A2 - Y) / len(X)
        dZ1 = dZ2 @ p[2].T * A1 * (1 - A1)
        return [X.T @ dZ1, dZ1.sum(0), A1.T @ dZ2, dZ2.sum(0)]

    report = fastmlp.diagnose(params, X, Y, backprop=backprop, activation="tanh")
    assert report.codes == ["activation-derivative"], str(report)
    assert "a * (1 - a)" in report.findings[0].message


def test_gradient_keys_named_by_kind_and_layer_match_other_param_names():
    weights, biases, X, labels = problem()
    params = {"weights1": weights[0], "bias1": biases[0], "weights2": weights[1], "bias2": biases[1]}
    truth = true_grads(weights, biases, X, labels)
    grads = {"dW1": truth[0][0], "db1": truth[0][1], "dW2": truth[1][0], "db2": truth[1][1]}
    assert fastmlp.diagnose(params, X, labels, backprop=lambda p, X, Y: grads).ok


def test_steps_that_loop_over_samples_or_draw_minibatches_are_notes():
    net = RowsNet()
    params, X, Y = rows_params()
    rng = np.random.default_rng(0)

    def online(p, X, Y):  # one update per sample
        for i in range(len(X)):
            for a, g in zip(p, net.backprop(p, X[i : i + 1], Y[i : i + 1])):
                a -= 0.1 * g

    def drawn(p, X, Y):  # a minibatch drawn inside the step
        rows = rng.choice(len(X), 4, replace=False)
        for a, g in zip(p, net.backprop(p, X[rows], Y[rows])):
            a -= 0.1 * g

    def last_sample_only(p, X, Y):  # a bug: the accumulator reset inside the loop
        for i in range(len(X)):
            grads = net.backprop(p, X[i : i + 1], Y[i : i + 1])
        for a, g in zip(p, grads):
            a -= 0.1 * g / len(X)

    for step in (online, drawn):
        report = fastmlp.diagnose(params, X, Y, step=step, lr=0.1)
        assert report.ok, str(report)
    assert fastmlp.diagnose(params, X, Y, step=last_sample_only, lr=0.1).codes == ["step-wrong"]


def test_dropout_in_backprop_is_a_note():
    net = RowsNet()
    params, X, Y = rows_params()
    rng = np.random.default_rng(0)

    def backprop(p, X, Y):
        return [g * (rng.random(g.shape) > 0.2) for g in net.backprop(p, X, Y)]

    report = fastmlp.diagnose(params, X, Y, backprop=backprop)
    assert report.ok and any("different gradients" in note for note in report.notes), str(report)


@pytest.mark.parametrize(
    "mistake, activation", [("activation", "sigmoid"), ("target", "sigmoid"), ("tanh-output", "tanh")]
)
def test_more_textbook_mistakes_are_named_with_a_fix_that_is_numpy(mistake, activation):
    params, X, Y = rows_params()
    f = np.tanh if activation == "tanh" else sigmoid

    def backprop(p, X, Y):
        A1 = f(X @ p[0] + p[1])
        A2 = softmax(A1 @ p[2] + p[3])
        dZ2 = (A2 if mistake == "target" else A2 - Y) / len(X)
        back = dZ2 @ p[2].T
        dZ1 = {"activation": back * A1, "target": back * A1 * (1 - A1), "tanh-output": back * (1 - f(A1) ** 2)}[mistake]
        return [X.T @ dZ1, dZ1.sum(0), A1.T @ dZ2, dZ2.sum(0)]

    report = fastmlp.diagnose(params, X, Y, backprop=backprop, activation=activation)
    expected = {"activation": "activation-derivative", "target": "wrong", "tanh-output": "activation-derivative"}
    assert report.codes == [expected[mistake]], str(report)
    if mistake == "tanh-output":
        assert "dA * (1 - A ** 2)" in report.findings[0].fix


def test_pixels_scaled_inside_forward_are_compared_on_x_over_255():
    net = RowsNet()
    params, X, Y = rows_params()
    pixels = np.round(X * 255).astype(np.uint8)
    report = fastmlp.diagnose(
        params,
        pixels,
        Y,
        forward=lambda p, X: net.forward(p, X / 255.0),
        backprop=lambda p, X, Y: net.backprop(p, X / 255.0, Y),
    )
    assert report.ok, str(report)
    assert fastmlp.diagnose(params, pixels, Y, forward=net.forward).codes[0] == "inputs-not-scaled"


def test_a_bias_left_out_of_forward_shows_though_biases_start_at_zero():
    net = RowsNet()
    params, X, Y = rows_params()
    params[1][:] = 0
    params[3][:] = 0

    def forward(p, X):
        return net.forward([p[0], np.zeros_like(p[1]), p[2], p[3]], X)

    report = fastmlp.diagnose(params, X, Y, forward=forward)
    assert report.codes == ["forward-wrong"] and "params[1]" in report.findings[0].message, str(report)
    assert fastmlp.diagnose(params, X, Y, forward=net.forward).ok


@pytest.mark.parametrize(
    "Y_bad, words",
    [
        (lambda Y: np.ones_like(Y), "not one-hot"),
        (lambda Y: Y.T.copy(), "transpose"),
        (lambda Y: 0.9 * Y + 0.1 / Y.shape[1], "soft targets"),
    ],
)
def test_targets_that_are_not_one_hot_say_how_to_build_them(Y_bad, words):
    params, X, Y = rows_params()
    with pytest.raises(ValueError, match=words):
        fastmlp.diagnose(params, X, Y_bad(Y))


def test_initial_weights_that_saturate_the_outputs_are_named_before_the_learning_rate():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((50, 40)), np.zeros(40), rng.standard_normal((40, 3)), np.zeros(3)]
    X, labels = rng.uniform(size=(N, 50)), np.arange(N) % 3  # randn without its scale, ReLU
    report = fastmlp.diagnose(params, X, labels, activation="relu", lr=0.1)
    assert report.codes == ["saturated-units"], str(report)
    assert "np.sqrt(2 / 50)" in report.findings[0].fix


def test_unsupported_networks_are_refused_clearly():
    params, X, Y = rows_params()
    with pytest.raises(TypeError, match="float32"):
        fastmlp.diagnose([p.astype(np.float16) for p in params], X, Y)
    with pytest.raises(TypeError, match="pairs"):
        fastmlp.diagnose([{"W": params[0], "b": params[1]}, {"W": params[2], "b": params[3]}], X, Y)
    with pytest.raises(ValueError, match="one output unit"):
        fastmlp.diagnose([params[0], params[1], params[2][:, :1], params[3][:1]], X, np.arange(N) % 2)


def test_a_one_hot_built_one_label_off_is_named():
    net = RowsNet()
    params, X, Y = rows_params()
    labels = Y.argmax(1)

    def backprop(p, X, y):  # integer labels, one-hot built with the index off by one
        return net.backprop(p, X, np.eye(SIZES[-1])[(y - 1) % SIZES[-1]])

    report = fastmlp.diagnose(params, X, labels, backprop=backprop)
    assert report.codes == ["wrong"] and "label - 1" in report.findings[0].message, str(report)
