"""The minibatch path in parts (csrc/minibatch.c, csrc/parts.c, csrc/team.c) and the first
layer over mostly-zero inputs (csrc/sparse.c).

- fastmlp._kernels.sparse_forward / sparse_relu_backward / sparse_update against the same maths
  in NumPy float64;
- whole fits through the split path against the float64 twin fastmlp.reference.MLP, on
  sparse-looking and dense inputs;
- the same bits whatever the thread count (Plan.threads), from run to run, and wherever the
  chunks of minibatches end (fastmlp.model._CHUNK_SECONDS);
- the sparse first layer agreeing with the dense one (Plan.sparse_inputs off);
- hidden layers after a ReLU, mostly zeros or mostly not, against the reference and across
  thread counts;
- a diverging fit raising FloatingPointError with finite parameters left behind;
- the plan: which engine fastmlp._plan.make_plan picks, and a Plan no engine can run refused.

A test steers a call onto another engine with plans.force_plan (tests/plans.py), which hands the
engine the plan make_plan gives with some fields changed.
"""

import dataclasses
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp
import fastmlp.model as model_module
from fastmlp import SGD, Adam, _kernels, _plan, reference
from plans import force_plan

# the kernel tolerances and helpers of the kernel tests
from test_kernels import activate, close, cpu_flags, f32, nan_filled, rng_for

# These tests feed raw, unscaled or unlearnable data on purpose; fit's advice about it is expected.
pytestmark = pytest.mark.filterwarnings("ignore:fit. :UserWarning")

KERNEL_ACTIVATIONS = sorted(_kernels.ACTIVATIONS)  # includes "identity", used by the output layer


def params_of(net):
    return [np.array(p) for p in list(net.weights) + list(net.biases)]


def assert_same_params(a, b):
    for layer, (pa, pb) in enumerate(zip(params_of(a), params_of(b))):
        assert_array_equal(pa, pb, err_msg=f"parameter array {layer} (W1.., then b1..)")


def sync(ref, net):
    """Copy the compiled model's float32 parameters into the reference (its random state untouched)."""
    for target, source in zip(ref.weights + ref.biases, net.weights + net.biases):
        target[...] = source


# ---- data -------------------------------------------------------------------------------------


def sparse_like(rng, n, d, zeros=0.8, scale=1.0):
    """Non-negative inputs, `zeros` of them exact zeros, and the last three columns zero in every
    row (an image's margins): those first-layer weights never get a gradient."""
    X = rng.uniform(0.05, 1.0, size=(n, d)) * scale
    X[rng.random((n, d)) < zeros] = 0.0
    X[:, -3:] = 0.0
    return X.astype(np.float32)


def dense_like(rng, n, d):
    return rng.normal(size=(n, d)).astype(np.float32)


def use_threads(monkeypatch, threads):
    """Every chunk of fit (and predict) with exactly this many threads, not the tuner's pick: the
    plans allow that many, and the tuner always picks the most it may (fit asks it through chunk,
    which would otherwise try one thread first and, on chunks too short to time, keep to it)."""
    force_plan(monkeypatch, threads=threads)
    monkeypatch.setattr(fastmlp._threads.ThreadTuner, "next", lambda self: self.choices[-1])
    monkeypatch.setattr(fastmlp._threads.ThreadTuner, "chunk", lambda self, steps: (self.choices[-1], steps))


def make_data(kind, n, d, n_classes, seed=0):
    """Inputs of the kind asked for, with labels that depend on them, so training has something to learn."""
    rng = np.random.default_rng(seed)
    X = sparse_like(rng, n, d) if kind == "sparse" else dense_like(rng, n, d)
    w = rng.normal(size=(d, n_classes))
    y = np.argmax(X @ w + 0.3 * rng.normal(size=(n, n_classes)), axis=1).astype(np.int64)
    assert _plan.mostly_zeros(X) == (kind == "sparse")
    return X, y


# Input width odd and not a multiple of the 16-input runs sparse.c skips at once; a hidden width
# of 70 = one 64-column block plus a tail of 6; a second hidden layer of 9.
SIZES = [37, 70, 9, 4]

OPTIMIZERS = {
    "sgd": lambda: SGD(lr=0.1),
    "momentum": lambda: SGD(lr=0.05, momentum=0.9),
    "momentum_weight_decay": lambda: SGD(lr=0.05, momentum=0.9, weight_decay=1e-3),
    # these need the gradient itself (fm_sparse_gradient for a sparse first layer)
    "nesterov": lambda: SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda: Adam(lr=0.01, weight_decay=1e-3),
}

# (batch_size, rows): "ragged1" leaves a last batch of one row (rows % batch_size == 1), whose
# first half is empty; batch3 on 62 rows leaves a last batch of 2 rows (halves of 1 and 1).
# Batches up to 63 rows are cut in two parts, 128 rows in four, 256 in eight (fastmlp._plan).
SCHEDULES = {
    "batch2": (2, 60),
    "batch3": (3, 62),
    "batch32": (32, 96),
    "batch2_ragged1": (2, 61),
    "batch32_ragged1": (32, 97),
    # 4 and 8 parts; the last batches (3 rows, 88 rows) leave parts empty or short
    "batch128_ragged3": (128, 515),
    "batch256": (256, 600),
}
EPOCHS = 3


def fit(net, X, y, schedule_or_batch, optimizer, shuffle, epochs=EPOCHS):
    batch_size = SCHEDULES[schedule_or_batch][0] if isinstance(schedule_or_batch, str) else schedule_or_batch
    return net.fit(
        X, y, epochs=epochs, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer](), shuffle=shuffle, verbose=0
    )


def trained(kind, schedule, optimizer, shuffle, activation="relu", seed=3, sizes=SIZES):
    batch_size, n = SCHEDULES[schedule]
    X, y = make_data(kind, n, sizes[0], sizes[-1], seed=seed)
    net = fastmlp.MLP(sizes, activation=activation, seed=seed)
    history = fit(net, X, y, batch_size, optimizer, shuffle)
    return net, history


# ---- sparse_forward ---------------------------------------------------------------------------


def kernel_inputs(rng, kind, n, n_in):
    """float32 X (n, n_in) of the kind asked for; every sparse-looking kind has negative values."""
    if kind == "dense":
        return f32(rng, n, n_in)
    if kind == "all_zero":
        return np.zeros((n, n_in), np.float32)
    X = f32(rng, n, n_in)
    X[rng.random((n, n_in)) < 0.8] = 0.0
    X[:, [0, 5, n_in - 1]] = 0.0  # columns zero in every row, at both ends
    X[:, 17:35] = 0.0  # a run longer than the 16 inputs skipped at once
    if n > 2:
        X[1] = 0.0  # a row with no non-zero input
    X[-1, 2] = -3.0  # a negative value, in the last row
    X[0, 3] = -0.0  # a negative zero is a zero
    return X


SPARSE_OUTS = [1, 7, 63, 64, 65, 130, 256]
N_IN = 40


@pytest.mark.parametrize("kind", ["sparse", "dense", "all_zero"])
@pytest.mark.parametrize("activation", KERNEL_ACTIVATIONS)
@pytest.mark.parametrize("n_out", SPARSE_OUTS)
@pytest.mark.parametrize("n", [1, 9])
def test_sparse_forward(n, n_out, activation, kind):
    rng = rng_for("sparse_forward", n, n_out, activation, kind)
    X = kernel_inputs(rng, kind, n, N_IN)
    W, b = f32(rng, N_IN, n_out, scale=1 / np.sqrt(N_IN)), f32(rng, n_out)
    W_before, b_before, X_before = W.copy(), b.copy(), X.copy()
    expected = activate(X.astype(np.float64) @ W.astype(np.float64) + b, activation)
    out = nan_filled(n, n_out)  # overwritten, never read
    _kernels.sparse_forward(out, X, W, b, _kernels.ACTIVATIONS[activation])
    close(out, expected, scale=np.sqrt(N_IN))
    # A row without any non-zero input gives exactly what the bias kernel gives on zeros: act(b).
    bias_only = np.zeros((1, n_out), np.float32)
    _kernels.bias_act_forward(bias_only, b, _kernels.ACTIVATIONS[activation])
    for row in np.flatnonzero(~X.any(axis=1)):
        assert_array_equal(out[row], bias_only[0], err_msg=f"row {row}")
    assert_array_equal(W, W_before)
    assert_array_equal(b, b_before)
    assert_array_equal(X, X_before)


@pytest.mark.parametrize("n_out", SPARSE_OUTS)
def test_sparse_forward_large_values(n_out):
    # Unscaled pixels: sums of up to 40 terms of a few hundred, against float64.
    rng = rng_for("sparse_forward_large", n_out)
    X = np.round(rng.uniform(0, 255, size=(33, N_IN))).astype(np.float32)
    X[rng.random(X.shape) < 0.7] = 0.0
    W, b = f32(rng, N_IN, n_out, scale=0.05), f32(rng, n_out)
    out = nan_filled(33, n_out)
    _kernels.sparse_forward(out, X, W, b, _kernels.ACTIVATIONS["identity"])
    scale = float((np.abs(X.astype(np.float64)) @ np.abs(W.astype(np.float64))).max())
    close(out, X.astype(np.float64) @ W.astype(np.float64) + b, scale=scale)


@pytest.mark.parametrize("n_out", [128, 130, 256, 300])
@pytest.mark.parametrize("n_in", [1, 7, 8, 9, 33, 100, 784])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 16, 17, 19])
def test_sparse_forward_rows_in_groups_give_the_same_bits(n, n_in, n_out):
    # With AVX-512, 128 columns at a time take four rows at once over the inputs non-zero in any
    # of them, adding the other rows' exact zeros (csrc/sparse.c), and rows past the last whole
    # group one at a time: the bits of one row at a time, with NaN, inf and -0.0 among the
    # inputs, and rows with no non-zero or only non-zeros.
    rng = rng_for("sparse_groups", n, n_in, n_out)
    X = f32(rng, n, n_in)
    X[rng.random(X.shape) < 0.75] = 0.0
    X[0, rng.random(n_in) < 0.5] = -0.0
    X[1, -1] = np.nan  # the last input: a lane or the scalar tail
    X[n - 1, 0] = np.inf
    if n > 2:
        X[1] = f32(rng, n_in) + 2.0  # non-zero throughout, grouped with row 0
        X[1, -1] = np.nan
        X[2] = 0.0
    W, b = f32(rng, n_in, n_out, scale=1 / np.sqrt(n_in)), f32(rng, n_out)
    grouped, single = nan_filled(n, n_out), nan_filled(n, n_out)
    _kernels.sparse_forward(grouped, X, W, b, _kernels.ACTIVATIONS["relu"])
    _kernels.sparse_forward(single, X, W, b, _kernels.ACTIVATIONS["relu"], grouped=False)
    assert_array_equal(grouped, single)


