#!/usr/bin/env python
"""Training and prediction speed of fastmlp against plain NumPy, PyTorch, JAX and scikit-learn.

Every contender trains the same network, 784-256-128-10 by default with relu hidden layers and a
softmax + cross-entropy head, with SGD (momentum 0.9, no weight decay), on the same MNIST rows, at
batch sizes 1, 32 and 128. Each timed run starts from the same initial weights (fastmlp's He
initialisation with seed 0, copied into every contender) and trains one pass over a fixed number
of rows, shuffled. Contenders take turns (fastmlp, numpy, torch, jax, sklearn, fastmlp, ...), each
after an untimed warm-up (for JAX also its compilation, timed apart); the best and the median of
the repeats are reported, with the ratios fastmlp / other, the test accuracy after one full epoch,
and fastmlp's GFLOP/s against the machine's SGEMM peak measured in the same run. Prediction on the
10000 test rows is timed too, against onnxruntime running fastmlp's own ONNX export among others.

    python benchmarks/bench_train.py            # full run, a few minutes
    python benchmarks/bench_train.py --quick    # about a minute
    python benchmarks/bench_train.py --inputs dense          # MNIST standardised: no sparse inputs
    python benchmarks/bench_train.py --sizes wide            # 784-1024-1024-10 (or cifar, or 784-64-10)
    python benchmarks/bench_train.py --scaling               # also fastmlp with 1 .. --threads threads
    python benchmarks/bench_train.py --no-jax                # leave JAX out (likewise --no-torch ...)

Only numpy, scipy and fastmlp are needed; torch, jax, scikit-learn and onnxruntime (with onnx, for
the export) are used when importable.
"""

import argparse
import dataclasses
import os
import re
import sys

DEFAULT_SIZES = "784-256-128-10"
PRESETS = {"wide": "784-1024-1024-10", "cifar": "3072-1024-512-10"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="about a minute: two repeats, fewer rows at batch size 1 and for sklearn"
    )
    parser.add_argument("--batch-sizes", default="1,32,128", help="comma-separated batch sizes (default 1,32,128)")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="BLAS / torch / JAX / onnxruntime threads for every contender, and the most fastmlp gets in "
        "--scaling (default: os.cpu_count())",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per contender and batch size (default 3, 2 with --quick)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="pause before each timed run, so the threads a contender leaves spinning "
        "(OpenBLAS, OpenMP) are idle before the next one starts (default 0.2)",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument(
        "--no-dense", action="store_true", help="leave out fastmlp-dense (fastmlp without skipping zeros)"
    )
    parser.add_argument("--no-sklearn", action="store_true", help="leave scikit-learn out")
    parser.add_argument("--no-jax", action="store_true", help="leave JAX out")
    parser.add_argument(
        "--inputs",
        choices=("mnist", "dense"),
        default="mnist",
        help="mnist: the pixels in [0, 1], 80%% of them zero; dense: every input standardised as "
        "sklearn's StandardScaler does (train rows' mean and std, std 0 -> 1), for every contender",
    )
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"layer widths, such as {DEFAULT_SIZES} (the default), or a preset: "
        + ", ".join(f"{k} = {v}" for k, v in PRESETS.items())
        + "; an input width other than 784, or an output other than 10, trains on synthetic data",
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="after the main tables, time fastmlp alone with n_threads = 1 .. --threads at each batch size",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="MNIST location for fastmlp.datasets.load_mnist (default: the copy inside fastmlp)",
    )
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the results as JSON")
    args = parser.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        parser.error(f"--batch-sizes: got {args.batch_sizes!r}; expected integers such as 1,32,128")
    if not args.batch_sizes or min(args.batch_sizes) < 1:
        parser.error("--batch-sizes: expected positive integers")
    if args.threads < 1:
        parser.error("--threads: expected a positive integer")
    text = PRESETS.get(args.sizes.strip(), args.sizes)
    try:
        args.sizes = [int(n) for n in re.split(r"[,\-\s]+", text.strip()) if n]
    except ValueError:
        parser.error(f"--sizes: got {text!r}; expected widths such as {DEFAULT_SIZES}, or one of {', '.join(PRESETS)}")
    if len(args.sizes) < 2 or min(args.sizes) < 1 or args.sizes[-1] < 2:
        parser.error(f"--sizes: got {text!r}; expected at least two positive widths, the last (classes) 2 or more")
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    if args.repeats < 1:
        parser.error("--repeats: expected a positive integer")
    return args


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # BLAS libraries read their thread count when they load: set it before numpy is imported.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(ARGS.threads)
    # JAX reads these when its backend starts (at its first use, after this). XLA's CPU client
    # sizes its thread pool by the cores and has no flag for another count; one thread is
    # --xla_cpu_multi_thread_eigen=false (its matrix products and other Eigen work on the
    # calling thread), so --threads 1 gets that, and any other count all the cores.
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # no probing for accelerators
    if ARGS.threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

import fastmlp  # noqa: E402
from _machine import (  # noqa: E402
    OtherLoad,
    blas_libraries,
    cpu_model,
    load_average,
    openblas_coretype,
    rival,
    sgemm_peak,
)

