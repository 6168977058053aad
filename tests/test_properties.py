"""Property-based tests: over random shapes, dtypes and memory layouts, the compiled model agrees
with its float64 NumPy twin (fastmlp.reference) on predict_proba and loss_and_gradients, and any
layout or dtype of X gives the same bits as its float32 C-contiguous conversion."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp
from fastmlp import reference

# These tests feed raw, unscaled or unlearnable data on purpose; fit's advice about it is expected.
pytestmark = pytest.mark.filterwarnings("ignore:fit. :UserWarning")

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
HEADS = (("softmax", "cross_entropy"), ("sigmoid", "mse"), ("sigmoid", "cross_entropy"), ("softmax", "mse"))
DTYPES = ("float32", "float64", "int64", "int32", "int8", "uint8", "bool")
LAYOUTS = ("C", "F", "strided", "negative-strides", "transposed-view")

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _values(rng, dtype, n, d):
    if dtype == "uint8":
        return rng.integers(0, 256, size=(n, d)).astype(np.uint8)
    if dtype == "int8":
        return rng.integers(-128, 128, size=(n, d)).astype(np.int8)
    if dtype in ("int32", "int64"):
        return rng.integers(-20, 21, size=(n, d)).astype(dtype)
    if dtype == "bool":
        return rng.random((n, d)) < 0.5
    scale = rng.choice([0.01, 1.0, 5.0])
    return (rng.normal(size=(n, d)) * scale).astype(dtype)


def _layout(a, layout, rng):
    """The values of `a` in the given memory layout (a view where the layout is one)."""
    n, d = a.shape
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros((3 * n, 2 * d), a.dtype)
        big[1::3, ::2] = a
        return big[1::3, ::2]
    if layout == "negative-strides":
        return np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1]
    return np.ascontiguousarray(a.T).T


@st.composite
def problems(draw):
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 20))
    k = draw(st.integers(2, 6))
    hidden = draw(st.lists(st.integers(1, 16), min_size=0, max_size=2))
    activation = draw(st.sampled_from(ACTIVATIONS))
    output, loss = draw(st.sampled_from(HEADS))
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = _layout(_values(rng, dtype, n, d), layout, rng)
    y = rng.integers(0, k, size=n)
    return dict(
        sizes=[d, *hidden, k],
        activation=activation,
        output=output,
        loss=loss,
        seed=seed,
        X=X,
        y=y,
        dtype=dtype,
        layout=layout,
    )


def _twins(p):
    """The compiled model and its float64 twin, holding exactly the same (float32) parameters."""
    kwargs = dict(activation=p["activation"], output=p["output"], loss=p["loss"], seed=p["seed"])
    net = fastmlp.MLP(p["sizes"], **kwargs)
    ref = reference.MLP(p["sizes"], dtype=np.float64, **kwargs)
    # The same seed draws the same float64 weights; the compiled model rounds them to float32.
    for W, W_ref, b, b_ref in zip(net.weights, ref.weights, net.biases, ref.biases):
        assert_array_equal(W, W_ref.astype(np.float32))
        assert_array_equal(b, b_ref.astype(np.float32))
    ref.weights = [np.asarray(W, np.float64) for W in net.weights]
    ref.biases = [np.asarray(b, np.float64) for b in net.biases]
    return net, ref


def _sum_scale(ref, X):
    """The largest sum of absolute terms in any layer's pre-activations: float32 rounds each such sum
    to within a few 1e-7 of this (raw uint8 pixels make it hundreds, so 1e-5 is out of reach there)."""
    inputs = ref.forward(_as_fed(X))[:-1]
    return max(float((np.abs(a) @ np.abs(W) + np.abs(b)).max()) for a, W, b in zip(inputs, ref.weights, ref.biases))


def _as_fed(X):
    """What the compiled model computes on: X converted to float32 (then widened for the twin)."""
    return np.asarray(X).astype(np.float32).astype(np.float64)


@PROPERTY_SETTINGS
@given(problems())
def test_predict_proba_matches_the_float64_reference(p):
    net, ref = _twins(p)
    proba = net.predict_proba(p["X"])
    assert proba.dtype == np.float32 and proba.shape == (len(p["y"]), p["sizes"][-1])
    assert proba.flags.c_contiguous
    expected = ref.predict_proba(_as_fed(p["X"]))
    assert_allclose(proba, expected, rtol=0, atol=max(1e-5, 3e-7 * _sum_scale(ref, p["X"])))
    labels = net.predict(p["X"])
    assert labels.dtype == np.int64 and labels.shape == (len(p["y"]),)
    assert_array_equal(labels, np.argmax(proba, axis=1))
    if p["output"] == "softmax":
        assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba >= 0).all() and (proba <= 1).all()


@PROPERTY_SETTINGS
@given(problems())
def test_loss_and_gradients_match_the_float64_reference(p):
    net, ref = _twins(p)
    before = [np.array(W) for W in net.weights] + [np.array(b) for b in net.biases]
    loss, grads = net.loss_and_gradients(p["X"], p["y"])
    ref_loss, ref_grads = ref.loss_and_gradients(_as_fed(p["X"]), p["y"])
    assert np.isfinite(loss)
    assert_allclose(loss, ref_loss, rtol=1e-4, atol=1e-5)
    assert len(grads) == len(ref_grads) == len(p["sizes"]) - 1
    largest = max(max(np.abs(dW).max(), np.abs(db).max()) for dW, db in ref_grads)
    # Relative to the largest gradient, with a floor for float32's resolution: near p = 1 the
    # output error p - onehot is only known to ~1e-7, multiplied by the layer's inputs (up to 255
    # for uint8 X) and amplified by each layer backpropagated through.
    inputs = ref.forward(_as_fed(p["X"]))[:-1]
    scale = max(1.0, max(float(np.abs(a).max()) for a in inputs))
    tolerance = 1e-4 * largest + 4e-7 * scale * 2 ** (len(p["sizes"]) - 2)
    for layer, ((dW, db), (dW_ref, db_ref), W, b) in enumerate(zip(grads, ref_grads, net.weights, net.biases)):
        assert dW.dtype == np.float32 and dW.shape == W.shape, layer
        assert db.dtype == np.float32 and db.shape == b.shape, layer
        assert_allclose(dW, dW_ref, rtol=0, atol=tolerance, err_msg=f"dW{layer + 1}")
        assert_allclose(db, db_ref, rtol=0, atol=tolerance, err_msg=f"db{layer + 1}")
    after = [np.array(W) for W in net.weights] + [np.array(b) for b in net.biases]
    for a, b in zip(before, after):
        assert_array_equal(a, b)  # loss_and_gradients never changes the model
    evaluated = net.evaluate(p["X"], p["y"])
    assert_allclose(evaluated["loss"], loss, rtol=1e-5, atol=1e-6)


@PROPERTY_SETTINGS
@given(problems())
def test_any_layout_and_dtype_gives_the_bits_of_float32_c(p):
    net = fastmlp.MLP(p["sizes"], activation=p["activation"], output=p["output"], loss=p["loss"], seed=p["seed"])
    X32 = np.ascontiguousarray(np.asarray(p["X"]).astype(np.float32))
    assert_array_equal(net.predict_proba(p["X"]), net.predict_proba(X32))
    loss, grads = net.loss_and_gradients(p["X"], p["y"])
    loss32, grads32 = net.loss_and_gradients(X32, p["y"])
    assert loss == loss32
    for (dW, db), (dW32, db32) in zip(grads, grads32):
        assert_array_equal(dW, dW32)
        assert_array_equal(db, db32)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(problems(), st.integers(1, 8), st.sampled_from(["sgd", "momentum", "adam"]))
def test_seeded_training_on_any_layout_gives_the_bits_of_float32_c(p, batch_size, kind):
    def make_optimizer():
        if kind == "adam":
            return fastmlp.Adam(lr=1e-3)
        return fastmlp.SGD(lr=1e-3, momentum=0.9 if kind == "momentum" else 0.0)

    X32 = np.ascontiguousarray(np.asarray(p["X"]).astype(np.float32))
    nets = []
    for X in (p["X"], X32):
        net = fastmlp.MLP(p["sizes"], activation=p["activation"], output=p["output"], loss=p["loss"], seed=p["seed"])
        net.fit(X, p["y"], epochs=2, batch_size=batch_size, optimizer=make_optimizer(), verbose=0)
        nets.append(net)
    for a, b in zip(list(nets[0].weights) + list(nets[0].biases), list(nets[1].weights) + list(nets[1].biases)):
        assert_array_equal(a, b)
    for key, values in nets[1].history.history.items():
        assert_allclose(nets[0].history.history[key], values, rtol=1e-12)
