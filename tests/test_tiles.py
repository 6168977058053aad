"""Our own products (csrc/tiles.c): against float64 NumPy and the BLAS, the same bits from the AVX2
tiles as from the portable loop, and the same bits however the rows or columns are cut."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastmlp import _kernels
from fastmlp.reference import LEAKY_SLOPE

# rows and columns around the 6 x 16 tile's edges, and last rows cut in two tiles of 4 or 5
# (7, 10, 13, 20); inner sizes around a vector's 8; rows of B 2 KB apart under enough rows of C
# that the tiles copy B's panels first
SHAPES = [
    (1, 1, 1),
    (5, 7, 15),
    (6, 8, 16),
    (7, 9, 17),
    (10, 33, 24),
    (13, 31, 10),
    (20, 17, 33),
    (32, 784, 256),
    (64, 128, 40),
    (50, 300, 512),
    (3, 0, 5),
]
ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
    "identity": lambda z: z,
}


def operands(m, k, n, seed=0):
    rng = np.random.default_rng([m, k, n, seed])
    return rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)


def product(A, B, portable=False, **finish):
    rows = A.shape[1] if finish.get("a_transposed") else A.shape[0]
    C = finish.pop("C", np.full((rows, B.shape[1]), np.nan, np.float32))
    _kernels.tiles_product(A, B, C, portable=portable, **finish)
    return C


def tolerance(k):
    return dict(rtol=1e-5, atol=1e-5 * max(1, k) ** 0.5)


@pytest.mark.parametrize("m, k, n", SHAPES)
def test_product_matches_float64(m, k, n):
    A, B = operands(m, k, n)
    assert_allclose(product(A, B), A.astype(np.float64) @ B, **tolerance(k))


@pytest.mark.parametrize("m, k, n", SHAPES)
def test_transposed_a_gives_the_same_bits(m, k, n):
    A, B = operands(m, k, n)
    assert_array_equal(product(np.ascontiguousarray(A.T), B, a_transposed=True), product(A, B))


@pytest.mark.parametrize("m, k, n", SHAPES)
def test_avx2_tiles_give_the_bits_of_the_portable_loop(m, k, n):
    if not _kernels.TILES_FAST:
        pytest.skip("this CPU runs only the portable loop")
    A, B = operands(m, k, n)
    assert_array_equal(product(A, B), product(A, B, portable=True))


@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_packed_weights_give_the_same_bits(m, k, n, portable):
    # a step's forward passes read the weights packed in panels of 16 columns, the last one part
    # empty (its unused lanes NaN here: never read)
    A, B = operands(m, k, n)
    assert_array_equal(product(A, B, portable, packed=True), product(A, B, portable))


@pytest.mark.parametrize("m, k, n", [(13, 31, 40), (32, 784, 256), (9, 5, 33), (54, 300, 512)])
def test_any_cut_of_rows_or_columns_gives_the_same_bits(m, k, n):
    # what lets a step's parts run on any number of threads with the same bits
    A, B = operands(m, k, n)
    whole = product(A, B)
    for cut in (1, 5, 6, m // 2, m - 1):
        assert_array_equal(np.vstack([product(A[:cut], B), product(A[cut:], B)]), whole)
    for cut in (1, 8, 16, n // 2, n - 1):
        left, right = np.ascontiguousarray(B[:, :cut]), np.ascontiguousarray(B[:, cut:])
        assert_array_equal(np.hstack([product(A, left), product(A, right)]), whole)


@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_bias_and_activation_in_the_tile(m, k, n, activation, portable):
    A, B = operands(m, k, n)
    bias = np.random.default_rng(1).standard_normal(n, dtype=np.float32)
    got = product(A, B, portable, kind="bias_act", bias=bias, activation=activation)
    assert_allclose(got, ACTIVATIONS[activation](A.astype(np.float64) @ B + bias), **tolerance(k))
    assert_array_equal(got, ACTIVATIONS[activation](product(A, B) + bias))  # the same float32 steps


def test_relu_in_the_tile_maps_nan_to_zero_as_the_portable_loop():
    A, B = operands(6, 4, 16)
    A[0, 0] = np.nan
    bias = np.zeros(16, np.float32)
    fast = product(A, B, kind="bias_act", bias=bias, activation="relu")
    assert_array_equal(fast, product(A, B, True, kind="bias_act", bias=bias, activation="relu"))
    assert_array_equal(fast[0], 0.0)


@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_scaled_product_added_to_c(m, k, n, portable):
    A, B = operands(m, k, n)
    C = np.random.default_rng(2).standard_normal((m, n), dtype=np.float32)
    got = product(A, B, portable, C=C.copy(), alpha=-0.5, beta=0.25)
    assert_allclose(got, -0.5 * (A.astype(np.float64) @ B) + 0.25 * C, **tolerance(k))


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_velocity_step_in_the_tile(m, k, n, packed):
    # the gradient in^T dz (A given transposed, as a step reads its inputs, in place or in the
    # panels a fit packs them in) and the SGD step on W
    rng = np.random.default_rng(3)
    inputs = rng.standard_normal((k, m), dtype=np.float32)  # (rows, features): op(A) = inputs^T
    dz = rng.standard_normal((k, n), dtype=np.float32)
    W, V = rng.standard_normal((m, n), dtype=np.float32), rng.standard_normal((m, n), dtype=np.float32)
    lr, mu, decay = np.float32(0.05), np.float32(0.9), np.float32(-0.05 * 1e-3)
    runs = []
    for portable in (False, True):
        w, v = W.copy(), V.copy()
        step = dict(kind="velocity", alpha=-lr, mu=mu, decay=decay, V=v, packed=packed)
        product(inputs, dz, portable, C=w, a_transposed=True, **step)
        runs.append((w, v))
    g = inputs.T.astype(np.float64) @ dz
    v_expected = mu * V.astype(np.float64) + decay * W - lr * g
    assert_allclose(runs[0][1], v_expected, **tolerance(k))
    assert_allclose(runs[0][0], W + v_expected, **tolerance(k))
    if _kernels.TILES_FAST:
        assert_array_equal(runs[0][0], runs[1][0])
        assert_array_equal(runs[0][1], runs[1][1])


def panels_of(C):
    # fm_pack_rows's layout: panels of 16 columns, each (rows, 16), the last one's spare lanes NaN
    rows, cols = C.shape
    padded = np.full((rows, -(-cols // 16) * 16), np.nan, np.float32)
    padded[:, :cols] = C
    return padded.reshape(rows, -1, 16).transpose(1, 0, 2).ravel()


def step_operands(m, k, n, seed):
    """A weight step's inputs (k, m) and deltas (k, n), and weights and velocity (m, n)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32) for shape in ((k, m), (k, n), (m, n), (m, n))]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("kind", ["velocity", "scale"])
