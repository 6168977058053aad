"""fastmlp._kernels: every single compiled kernel against the same maths in NumPy float64.

Inputs are float32 (what the kernels take); the expected values are computed from those very
float32 inputs in float64, so the only differences left are the kernels' own float32 rounding.
"""

import zlib

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp
from fastmlp import _kernels
from fastmlp.model import _optimizer_struct
from fastmlp.reference import LEAKY_SLOPE, one_hot, sigmoid, softmax

RTOL, ATOL = 1e-5, 1e-6
ACTIVATIONS = sorted(_kernels.ACTIVATIONS)  # includes "identity", used by the output layer
HEADS = sorted(head for head in _kernels.HEADS if head[0] != "identity")  # (output, loss) of classifiers
ROWS = [1, 3, 17, 33]
WIDTHS = [1, 5, 130]
COUNTS = [1, 3, 17, 33, 130, 1000]  # flat buffers: odd sizes hit the vector tails


def cpu_flags():
    """The CPU's feature flags as Linux lists them in /proc/cpuinfo (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []


def rng_for(*key):
    """A generator seeded from the test's parameters, so every case has its own fixed data."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def f32(rng, *shape, scale=1.0):
    return np.ascontiguousarray(rng.normal(0.0, scale, size=shape), dtype=np.float32)


def close(actual, expected, scale=1.0, rtol=RTOL, atol=ATOL, err_msg=""):
    """assert_allclose with atol relative to `scale`, the size of the terms that were summed."""
    assert np.all(np.isfinite(actual)), f"non-finite values {err_msg}"
    assert_allclose(actual, expected, rtol=rtol, atol=atol * max(1.0, scale), err_msg=err_msg)


def nan_filled(*shape):
    return np.full(shape, np.nan, dtype=np.float32)


# ---- float64 maths ----------------------------------------------------------------------------


def activate(z, name):
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_SLOPE * z)
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    assert name == "identity"
    return z


def derivative_from_output(a, name):
    if name == "relu":
        return (a > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(a > 0, 1.0, LEAKY_SLOPE)
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    return np.ones_like(a)


def softplus(z):
    return np.logaddexp(0.0, z)


def head_maths(z, y, output, loss):
    """Outputs, loss summed over rows, and d(sum of row losses)/dz, all float64."""
    z = z.astype(np.float64)
    n, k = z.shape
    Y = one_hot(y, k)
    out = softmax(z) if output == "softmax" else sigmoid(z)
    if (output, loss) == ("softmax", "cross_entropy"):
        shifted = z - z.max(axis=1, keepdims=True)
        total = np.sum(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(n), y])
        grad = out - Y
    elif (output, loss) == ("sigmoid", "cross_entropy"):
        total = np.sum(softplus(z) - Y * z)
        grad = out - Y
    elif output == "sigmoid":
        total = np.sum(0.5 * (out - Y) ** 2)
        grad = (out - Y) * out * (1 - out)
    else:
        total = np.sum(0.5 * (out - Y) ** 2)
        g = out - Y
        grad = out * (g - np.sum(g * out, axis=1, keepdims=True))
    return out, total, grad


def sgd_struct(lr=0.1, momentum=0.0, weight_decay=0.0, nesterov=False):
    """The fm_optimizer the model passes to C for this SGD."""
    return _optimizer_struct(fastmlp.SGD(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov), 0)


def adam_struct(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step=0):
    return _optimizer_struct(fastmlp.Adam(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay), step)


# ---- gemm -------------------------------------------------------------------------------------

GEMM_SHAPES = [(1, 1, 1), (1, 5, 3), (3, 1, 17), (17, 130, 5), (33, 5, 130), (5, 33, 1), (130, 17, 33)]


@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.25)])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("M, N, K", GEMM_SHAPES)
def test_gemm(M, N, K, trans_a, trans_b, alpha, beta):
    rng = rng_for("gemm", M, N, K, trans_a, trans_b, alpha, beta)
    A = f32(rng, K, M) if trans_a else f32(rng, M, K)
    B = f32(rng, N, K) if trans_b else f32(rng, K, N)
    C0 = f32(rng, M, N)
    opA = A.T.astype(np.float64) if trans_a else A.astype(np.float64)
    opB = B.T.astype(np.float64) if trans_b else B.astype(np.float64)
    expected = alpha * opA @ opB + beta * C0.astype(np.float64)
    C = nan_filled(M, N) if beta == 0.0 else C0.copy()  # beta = 0 overwrites, as in BLAS
    _kernels.gemm(trans_a, trans_b, alpha, A, B, beta, C)
    close(C, expected, scale=K)


