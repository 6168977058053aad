"""fastmlp.onnx: the exported graph under onnxruntime gives predict_proba and predict."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp
import fastmlp.onnx

HEADS = [("softmax", "cross_entropy"), ("sigmoid", "mse"), ("sigmoid", "cross_entropy"), ("softmax", "mse")]


def _session(path):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _trained(sizes, activation, output, loss, seed=0):
    rng = np.random.default_rng(seed)
    net = fastmlp.MLP(sizes, activation=activation, output=output, loss=loss, seed=seed)
    X = rng.normal(size=(64, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=64)
    net.fit(X, y, epochs=2, batch_size=16, verbose=0)  # non-zero biases, weights off their init
    return net


@pytest.mark.parametrize("output, loss", HEADS)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_onnxruntime_matches_predict_proba(tmp_path, activation, output, loss):
    pytest.importorskip("onnx")
    net = _trained([13, 17, 9, 5], activation, output, loss)
    path = fastmlp.onnx.export(net, tmp_path / "net.onnx")
    session = _session(path)
    X = np.random.default_rng(1).normal(scale=2.0, size=(37, 13)).astype(np.float32)
    proba, label = session.run(None, {"X": X})
    assert proba.dtype == np.float32 and proba.shape == (37, 5)
    assert_allclose(proba, net.predict_proba(X), atol=1e-5, rtol=0)
    assert label.dtype == np.int64
    assert_array_equal(label, net.predict(X))


@pytest.mark.parametrize("sizes", [[13, 17, 3], [13, 1]])
def test_a_regression_exports_its_values(tmp_path, sizes):
    pytest.importorskip("onnx")
    rng = np.random.default_rng(0)
    net = fastmlp.MLP(sizes, activation="tanh", output="identity", loss="mse", seed=0)
    X = rng.normal(size=(64, 13)).astype(np.float32)
    net.fit(X, rng.normal(size=(64, sizes[-1])).astype(np.float32), epochs=2, batch_size=16, verbose=0)
    session = _session(fastmlp.onnx.export(net, tmp_path / "regression.onnx"))
    assert [output.name for output in session.get_outputs()] == ["values"]
    (values,) = session.run(None, {"X": X})
    assert values.dtype == np.float32 and values.shape == (64, sizes[-1])
    assert_allclose(values, net.predict(X), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("sizes", [[4, 3], [784, 32, 10], [3, 2, 2, 2, 2]])
def test_any_depth_and_dynamic_batch(tmp_path, sizes):
    pytest.importorskip("onnx")
    net = _trained(sizes, "relu", "softmax", "cross_entropy")
    session = _session(fastmlp.onnx.export(net, tmp_path / "net.onnx"))
    for rows in (1, 2, 100):
        X = np.random.default_rng(rows).random((rows, sizes[0]), dtype=np.float32)
        proba, _ = session.run(["probabilities", "label"], {"X": X})
        assert_allclose(proba, net.predict_proba(X), atol=1e-5, rtol=0)


def test_mnist_sized_model_on_real_digits(tmp_path, mnist):
    pytest.importorskip("onnx")
    (X, y), (X_test, y_test) = mnist
    net = fastmlp.MLP([784, 64, 10], seed=0)
    net.fit(X[:5000], y[:5000], epochs=1, batch_size=32, verbose=0)
    session = _session(fastmlp.onnx.export(net, tmp_path / "mnist.onnx"))
    proba, label = session.run(None, {"X": X_test[:1000]})
    assert_allclose(proba, net.predict_proba(X_test[:1000]), atol=1e-5, rtol=0)
    assert_array_equal(label, net.predict(X_test[:1000]))


def test_graph_structure_and_metadata():
    onnx = pytest.importorskip("onnx")
    net = fastmlp.MLP([6, 5, 4, 3], activation="leaky_relu", seed=0)
    model = fastmlp.onnx.to_model(net)
    onnx.checker.check_model(model)
    ops = [node.op_type for node in model.graph.node]
    assert ops == ["Gemm", "LeakyRelu", "Gemm", "LeakyRelu", "Gemm", "Softmax", "ArgMax"]
    leaky = model.graph.node[1]
    assert leaky.attribute[0].name == "alpha" and leaky.attribute[0].f == pytest.approx(0.01)
    assert [i.name for i in model.graph.input] == ["X"]
    assert [o.name for o in model.graph.output] == ["probabilities", "label"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 6
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert_array_equal(weights["W1"], net.weights[0])
    assert weights["W1"].shape == (6, 5) and weights["b3"].shape == (3,)
    assert model.opset_import[0].version == fastmlp.onnx.OPSET
    assert model.producer_name == "fastmlp"


def test_written_file_loads_and_checks(tmp_path):
    onnx = pytest.importorskip("onnx")
    net = fastmlp.MLP([3, 4, 2], seed=0)
    path = fastmlp.onnx.export(net, str(tmp_path / "m.onnx"))
    assert path == str(tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(path))


def test_reference_model_exports_too(tmp_path):
    pytest.importorskip("onnx")
    from fastmlp import reference

    ref = reference.MLP([5, 6, 3], activation="tanh", seed=0, dtype=np.float32)
    session = _session(fastmlp.onnx.export(ref, tmp_path / "ref.onnx"))
    X = np.random.default_rng(0).random((8, 5), dtype=np.float32)
    assert_allclose(session.run(None, {"X": X})[0], ref.predict_proba(X), atol=1e-5, rtol=0)


def test_bad_arguments(tmp_path):
    pytest.importorskip("onnx")
    with pytest.raises(TypeError, match="net"):
        fastmlp.onnx.export("not a net", tmp_path / "x.onnx")
    with pytest.raises(TypeError, match="path"):
        fastmlp.onnx.export(fastmlp.MLP([2, 2]), 42)


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "fastmlp\[onnx\]"'):
        fastmlp.onnx.export(fastmlp.MLP([2, 2]), tmp_path / "x.onnx")