MOMENTUM = 0.9
SEED = 0
MAX_EPOCH_SECONDS = 120  # longest extra full epoch trained only for the accuracy
OTHER_LOAD_WARNING = 0.05  # other processes' share of the CPU above which results are flagged
ACCURACY_GAP_WARNING = 0.02  # a contender this far below the median test accuracy is flagged (a
# check that it trains): one epoch's accuracy moves by about 0.01 with the order and the rounding
# (NumPy and JAX, the same order and sums, ended at 0.958 and 0.961 at batch size 32), more on
# standardised inputs; and by more where the error is large (0.23-0.31 on 3072-wide synthetic
# data): there the gap allowed is a tenth of the median's error rate, where that is larger
MNIST_SHAPE = (784, 10)  # (inputs, classes): other networks train on synthetic data
SYNTHETIC_ROWS = (60000, 10000)  # train, test: as many as MNIST
TEACHER_HIDDEN = 100  # hidden units of the random network that labels the synthetic rows


def learning_rate(batch_size):
    """One setting per batch size, the same for every contender: 0.1 at batch size 128 and up,
    scaled down linearly below (0.025 at 32, 0.00078 at 1). With momentum 0.9, 0.1 at batch size
    32 or 0.01 at batch size 1 overshoots: one epoch ends less accurate (about 0.94 at batch size
    32, 0.2 to 0.3 at batch size 1, for fastmlp and NumPy alike)."""
    return 0.1 * min(1.0, batch_size / 128)