# ---- activations ------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("m", WIDTHS)
@pytest.mark.parametrize("n", ROWS)
def test_bias_act_forward(n, m, activation):
    rng = rng_for("bias_act", n, m, activation)
    z, bias = f32(rng, n, m, scale=3.0), f32(rng, m)
    expected = activate(z.astype(np.float64) + bias.astype(np.float64), activation)
    out = z.copy()
    _kernels.bias_act_forward(out, bias, _kernels.ACTIVATIONS[activation])
    close(out, expected)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bias_act_forward_exact_values(activation):
    z = np.array([[-2.0, -0.0, 0.0, 3.0]], dtype=np.float32)
    bias = np.array([0.0, 0.0, 1.0, -1.0], dtype=np.float32)
    out = z.copy()
    _kernels.bias_act_forward(out, bias, _kernels.ACTIVATIONS[activation])
    expected = {
        "relu": [0, 0, 1, 2],
        "leaky_relu": [-0.02, 0, 1, 2],
        "identity": [-2, 0, 1, 2],
        "sigmoid": sigmoid(np.array([-2.0, 0, 1, 2])),
        "tanh": np.tanh([-2.0, 0, 1, 2]),
    }
    close(out[0], expected[activation])


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("m", WIDTHS)
@pytest.mark.parametrize("n", ROWS)
def test_act_backward(n, m, activation):
    rng = rng_for("act_backward", n, m, activation)
    # a is a genuine activation output (relu outputs include exact zeros).
    a = activate(f32(rng, n, m, scale=2.0).astype(np.float64), activation).astype(np.float32)
    delta = f32(rng, n, m)
    expected = delta.astype(np.float64) * derivative_from_output(a.astype(np.float64), activation)
    out = delta.copy()
    _kernels.act_backward(out, a, _kernels.ACTIVATIONS[activation])
    close(out, expected)
    if activation in ("relu", "leaky_relu"):
        inactive = a <= 0
        slope = 0.0 if activation == "relu" else LEAKY_SLOPE
        close(out[inactive], slope * delta[inactive].astype(np.float64))


# ---- dense layers -----------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n_out", WIDTHS)
@pytest.mark.parametrize("n_in", WIDTHS)
@pytest.mark.parametrize("n", ROWS)
def test_dense_forward(n, n_in, n_out, activation):
    rng = rng_for("dense_forward", n, n_in, n_out, activation)
    x, W, b = f32(rng, n, n_in), f32(rng, n_in, n_out, scale=1 / np.sqrt(n_in)), f32(rng, n_out)
    expected = activate(x.astype(np.float64) @ W.astype(np.float64) + b, activation)
    out = nan_filled(n, n_out)  # overwritten, never read
    _kernels.dense_forward(out, x, W, b, _kernels.ACTIVATIONS[activation])
    close(out, expected, scale=np.sqrt(n_in))


@pytest.mark.parametrize("n", ROWS)
def test_dense_forward_one_row_matches_batch(n):
    # Batch 1 takes a GEMV path; each row alone must give what the batched GEMM gives.
    rng = rng_for("dense_rows", n)
    x, W, b = f32(rng, n, 130), f32(rng, 130, 17, scale=0.1), f32(rng, 17)
    batched = np.empty((n, 17), np.float32)
    _kernels.dense_forward(batched, x, W, b, _kernels.ACTIVATIONS["tanh"])
    for i in range(n):
        row = np.empty((1, 17), np.float32)
        _kernels.dense_forward(row, x[i : i + 1], W, b, _kernels.ACTIVATIONS["tanh"])
        close(row[0], batched[i])


DENSE_MODES = [(1.0, 0.0), (-0.1, 1.0), (0.5, 0.9)]


@pytest.mark.parametrize("with_dx", [True, False])
@pytest.mark.parametrize("alpha, beta", DENSE_MODES)
@pytest.mark.parametrize("n_out", WIDTHS)
@pytest.mark.parametrize("n_in", WIDTHS)
@pytest.mark.parametrize("n", ROWS)
def test_dense_backward(n, n_in, n_out, alpha, beta, with_dx):
    rng = rng_for("dense_backward", n, n_in, n_out, alpha, beta, with_dx)
    x, W, dz = f32(rng, n, n_in), f32(rng, n_in, n_out), f32(rng, n, n_out)
    x[rng.random(x.shape) < 0.3] = 0.0  # zero inputs, as in MNIST (a skipped path)
    dW0, db0 = f32(rng, n_in, n_out), f32(rng, n_out)
    x64, W64, dz64 = x.astype(np.float64), W.astype(np.float64), dz.astype(np.float64)

    dx = nan_filled(n, n_in) if with_dx else None
    dW = nan_filled(n_in, n_out) if beta == 0.0 else dW0.copy()
    db = nan_filled(n_out) if beta == 0.0 else db0.copy()
    W_before = W.copy()
    _kernels.dense_backward(dx, dW, db, dz, x, W, alpha, beta)

    assert_array_equal(W, W_before)
    close(dW, alpha * x64.T @ dz64 + beta * dW0, scale=n * abs(alpha))
    close(db, alpha * dz64.sum(axis=0) + beta * db0, scale=n * abs(alpha))
    if with_dx:
        close(dx, dz64 @ W64.T, scale=n_out)