def test_rows_are_grouped_where_the_cpu_has_avx512():
    if "avx512f" not in cpu_flags():
        pytest.skip("this CPU has no AVX-512: rows are taken one at a time")
    assert _kernels.sparse_groups_pay(128) and not _kernels.sparse_groups_pay(127)


@pytest.mark.parametrize("n_in", [1, 7, 8, 9, 33, 100])
def test_sparse_forward_keeps_every_non_zero(n_in):
    # The gather compresses 8 inputs at a time where the CPU has AVX2, then the rest one by one:
    # rows that are all non-zero (as much as the buffer holds), NaN and inf kept, -0.0 dropped.
    rng = rng_for("sparse_gather", n_in)
    X = f32(rng, 6, n_in)
    X[1] = -0.0  # negative zeros only: act(b)
    X[2, -1] = np.nan  # the last input: in the scalar tail or a lane
    X[3, 0] = np.inf
    X[4, rng.random(n_in) < 0.5] = 0.0
    W, b = f32(rng, n_in, 9), f32(rng, 9)
    out = nan_filled(6, 9)
    _kernels.sparse_forward(out, X, W, b, _kernels.ACTIVATIONS["identity"])
    finite = [0, 1, 4, 5]
    close(out[finite], X[finite].astype(np.float64) @ W.astype(np.float64) + b, scale=np.sqrt(n_in))
    assert_array_equal(out[1], b)
    assert np.isnan(out[2]).all()
    assert not np.isfinite(out[3]).any()