def flops_per_sample(sizes):
    """Floating-point operations to train on one row (multiply and add counted as two).

    Forward: one (n_in x n_out) product per layer, 2 n_in n_out. Backward: the weight gradient,
    2 n_in n_out, in every layer, and the gradient for the layer below, 2 n_in n_out, in every layer
    but the first (nobody needs the gradient with respect to the pixels). Element-wise work
    (bias, relu, softmax, the update) is left out: it is small against the products.
    """
    products = [n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return 2 * sum(products) + 2 * sum(products) + 2 * sum(products[1:])


# ---------------------------------------------------------------- data and machine


def load_data(path):
    """((X_train, y_train), (X_test, y_test)): X float32 in [0, 1], C-contiguous; y int64."""
    return fastmlp.datasets.load_mnist(path)


def synthetic_data(n_features, n_classes, seed=SEED):
    """MNIST-sized data for a network MNIST does not fit: standard normal rows, labelled by the
    argmax of a fixed random network n_features-TEACHER_HIDDEN-n_classes (tanh, weights scaled by
    1/sqrt(fan-in)), so that there is something to learn and the accuracy says whether a
    contender learnt it. Each class's score is centred over the rows, so that no class is empty."""
    rng = np.random.default_rng(seed)
    n_train, n_test = SYNTHETIC_ROWS
    X = rng.standard_normal((n_train + n_test, n_features), dtype=np.float32)
    W1 = rng.standard_normal((n_features, TEACHER_HIDDEN), dtype=np.float32) / np.float32(np.sqrt(n_features))
    W2 = rng.standard_normal((TEACHER_HIDDEN, n_classes), dtype=np.float32) / np.float32(np.sqrt(TEACHER_HIDDEN))
    scores = np.tanh(X @ W1) @ W2
    scores -= scores.mean(axis=0)
    y = np.argmax(scores, axis=1).astype(np.int64)
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


def standardise(X, X_test):
    """Both sets scaled as sklearn's StandardScaler fitted on X: minus the training rows' mean,
    over their standard deviation (computed in float64; a deviation of zero, as for the pixels
    that are 0 in every training image, counts as 1: those stay exactly 0)."""
    mean = X.mean(axis=0, dtype=np.float64)
    std = X.std(axis=0, dtype=np.float64)
    std[std < 10 * np.finfo(np.float64).eps] = 1.0
    mean, std = mean.astype(np.float32), std.astype(np.float32)
    return [np.ascontiguousarray((A - mean) / std, dtype=np.float32) for A in (X, X_test)]


def load_inputs(args):
    """((X, y), (X_test, y_test)) for the network and --inputs, and a line that says what they are."""
    sizes = args.sizes
    if (sizes[0], sizes[-1]) == MNIST_SHAPE:
        (X, y), (X_test, y_test) = load_data(args.data)
        what = f"MNIST, {len(X)} train / {len(X_test)} test rows"
    else:
        (X, y), (X_test, y_test) = synthetic_data(sizes[0], sizes[-1])
        what = (
            f"synthetic (the network is not {MNIST_SHAPE[0]} inputs to {MNIST_SHAPE[1]} classes): "
            f"{len(X)} train / {len(X_test)} test rows of {sizes[0]} standard normal inputs (seed {SEED}), "
            f"labelled by the argmax of a fixed random {sizes[0]}-{TEACHER_HIDDEN}-{sizes[-1]} tanh network; "
            f"the largest class is {np.bincount(y_test).max() / len(y_test):.1%} of the test rows"
        )
    if args.inputs == "dense":
        X, X_test = standardise(X, X_test)
        what += ", standardised (StandardScaler: train mean and std, std 0 -> 1)"
    zeros = 1.0 - np.count_nonzero(X) / X.size
    what += f"; {zeros:.1%} of the training inputs are exactly 0"
    return (X, y), (X_test, y_test), what


# ---------------------------------------------------------------- contenders
#
# Each contender has  train(rows, batch_size, lr) -> (model, seconds), timed from its first to its
# last update and starting from the same initial weights, and  proba(model, X) -> class
# probabilities. Every one of them trains on the last, smaller batch of an epoch too (60000 rows
# at batch size 128: 468 batches of 128, then one of 96), its gradient the mean over its rows.


class FastMLP:
    name = "fastmlp"

    def __init__(self, template, X, y):
        self.template, self.X, self.y = template, X, y

    def train(self, rows, batch_size, lr, n_threads=None):
        net = self.template.copy()  # same weights and same shuffling seed every run
        if n_threads is not None:  # else the template's: None, i.e. OMP_NUM_THREADS = --threads
            net.n_threads = n_threads
        X, y = self.X[:rows], self.y[:rows]
        start = time.perf_counter()
        net.fit(X, y, epochs=1, batch_size=batch_size, optimizer=fastmlp.SGD(lr=lr, momentum=MOMENTUM), verbose=0)
        return net, time.perf_counter() - start

    def proba(self, net, X):
        return net.predict_proba(X)


class FastMLPDense(FastMLP):
    """fastmlp made to multiply the zeros too, as every other contender does: the share of
    fastmlp's speed that comes from skipping them. On mostly-zero inputs the plan of a fit
    (fastmlp._plan.make_plan) reads the first layer's inputs as non-zeros, stepping that layer by
    columns on private copies with SGD, and at batch size 1 catches its rows up lazily with
    momentum; where the products go to BLIS, the layers after a ReLU read its outputs as
    non-zeros too. Here every fit's plan has all of that off: dense GEMMs throughout, the
    minibatches still cut in parts for the threads as before."""

    name = "fastmlp-dense"

    def train(self, rows, batch_size, lr, n_threads=None):
        from fastmlp import _plan

        make_plan = _plan.make_plan

        def dense_plan(*args, **kwargs):
            plan = make_plan(*args, **kwargs)
            return dataclasses.replace(
                plan,
                sparse_inputs=False,
                first_layer_by_columns=False,
                private_columns=plan.batch1_columns,  # batch 1's copies serve its threads, not zeros
                lazy_first_layer=False,
                hidden_lists=(),
            )

        _plan.make_plan = dense_plan
        try:
            return super().train(rows, batch_size, lr, n_threads)
        finally:
            _plan.make_plan = make_plan


class NumPyMLP:
    """The same algorithm as a competent NumPy user writes it: vectorised, float32, in place."""

    name = "numpy"

    def __init__(self, weights, biases, X, y):
        self.weights, self.biases, self.X, self.y = weights, biases, X, y

    def train(self, rows, batch_size, lr, seed=SEED):
        W = [w.copy() for w in self.weights]
        b = [c.copy() for c in self.biases]
        vW = [np.zeros_like(w) for w in W]
        vb = [np.zeros_like(c) for c in b]
        X, y = self.X, self.y
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        order = rng.permutation(rows)
        loss_sum = 0.0
        for lo in range(0, rows, batch_size):
            idx = order[lo : lo + batch_size]
            n = len(idx)
            # forward: keep every layer's output for the backward pass
            acts = [X[idx]]
            for layer in range(len(W)):
                z = acts[-1] @ W[layer]
                z += b[layer]
                if layer < len(W) - 1:
                    np.maximum(z, 0, out=z)
                acts.append(z)
            # softmax + cross-entropy, fused: the gradient of the mean loss is (p - onehot) / n
            p = acts.pop()
            p -= p.max(axis=1, keepdims=True)
            np.exp(p, out=p)
            p /= p.sum(axis=1, keepdims=True)
            rows_n, target = np.arange(n), y[idx]
            loss_sum -= float(np.log(p[rows_n, target] + 1e-30).sum())  # the training loss, as fit reports
            p[rows_n, target] -= 1.0
            p *= np.float32(1.0 / n)
            delta = p
            # backward, then the momentum update v = mu v - lr g; W += v
            for layer in range(len(W) - 1, -1, -1):
                a = acts[layer]
                gW = a.T @ delta
                gb = delta.sum(axis=0)
                if layer > 0:
                    delta = delta @ W[layer].T
                    delta *= a > 0
                vW[layer] *= MOMENTUM
                gW *= lr
                vW[layer] -= gW
                W[layer] += vW[layer]
                vb[layer] *= MOMENTUM
                gb *= lr
                vb[layer] -= gb
                b[layer] += vb[layer]
        elapsed = time.perf_counter() - start
        return (W, b), elapsed

    def proba(self, model, X):
        W, b = model
        a = X
        for layer in range(len(W)):
            a = a @ W[layer]
            a += b[layer]
            if layer < len(W) - 1:
                np.maximum(a, 0, out=a)
        a -= a.max(axis=1, keepdims=True)
        np.exp(a, out=a)
        a /= a.sum(axis=1, keepdims=True)
        return a


class TorchMLP:
    """nn.Sequential + CrossEntropyLoss + optim.SGD, float32 on the CPU, no DataLoader."""

    name = "torch"

    def __init__(self, torch, weights, biases, X, y):
        self.torch = torch
        self.weights, self.biases = weights, biases
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)

    def _model(self):
        nn = self.torch.nn
        layers = []
        for layer, (w, c) in enumerate(zip(self.weights, self.biases)):
            linear = nn.Linear(w.shape[0], w.shape[1])
            with self.torch.no_grad():
                linear.weight.copy_(self.torch.from_numpy(np.ascontiguousarray(w.T)))  # (out, in)
                linear.bias.copy_(self.torch.from_numpy(c))
            layers.append(linear)
            if layer < len(self.weights) - 1:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def train(self, rows, batch_size, lr, seed=SEED):
        torch = self.torch
        model = self._model()
        loss_fn = torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
        generator = torch.Generator().manual_seed(seed)
        X, y = self.X, self.y
        start = time.perf_counter()
        order = torch.randperm(rows, generator=generator)
        for lo in range(0, rows, batch_size):
            idx = order[lo : lo + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
        return model, time.perf_counter() - start

    def proba(self, model, X):
        with self.torch.no_grad():
            return self.torch.softmax(model(self.torch.from_numpy(X)), dim=1).numpy()


class JaxMLP:
    """The same algorithm as a JAX user writes it for speed: a whole epoch is one jax.jit-compiled
    function, a jax.lax.scan over the minibatches of an order shuffled outside (NumPy's
    permutation, as the NumPy contender's) and passed in, gradients from jax.value_and_grad, and
    the momentum step as torch.optim.SGD takes it (v = 0.9 v + g; W -= lr v), float32 on the CPU.

    A scan steps through equal slices, so the order is padded to whole batches with row 0 and a
    mask of zeros: the loss is the mean over the unmasked rows, so the last, smaller batch gives the
    mean gradient of its own rows, as the others compute it (at batch size 128 the padding adds 32
    rows' work to 60000). The compiled code depends on the shapes, (steps, batch size): each shape
    is compiled once ahead of its first run (jit's lower().compile()), outside the timing, and its
    seconds are kept in compile_seconds. The data sits on the device (JAX's CPU) from the start, as
    torch's tensors do."""

    name = "jax"

    def __init__(self, jax, sizes, weights, biases, X, y):
        self.jax, self.jnp = jax, jax.numpy
        self.weights, self.biases = weights, biases
        self.X = jax.device_put(X)
        self.y = jax.device_put(y.astype(np.int32))  # JAX computes in 32 bits unless told
        self.compiled = {}  # (steps, batch size) -> the compiled epoch
        self.compile_seconds = {}  # (rows, batch size) -> seconds lowering and compiling that shape
        self.forward_compile_seconds = {}  # rows -> seconds, for proba
        self._epoch = jax.jit(self._make_epoch())
        self._proba = jax.jit(lambda params, X: jax.nn.softmax(self._logits(params, X), axis=1))
        self._proba_compiled = {}

    def _logits(self, params, X):
        a = X
        for W, b in params[:-1]:
            a = self.jax.nn.relu(a @ W + b)
        W, b = params[-1]
        return a @ W + b

    def _make_epoch(self):
        jax, jnp = self.jax, self.jnp

        def loss_fn(params, xb, yb, mask):
            logp = jax.nn.log_softmax(self._logits(params, xb), axis=1)
            nll = -jnp.take_along_axis(logp, yb[:, None], axis=1)[:, 0]
            return jnp.sum(nll * mask) / jnp.sum(mask)

        def epoch(params, X, y, order, mask, lr):
            def step(carry, batch):
                params, velocity = carry
                idx, m = batch
                loss, grads = jax.value_and_grad(loss_fn)(params, X[idx], y[idx], m)
                velocity = jax.tree_util.tree_map(lambda v, g: MOMENTUM * v + g, velocity, grads)
                params = jax.tree_util.tree_map(lambda p, v: p - lr * v, params, velocity)
                return (params, velocity), loss

            velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
            (params, _), losses = jax.lax.scan(step, (params, velocity), (order, mask))
            return params, jnp.sum(losses)  # the training loss, as the others compute it

        return epoch

    def _batches(self, order, batch_size):
        """The order padded to whole batches, (steps, batch_size), and its mask."""
        steps = -(-len(order) // batch_size)
        padded = np.zeros(steps * batch_size, dtype=np.int32)
        padded[: len(order)] = order
        mask = np.zeros(steps * batch_size, dtype=np.float32)
        mask[: len(order)] = 1.0
        return padded.reshape(steps, batch_size), mask.reshape(steps, batch_size)

    def _params(self):
        return [(self.jax.device_put(w), self.jax.device_put(c)) for w, c in zip(self.weights, self.biases)]

    def compiled_epoch(self, rows, batch_size):
        """The epoch compiled for this shape; compiled (and its seconds kept) on first use."""
        steps = -(-rows // batch_size)
        if (steps, batch_size) not in self.compiled:
            order, mask = self._batches(np.arange(rows), batch_size)
            start = time.perf_counter()
            lowered = self._epoch.lower(self._params(), self.X, self.y, order, mask, np.float32(0.1))
            self.compiled[steps, batch_size] = lowered.compile()
            self.compile_seconds[rows, batch_size] = time.perf_counter() - start
        return self.compiled[steps, batch_size]

    def train(self, rows, batch_size, lr, seed=SEED):
        epoch = self.compiled_epoch(rows, batch_size)
        params = self._params()
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        order, mask = self._batches(rng.permutation(rows), batch_size)
        params, loss = epoch(params, self.X, self.y, order, mask, np.float32(lr))
        loss.block_until_ready()  # JAX returns before the work is done
        return params, time.perf_counter() - start

    def proba(self, params, X):
        if len(X) not in self._proba_compiled:  # compiled once per row count, outside any timing
            start = time.perf_counter()
            self._proba_compiled[len(X)] = self._proba.lower(params, X).compile()
            self.forward_compile_seconds[len(X)] = time.perf_counter() - start
        return np.asarray(self._proba_compiled[len(X)](params, X))


class OnnxRuntime:
    """onnxruntime running fastmlp's own ONNX export of a trained network (net.to_onnx: Gemm and
    Relu nodes, then Softmax), the usual way to serve a network: prediction only. Its intra-op
    threads are --threads, as every contender's."""

    name = "onnxruntime"

    def __init__(self, ort, threads, folder):
        self.ort, self.threads, self.folder = ort, threads, Path(folder)

    def session(self, net):
        path = net.to_onnx(str(self.folder / "fastmlp.onnx"))
        options = self.ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        return self.ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def proba(self, session, X):
        return session.run(["probabilities"], {"X": X})[0]


class SklearnMLP:
    """MLPClassifier with the same settings; started from the same weights through warm_start."""

    name = "sklearn"

    def __init__(self, MLPClassifier, sizes, weights, biases, X, y):
        self.MLPClassifier = MLPClassifier
        self.sizes = sizes
        self.weights, self.biases, self.X, self.y = weights, biases, X, y
        # one row per class, to let partial_fit set up the classes before the weights are replaced
        self.setup_rows = np.array([np.flatnonzero(y == k)[0] for k in range(sizes[-1])])

    def _model(self, batch_size, lr):
        clf = self.MLPClassifier(
            hidden_layer_sizes=tuple(self.sizes[1:-1]),
            activation="relu",
            solver="sgd",
            momentum=MOMENTUM,
            nesterovs_momentum=False,
            learning_rate="constant",
            learning_rate_init=lr,
            batch_size=batch_size,
            max_iter=1,
            alpha=0.0,
            shuffle=True,
            random_state=SEED,
            tol=0.0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # batch_size larger than these 10 rows
            clf.partial_fit(self.X[self.setup_rows], self.y[self.setup_rows], classes=np.arange(self.sizes[-1]))
        clf.set_params(warm_start=True)  # fit continues from coefs_ with a fresh optimizer
        clf.coefs_ = [w.copy() for w in self.weights]
        clf.intercepts_ = [c.copy() for c in self.biases]
        return clf

    def train(self, rows, batch_size, lr):
        clf = self._model(batch_size, lr)
        X, y = self.X[:rows], self.y[:rows]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter=1 is on purpose
            start = time.perf_counter()
            clf.fit(X, y)
            elapsed = time.perf_counter() - start
        return clf, elapsed

    def proba(self, clf, X):
        return clf.predict_proba(X)


# ---------------------------------------------------------------- the runs


def plan(contender, batch_size, quick, n_train):
    """Rows per timed run: the full epoch, except at batch size 1 and for sklearn in --quick."""
    if batch_size == 1:
        if contender == "sklearn":
            return 1000 if quick else 2000
        return 2000 if quick else 5000
    if contender == "sklearn" and quick:
        return 10000
    return n_train


def accuracy(contender, model, X_test, y_test):
    return float(np.mean(np.argmax(contender.proba(model, X_test), axis=1) == y_test))


def bench_batch_size(contenders, batch_size, args, n_train, X_test, y_test):
    lr = learning_rate(batch_size)
    other_load = OtherLoad()
    rows = {c.name: plan(c.name, batch_size, args.quick, n_train) for c in contenders}
    warmup_rows = max(200, 20 * batch_size)
    for c in contenders:
        c.train(min(warmup_rows, rows[c.name]), batch_size, lr)
    times = {c.name: [] for c in contenders}
    accs = {c.name: [] for c in contenders}
    for repeat in range(args.repeats):
        # interleaved, each taking its turn, and the order turned by one every round: whoever runs
        # after another's threads (still spinning, or holding the caches) changes from round to round
        shift = repeat % len(contenders)
        for c in contenders[shift:] + contenders[:shift]:
            time.sleep(args.settle)
            model, seconds = c.train(rows[c.name], batch_size, lr)
            times[c.name].append(seconds)
            if rows[c.name] == n_train:
                accs[c.name].append(accuracy(c, model, X_test, y_test))
    # where the timed runs were a subset (batch size 1): in the full run, one extra full epoch for
    # the accuracy, unless it would take more than MAX_EPOCH_SECONDS
    epoch_runs, skipped = {}, {}
    for c in contenders:
        if accs[c.name] or args.quick:
            continue
        estimate = n_train * min(times[c.name]) / rows[c.name]
        if estimate > MAX_EPOCH_SECONDS:
            skipped[c.name] = estimate
            continue
        model, seconds = c.train(n_train, batch_size, lr)
        accs[c.name].append(accuracy(c, model, X_test, y_test))
        epoch_runs[c.name] = n_train / seconds
    results = {}
    for c in contenders:
        rates = [rows[c.name] / t for t in times[c.name]]
        results[c.name] = {
            "epoch_skipped_estimate_s": skipped.get(c.name),
            "rows_per_run": rows[c.name],
            "runs": len(rates),
            "samples_per_s_best": max(rates),
            "samples_per_s_median": statistics.median(rates),
            "samples_per_s_runs": rates,
            "test_accuracy": statistics.median(accs[c.name]) if accs[c.name] else None,
            "full_epoch_samples_per_s": epoch_runs.get(c.name),
        }
        if hasattr(c, "compile_seconds"):  # JAX: each shape compiled once, before its first run
            results[c.name]["compile_seconds"] = {
                str(shape_rows): seconds for (shape_rows, bs), seconds in c.compile_seconds.items() if bs == batch_size
            }
    return {
        "batch_size": batch_size,
        "lr": lr,
        "momentum": MOMENTUM,
        "contenders": results,
        "other_processes_cpu_fraction": other_load.fraction(),
    }


def bench_scaling(fast, batch_sizes, args, n_train):
    """fastmlp alone with net.n_threads = 1 .. --threads, at each batch size: samples/s, the
    counts taking turns as the contenders do. A step is cut in parts set by its rows, never by the
    threads, so every count must end on the same weights: checked, as a test of the benchmark."""
    counts = list(range(1, args.threads + 1))
    results = []
    for batch_size in batch_sizes:
        lr = learning_rate(batch_size)
        rows = plan(fast.name, batch_size, args.quick, n_train)
        other_load = OtherLoad()
        for k in counts:
            fast.train(min(max(200, 20 * batch_size), rows), batch_size, lr, n_threads=k)  # warm-up
        rates = {k: [] for k in counts}
        weights = {}
        for _ in range(args.repeats):
            for k in counts:
                time.sleep(args.settle)
                net, seconds = fast.train(rows, batch_size, lr, n_threads=k)
                rates[k].append(rows / seconds)
                weights[k] = net.weights
        same = all(all(np.array_equal(a, b) for a, b in zip(weights[k], weights[1])) for k in counts)
        results.append(
            {
                "batch_size": batch_size,
                "rows_per_run": rows,
                "threads": {
                    k: {
                        "samples_per_s_best": max(r),
                        "samples_per_s_median": statistics.median(r),
                        "samples_per_s_runs": r,
                    }
                    for k, r in rates.items()
                },
                "same_weights_for_every_count": same,
                "other_processes_cpu_fraction": other_load.fraction(),
            }
        )
    return results


def bench_predict(contenders, models, X_test, repeats, settle):
    """Best rows/s of class probabilities for all test rows, contenders interleaved."""
    best = {c.name: float("inf") for c in contenders}
    for c in contenders:
        c.proba(models[c.name], X_test)  # warm-up, on the shape timed (JAX compiles for each)
    for _ in range(repeats):
        for c in contenders:
            time.sleep(settle)
            start = time.perf_counter()
            c.proba(models[c.name], X_test)
            best[c.name] = min(best[c.name], time.perf_counter() - start)
    return {name: len(X_test) / t for name, t in best.items()}


# ---------------------------------------------------------------- output


def fmt_rate(x):
    return f"{x:,.0f}"


def print_batch_table(result, flops, peak, n_train):
    bs, res = result["batch_size"], result["contenders"]
    fast = res["fastmlp"]
    print(f"\nbatch size {bs}  (lr {result['lr']:g}, momentum {result['momentum']})")
    header = (
        f"  {'contender':<13} {'rows/run':>8} {'runs':>4} {'samples/s best':>15} {'median':>10} "
        f"{'GFLOP/s':>8} {'test acc':>8}   {'fastmlp/this (best, median)':>27}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for name, r in res.items():
        acc = f"{r['test_accuracy']:.4f}" if r["test_accuracy"] is not None else "-"
        ratio = (
            ""
            if name == "fastmlp"
            else (
                f"{fast['samples_per_s_best'] / r['samples_per_s_best']:.2f}x, "
                f"{fast['samples_per_s_median'] / r['samples_per_s_median']:.2f}x"
            )
        )
        print(
            f"  {name:<13} {r['rows_per_run']:>8} {r['runs']:>4} {fmt_rate(r['samples_per_s_best']):>15} "
            f"{fmt_rate(r['samples_per_s_median']):>10} {r['samples_per_s_best'] * flops / 1e9:>8.2f} "
            f"{acc:>8}   {ratio:>27}"
        )
    notes = []
    subset = [n for n, r in res.items() if r["rows_per_run"] < n_train]
    if subset:
        notes.append("timed on the first rows only: " + ", ".join(f"{n} {res[n]['rows_per_run']}" for n in subset))
    extra = [f"{n} {fmt_rate(r['full_epoch_samples_per_s'])}" for n, r in res.items() if r["full_epoch_samples_per_s"]]
    if extra:
        notes.append(
            "their 'test acc' comes from one more run over the full epoch, whose samples/s were: " + ", ".join(extra)
        )
    skipped = [f"{n} (~{r['epoch_skipped_estimate_s']:.0f} s)" for n, r in res.items() if r["epoch_skipped_estimate_s"]]
    if skipped:
        notes.append(f"no full epoch for the accuracy, longer than {MAX_EPOCH_SECONDS} s: " + ", ".join(skipped))
    if any(r["test_accuracy"] is None for r in res.values()) and not skipped:
        notes.append("'-': no full epoch trained (--quick), so no test accuracy")
    accuracies = [r["test_accuracy"] for r in res.values() if r["test_accuracy"] is not None]
    if len(accuracies) > 1:  # a check that every contender trains
        median = statistics.median(accuracies)
        gap = max(ACCURACY_GAP_WARNING, 0.1 * (1.0 - median))
        behind = [
            f"{n} {r['test_accuracy']:.4f}"
            for n, r in res.items()
            if r["test_accuracy"] is not None and r["test_accuracy"] < median - gap
        ]
        if behind:
            notes.append(
                f"WARNING: test accuracy more than {gap:.3f} below the median ({median:.4f}): "
                + ", ".join(behind)
                + "; is it training the same way?"
            )
    for n, r in res.items():
        if r.get("compile_seconds"):
            shapes = ", ".join(f"{rows} rows {seconds:.2f} s" for rows, seconds in r["compile_seconds"].items())
            notes.append(f"{n} compiled each epoch shape once before its first run, untimed: {shapes}")
    gflops = fast["samples_per_s_best"] * flops / 1e9
    notes.append(
        f"fastmlp: {gflops:.2f} GFLOP/s = {100 * gflops / peak:.1f}% of the SGEMM peak "
        f"({peak:.1f} GFLOP/s), counting the dense flops (it skips zeros)"
    )
    other = result["other_processes_cpu_fraction"]
    if other is not None:
        notes.append(
            f"other processes took {100 * other:.0f}% of the CPU meanwhile"
            + (": these numbers are disturbed" if other > OTHER_LOAD_WARNING else "")
        )
    for note in notes:
        print(f"  note: {note}")


def print_scaling(scaling, flops):
    print(
        "\nthread scaling: fastmlp alone, net.n_threads = k (the most threads a fit uses: its tuner "
        "runs each chunk with 1 or k, whichever has lately been faster), best of repeats"
    )
    for result in scaling:
        threads = result["threads"]
        one = threads[1]["samples_per_s_best"]
        print(f"  batch size {result['batch_size']}, {result['rows_per_run']} rows per run")
        print(f"    {'threads':>7} {'samples/s best':>15} {'median':>10} {'GFLOP/s':>8} {'speedup over 1':>15}")
        for k, r in threads.items():
            print(
                f"    {k:>7} {fmt_rate(r['samples_per_s_best']):>15} {fmt_rate(r['samples_per_s_median']):>10} "
                f"{r['samples_per_s_best'] * flops / 1e9:>8.2f} {r['samples_per_s_best'] / one:>14.2f}x"
            )
        same = "the same" if result["same_weights_for_every_count"] else "NOT the same (a bug)"
        note = f"    note: final weights {same} for every thread count"
        other = result["other_processes_cpu_fraction"]
        if other is not None:
            note += f"; other processes took {100 * other:.0f}% of the CPU meanwhile"
        print(note)


def print_predict(rates, n_rows, notes):
    fast = rates["fastmlp"]
    print(f"\npredict: class probabilities for {n_rows} test rows, best of repeats")
    print(f"  {'contender':<11} {'rows/s':>12}   fastmlp/this")
    for name, rate in rates.items():
        ratio = "" if name == "fastmlp" else f"{fast / rate:.2f}x"
        print(f"  {name:<11} {fmt_rate(rate):>12}   {ratio}")
    for note in notes:
        print(f"  note: {note}")


def print_summary(results, predict, scaling, setting):
    print(f"\nsummary ({setting}): fastmlp's speed divided by each contender's (best of repeats)")
    names = [n for n in results[0]["contenders"] if n != "fastmlp"]
    width = max(13, *(len(n) + 1 for n in names))
    print(f"  {'batch':>7} " + " ".join(f"{n:>{width}}" for n in names))
    for result in results:
        res = result["contenders"]
        fast = res["fastmlp"]["samples_per_s_best"]
        print(
            f"  {result['batch_size']:>7} "
            + " ".join(f"{fast / res[n]['samples_per_s_best']:>{width - 1}.2f}x" for n in names)
        )
    if predict:
        others = [f"{n} {predict['fastmlp'] / r:.2f}x" for n, r in predict.items() if n != "fastmlp"]
        print("  predict, fastmlp's rows/s over: " + ", ".join(others))
    for result in scaling:
        threads = result["threads"]
        if len(threads) < 2:
            continue
        one = threads[1]["samples_per_s_best"]
        print(
            f"  fastmlp with k threads over 1, batch {result['batch_size']}: "
            + ", ".join(f"k={k} {r['samples_per_s_best'] / one:.2f}x" for k, r in threads.items() if k > 1)
        )


# ---------------------------------------------------------------- main


def optional_contenders(args, weights, biases, X, y):
    extra, versions = [], {}
    torch = rival("torch", "PyTorch", "--no-torch", args.no_torch)
    if torch is not None:
        torch.set_num_threads(args.threads)
        extra.append(TorchMLP(torch, weights, biases, X, y))
        versions["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    jax = rival("jax", "JAX", "--no-jax", args.no_jax)
    if jax is not None:
        extra.append(JaxMLP(jax, args.sizes, weights, biases, X, y))
        threads = (
            "1 thread: --xla_cpu_multi_thread_eigen=false"
            if "--xla_cpu_multi_thread_eigen=false" in os.environ.get("XLA_FLAGS", "")
            else f"XLA's pool of {os.cpu_count()} threads, one per core: XLA has no setting for another count"
        )
        versions["jax"] = f"{jax.__version__} on {jax.devices()[0].platform} ({threads})"
    if args.no_sklearn:
        print("note: scikit-learn left out (--no-sklearn)")
    else:
        try:
            import sklearn
            from sklearn.neural_network import MLPClassifier
        except ImportError as exc:
            print(f"note: scikit-learn is not importable ({exc}); skipped")
        else:
            extra.append(SklearnMLP(MLPClassifier, args.sizes, weights, biases, X, y))
            versions["sklearn"] = sklearn.__version__
    return extra, versions


def onnx_runtime(args, folder):
    """(OnnxRuntime or None, its version or why not)."""
    try:
        import onnx  # noqa: F401  (fastmlp's export writes with it)
        import onnxruntime
    except ImportError as exc:
        return None, f"not importable ({exc}); left out of predict"
    version = f"{onnxruntime.__version__} ({args.threads} intra-op threads)"
    return OnnxRuntime(onnxruntime, args.threads, folder), version


def run_predict(contenders, ort, args, X_test):
    """Rows/s predicting the test rows, and notes: each contender predicts with a model it trained
    on 2000 rows (batch size 32, lr 0.1); onnxruntime runs fastmlp's, exported."""
    predictors = [c for c in contenders if c.name in ("fastmlp", "numpy", "torch", "jax")]
    models = {c.name: c.train(2000, 32, 0.1)[0] for c in predictors}
    notes = []
    if ort is not None:
        models[ort.name] = ort.session(models["fastmlp"])
        diff = np.abs(ort.proba(models[ort.name], X_test) - models["fastmlp"].predict_proba(X_test)).max()
        notes.append(
            f"onnxruntime runs fastmlp's network, exported with net.to_onnx; its probabilities differ from "
            f"predict_proba's by {diff:.1e} at most"
        )
        predictors.append(ort)
    rates = bench_predict(predictors, models, X_test, repeats=3 if args.quick else 10, settle=args.settle)
    jax_contender = next((c for c in predictors if c.name == "jax"), None)
    if jax_contender is not None:
        notes.append(
            "jax: its forward pass compiled once per row count, untimed: "
            + ", ".join(f"{rows} rows {t:.2f} s" for rows, t in jax_contender.forward_compile_seconds.items())
        )
    return rates, notes


def input_path_note(X):
    """Whether fastmlp reads these inputs as mostly zeros (its sparse first layer) or densely."""
    try:
        from fastmlp._plan import mostly_zeros
    except ImportError:
        return "whether fastmlp reads them as mostly zeros is unknown (no fastmlp._plan.mostly_zeros)"
    if mostly_zeros(X):
        return "fastmlp reads them as mostly zeros: its first layer sums over the non-zero inputs only"
    return "fastmlp reads them as dense: its first layer multiplies every input, as the others do"


def main(args):
    started = time.perf_counter()
    sizes = args.sizes
    (X, y), (X_test, y_test), data = load_inputs(args)
    template = fastmlp.MLP(sizes, activation="relu", seed=SEED)
    weights = [w.copy() for w in template.weights]
    biases = [b.copy() for b in template.biases]
    fast = FastMLP(template, X, y)
    contenders = [fast, NumPyMLP(weights, biases, X, y)]
    if not args.no_dense:
        contenders.insert(1, FastMLPDense(template, X, y))
    extra, versions = optional_contenders(args, weights, biases, X, y)
    contenders += extra
    folder = tempfile.TemporaryDirectory(prefix="bench_train_")
    ort, versions["onnxruntime"] = onnx_runtime(args, folder.name)

    flops = flops_per_sample(sizes)
    peak = sgemm_peak()
    machine = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": args.threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "fastmlp": fastmlp.__version__,
        **versions,
        "blas": blas_libraries(),
        "openblas_core": openblas_coretype(),
        "load_average": load_average(),
    }
    whole_run = OtherLoad()
    network = "-".join(map(str, sizes))
    print(
        f"fastmlp training benchmark: {network} relu, softmax + cross-entropy, SGD momentum {MOMENTUM}, "
        f"--inputs {args.inputs}"
    )
    for key, value in machine.items():
        print(f"  {key:<13} {value}")
    print(f"  {'data':<13} {data}")
    print(f"  {'':<13} {input_path_note(X)}")
    print(
        f"  {'mode':<13} {'quick' if args.quick else 'full'}, {args.repeats} timed run(s) per contender "
        f"and batch size, interleaved, after an untimed warm-up"
    )
    print(
        f"  {'work':<13} {flops / 1e6:.3f} MFLOP per training row (forward 2*sum(n_in*n_out), "
        f"backward 2*sum + 2*sum without the first layer)"
    )
    print(f"  {'SGEMM peak':<13} {peak:.1f} GFLOP/s (scipy.linalg.blas.sgemm, 2048x2048 float32, best of 5)")
    print(
        f"  every contender starts from fastmlp.MLP({sizes}, seed=0)'s weights "
        "(sklearn's are written into coefs_ with warm_start); each trains on the last, smaller batch "
        "of an epoch too (JAX pads it to a whole batch and masks the padding out)"
    )
    sys.stdout.flush()

    results = []
    for batch_size in args.batch_sizes:
        result = bench_batch_size(contenders, batch_size, args, len(X), X_test, y_test)
        results.append(result)
        print_batch_table(result, flops, peak, len(X))
        sys.stdout.flush()

    scaling = []
    if args.scaling:
        scaling = bench_scaling(fast, args.batch_sizes, args, len(X))
        print_scaling(scaling, flops)
        sys.stdout.flush()

    predict, predict_notes = run_predict(contenders, ort, args, X_test)
    folder.cleanup()
    print_predict(predict, len(X_test), predict_notes)
    setting = f"{network}, --inputs {args.inputs}"
    if (sizes[0], sizes[-1]) != MNIST_SHAPE:
        setting += ", synthetic data"
    print_summary(results, predict, scaling, setting)
    peak_end = sgemm_peak()
    print(
        f"\nSGEMM peak at the end: {peak_end:.1f} GFLOP/s (at the start: {peak:.1f}; "
        "a large difference means the machine's speed changed during the run)"
    )
    elapsed = time.perf_counter() - started
    other = whole_run.fraction()
    print(f"total time {elapsed:.0f} s")
    if other is not None:
        print(
            f"other processes took {100 * other:.0f}% of the CPU during the run"
            + (
                f"; above {100 * OTHER_LOAD_WARNING:.0f}% the timings are low and noisy: rerun on a quiet machine"
                if other > OTHER_LOAD_WARNING
                else ""
            )
        )

    if args.json:
        jax_contender = next((c for c in contenders if c.name == "jax"), None)
        report = {
            "machine": machine,
            "mode": "quick" if args.quick else "full",
            "repeats": args.repeats,
            "sizes": sizes,
            "inputs": args.inputs,
            "data": data,
            "flops_per_sample": flops,
            "sgemm_peak_gflops": peak,
            "sgemm_peak_gflops_end": peak_end,
            "training": results,
            "jax_compile_seconds": (
                {f"{rows} rows, batch {bs}": t for (rows, bs), t in jax_contender.compile_seconds.items()}
                if jax_contender
                else None
            ),
            "thread_scaling": scaling,
            "predict_rows_per_s": predict,
            "predict_notes": predict_notes,
            "seconds": elapsed,
            "other_processes_cpu_fraction": other,
        }
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main(ARGS)
