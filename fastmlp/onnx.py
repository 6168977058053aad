"""Export a fastmlp network to ONNX, for onnxruntime and every other ONNX runtime.

The graph is the network written out: one ``Gemm`` per layer (``X @ W + b``, with ``W`` stored
as it is in fastmlp, shape ``(n_in, n_out)``), the hidden activation after each hidden layer
(``Relu``, ``LeakyRelu`` with alpha 0.01, ``Sigmoid`` or ``Tanh``), then ``Softmax`` over the
classes or an element-wise ``Sigmoid``. Its input ``X`` is float32 ``[N, n_features]`` with a
dynamic batch size; its outputs are ``probabilities`` (float32 ``[N, n_classes]``, what
``predict_proba`` returns) and ``label`` (int64 ``[N]``, what ``predict`` returns). A regression
(``output="identity"``) has one output, ``values`` (float32 ``[N, n_outputs]``, what ``predict``
returns), the last ``Gemm``'s.

The ``onnx`` package is an optional dependency: ``pip install "fastmlp[onnx]"``.
"""

import json
import os

import numpy as np

__all__ = ["export", "to_model", "OPSET", "IR_VERSION"]

#: The ONNX operator set the graph declares: every operator it uses is unchanged since opset 13,
#: and onnxruntime has run opset 17 since version 1.14.
OPSET = 17
#: IR version 8 (ONNX 1.10+) rather than the newest, so that older runtimes load the file too.
IR_VERSION = 8

_HIDDEN_OPS = {
    "relu": ("Relu", {}),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.01}),
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
}


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:
        raise ImportError(
            'ONNX export needs the onnx package: pip install "fastmlp[onnx]" '
            "(or pip install onnx; onnxruntime runs the exported model)"
        ) from exc
    return onnx, helper, numpy_helper


def _check_net(net):
    for name in ("sizes", "weights", "biases", "activation", "output"):
        if not hasattr(net, name):
            raise TypeError(f"net: got {type(net).__name__}; expected a fastmlp.MLP (or fastmlp.reference.MLP)")
    if net.activation not in _HIDDEN_OPS:
        raise ValueError(f"net.activation: got {net.activation!r}; expected one of {', '.join(map(repr, _HIDDEN_OPS))}")
    if net.output not in ("softmax", "sigmoid", "identity"):
        raise ValueError(f"net.output: got {net.output!r}; expected 'softmax', 'sigmoid' or 'identity'")


def to_model(net, name="fastmlp"):
    """The network as an ``onnx.ModelProto``, checked with ``onnx.checker.check_model``.

    Parameters
    ----------
    net : fastmlp.MLP or fastmlp.reference.MLP
    name : str, default "fastmlp"
        The graph's name.

    Returns
    -------
    onnx.ModelProto
        Input ``X`` (float32 ``[N, n_features]``); outputs ``probabilities`` (float32
        ``[N, n_classes]``) and ``label`` (int64 ``[N]``).

    Raises
    ------
    ImportError
        If the onnx package is not installed.
    """
    onnx, helper, numpy_helper = _import_onnx()
    _check_net(net)
    sizes = [int(size) for size in net.sizes]
    n_layers = len(sizes) - 1
    hidden_op, hidden_attrs = _HIDDEN_OPS[net.activation]

    initializers, nodes = [], []
    current = "X"
    for layer, (W, b) in enumerate(zip(net.weights, net.biases), start=1):
        w_name, b_name, z_name = f"W{layer}", f"b{layer}", f"z{layer}"
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(W, dtype=np.float32), w_name))
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(b, dtype=np.float32), b_name))
        nodes.append(helper.make_node("Gemm", [current, w_name, b_name], [z_name], name=f"dense{layer}"))
        if layer < n_layers:
            current = f"a{layer}"
            nodes.append(
                helper.make_node(hidden_op, [z_name], [current], name=f"{net.activation}{layer}", **hidden_attrs)
            )
        else:
            current = z_name
    if net.output == "identity":
        nodes[-1].output[0] = "values"  # the last Gemm's result is the prediction
        outputs = [helper.make_tensor_value_info("values", onnx.TensorProto.FLOAT, ["N", sizes[-1]])]
    else:
        if net.output == "softmax":
            nodes.append(helper.make_node("Softmax", [current], ["probabilities"], name="softmax", axis=1))
        else:
            nodes.append(helper.make_node("Sigmoid", [current], ["probabilities"], name="sigmoid_output"))
        nodes.append(helper.make_node("ArgMax", ["probabilities"], ["label"], name="argmax", axis=1, keepdims=0))
        outputs = [
            helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, ["N", sizes[-1]]),
            helper.make_tensor_value_info("label", onnx.TensorProto.INT64, ["N"]),
        ]

    graph = helper.make_graph(
        nodes,
        name,
        inputs=[helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", sizes[0]])],
        outputs=outputs,
        initializer=initializers,
    )
    from fastmlp import __version__

    model = helper.make_model(
        graph,
        producer_name="fastmlp",
        producer_version=__version__,
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=f"fastmlp MLP {sizes}, {net.activation} hidden, {net.output} output",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(
        model, {"fastmlp": json.dumps({"sizes": sizes, "activation": net.activation, "output": net.output})}
    )
    onnx.checker.check_model(model)
    return model


def export(net, path):
    """Write the network to ``path`` as an ONNX model; see :func:`to_model` for the graph.

    Under onnxruntime its ``probabilities`` output equals ``net.predict_proba`` within 1e-5.

    Parameters
    ----------
    net : fastmlp.MLP or fastmlp.reference.MLP
    path : str or os.PathLike
        Where to write, conventionally ending in ``.onnx``.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ImportError
        If the onnx package is not installed: ``pip install "fastmlp[onnx]"``.

    Examples
    --------
    >>> fastmlp.onnx.export(net, "mnist.onnx")                       # doctest: +SKIP
    >>> import onnxruntime                                            # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession("mnist.onnx")          # doctest: +SKIP
    >>> proba, label = session.run(None, {"X": X_test[:5]})           # doctest: +SKIP
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: got {path!r}; expected a str or os.PathLike such as 'model.onnx'")
    model = to_model(net)
    path = os.fspath(path)
    with open(path, "wb") as file:
        file.write(model.SerializeToString())
    return path