@pytest.mark.parametrize("n_in, n_out", [(1, 1), (5, 3), (130, 17)])
def test_dense_backward_default_alpha_beta(n_in, n_out):
    rng = rng_for("dense_backward_default", n_in, n_out)
    x, W, dz = f32(rng, 1, n_in), f32(rng, n_in, n_out), f32(rng, 1, n_out)
    dx, dW, db = nan_filled(1, n_in), nan_filled(n_in, n_out), nan_filled(n_out)
    _kernels.dense_backward(dx, dW, db, dz, x, W)
    close(dW, x.T.astype(np.float64) @ dz)
    close(db, dz[0])
    close(dx, dz.astype(np.float64) @ W.T.astype(np.float64), scale=n_out)


@pytest.mark.parametrize("n", ROWS)
def test_dense_backward_updates_weights_in_place(n):
    # The plain-SGD path passes the weights themselves as dW: dx must come from the old weights.
    rng = rng_for("dense_alias", n)
    n_in, n_out, lr = 17, 5, 0.1
    x, W, b, dz = f32(rng, n, n_in), f32(rng, n_in, n_out), f32(rng, n_out), f32(rng, n, n_out)
    W_old, b_old = W.astype(np.float64), b.astype(np.float64)
    dx = nan_filled(n, n_in)
    _kernels.dense_backward(dx, W, b, dz, x, W, -lr, 1.0)
    close(dx, dz.astype(np.float64) @ W_old.T, scale=n_out)
    close(W, W_old - lr * x.T.astype(np.float64) @ dz, scale=n)
    close(b, b_old - lr * dz.astype(np.float64).sum(axis=0), scale=n)


# ---- output heads and losses -------------------------------------------------------------------


@pytest.mark.parametrize("output, loss", HEADS)
@pytest.mark.parametrize("k", WIDTHS)
@pytest.mark.parametrize("n", ROWS)
def test_head_output(n, k, output, loss):
    rng = rng_for("head_output", n, k, output, loss)
    z = f32(rng, n, k, scale=3.0)
    expected = softmax(z.astype(np.float64)) if output == "softmax" else sigmoid(z.astype(np.float64))
    out = z.copy()
    _kernels.head_output(out, _kernels.HEADS[(output, loss)])
    close(out, expected)
    if output == "softmax":
        close(out.sum(axis=1, dtype=np.float64), np.ones(n))


@pytest.mark.parametrize("k", WIDTHS)
@pytest.mark.parametrize("n", ROWS)
def test_identity_head_is_half_the_squared_error_against_float_targets(n, k):
    rng = rng_for("identity_head", n, k)
    z, targets = f32(rng, n, k, scale=3.0), f32(rng, n, k)
    out, dz = z.copy(), nan_filled(n, k)
    total, correct = _kernels.head_loss(
        out, dz, targets.view(np.int32).ravel(), _kernels.HEADS[("identity", "mse")], 0.5
    )
    error = z.astype(np.float64) - targets
    assert_allclose(total, 0.5 * np.sum(error**2), rtol=RTOL, atol=ATOL)
    assert correct == 0
    assert_array_equal(out, z)  # the outputs are the logits
    close(dz, np.float32(0.5) * error)
    _kernels.head_output(out, _kernels.HEADS[("identity", "mse")])
    assert_array_equal(out, z)
    with pytest.raises(ValueError, match="fewer targets"):
        _kernels.head_loss(z.copy(), None, np.zeros(n * k - 1, np.int32), _kernels.HEADS[("identity", "mse")], 1.0)