COLUMN_BLOCKS = {
    "first_half": lambda n: (0, n // 2),
    "second_half": lambda n: (n // 2, n),
    "inner": lambda n: (n // 3, n - n // 3),
    "last": lambda n: (n - 1, n),
}


@pytest.mark.parametrize("block", sorted(COLUMN_BLOCKS))
@pytest.mark.parametrize("n_out", [7, 65, 130, 256])
def test_sparse_forward_column_block_gives_the_same_bits(n_out, block):
    # A block of columns, as training cuts the first layer between two threads: the same bits as
    # those columns of the whole layer, and every other column of out left alone.
    col_begin, col_end = COLUMN_BLOCKS[block](n_out)
    rng = rng_for("sparse_forward_block", n_out, block)
    X = kernel_inputs(rng, "sparse", 9, N_IN)
    W, b = f32(rng, N_IN, n_out, scale=1 / np.sqrt(N_IN)), f32(rng, n_out)
    whole = nan_filled(9, n_out)
    _kernels.sparse_forward(whole, X, W, b, _kernels.ACTIVATIONS["relu"])
    out = nan_filled(9, n_out)
    _kernels.sparse_forward(out, X, W, b, _kernels.ACTIVATIONS["relu"], col_begin, col_end)
    assert_array_equal(out[:, col_begin:col_end], whole[:, col_begin:col_end])
    assert np.isnan(out[:, :col_begin]).all() and np.isnan(out[:, col_end:]).all()


@pytest.mark.parametrize("col_begin, col_end", [(-1, 3), (0, 0), (5, 4), (0, 8), (3, None)])
def test_sparse_kernels_reject_a_bad_column_block(col_begin, col_end):
    rng = rng_for("sparse_bad_block", col_begin)
    X, W, b = kernel_inputs(rng, "sparse", 3, N_IN), f32(rng, N_IN, 7), f32(rng, 7)
    if col_end is None:
        col_begin = 7  # begins at the end: no column at all
    with pytest.raises(ValueError, match="columns"):
        _kernels.sparse_forward(nan_filled(3, 7), X, W, b, 0, col_begin, col_end)
    with pytest.raises(ValueError, match="columns"):
        _kernels.sparse_update(W, None, X, f32(rng, 3, 7), LR, 0.0, 0.0, 0, N_IN, 1, col_begin, col_end)


# ---- sparse_relu_backward --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sparse", "dense", "all_zero"])
@pytest.mark.parametrize("n_out", [1, 7, 8, 31, 32, 33, 64, 130])
@pytest.mark.parametrize("n", [1, 9])
def test_sparse_relu_backward(n, n_out, kind):
    # (dz W^T) * (X > 0): only where the input is above zero, so not at its negative values,
    # zeros, -0.0 or NaN (relu' of a NaN is 0 in fm_act_backward too)
    rng = rng_for("sparse_relu_backward", n, n_out, kind)
    X = kernel_inputs(rng, kind, n, N_IN)
    if kind != "all_zero":
        X[0, 4] = np.nan
    W, dz = f32(rng, N_IN, n_out), f32(rng, n, n_out)
    dx = nan_filled(n, N_IN)
    _kernels.sparse_relu_backward(dx, X, dz, W)
    expected = np.where(X > 0, dz.astype(np.float64) @ W.astype(np.float64).T, 0.0)
    close(dx, expected)
    assert np.all(dx[~(X > 0)] == 0.0)


@pytest.mark.parametrize("n_out", [32, 130])
def test_sparse_relu_backward_entries_do_not_depend_on_the_others(n_out):
    # With AVX-512 the dot products run 8 at a time: an entry's bits are the same in any company.
    rng = rng_for("sparse_relu_backward_company", n_out)
    X = np.abs(f32(rng, 19, N_IN))
    W, dz = f32(rng, N_IN, n_out), f32(rng, 19, n_out)
    full = nan_filled(19, N_IN)
    _kernels.sparse_relu_backward(full, X, dz, W)
    thinned = X.copy()
    thinned[rng.random(X.shape) < 0.6] = 0.0
    some = nan_filled(19, N_IN)
    _kernels.sparse_relu_backward(some, thinned, dz, W)
    kept = thinned > 0
    assert_array_equal(some[kept], full[kept])
    assert np.all(some[~kept] == 0.0)


def test_sparse_relu_backward_rejects_mismatched_shapes():
    X = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="shape"):
        _kernels.sparse_relu_backward(
            np.zeros((3, 4), np.float32), X, np.zeros((3, 5), np.float32), np.zeros((4, 6), np.float32)
        )


# ---- sparse_update ----------------------------------------------------------------------------

UPDATE_CASES = {  # (velocity, mu, c)
    "plain": (False, 0.0, 0.0),
    "momentum": (True, 0.9, 0.0),
    "momentum_weight_decay": (True, 0.9, -0.05 * 0.01),
    "weight_decay_only": (True, 0.0, -0.05 * 0.1),  # SGD(weight_decay=...) keeps a velocity
}
UPDATE_N, UPDATE_N_IN, LR = 11, 40, 0.05


def update_inputs(rng, n, n_in):
    X = f32(rng, n, n_in)
    X[rng.random((n, n_in)) < 0.8] = 0.0
    X[:, [0, 6, n_in - 1]] = 0.0  # zero everywhere: these rows only decay
    X[:, 20:37] = 0.0
    X[:, 1] = 0.0
    X[0, 1] = 1.5  # only in the first row: in the first part unless split_at = 0
    X[:, 2] = 0.0
    X[n - 1, 2] = -2.0  # only in the last row: always in the second part
    X[3] = 0.0  # a row with no input
    return X


def update_maths(W, V, X, dz, lr, mu, c, row_begin, row_end, velocity):
    """float64 expectations for W and V after the step on rows [row_begin, row_end)."""
    W64, X64, dz64 = W.astype(np.float64), X.astype(np.float64), dz.astype(np.float64)
    g = X64.T @ dz64
    W_new, V_new = W64.copy(), None if V is None else V.astype(np.float64)
    rows = slice(row_begin, row_end)
    if velocity:
        V_new[rows] = mu * V_new[rows] + c * W64[rows] - lr * g[rows]
        W_new[rows] = W64[rows] + V_new[rows]
    else:
        W_new[rows] = W64[rows] - lr * g[rows]
    return W_new, V_new


def run_update(W, V, X, dz, lr, mu, c, row_begin, row_end, split_at):
    W, V = W.copy(), None if V is None else V.copy()
    _kernels.sparse_update(W, V, X, dz, lr, mu, c, row_begin, row_end, split_at)
    return W, V


ROW_RANGES = {
    "all": (0, UPDATE_N_IN),
    "first_half": (0, UPDATE_N_IN // 2),
    "second_half": (UPDATE_N_IN // 2, UPDATE_N_IN),
    "inner": (3, 23),
    "empty": (7, 7),
}


@pytest.mark.parametrize("rows", sorted(ROW_RANGES))
@pytest.mark.parametrize("split_at", [0, 1, UPDATE_N // 2, UPDATE_N])
@pytest.mark.parametrize("n_out", [1, 7, 64, 65, 130])
@pytest.mark.parametrize("case", sorted(UPDATE_CASES))
def test_sparse_update(case, n_out, split_at, rows):
    velocity, mu, c = UPDATE_CASES[case]
    row_begin, row_end = ROW_RANGES[rows]
    rng = rng_for("sparse_update", case, n_out, split_at, rows)
    X = update_inputs(rng, UPDATE_N, UPDATE_N_IN)
    W, dz = f32(rng, UPDATE_N_IN, n_out), f32(rng, UPDATE_N, n_out, scale=1 / UPDATE_N)
    V = f32(rng, UPDATE_N_IN, n_out, scale=0.1) if velocity else None
    X_before, dz_before = X.copy(), dz.copy()
    W_got, V_got = run_update(W, V, X, dz, LR, mu, c, row_begin, row_end, split_at)
    W_exp, V_exp = update_maths(W, V, X, dz, LR, mu, c, row_begin, row_end, velocity)

    close(W_got, W_exp, err_msg="W")
    if velocity:
        close(V_got, V_exp, err_msg="v")
    # Rows outside the range are left exactly as they were.
    outside = np.ones(UPDATE_N_IN, bool)
    outside[row_begin:row_end] = False
    assert_array_equal(W_got[outside], W[outside])
    if velocity:
        assert_array_equal(V_got[outside], V[outside])
    # Rows of W whose input column is zero in the whole minibatch get no gradient: unchanged
    # without a velocity, only the decay v = mu v + c w, w += v with one.
    no_input = ~X.any(axis=0)
    no_input[outside] = False
    assert no_input.sum() >= (3 if rows == "all" else 0)
    if velocity:
        V_decay = mu * V[no_input].astype(np.float64) + c * W[no_input].astype(np.float64)
        close(V_got[no_input], V_decay, rtol=1e-6, atol=1e-7, err_msg="decayed v")
        close(W_got[no_input], W[no_input].astype(np.float64) + V_decay, rtol=1e-6, atol=1e-7, err_msg="decayed W")
    else:
        assert_array_equal(W_got[no_input], W[no_input])
    assert_array_equal(X, X_before)
    assert_array_equal(dz, dz_before)


@pytest.mark.parametrize("case", sorted(UPDATE_CASES))
@pytest.mark.parametrize("n_out", [7, 65, 130])
def test_sparse_update_bits_do_not_depend_on_the_cut(case, n_out):
    # Each weight row's gradient sums its column's non-zeros in row order, part after part: where
    # the rows are cut into parts, and which rows of W one call updates, never changes the bits.
    velocity, mu, c = UPDATE_CASES[case]
    rng = rng_for("sparse_update_cut", case, n_out)
    X = update_inputs(rng, UPDATE_N, UPDATE_N_IN)
    W, dz = f32(rng, UPDATE_N_IN, n_out), f32(rng, UPDATE_N, n_out, scale=1 / UPDATE_N)
    V = f32(rng, UPDATE_N_IN, n_out, scale=0.1) if velocity else None
    W_ref, V_ref = run_update(W, V, X, dz, LR, mu, c, 0, UPDATE_N_IN, UPDATE_N // 2)
    for split_at in range(UPDATE_N + 1):
        W_got, V_got = run_update(W, V, X, dz, LR, mu, c, 0, UPDATE_N_IN, split_at)
        assert_array_equal(W_got, W_ref, err_msg=f"split_at={split_at}")
        if velocity:
            assert_array_equal(V_got, V_ref, err_msg=f"split_at={split_at}")
    # Two calls on the two halves of the rows, as two threads make them.
    W_two, V_two = W.copy(), None if V is None else V.copy()
    for row_begin, row_end in ((0, UPDATE_N_IN // 2), (UPDATE_N_IN // 2, UPDATE_N_IN)):
        _kernels.sparse_update(W_two, V_two, X, dz, LR, mu, c, row_begin, row_end, UPDATE_N // 2)
    assert_array_equal(W_two, W_ref)
    if velocity:
        assert_array_equal(V_two, V_ref)


@pytest.mark.parametrize("block", sorted(COLUMN_BLOCKS))
@pytest.mark.parametrize("case", sorted(UPDATE_CASES))
@pytest.mark.parametrize("n_out", [7, 65, 130, 256])
def test_sparse_update_column_blocks_give_the_same_bits(n_out, case, block):
    # Training's first layer, cut by columns: a block of columns steps to the same bits as those
    # columns of a whole-width step, every row of them, and leaves the other columns alone.
    velocity, mu, c = UPDATE_CASES[case]
    col_begin, col_end = COLUMN_BLOCKS[block](n_out)
    rng = rng_for("sparse_update_block", n_out, case, block)
    X = update_inputs(rng, UPDATE_N, UPDATE_N_IN)
    W, dz = f32(rng, UPDATE_N_IN, n_out), f32(rng, UPDATE_N, n_out, scale=1 / UPDATE_N)
    V = f32(rng, UPDATE_N_IN, n_out, scale=0.1) if velocity else None
    W_ref, V_ref = run_update(W, V, X, dz, LR, mu, c, 0, UPDATE_N_IN, UPDATE_N // 2)
    W_got, V_got = W.copy(), None if V is None else V.copy()
    _kernels.sparse_update(W_got, V_got, X, dz, LR, mu, c, 0, UPDATE_N_IN, UPDATE_N // 2, col_begin, col_end)
    cols = slice(col_begin, col_end)
    others = np.ones(n_out, bool)
    others[cols] = False
    assert_array_equal(W_got[:, cols], W_ref[:, cols])
    assert_array_equal(W_got[:, others], W[:, others])
    if velocity:
        assert_array_equal(V_got[:, cols], V_ref[:, cols])
        assert_array_equal(V_got[:, others], V[:, others])


@pytest.mark.parametrize("n_out", [7, 65])
def test_sparse_update_several_steps_with_momentum(n_out):
    # The velocity carries over: four steps with fresh minibatches against float64.
    rng = rng_for("sparse_update_steps", n_out)
    mu, c = 0.9, -LR * 1e-2
    W = f32(rng, UPDATE_N_IN, n_out)
    V = np.zeros((UPDATE_N_IN, n_out), np.float32)
    W64, V64 = W.astype(np.float64), V.astype(np.float64)
    for step in range(4):
        X = update_inputs(rng, UPDATE_N, UPDATE_N_IN)
        dz = f32(rng, UPDATE_N, n_out, scale=1 / UPDATE_N)
        _kernels.sparse_update(W, V, X, dz, LR, mu, c, 0, UPDATE_N_IN, UPDATE_N // 2)
        V64 = mu * V64 + c * W64 - LR * (X.astype(np.float64).T @ dz)
        W64 = W64 + V64
        close(W, W64, err_msg=f"W, step {step}")
        close(V, V64, err_msg=f"v, step {step}")


# ---- whole fits against the float64 reference -------------------------------------------------


def fit_twins(kind, schedule, optimizer, shuffle, activation="relu", seed=3, sizes=SIZES):
    batch_size, n = SCHEDULES[schedule]
    X, y = make_data(kind, n, sizes[0], sizes[-1], seed=seed)
    net = fastmlp.MLP(sizes, activation=activation, seed=seed)
    ref = reference.MLP(sizes, activation=activation, seed=seed, dtype=np.float64)
    sync(ref, net)
    h_net = fit(net, X, y, batch_size, optimizer, shuffle)
    h_ref = ref.fit(
        X, y, epochs=EPOCHS, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer](), shuffle=shuffle, verbose=0
    )
    return net, ref, h_net, h_ref, n


def assert_follows_reference(net, ref, h_net, h_ref, n):
    # The tolerances of tests/test_model.py: float32 rounding, grown over up to 90 steps of a
    # momentum fit (Nesterov, which does not take the split path, drifts by 2e-4 on dense batch 2).
    for layer in range(len(net.weights)):
        assert_allclose(net.weights[layer], ref.weights[layer], rtol=1e-3, atol=1e-4, err_msg=f"W{layer + 1}")
        assert_allclose(net.biases[layer], ref.biases[layer], rtol=1e-3, atol=1e-4, err_msg=f"b{layer + 1}")
    assert_allclose(h_net.history["loss"], h_ref.history["loss"], rtol=1e-3, atol=1e-6)
    # one row's argmax may flip on a float32 near-tie
    assert_allclose(h_net.history["accuracy"], h_ref.history["accuracy"], rtol=0, atol=1.5 / n)


REFERENCE_CASES = [
    (kind, schedule, optimizer, shuffle)
    for kind in ("sparse", "dense")
    for schedule in sorted(SCHEDULES)
    for optimizer in sorted(OPTIMIZERS)
    for shuffle in (True, False)
]


@pytest.mark.parametrize("kind, schedule, optimizer, shuffle", REFERENCE_CASES)
def test_fit_follows_the_reference(kind, schedule, optimizer, shuffle):
    assert_follows_reference(*fit_twins(kind, schedule, optimizer, shuffle))


TANH_CASES = [
    (kind, schedule, optimizer)
    for kind in ("sparse", "dense")
    for schedule in ("batch3", "batch32_ragged1")
    for optimizer in sorted(OPTIMIZERS)
]


@pytest.mark.parametrize("kind, schedule, optimizer", TANH_CASES)
def test_fit_follows_the_reference_tanh(kind, schedule, optimizer):
    assert_follows_reference(*fit_twins(kind, schedule, optimizer, True, activation="tanh"))


# One hidden layer (the sparse layer feeds the output), layers of a few units (halves of one or
# two rows of W), a single input (an empty first half of W's rows), widths at and around the
# 64-column blocks. (sparse_like zeroes three columns, so sparse inputs need a few.) With SGD a
# sparse first layer is cut by columns: one unit leaves the first half none, 17 cuts it 8 | 9.
SPARSE_CUT_SIZES = [[6, 1, 3], [37, 17, 4]]
OTHER_SHAPES = [
    ("sparse", [37, 70, 4]),
    ("sparse", [5, 3, 2]),
    ("sparse", [64, 130, 65, 3]),
    ("sparse", SPARSE_CUT_SIZES[0]),
    ("sparse", SPARSE_CUT_SIZES[1]),
    ("dense", [37, 70, 4]),
    ("dense", [5, 3, 2]),
    ("dense", [1, 9, 3]),
    ("dense", [64, 130, 65, 3]),
]


@pytest.mark.parametrize("kind, sizes", OTHER_SHAPES)
def test_fit_follows_the_reference_other_shapes(kind, sizes):
    assert_follows_reference(*fit_twins(kind, "batch3", "momentum_weight_decay", True, sizes=sizes))


def test_one_row_minibatch_alone():
    # A one-row last batch through the dense split path (its first half empty) matches the
    # reference; the sparse one is test_fit_follows_the_reference[sparse-*ragged1*].
    assert_follows_reference(*fit_twins("dense", "batch2_ragged1", "momentum", False))


# ---- the same bits whatever the thread count, run after run, wherever chunks end ----------------

BITS_CASES = [
    (kind, schedule, optimizer, shuffle)
    for kind in ("sparse", "dense")
    for schedule in ("batch3", "batch32_ragged1")
    for optimizer in ("sgd", "momentum_weight_decay", "nesterov", "adam")
    for shuffle in (True, False)
]


@pytest.mark.parametrize("kind, schedule, optimizer, shuffle", BITS_CASES)
def test_thread_count_does_not_change_the_bits(monkeypatch, kind, schedule, optimizer, shuffle):
    results = {}
    for threads in (1, 2):
        use_threads(monkeypatch, threads)
        results[threads] = trained(kind, schedule, optimizer, shuffle, sizes=[37, 130, 9, 4])
    (one, h_one), (two, h_two) = results[1], results[2]
    assert_same_params(one, two)
    assert h_one.history["loss"] == h_two.history["loss"]
    assert h_one.history["accuracy"] == h_two.history["accuracy"]


@pytest.mark.parametrize("sizes", SPARSE_CUT_SIZES)
def test_thread_count_does_not_change_the_bits_of_odd_column_cuts(monkeypatch, sizes):
    results = {}
    for threads in (1, 2):
        use_threads(monkeypatch, threads)
        results[threads] = trained("sparse", "batch3", "momentum_weight_decay", True, sizes=sizes)
    assert_same_params(results[1][0], results[2][0])
    assert results[1][1].history == results[2][1].history


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum_weight_decay"])
def test_first_layer_in_place_gives_the_same_bits(monkeypatch, optimizer, threads):
    # A first layer too big for the threads' private copies of their columns is stepped in place
    # (past fastmlp._plan.PRIVATE_MAX_WEIGHTS; here Plan.private_columns off): the same bits.
    use_threads(monkeypatch, threads)
    private, h_private = trained("sparse", "batch32_ragged1", optimizer, True, sizes=[37, 130, 9, 4])
    force_plan(monkeypatch, private_columns=False)
    in_place, h_in_place = trained("sparse", "batch32_ragged1", optimizer, True, sizes=[37, 130, 9, 4])
    assert_same_params(private, in_place)
    assert h_private.history == h_in_place.history


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_thread_count_does_not_change_the_bits_of_a_wide_batch(monkeypatch, kind):
    # Batches of 256 rows: each thread's GEMMs are big enough for BLAS to block them.
    rng = np.random.default_rng(5)
    X = sparse_like(rng, 600, 101) if kind == "sparse" else dense_like(rng, 600, 101)
    y = rng.integers(0, 5, size=600)
    nets = []
    for threads in (1, 2):
        use_threads(monkeypatch, threads)
        net = fastmlp.MLP([101, 200, 5], seed=2)
        net.fit(X, y, epochs=2, batch_size=256, optimizer=SGD(lr=0.05, momentum=0.9), verbose=0)
        nets.append(net)
    assert_same_params(*nets)


def parts_products():
    """The products a step's parts may use on this machine besides OpenBLAS."""
    return [blas for blas, here in (("tiles", _kernels.TILES_FAST), ("blis", _kernels.BLIS_AVAILABLE)) if here]


def test_parts_take_our_tiles_where_they_run_fast():
    X, _ = make_data("dense", 515, 37, 4, seed=7)
    fit = _plan.make_plan("fit", SIZES, "relu", X, batch_size=128, optimizer=SGD())
    infer = _plan.make_plan("infer", SIZES, "relu", X)
    for plan in (fit, infer):
        assert plan.blas == ("tiles" if _kernels.TILES_FAST else "blis" if _kernels.BLIS_AVAILABLE else "openblas")
    assert fit.packed_operands == _kernels.TILES_FAST
    assert not infer.packed_operands  # predict reads the weights in place: packing cost small calls


@pytest.mark.parametrize("small_kernels", [True, False])
def test_sparse_fits_take_openblas_where_it_has_small_kernels(monkeypatch, small_kernels):
    # the sparse kernels take the first layer; the hidden layers' small products then ran faster
    # in OpenBLAS's AVX-512 small-matrix kernels than in our tiles
    monkeypatch.setattr(_kernels, "BLAS_SMALL_KERNELS", small_kernels)
    X, _ = make_data("sparse", 515, 37, 4, seed=7)
    fit = _plan.make_plan("fit", SIZES, "relu", X, batch_size=128, optimizer=SGD(momentum=0.9))
    infer = _plan.make_plan("infer", SIZES, "relu", X)
    others = "tiles" if _kernels.TILES_FAST else "blis" if _kernels.BLIS_AVAILABLE else "openblas"
    assert fit.sparse_inputs and infer.sparse_inputs
    assert fit.blas == ("openblas" if small_kernels else others)
    assert fit.packed_operands == (fit.blas == "tiles")
    assert infer.blas == others  # predict is not a fit: the tiles read its weights in place
    wide = _plan.make_plan("fit", [37, 1024, 1024, 4], "relu", X, batch_size=128, optimizer=SGD(momentum=0.9))
    assert wide.blas == others  # hidden layers too big for the small kernels


@pytest.mark.parametrize("blas", parts_products())
@pytest.mark.parametrize("optimizer", ["sgd", "momentum_weight_decay", "adam"])
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_every_product_gives_openblas_fits_within_rounding(monkeypatch, kind, optimizer, blas):
    # Our tiles (bias, activation and SGD step fused) and BLIS give the fit OpenBLAS's products
    # give, within float32 rounding.
    X, y = make_data(kind, 515, 37, 4, seed=7)
    nets = []
    for products in (blas, "openblas"):
        with pytest.MonkeyPatch.context() as patch:
            force_plan(patch, blas=products)
            net = fastmlp.MLP([37, 130, 70, 4], seed=7)
            fit(net, X, y, 128, optimizer, True)
            nets.append(net)
    for layer, (a, b) in enumerate(zip(params_of(nets[0]), params_of(nets[1]))):
        assert_allclose(a, b, rtol=1e-3, atol=1e-4, err_msg=f"parameter array {layer}")  # as the reference tests
    assert_allclose(nets[0].predict_proba(X), nets[1].predict_proba(X), rtol=1e-4, atol=1e-6)


THREAD_COUNTS = [1, 2, 3, 4, 8]  # 8: more than a 2-core machine has, which must work


@pytest.mark.parametrize("optimizer", ["sgd", "momentum_weight_decay", "nesterov", "adam"])
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_any_thread_count_gives_the_same_bits(monkeypatch, kind, optimizer):
    # Batches of 256 rows are cut in 8 parts (the last batch, of 3 rows, leaves 5 of them empty),
    # which 1, 2, 3, 4 or 8 threads take; 130 first-layer units cut by columns leave some parts
    # none; predict and evaluate cut 515 rows in blocks of 512 (8 parts) and 3.
    X, y = make_data(kind, 515, 37, 4, seed=6)
    runs = []
    for threads in THREAD_COUNTS:
        use_threads(monkeypatch, threads)
        net = fastmlp.MLP([37, 130, 70, 4], seed=6)
        history = fit(net, X, y, 256, optimizer, True)
        runs.append((params_of(net), history.history, net.predict_proba(X), net.evaluate(X, y)))
    for threads, (params, history, proba, scores) in zip(THREAD_COUNTS[1:], runs[1:]):
        for layer, (a, b) in enumerate(zip(runs[0][0], params)):
            assert_array_equal(a, b, err_msg=f"{threads} threads, parameter array {layer}")
        assert history == runs[0][1]
        assert_array_equal(proba, runs[0][2])
        assert scores == runs[0][3]


@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum_weight_decay"])
def test_same_seed_same_bits(kind, optimizer):
    (a, h_a), (b, h_b) = (trained(kind, "batch32_ragged1", optimizer, True) for _ in range(2))
    assert_same_params(a, b)
    assert h_a.history == h_b.history


@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
@pytest.mark.parametrize("schedule", ["batch3", "batch32_ragged1"])
def test_chunk_boundaries_do_not_change_the_bits(monkeypatch, kind, optimizer, schedule):
    # fit hands the compiled loop chunks of about _CHUNK_SECONDS of work; at 1e-9 s every chunk is
    # one minibatch (and carve() sets the split workspace up again each time), by default an
    # epoch of these small fits is one or a few chunks.
    batch_size = SCHEDULES[schedule][0]
    default, h_default = trained(kind, schedule, optimizer, True)
    net = fastmlp.MLP(SIZES, seed=3)
    assert net._first_chunk(batch_size) > SCHEDULES[schedule][1] // batch_size  # one chunk per epoch
    monkeypatch.setattr(model_module, "_CHUNK_SECONDS", 1e-9)
    assert net._first_chunk(batch_size) == 1
    chunked, h_chunked = trained(kind, schedule, optimizer, True)
    assert chunked._chunk_steps[batch_size] == 1
    assert_same_params(default, chunked)
    for key in ("loss", "accuracy"):
        assert_allclose(h_default.history[key], h_chunked.history[key], rtol=1e-12)


class HalveWeightsAfterFirstEpoch(fastmlp.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            for W in self.model.weights:
                W *= 0.5


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_weights_a_callback_changes_are_the_ones_trained_on(monkeypatch, kind):
    # a step's forward passes read a packed copy of the weights, kept from chunk to chunk within
    # an epoch; a callback's change between epochs must reach it
    monkeypatch.setattr(model_module, "_CHUNK_SECONDS", 1e-9)  # an epoch in many chunks
    batch_size, n = SCHEDULES["batch32_ragged1"]
    X, y = make_data(kind, n, SIZES[0], SIZES[-1])
    during, apart = fastmlp.MLP(SIZES, seed=3), fastmlp.MLP(SIZES, seed=3)
    optimizer = OPTIMIZERS["momentum"]()
    during.fit(
        X, y, epochs=2, batch_size=batch_size, optimizer=optimizer, verbose=0, callbacks=[HalveWeightsAfterFirstEpoch()]
    )
    optimizer = OPTIMIZERS["momentum"]()
    apart.fit(X, y, epochs=1, batch_size=batch_size, optimizer=optimizer, verbose=0)
    for W in apart.weights:
        W *= 0.5
    apart.fit(X, y, epochs=1, batch_size=batch_size, optimizer=optimizer, verbose=0)
    assert_same_params(during, apart)


# ---- the first layer kept in its panels (Plan.packed_first_layer) -----------------------------


def test_dense_sgd_keeps_the_first_layer_in_its_panels():
    dense, _ = make_data("dense", 300, SIZES[0], SIZES[-1])
    sparse, _ = make_data("sparse", 300, SIZES[0], SIZES[-1])

    def fit_plan(X, optimizer, **kwargs):
        return _plan.make_plan("fit", SIZES, "relu", X, batch_size=32, optimizer=OPTIMIZERS[optimizer](), **kwargs)

    assert fit_plan(dense, "momentum").packed_first_layer == _kernels.TILES_FAST
    assert fit_plan(dense, "sgd").packed_first_layer == _kernels.TILES_FAST
    assert not fit_plan(sparse, "momentum").packed_first_layer  # stepped by columns instead
    assert not fit_plan(dense, "adam").packed_first_layer  # steps from the gradient buffer
    assert not fit_plan(dense, "momentum", regularised=True).packed_first_layer  # max-norm reads W
    assert not _plan.make_plan("infer", SIZES, "relu", dense).packed_first_layer
    big = _plan.PACKED_FIRST_LAYER_MAX_WEIGHTS // SIZES[0] + 1
    wide = _plan.make_plan("fit", [SIZES[0], big, 4], "relu", dense, batch_size=32, optimizer=SGD(momentum=0.9))
    assert not wide.packed_first_layer  # its panels are many and far apart


@pytest.mark.skipif(not _kernels.TILES_FAST, reason="only the tiles keep the first layer in its panels")
def test_the_engine_refuses_the_first_layer_in_its_panels_with_max_norm(monkeypatch):
    # max-norm reads W by columns after each step, and W is only written at the call's end
    X, y = make_data("dense", 200, SIZES[0], SIZES[-1])
    force_plan(monkeypatch, packed_first_layer=True)
    net = fastmlp.MLP(SIZES, seed=3, max_norm=3.0)
    with pytest.raises(RuntimeError, match="cannot run this plan"):
        net.fit(X, y, epochs=1, batch_size=32, optimizer=OPTIMIZERS["momentum"](), verbose=0)


@pytest.mark.skipif(not _kernels.TILES_FAST, reason="only the tiles keep the first layer in its panels")
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("step_chunks", [False, True])
@pytest.mark.parametrize("schedule", ["batch3", "batch32_ragged1", "batch128_ragged3"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum_weight_decay"])
def test_first_layer_in_its_panels_gives_the_bits_of_the_one_in_place(
    monkeypatch, optimizer, schedule, step_chunks, threads
):
    # the same multiply-adds, read from and written to the panels instead of W, and W written
    # back from them at every chunk's end (with step_chunks, every step's)
    if step_chunks:
        monkeypatch.setattr(model_module, "_CHUNK_SECONDS", 1e-9)
    use_threads(monkeypatch, threads)
    batch_size, n = SCHEDULES[schedule]
    X, _ = make_data("dense", n, SIZES[0], SIZES[-1], seed=3)
    plan = _plan.make_plan("fit", SIZES, "relu", X, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer]())
    assert plan.packed_first_layer
    panels, h_panels = trained("dense", schedule, optimizer, True)
    force_plan(monkeypatch, packed_first_layer=False)
    in_place, h_in_place = trained("dense", schedule, optimizer, True)
    assert_same_params(panels, in_place)
    assert h_panels.history["loss"] == h_in_place.history["loss"]


# ---- the dense first layer's forward pass by columns (Plan.first_forward_by_columns) ----------

# A first layer past FORWARD_COLUMNS_MIN_WEIGHTS (37 x 1800 = 66,600 weights) whose width is no
# whole number of 16-column panels, so that the last part's panel is narrow: cut on panels for 2
# parts (batch 32), 4 (batch 128, its last batch of 3 rows) and 8 (batch 256).
COLUMN_SIZES = [37, 1800, 9, 4]
assert COLUMN_SIZES[0] * COLUMN_SIZES[1] >= _plan.FORWARD_COLUMNS_MIN_WEIGHTS


def column_net_trained(schedule, optimizer, shuffle, activation="relu", **net_kwargs):
    batch_size, n = SCHEDULES[schedule]
    X, y = make_data("dense", n, COLUMN_SIZES[0], COLUMN_SIZES[-1], seed=4)
    net = fastmlp.MLP(COLUMN_SIZES, activation=activation, seed=4, **net_kwargs)
    return net, fit(net, X, y, batch_size, optimizer, shuffle)


def test_dense_fits_make_the_first_layer_by_columns_where_it_is_big():
    dense, _ = make_data("dense", 300, 37, 4)
    sparse, _ = make_data("sparse", 300, 37, 4)

    def plan(task, sizes, X, **kwargs):
        return _plan.make_plan(task, sizes, "relu", X, **kwargs)

    fit = dict(batch_size=32, optimizer=SGD(momentum=0.9))
    assert plan("fit", COLUMN_SIZES, dense, **fit).first_forward_by_columns == _kernels.TILES_FAST
    assert plan("fit", COLUMN_SIZES, dense, batch_size=128, optimizer=Adam()).first_forward_by_columns == (
        _kernels.TILES_FAST
    )
    assert not plan("fit", SIZES, dense, **fit).first_forward_by_columns  # too small to pay a barrier
    assert not plan("fit", COLUMN_SIZES, sparse, **fit).first_forward_by_columns  # the sparse kernels
    assert not plan("infer", COLUMN_SIZES, dense).first_forward_by_columns
    assert not plan("fit", COLUMN_SIZES, dense, batch_size=1, optimizer=SGD()).first_forward_by_columns
    with pytest.raises(ValueError, match="first_forward_by_columns needs packed_operands"):
        dataclasses.replace(
            plan("fit", COLUMN_SIZES, dense, **fit),
            blas="openblas",
            packed_operands=False,
            packed_first_layer=False,
            first_forward_by_columns=True,
        )


@pytest.mark.skipif(not _kernels.TILES_FAST, reason="only the tiles read the first layer's panels by columns")
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("activation", ["relu", "tanh"])  # in the tile, and in a pass of its own
@pytest.mark.parametrize("optimizer", ["sgd", "momentum_weight_decay", "adam"])
@pytest.mark.parametrize("schedule", ["batch32_ragged1", "batch128_ragged3", "batch256"])
def test_first_layer_by_columns_gives_the_bits_of_the_one_by_rows(
    monkeypatch, schedule, optimizer, activation, shuffle
):
    # each output's chain of multiply-adds is the same, whichever part makes it; the next step's
    # rows, gathered during this step's update, are the ones it trains on
    on, h_on = column_net_trained(schedule, optimizer, shuffle, activation)
    force_plan(monkeypatch, first_forward_by_columns=False)
    off, h_off = column_net_trained(schedule, optimizer, shuffle, activation)
    assert_same_params(on, off)
    assert h_on.history == h_off.history


@pytest.mark.skipif(not _kernels.TILES_FAST, reason="only the tiles read the first layer's panels by columns")
@pytest.mark.parametrize("regularised", [dict(dropout=0.2), dict(max_norm=0.5)])
@pytest.mark.parametrize("step_chunks", [False, True])
def test_first_layer_by_columns_with_dropout_max_norm_and_any_chunks(monkeypatch, regularised, step_chunks):
    # dropout is drawn on each part's rows after the columns are made; max-norm rescales every
    # column before the next step reads them; a chunk of one step gathers its rows up front
    if step_chunks:
        monkeypatch.setattr(model_module, "_CHUNK_SECONDS", 1e-9)
    on, h_on = column_net_trained("batch32_ragged1", "momentum", True, **regularised)
    force_plan(monkeypatch, first_forward_by_columns=False)
    off, h_off = column_net_trained("batch32_ragged1", "momentum", True, **regularised)
    assert_same_params(on, off)
    assert h_on.history == h_off.history


@pytest.mark.skipif(not _kernels.TILES_FAST, reason="only the tiles read the first layer's panels by columns")
@pytest.mark.parametrize("optimizer", ["momentum_weight_decay", "adam"])
def test_first_layer_by_columns_gives_the_same_bits_on_any_thread_count(monkeypatch, optimizer):
    runs = []
    for threads in THREAD_COUNTS:
        use_threads(monkeypatch, threads)
        net, history = column_net_trained("batch256", optimizer, True)
        runs.append((params_of(net), history.history))
    for threads, (params, history) in zip(THREAD_COUNTS[1:], runs[1:]):
        for layer, (a, b) in enumerate(zip(runs[0][0], params)):
            assert_array_equal(a, b, err_msg=f"{threads} threads, parameter array {layer}")
        assert history == runs[0][1]


def test_a_first_layer_too_big_for_the_caches_streams_its_panels():
    dense, _ = make_data("dense", 300, 64, 4)
    sparse, _ = make_data("sparse", 300, 64, 4)
    big = [64, _plan.STREAMED_PANELS_MIN_WEIGHTS // 64, 4]

    def fit_plan(X, sizes, optimizer, **kwargs):
        return _plan.make_plan("fit", sizes, "relu", X, batch_size=32, optimizer=OPTIMIZERS[optimizer](), **kwargs)

    assert fit_plan(dense, big, "momentum").stream_panels == _kernels.TILES_FAST
    assert fit_plan(dense, big, "sgd", regularised=True).stream_panels == _kernels.TILES_FAST
    assert not fit_plan(dense, [64, big[1] - 1, 4], "momentum").stream_panels  # stays in cache
    assert not fit_plan(dense, big, "adam").stream_panels  # steps from the gradient buffer
    assert not fit_plan(sparse, big, "momentum").stream_panels
    assert not _plan.make_plan("infer", big, "relu", dense).stream_panels


@pytest.mark.skipif(not _kernels.TILES_FAST, reason="only the tiles write the first layer's panels")
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum_weight_decay"])
def test_streamed_panels_give_the_same_bits(monkeypatch, optimizer, threads):
    # the same values, written past the caches, and seen by every thread after the step's barrier
    use_threads(monkeypatch, threads)
    force_plan(monkeypatch, packed_first_layer=False)
    cached, h_cached = column_net_trained("batch128_ragged3", optimizer, True)
    force_plan(monkeypatch, stream_panels=True)
    streamed, h_streamed = column_net_trained("batch128_ragged3", optimizer, True)
    assert_same_params(cached, streamed)
    assert h_cached.history == h_streamed.history


def test_first_layer_by_columns_follows_the_reference():
    assert_follows_reference(*fit_twins("dense", "batch32_ragged1", "momentum", True, sizes=COLUMN_SIZES))


# ---- the sparse first layer against the dense one ---------------------------------------------

SPARSE_DENSE_CASES = [
    ("sparse", schedule, optimizer, shuffle)
    for schedule in ("batch2", "batch3", "batch32", "batch32_ragged1")
    for optimizer in sorted(OPTIMIZERS)
    for shuffle in (True, False)
]


@pytest.mark.parametrize("kind, schedule, optimizer, shuffle", SPARSE_DENSE_CASES)
def test_sparse_first_layer_agrees_with_the_dense_one(monkeypatch, kind, schedule, optimizer, shuffle):
    sparse_net, h_sparse = trained(kind, schedule, optimizer, shuffle)
    force_plan(monkeypatch, sparse_inputs=False)  # forces the dense first layer
    dense_net, h_dense = trained(kind, schedule, optimizer, shuffle)
    for layer, (a, b) in enumerate(zip(params_of(sparse_net), params_of(dense_net))):
        assert_allclose(a, b, rtol=1e-5, atol=2e-6, err_msg=f"parameter array {layer} (W1.., then b1..)")
    assert_allclose(h_sparse.history["loss"], h_dense.history["loss"], rtol=1e-5, atol=1e-7)


def test_sparse_first_layer_is_taken(monkeypatch):
    # The sparse kernels sum in another order than the GEMM: some bits of the first layer differ,
    # which shows the default fit of mostly-zero inputs did go through them.
    sparse_net, _ = trained("sparse", "batch32", "momentum", True)
    force_plan(monkeypatch, sparse_inputs=False)
    dense_net, _ = trained("sparse", "batch32", "momentum", True)
    assert not np.array_equal(sparse_net.weights[0], dense_net.weights[0])


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_one_row_last_batch_sparse_matches_dense(momentum):
    # 3 rows, batch 2, no shuffle -- minibatches [0, 1] and [2]: the last one has an empty first
    # half, which must hold no rows (not the previous minibatch's) when the update reads it.
    X = np.array([[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 1.0, 0.0, 0.0]], np.float32)
    y = np.array([0, 1, 0])
    assert _plan.mostly_zeros(X)
    nets = []
    for changes in ({}, {"sparse_inputs": False}):  # the sparse first layer, then the dense one
        with pytest.MonkeyPatch.context() as patch:
            force_plan(patch, **changes)
            net = fastmlp.MLP([5, 4, 2], seed=0)
            net.fit(X, y, epochs=1, batch_size=2, optimizer=SGD(lr=0.1, momentum=momentum), shuffle=False, verbose=0)
        nets.append(net)
    # Rows 0 and 4 of W1 have inputs only in the first minibatch: the second must leave them alone
    # (plain SGD) or only decay them (momentum), in both paths alike.
    assert_allclose(nets[0].weights[0], nets[1].weights[0], rtol=1e-6, atol=1e-7)


# ---- ReLU's zeros skipped by the hidden layers --------------------------------------------------

# Two hidden layers, so a sparse hidden layer feeds another hidden layer and the output layer.
HIDDEN_SIZES = [37, 70, 65, 4]
# The first layer's bias moves the share of active hidden units: well under half of them (the
# layers after it sum the weight rows of the non-zeros, csrc/parts.c), or well over (their GEMM).
HIDDEN_SHARES = {"few_active": (-0.4, 0.0, 0.3), "most_active": (1.0, 0.7, 1.0)}


@pytest.fixture
def blis_parts(monkeypatch):
    """Parts' products from BLIS, which has no kernels for small matrices: plans list a ReLU's
    non-zeros then (with our tiles or OpenBLAS's small kernels, every dense layer takes the GEMM)."""
    if not _kernels.BLIS_AVAILABLE:
        pytest.skip("the blis package is not installed")
    monkeypatch.setattr(_kernels, "TILES_FAST", False)
    monkeypatch.setattr(_kernels, "BLAS_SMALL_KERNELS", False)  # a sparse fit's would take OpenBLAS


def hidden_twins(share, schedule, optimizer):
    """A net and its float64 twin on the same sparse data, the first-layer bias set so that the
    share of active units is as named (checked on the twin's first hidden layer)."""
    bias, low, high = HIDDEN_SHARES[share]
    batch_size, n = SCHEDULES[schedule]
    X, y = make_data("sparse", n, HIDDEN_SIZES[0], HIDDEN_SIZES[-1], seed=4)
    net = fastmlp.MLP(HIDDEN_SIZES, seed=4)
    net.biases[0][...] = bias
    ref = reference.MLP(HIDDEN_SIZES, seed=4, dtype=np.float64)
    sync(ref, net)
    active = np.mean(np.maximum(X @ ref.weights[0] + ref.biases[0], 0.0) > 0)
    assert low <= active <= high, f"{active:.2f} of the hidden units active, expected {share}"
    return net, ref, X, y, batch_size, n


@pytest.mark.parametrize("optimizer", ["sgd", "momentum_weight_decay", "adam"])
@pytest.mark.parametrize("schedule", ["batch3", "batch32_ragged1"])
@pytest.mark.parametrize("share", sorted(HIDDEN_SHARES))
def test_hidden_layers_follow_the_reference(blis_parts, share, schedule, optimizer):
    net, ref, X, y, batch_size, n = hidden_twins(share, schedule, optimizer)
    h_net = fit(net, X, y, batch_size, optimizer, True)
    h_ref = ref.fit(
        X, y, epochs=EPOCHS, batch_size=batch_size, optimizer=OPTIMIZERS[optimizer](), shuffle=True, verbose=0
    )
    assert_follows_reference(net, ref, h_net, h_ref, n)
    # inference cuts its blocks of rows the same way
    assert_allclose(net.predict_proba(X), ref.predict_proba(X), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("share", sorted(HIDDEN_SHARES))
def test_hidden_layers_bits_do_not_depend_on_the_thread_count(blis_parts, monkeypatch, share):
    results = []
    for threads in (1, 2):
        use_threads(monkeypatch, threads)
        net, _, X, y, batch_size, _ = hidden_twins(share, "batch32_ragged1", "momentum")
        history = fit(net, X, y, batch_size, "momentum", True)
        results.append((net, history, net.predict_proba(X)))
    assert_same_params(results[0][0], results[1][0])
    assert results[0][1].history == results[1][1].history
    assert_array_equal(results[0][2], results[1][2])


def test_our_tiles_take_every_hidden_layer_as_a_gemm(monkeypatch):
    monkeypatch.setattr(_kernels, "TILES_FAST", True)
    assert hidden_lists_planned(activation="relu") == ()


def second_layer_fitted(share, **changes):
    """W2 after a momentum fit at batch 32 of hidden_twins(share), on plans with `changes` (see
    plans.force_plan)."""
    with pytest.MonkeyPatch.context() as patch:
        force_plan(patch, **changes)
        net, _, X, y, batch_size, _ = hidden_twins(share, "batch32", "momentum")
        fit(net, X, y, batch_size, "momentum", True)
    return np.array(net.weights[1])


def hidden_lists_planned(sizes=HIDDEN_SIZES, batch_size=32, activation="relu"):
    """The hidden layers make_plan lists the non-zeros of, fitting mostly-zero inputs with momentum."""
    X, _ = make_data("sparse", max(batch_size, 96), sizes[0], sizes[-1], seed=4)
    plan = _plan.make_plan("fit", sizes, activation, X, batch_size=batch_size, optimizer=OPTIMIZERS["momentum"]())
    return plan.hidden_lists


def test_sparse_hidden_layers_are_taken(blis_parts):
    # The sums over non-zeros run in another order than the GEMM's: the second layer's bits differ
    # when its inputs are mostly zeros, which shows the fit did go through them; they do not when
    # most units are active, which shows that the GEMM took those.
    def second_layer(share, skips):
        return second_layer_fitted(share) if skips else second_layer_fitted(share, hidden_lists=())

    # the layer after the first ReLU (its 65 outputs are enough for the sparse kernels; the
    # output layer's 4 are not)
    assert hidden_lists_planned(activation="relu") == (1,)
    assert hidden_lists_planned(activation="leaky_relu") == ()
    assert not np.array_equal(second_layer("few_active", True), second_layer("few_active", False))
    assert_array_equal(second_layer("most_active", True), second_layer("most_active", False))


def test_hidden_layers_too_big_for_their_lists_take_the_gemm(blis_parts):
    # Hidden outputs are held as non-zeros within the bounds of the inputs' (_plan.SPARSE_MAX_ROWS
    # rows, _plan.SPARSE_MAX_CELLS rows x hidden units): past them, no room for the lists is
    # taken and the GEMMs run, with their bits (those of a plan without hidden lists).
    widest = _plan.SPARSE_MAX_CELLS // 32 - HIDDEN_SIZES[2]  # widest first hidden layer at batch 32
    assert hidden_lists_planned([37, widest, 65, 4]) == (1,)
    assert hidden_lists_planned([37, widest + 1, 65, 4]) == ()
    assert hidden_lists_planned(batch_size=_plan.SPARSE_MAX_ROWS) == (1,)
    assert hidden_lists_planned(batch_size=_plan.SPARSE_MAX_ROWS + 1) == ()
    gemm = second_layer_fitted("few_active", hidden_lists=())
    assert not np.array_equal(second_layer_fitted("few_active"), gemm)


# ---- divergence -------------------------------------------------------------------------------

DIVERGING = {  # (activation, optimizer) at lr = 1e6, batch 32: each makes the loss overflow
    "relu-momentum": ("relu", lambda: SGD(lr=1e6, momentum=0.9)),
    "relu-momentum_weight_decay": ("relu", lambda: SGD(lr=1e6, momentum=0.9, weight_decay=1e-3)),
    # plain SGD on relu kills the units of mostly-zero inputs at once (a finite loss): leaky_relu
    "leaky_relu-sgd": ("leaky_relu", lambda: SGD(lr=1e6)),
    "leaky_relu-momentum": ("leaky_relu", lambda: SGD(lr=1e6, momentum=0.9)),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", sorted(DIVERGING))
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_divergence_raises_and_leaves_finite_parameters(monkeypatch, kind, case, threads):
    use_threads(monkeypatch, threads)
    activation, make_optimizer = DIVERGING[case]
    rng = np.random.default_rng(0)
    if kind == "sparse":
        X = sparse_like(rng, 200, 50, scale=255.0)  # unscaled pixels, 80% zeros
    else:
        X = rng.uniform(0, 255, size=(200, 50)).astype(np.float32)
    assert _plan.mostly_zeros(X) == (kind == "sparse")
    y = rng.integers(0, 3, size=200)
    net = fastmlp.MLP([50, 70, 16, 3], activation=activation, seed=0)
    with pytest.raises(FloatingPointError, match="lr"):
        net.fit(X, y, epochs=20, batch_size=32, optimizer=make_optimizer(), verbose=0)
    for p in params_of(net):
        assert np.all(np.isfinite(p))
    # fit's promise: "restored to the last finite ones first, so the model stays usable".
    labels = net.predict(X)
    assert labels.shape == (200,) and labels.min() >= 0 and labels.max() < 3
    assert np.all(np.isfinite(net.predict_proba(X)))
    assert np.isfinite(net.evaluate(X, y)["loss"])


# ---- inference: blocks cut in parts (csrc/infer.c) ----

# _plan.TWO_PARTS_MIN_ROWS (64) and up, around a block of _plan.INFERENCE_BLOCK_ROWS (512), then
# several blocks
INFERENCE_ROWS = [
    _plan.TWO_PARTS_MIN_ROWS,
    _plan.TWO_PARTS_MIN_ROWS + 1,
    _plan.INFERENCE_BLOCK_ROWS - 1,
    _plan.INFERENCE_BLOCK_ROWS,
    _plan.INFERENCE_BLOCK_ROWS + 1,
    1200,
]


def _inference_net(kind, rows):
    X, y = make_data(kind, rows, SIZES[0], SIZES[-1], seed=rows)
    net = fastmlp.MLP(SIZES, seed=5)
    net.fit(X[:128], y[:128], epochs=1, batch_size=16, optimizer=SGD(lr=0.05, momentum=0.9), verbose=0)
    return net, X, y


@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("rows", INFERENCE_ROWS)
def test_split_inference_matches_the_one_part_path(monkeypatch, kind, rows):
    net, X, y = _inference_net(kind, rows)
    proba, scores = net.predict_proba(X), net.evaluate(X, y)
    force_plan(monkeypatch, parts=1)  # inference whole
    assert_allclose(proba, net.predict_proba(X), rtol=1e-5, atol=1e-6)
    one_part = net.evaluate(X, y)
    assert scores["loss"] == pytest.approx(one_part["loss"], rel=1e-5)
    assert abs(scores["accuracy"] - one_part["accuracy"]) <= 1.5 / rows  # a float32 near-tie may flip


@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("rows", INFERENCE_ROWS)
def test_split_inference_does_not_depend_on_the_thread_count(monkeypatch, kind, rows):
    net, X, y = _inference_net(kind, rows)
    proba, scores = net.predict_proba(X), net.evaluate(X, y)
    use_threads(monkeypatch, 1)
    assert_array_equal(proba, net.predict_proba(X))
    assert net.evaluate(X, y) == scores


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_split_inference_follows_the_reference(kind):
    net, X, y = _inference_net(kind, 700)
    ref = reference.MLP(SIZES, seed=0, dtype=np.float64)
    for a, b in zip(ref.weights + ref.biases, net.weights + net.biases):
        a[...] = b
    assert_allclose(net.predict_proba(X), ref.predict_proba(X), rtol=1e-4, atol=1e-5)
    assert net.evaluate(X, y)["loss"] == pytest.approx(ref.evaluate(X, y)["loss"], rel=1e-4)


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_split_inference_is_repeatable(kind):
    # The threads do not meet between blocks: the second may start the short last block while the
    # first is still on the one before, so each half must keep to its own rows of the workspace.
    net, X, y = _inference_net(kind, 1100)  # blocks of 512, 512 and 76 rows
    proba, scores = net.predict_proba(X), net.evaluate(X, y)
    for _ in range(40):
        assert_array_equal(net.predict_proba(X), proba)
        assert net.evaluate(X, y) == scores


def _scipy_blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS)

    counts = [
        info["num_threads"]
        for info in threadpoolctl.threadpool_info()
        if info["internal_api"] == "openblas" and "scipy_openblas-" in info["filepath"]
    ]
    if not counts:
        pytest.skip("SciPy's OpenBLAS is not loaded under its usual name")
    return counts[0]


def test_concurrent_fits_leave_the_blas_thread_count_as_it_was():
    # The BLAS is held to one thread while a split call runs, and that setting is the whole
    # process's: fits and predicts in several Python threads must still give it back.
    import threading

    before = _scipy_blas_threads()
    X, y = make_data("sparse", 2000, SIZES[0], SIZES[-1], seed=9)

    def work():
        net = fastmlp.MLP(SIZES, seed=1)
        for _ in range(3):
            net.fit(X, y, epochs=1, batch_size=32, optimizer=SGD(lr=0.05, momentum=0.9), verbose=0)
            net.predict_proba(X)

    for _ in range(3):
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert _scipy_blas_threads() == before


# ---- the plan (fastmlp._plan) -----------------------------------------------------------------


def test_plan_batch1_momentum_on_mostly_zero_wide_inputs_is_lazy():
    # At batch 1 with a velocity, the first layer's rows whose input is zero are caught up lazily,
    # in chunks whose ends do not depend on timing; not without a velocity (nothing to catch up),
    # on dense inputs, or on a first layer too small to be worth it.
    rng = np.random.default_rng(0)
    X, X_dense = sparse_like(rng, 200, 300), dense_like(rng, 200, 300)
    sizes, small = [300, 60, 3], [5, 4, 2]
    assert sizes[0] * sizes[1] >= _plan.LAZY_MIN_WEIGHTS > small[0] * small[1]

    def plan(sizes, X, optimizer):
        return _plan.make_plan("fit", sizes, "relu", X, batch_size=1, optimizer=optimizer)

    lazy = plan(sizes, X, SGD(lr=0.01, momentum=0.9))
    assert lazy.lazy_first_layer and lazy.update == "velocity"
    assert (lazy.rows, lazy.parts, lazy.threads) == (1, 1, 1)
    assert 1 <= lazy.fixed_chunk_steps <= _kernels.LAZY_MAX_STEPS
    assert not lazy.sparse_inputs and not lazy.hidden_lists  # batch 1 runs whole
    assert plan(sizes, X, SGD(lr=0.01, weight_decay=1e-3)).lazy_first_layer  # a velocity too
    for not_lazy in (
        plan(sizes, X, SGD(lr=0.01)),
        plan(sizes, X, SGD(lr=0.01, momentum=0.9, nesterov=True)),
        plan(sizes, X, Adam(lr=0.01)),
        plan(sizes, X_dense, SGD(lr=0.01, momentum=0.9)),
        plan(small, sparse_like(rng, 200, 5), SGD(lr=0.01, momentum=0.9)),
    ):
        assert not not_lazy.lazy_first_layer and not_lazy.fixed_chunk_steps >= 1


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_plan_adam_and_nesterov_minibatches_are_not_by_columns(optimizer):
    # Adam and Nesterov take the gradient first, then step: a sparse first layer, but not stepped
    # by columns (nor on private copies of them). Plain SGD and SGD with a velocity are.
    X, _ = make_data("sparse", 96, SIZES[0], SIZES[-1])
    plan = _plan.make_plan("fit", SIZES, "relu", X, batch_size=32, optimizer=OPTIMIZERS[optimizer]())
    assert (plan.rows, plan.parts) == (32, 2)
    assert plan.sparse_inputs
    by_columns = optimizer in ("sgd", "momentum", "momentum_weight_decay")
    assert plan.update == ("gradient" if not by_columns else "plain" if optimizer == "sgd" else "velocity")
    assert plan.first_layer_by_columns == by_columns
    assert plan.private_columns == by_columns  # (37 + 1) x 70 weights: room for the copies


def test_plan_minibatches_of_dense_inputs_or_too_many_cells_are_dense():
    momentum = OPTIMIZERS["momentum"]()
    X_dense, _ = make_data("dense", 96, SIZES[0], SIZES[-1])
    dense = _plan.make_plan("fit", SIZES, "relu", X_dense, batch_size=32, optimizer=momentum)
    assert not dense.sparse_inputs and not dense.first_layer_by_columns and not dense.private_columns
    assert dense.parts == 2
    wide = _plan.SPARSE_MAX_CELLS // 32 + 1  # inputs per row past the cells held as non-zeros
    X_wide = np.zeros((40, wide), np.float32)
    X_wide[:, 0] = 1.0
    assert not _plan.make_plan("fit", [wide, 8, 3], "relu", X_wide, batch_size=32, optimizer=momentum).sparse_inputs
    X, _ = make_data("sparse", _plan.SPARSE_MAX_ROWS + 1, SIZES[0], SIZES[-1])
    for rows, sparse in ((_plan.SPARSE_MAX_ROWS, True), (_plan.SPARSE_MAX_ROWS + 1, False)):
        assert _plan.make_plan("fit", SIZES, "relu", X, batch_size=rows, optimizer=momentum).sparse_inputs == sparse


@pytest.mark.parametrize(
    "task, rows, parts",
    [("fit", 2, 2), ("fit", 32, 2), ("fit", 127, 3), ("fit", 128, 4), ("fit", 256, 8), ("fit", 4096, 64)]
    + [("infer", 64, 2), ("infer", 300, 2), ("infer", 5000, 2)],
)
def test_plan_parts_follow_the_rows_never_the_machine(task, rows, parts):
    # At least PART_MIN_ROWS rows a part (INFERENCE_PART_MIN_ROWS in inference, blocks of 512
    # rows), two parts at least, MAX_PARTS at most; the threads the machine offers change only
    # how many threads take them.
    X, _ = make_data("dense", rows, SIZES[0], SIZES[-1])
    momentum = OPTIMIZERS["momentum"]()
    plans = [
        _plan.make_plan(
            task, SIZES, "relu", X, batch_size=rows if task == "fit" else None, optimizer=momentum, threads=t
        )
        for t in (1, 2, 3, 64, 1000)
    ]
    assert {plan.parts for plan in plans} == {parts}
    assert [plan.threads for plan in plans] == [min(t, parts) for t in (1, 2, 3, 64, 1000)]


def test_plan_inference_on_few_rows_is_whole():
    X, _ = make_data("sparse", 1200, SIZES[0], SIZES[-1])
    for rows in (1, 2, _plan.TWO_PARTS_MIN_ROWS - 1):
        plan = _plan.make_plan("infer", SIZES, "relu", X[:rows])
        assert plan == _plan.Plan(tuple(SIZES), rows=rows)  # one part, one thread, dense, no lists
    parts = _plan.make_plan("infer", SIZES, "relu", X[: _plan.TWO_PARTS_MIN_ROWS])
    assert (parts.rows, parts.parts, parts.update) == (_plan.TWO_PARTS_MIN_ROWS, 2, "none")
    assert parts.sparse_inputs and not parts.first_layer_by_columns and not parts.private_columns
    assert _plan.make_plan("infer", SIZES, "relu", X).rows == _plan.INFERENCE_BLOCK_ROWS
    # loss_and_gradients: every row in one block, whole
    assert _plan.make_plan("gradients", SIZES, "relu", X[:100]) == _plan.Plan(tuple(SIZES), rows=100)


@pytest.mark.parametrize(
    "fields, problem",
    [
        (
            dict(parts=2, update="gradient", sparse_inputs=True, private_columns=True),
            "private_columns needs first_layer_by_columns",
        ),
        (dict(parts=2, update="plain", first_layer_by_columns=True), "first_layer_by_columns needs sparse_"),
        (
            dict(parts=2, update="gradient", sparse_inputs=True, first_layer_by_columns=True),
            "first_layer_by_columns is for plain or velocity SGD",
        ),
        (dict(sparse_inputs=True), "sparse_inputs needs parts > 1"),
        (
            dict(parts=2, update="velocity", sparse_inputs=True),
            "sparse_inputs with plain or velocity SGD needs first_layer_by_columns",
        ),
        (dict(hidden_lists=(1,)), "hidden_lists needs parts > 1"),
        (dict(parts=2, hidden_lists=(0,)), "hidden_lists are layers 1 .. L - 1"),
        (dict(parts=2, packed_operands=True, blas="openblas"), "packed_operands needs parts > 1 and blas tiles"),
        (dict(packed_operands=True, blas="tiles"), "packed_operands needs parts > 1 and blas tiles"),
        (dict(parts=2, packed_operands=True, blas="tiles"), "packed_operands is for training"),
        (dict(parts=2, update="velocity", packed_first_layer=True), "packed_first_layer needs packed_operands"),
        (
            dict(parts=2, update="gradient", packed_operands=True, blas="tiles", packed_first_layer=True),
            "packed_first_layer needs packed_operands, dense inputs and plain or velocity SGD",
        ),
        (dict(threads=2), "threads must be between 1 and parts"),
        (dict(parts=_plan.MAX_PARTS + 1), "parts must be between 1 and"),
        (dict(update="plain"), "minibatches of more than one row need parts > 1"),
        (dict(rows=1, update="plain", lazy_first_layer=True, fixed_chunk_steps=7), "lazy_first_layer is for batch 1"),
        (dict(rows=1, update="velocity", lazy_first_layer=True), "lazy_first_layer needs fixed_chunk_steps"),
        (dict(rows=1, parts=2, update="gradient", batch1_columns=True), "batch1_columns is for batch 1"),
        (dict(rows=4, parts=2, update="plain", batch1_columns=True), "batch1_columns is for batch 1"),
        (dict(rows=1, update="plain", batch1_columns=True), "batch1_columns is for batch 1"),
        (
            dict(rows=1, parts=2, update="plain", batch1_columns=True, packed_operands=True, blas="tiles"),
            "batch1_columns is for batch 1",
        ),
        (dict(parts=2, update="plain", private_columns=True), "private_columns needs first_layer_by_columns or"),
    ],
)
def test_an_inconsistent_plan_is_refused(fields, problem):
    fields = {"rows": 32, **fields}
    with pytest.raises(ValueError, match=re.escape(problem)):
        _plan.Plan(tuple(HIDDEN_SIZES), **fields)


def test_forced_plans_stay_consistent(monkeypatch):
    # tests/plans.py turns off what an engine change entails, and leaves plans it does not apply to.
    X, _ = make_data("sparse", 200, SIZES[0], SIZES[-1])
    momentum = OPTIMIZERS["momentum"]()
    force_plan(monkeypatch, sparse_inputs=False, threads=1, fixed_chunk_steps=7, parts=1)
    minibatch = _plan.make_plan("fit", SIZES, "relu", X, batch_size=32, optimizer=momentum)
    assert minibatch.parts == 2 and minibatch.threads == 1 and minibatch.fixed_chunk_steps == 0
    assert not minibatch.sparse_inputs and not minibatch.first_layer_by_columns and not minibatch.private_columns
    batch1 = _plan.make_plan("fit", SIZES, "relu", X, batch_size=1, optimizer=momentum)
    assert batch1.fixed_chunk_steps == 7 and batch1.threads == 1
    assert _plan.make_plan("infer", SIZES, "relu", X) == _plan.Plan(tuple(SIZES), rows=200)
    with pytest.raises(TypeError, match="rows"):
        force_plan(monkeypatch, rows=3)  # what the call is, not how it runs


# ---- batch 1 with the first layer by columns (Plan.batch1_columns, csrc/batch1.c) --------------

# First layers big enough to be cut (_plan.BATCH1_COLUMNS_MIN_WEIGHTS): 300 columns in two parts
# cut at 128 (a 64-column grain), 520 in four (so three threads take parts unevenly), and a
# network of one layer, whose first layer is its output.
BATCH1_COLUMN_SIZES = [[230, 300, 9, 4], [130, 520, 7, 3], [300, 256]]
BATCH1_OPTIMIZERS = {  # rates a step of one row of 230 to 300 inputs takes without diverging
    "sgd": lambda: SGD(lr=0.005),
    "momentum": lambda: SGD(lr=0.002, momentum=0.9),
    "momentum_weight_decay": lambda: SGD(lr=0.002, momentum=0.9, weight_decay=1e-3),
}


def batch1_fit(sizes, optimizer, activation="relu", kind="dense", cut=True, epochs=2, seed=3):
    """A batch-1 fit, whose plan cuts the first layer by columns (cut) or is forced whole."""
    X, y = make_data(kind, 50, sizes[0], sizes[-1], seed=seed)
    plan = _plan.make_plan("fit", sizes, activation, X, batch_size=1, optimizer=BATCH1_OPTIMIZERS[optimizer]())
    assert plan.batch1_columns == cut
    net = fastmlp.MLP(sizes, activation=activation, seed=seed)
    history = net.fit(X, y, epochs=epochs, batch_size=1, optimizer=BATCH1_OPTIMIZERS[optimizer](), verbose=0)
    return net, history


def test_plan_batch1_cuts_a_big_first_layer_by_columns():
    rng = np.random.default_rng(0)
    dense, sparse = dense_like(rng, 100, 784), sparse_like(rng, 100, 784)

    def plan(X, optimizer, sizes=(784, 256, 128, 10), **kwargs):
        return _plan.make_plan("fit", sizes, "relu", X, batch_size=1, optimizer=optimizer, threads=8, **kwargs)

    cut = plan(dense, SGD(lr=0.01, momentum=0.9))
    assert cut.batch1_columns and cut.private_columns and cut.update == "velocity"
    assert cut.parts == 256 // _plan.BATCH1_PART_MIN_COLUMNS == 2
    assert cut.threads == (2 if _kernels.BLAS_THREADS_CONTROLLABLE else 1)
    assert plan(dense, SGD(lr=0.01), sizes=(784, 1024, 10)).parts == 8  # from the columns, not the machine
    assert plan(sparse, SGD(lr=0.01)).batch1_columns  # plain SGD: nothing lazy
    for whole in (
        plan(sparse, SGD(lr=0.01, momentum=0.9)),  # lazy momentum instead
        plan(dense, Adam(lr=0.01)),  # the gradient first
        plan(dense, SGD(lr=0.01, momentum=0.9, nesterov=True)),
        plan(dense, SGD(lr=0.01), sizes=(784, 200, 10)),  # too few columns for two parts
        plan(dense, SGD(lr=0.01), sizes=(200, 256, 10)),  # too few weights to be worth a barrier
        plan(dense, SGD(lr=0.01), sizes=(784, _plan.PRIVATE_MAX_WEIGHTS // 784, 10)),  # no room to copy
        plan(dense, SGD(lr=0.01), regularised=True),  # dropout and max-norm run in parts
    ):
        assert not whole.batch1_columns and (whole.rows, whole.parts) == (1, whole.parts)
    assert plan(dense, SGD(lr=0.01), regularised=True).rows == 1


@pytest.mark.parametrize("sizes", BATCH1_COLUMN_SIZES)
@pytest.mark.parametrize("optimizer", ["sgd", "momentum_weight_decay"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_batch1_by_columns_gives_the_bits_of_the_whole_row(monkeypatch, sizes, optimizer, threads):
    # a column's sums and steps are the same multiply-adds whoever takes it, from its private
    # copy or in place
    use_threads(monkeypatch, threads)
    net, history = batch1_fit(sizes, optimizer)
    with pytest.MonkeyPatch.context() as patch:
        force_plan(patch, private_columns=False)
        in_place, h_in_place = batch1_fit(sizes, optimizer)
    force_plan(monkeypatch, batch1_columns=False)
    whole, h_whole = batch1_fit(sizes, optimizer, cut=False)
    assert_same_params(net, whole)
    assert_same_params(in_place, whole)
    assert history.history == h_whole.history == h_in_place.history


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_batch1_by_columns_gives_the_bits_of_the_whole_row_other_activations(monkeypatch, activation, kind):
    # mostly-zero inputs with plain SGD (with momentum their rows are lazy, and whole)
    optimizer = "sgd" if kind == "sparse" else "momentum"
    use_threads(monkeypatch, 2)
    net, history = batch1_fit([230, 300, 9, 4], optimizer, activation=activation, kind=kind)
    force_plan(monkeypatch, batch1_columns=False)
    whole, h_whole = batch1_fit([230, 300, 9, 4], optimizer, activation=activation, kind=kind, cut=False)
    assert_same_params(net, whole)
    assert history.history == h_whole.history


def test_batch1_by_columns_follows_the_reference(monkeypatch):
    use_threads(monkeypatch, 2)
    X, y = make_data("dense", 40, 230, 4, seed=6)
    net = fastmlp.MLP([230, 300, 9, 4], seed=6)
    ref = reference.MLP([230, 300, 9, 4], seed=6, dtype=np.float64)
    sync(ref, net)
    net.fit(X, y, epochs=2, batch_size=1, optimizer=SGD(lr=0.01, momentum=0.9), shuffle=False, verbose=0)
    ref.fit(X, y, epochs=2, batch_size=1, optimizer=SGD(lr=0.01, momentum=0.9), shuffle=False)
    for mine, theirs in zip(params_of(net), ref.weights + ref.biases):
        assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_batch1_by_columns_divergence_leaves_finite_parameters(monkeypatch, threads):
    use_threads(monkeypatch, threads)
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 255, size=(60, 300)).astype(np.float32)
    y = rng.integers(0, 3, size=60)
    net = fastmlp.MLP([300, 256, 3], activation="leaky_relu", seed=0)
    assert _plan.make_plan("fit", net.sizes, "leaky_relu", X, 1, SGD(lr=1e6, momentum=0.9)).batch1_columns
    with pytest.raises(FloatingPointError, match="lr"):
        net.fit(X, y, epochs=5, batch_size=1, optimizer=SGD(lr=1e6, momentum=0.9), verbose=0)
    for p in params_of(net):
        assert np.all(np.isfinite(p))
    assert np.all(np.isfinite(net.predict_proba(X)))