@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_stepped_weights_are_packed_as_they_are_stored(m, k, n, portable, kind, stream):
    # a step's next forward passes read the weights from these panels, which a big first layer
    # writes past the caches (Plan.stream_panels)
    inputs, dz, W, V = step_operands(m, k, n, seed=4)
    packed = np.full(len(panels_of(W)), np.nan, np.float32)
    step = dict(kind=kind, alpha=-0.1, beta=1.0, mu=0.9, V=V) if kind == "velocity" else dict(alpha=-0.1, beta=1.0)
    got = product(inputs, dz, portable, C=W.copy(), a_transposed=True, packed_c=packed, stream=stream, **step)
    assert_array_equal(packed, panels_of(got))


@pytest.mark.parametrize("kind", ["velocity", "scale"])
@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_weights_kept_in_panels_alone_step_to_the_same_bits(m, k, n, portable, kind):
    # the first layer of a dense SGD fit lives in its panels for a call (Plan.packed_first_layer)
    inputs, dz, W, V = step_operands(m, k, n, seed=5)
    step = dict(alpha=-0.1, beta=1.0, mu=0.9, decay=-1e-3)
    if kind == "velocity":
        step.update(kind="velocity")
    in_place_V, panels_V = V.copy(), V.copy()
    in_place = product(inputs, dz, portable, C=W.copy(), a_transposed=True, V=in_place_V, **step)
    panels = panels_of(W)
    untouched = np.full_like(W, np.nan)
    product(inputs, dz, portable, C=untouched, a_transposed=True, V=panels_V, packed_c=panels, c_in_panels=True, **step)
    assert_array_equal(panels, panels_of(in_place))
    assert_array_equal(panels_V, in_place_V)
    assert np.isnan(untouched).all()


def test_product_rejects_mismatched_shapes():
    A, B = operands(4, 5, 6)
    with pytest.raises(ValueError, match="op\\(A\\) is 4 x 5"):
        _kernels.tiles_product(A, B[:4].copy(), np.zeros((4, 6), np.float32))
    with pytest.raises(ValueError, match="bias"):
        _kernels.tiles_product(A, B, np.zeros((4, 6), np.float32), kind="bias_act")