@pytest.mark.parametrize("scale", ["one", "mean"])
@pytest.mark.parametrize("output, loss", HEADS)
@pytest.mark.parametrize("k", WIDTHS)
@pytest.mark.parametrize("n", ROWS)
def test_head_loss(n, k, output, loss, scale):
    rng = rng_for("head_loss", n, k, output, loss, scale)
    z = f32(rng, n, k, scale=3.0)
    y = rng.integers(0, k, size=n).astype(np.int32)
    s = 1.0 if scale == "one" else 1.0 / n
    out_expected, total, grad = head_maths(z, y, output, loss)
    correct_expected = int(np.sum(np.argmax(z, axis=1) == y))

    out, dz = z.copy(), nan_filled(n, k)
    total_got, correct = _kernels.head_loss(out, dz, y, _kernels.HEADS[(output, loss)], s)
    assert_allclose(total_got, total, rtol=RTOL, atol=ATOL)
    assert correct == correct_expected
    close(out, out_expected)
    close(dz, np.float32(s) * grad, atol=ATOL * s)

    # Without dz only the loss, the outputs and the count are computed.
    out2 = z.copy()
    total2, correct2 = _kernels.head_loss(out2, None, y, _kernels.HEADS[(output, loss)], s)
    assert_allclose(total2, total_got, rtol=1e-6)
    assert correct2 == correct
    assert_allclose(out2, out, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("output, loss", HEADS)
@pytest.mark.parametrize("k", [1, 2, 5, 130])
def test_head_loss_huge_logits_stay_finite(k, output, loss):
    rng = rng_for("head_huge", k, output, loss)
    z = rng.choice(np.array([-1e4, 1e4], dtype=np.float32), size=(9, k))
    y = rng.integers(0, k, size=9).astype(np.int32)
    out, dz = z.copy(), nan_filled(9, k)
    total, _ = _kernels.head_loss(out, dz, y, _kernels.HEADS[(output, loss)], 1.0 / 9)
    assert np.isfinite(total)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dz))
    assert np.all(out >= 0) and np.all(out <= 1)
    _, expected_total, expected_grad = head_maths(z, y, output, loss)
    assert_allclose(total, expected_total, rtol=1e-6)
    close(dz, expected_grad / 9)
    pred = z.copy()
    _kernels.head_output(pred, _kernels.HEADS[(output, loss)])
    assert np.all(np.isfinite(pred))


@pytest.mark.parametrize("k", [2, 5, 130])
def test_softmax_cross_entropy_wrong_class_by_2e4(k):
    z = np.full((3, k), -1e4, dtype=np.float32)
    z[:, 0] = 1e4
    y = np.array([1, k - 1, 0], dtype=np.int32)  # two wrong by a logit gap of 2e4, one right
    out, dz = z.copy(), nan_filled(3, k)
    total, correct = _kernels.head_loss(out, dz, y, _kernels.HEADS[("softmax", "cross_entropy")], 1.0)
    assert_allclose(total, 2 * 2e4, rtol=1e-6)
    assert correct == 1
    assert np.all(np.isfinite(dz))
    expected = one_hot(np.zeros(3, int), k) - one_hot(y, k)
    close(dz, expected)

    one = z[:1].copy()
    loss_one, _ = _kernels.head_loss(one, None, y[:1], _kernels.HEADS[("softmax", "cross_entropy")], 1.0)
    assert_allclose(loss_one, 2e4, rtol=1e-6)


@pytest.mark.parametrize("z_value, label, expected", [(1e4, 0, 1e4), (-1e4, 1, 1e4), (1e4, 1, 0.0)])
def test_sigmoid_cross_entropy_saturated(z_value, label, expected):
    # One unit: the other unit's logit is 0 (loss log 2 for a target 0 or 1).
    z = np.array([[0.0, z_value]], dtype=np.float32)
    out, dz = z.copy(), nan_filled(1, 2)
    total, _ = _kernels.head_loss(
        out, dz, np.array([label], np.int32), _kernels.HEADS[("sigmoid", "cross_entropy")], 1.0
    )
    assert_allclose(total, expected + np.log(2.0), rtol=1e-6)
    assert np.all(np.isfinite(dz))


# ---- optimizers -------------------------------------------------------------------------------

SGD_CASES = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.9),
    "nesterov": dict(lr=0.05, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.01),
    "momentum_weight_decay": dict(lr=0.1, momentum=0.5, weight_decay=0.1),
    "nesterov_weight_decay": dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05),
}


def sgd_maths(p, v, g, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    """One step, as fastmlp.reference does it; p and v updated in place (float64)."""
    g = g + weight_decay * p
    if momentum == 0:
        p -= lr * g
        return
    v *= momentum
    v -= lr * g
    if nesterov:
        p += momentum * v - lr * g
    else:
        p += v


@pytest.mark.parametrize("case", sorted(SGD_CASES))
@pytest.mark.parametrize("count", COUNTS)
def test_sgd_update(count, case):
    settings = SGD_CASES[case]
    rng = rng_for("sgd", count, case)
    p = f32(rng, count)
    v = np.zeros(count, np.float32)
    p64, v64 = p.astype(np.float64), v.astype(np.float64)
    uses_velocity = settings.get("momentum", 0.0) > 0
    for _ in range(4):
        g = f32(rng, count)
        _kernels.sgd_update(p, v if uses_velocity else None, g, sgd_struct(**settings))
        sgd_maths(p64, v64, g.astype(np.float64), **settings)
        close(p, p64, err_msg="p")
        if uses_velocity:
            close(v, v64, err_msg="v")


@pytest.mark.parametrize("count", COUNTS)
def test_sgd_update_plain_with_velocity_buffer(count):
    # A velocity buffer may be passed with momentum 0: the step is still plain SGD.
    rng = rng_for("sgd_plain_v", count)
    p, g, v = f32(rng, count), f32(rng, count), np.zeros(count, np.float32)
    expected = p.astype(np.float64) - 0.3 * g
    _kernels.sgd_update(p, v, g, sgd_struct(lr=0.3))
    close(p, expected)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("lr, beta1, beta2, eps", [(1e-3, 0.9, 0.999, 1e-8), (0.1, 0.5, 0.9, 1e-4)])
@pytest.mark.parametrize("count", COUNTS)
def test_adam_update(count, lr, beta1, beta2, eps, weight_decay):
    rng = rng_for("adam", count, lr, beta1, beta2, eps, weight_decay)
    p = f32(rng, count)
    m, v = np.zeros(count, np.float32), np.zeros(count, np.float32)
    p64, m64, v64 = p.astype(np.float64), m.astype(np.float64), v.astype(np.float64)
    for t in range(1, 6):
        g = f32(rng, count)
        bc1, bc2 = 1 - beta1**t, 1 - beta2**t
        settings = adam_struct(lr, beta1, beta2, eps, weight_decay, step=t)
        _kernels.adam_update(p, m, v, g, settings, bc1, bc2)
        g64 = g.astype(np.float64) + weight_decay * p64
        m64 = beta1 * m64 + (1 - beta1) * g64
        v64 = beta2 * v64 + (1 - beta2) * g64 * g64
        p64 = p64 - lr * (m64 / bc1) / (np.sqrt(v64 / bc2) + eps)
        close(m, m64, err_msg=f"m, step {t}")
        close(v, v64, err_msg=f"v, step {t}")
        close(p, p64, err_msg=f"p, step {t}")


def test_adam_first_step_is_lr_times_sign():
    # With zero moments, step 1 moves every parameter by lr * g / (|g| + eps): about lr * sign(g).
    g = np.array([3.0, -0.5, 1e-3, -20.0, 0.0], dtype=np.float32)
    p = np.zeros(5, np.float32)
    m, v = np.zeros(5, np.float32), np.zeros(5, np.float32)
    _kernels.adam_update(p, m, v, g, adam_struct(lr=0.01, step=1), 1 - 0.9, 1 - 0.999)
    expected = -0.01 * g.astype(np.float64) / (np.abs(g) + 1e-8)
    close(p, expected)


def test_tables():
    assert set(_kernels.ACTIVATIONS) == {"relu", "leaky_relu", "sigmoid", "tanh", "identity"}
    assert set(_kernels.HEADS) == {
        ("softmax", "cross_entropy"),
        ("sigmoid", "mse"),
        ("sigmoid", "cross_entropy"),
        ("softmax", "mse"),
        ("identity", "mse"),
        ("identity", "huber"),
    }
    assert len(set(_kernels.ACTIVATIONS.values())) == 5
    assert len(set(_kernels.HEADS.values())) == 6


# ---- the input check's scan for NaN and Inf (csrc/finite.c) ----------------------------------


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 4095, 4096, 4097, 12289])
def test_all_finite_finds_every_non_finite_value(n):
    x = rng_for(n).uniform(-1e3, 1e3, size=n).astype(np.float32)
    assert _kernels.all_finite(x)
    for at in sorted({0, n // 2, n - 4096, n - 1} & set(range(n))):
        for value in (np.nan, np.inf, -np.inf):
            y = x.copy()
            y[at] = value
            assert not _kernels.all_finite(y), (at, value)


def test_all_finite_takes_the_extremes_of_float32_as_finite():
    info = np.finfo(np.float32)
    x = np.array([info.max, -info.max, info.tiny, info.smallest_subnormal, -0.0, 0.0], np.float32)
    assert _kernels.all_finite(x)
