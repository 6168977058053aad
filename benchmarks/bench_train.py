#!/usr/bin/env python
"""Training and prediction speed of fastmlp against plain NumPy, PyTorch and scikit-learn.

Every contender trains the same network, 784-256-128-10 with relu hidden layers and a softmax +
cross-entropy head, with SGD (momentum 0.9, no weight decay), on the same MNIST rows, at batch sizes
1, 32 and 128. Each timed run starts from the same initial weights (fastmlp's He initialisation
with seed 0, copied into every contender) and trains one pass over a fixed number of rows,
shuffled. Contenders take turns (fastmlp, numpy, torch, sklearn, fastmlp, ...), each after an
untimed warm-up; the best and the median of the repeats are reported, with the ratios
fastmlp / other, the test accuracy after one full epoch, and fastmlp's GFLOP/s against the
machine's SGEMM peak measured in the same run. Prediction on the 10000 test rows is timed too.

    python benchmarks/bench_train.py            # full run, a few minutes
    python benchmarks/bench_train.py --quick    # about a minute

Only numpy, scipy and fastmlp are needed; torch and scikit-learn are used when importable.
"""

import argparse
import dataclasses
import os
import sys


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
        help="BLAS / torch threads for every contender (default: os.cpu_count())",
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
    parser.add_argument(
        "--data",
        default=None,
        help="MNIST location for fastmlp.datasets.load_mnist (default: the repository's data/mnist)",
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

import gzip  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.linalg.blas import sgemm  # noqa: E402

import fastmlp  # noqa: E402

SIZES = [784, 256, 128, 10]
MOMENTUM = 0.9
SEED = 0
MAX_EPOCH_SECONDS = 120  # longest extra full epoch trained only for the accuracy
OTHER_LOAD_WARNING = 0.05  # other processes' share of the CPU above which results are flagged
REPO = Path(__file__).resolve().parent.parent


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


def _read_idx_gz(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_data(path):
    """((X_train, y_train), (X_test, y_test)): X float32 in [0, 1], C-contiguous; y int64."""
    folder = Path(path) if path else REPO / "data" / "mnist"
    try:
        from fastmlp.datasets import load_mnist
    except ImportError:
        load_mnist = None
    if load_mnist is not None:
        return load_mnist(str(folder) if path or folder.exists() else None)
    print(f"note: fastmlp.datasets.load_mnist is not importable; reading the IDX files in {folder}")
    parts = []
    for prefix in ("train", "t10k"):
        images = _read_idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz")
        labels = _read_idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz")
        X = np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.float32) / np.float32(255)
        parts.append((X, labels.astype(np.int64)))
    return tuple(parts)


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_libraries():
    """Each loaded BLAS: its version, the kernels it picked for this CPU and its threads
    (threadpoolctl where installed)."""
    try:
        import threadpoolctl
    except ImportError:
        return f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} (threadpoolctl not installed)"
    info = threadpoolctl.threadpool_info()
    return (
        ", ".join(
            f"{Path(i['filepath']).name.split('-')[0]} {i.get('version')} "
            f"{i.get('architecture', '')} {i['num_threads']} threads"
            for i in info
            if i["user_api"] == "blas"
        )
        or "none found"
    )


def openblas_coretype():
    """OPENBLAS_CORETYPE, which overrides the kernels OpenBLAS would pick for the CPU: fastmlp's,
    NumPy's and scikit-learn's BLAS follow it; PyTorch's kernels do not."""
    value = os.environ.get("OPENBLAS_CORETYPE")
    if not value:
        return "not set (OpenBLAS picks its kernels for this CPU)"
    return (
        f"{value}, set in the environment: OpenBLAS runs its {value} kernels for fastmlp, NumPy "
        f"and scikit-learn whatever the CPU; PyTorch's own kernels do not follow it"
    )


class OtherLoad:
    """How much of the machine other processes (and the hypervisor's steal) took over an interval:
    the busy CPU time /proc/stat counts, less this process's own, over wall time x cores."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
        own = os.times()
        return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system

    def fraction(self):
        """Fraction of all cores busy with other work since construction, or None off Linux."""
        end = self._sample()
        if self.start is None or end is None:
            return None
        wall, busy, own = (e - s for e, s in zip(end, self.start))
        return max(0.0, (busy - own) / (wall * (os.cpu_count() or 1))) if wall > 0 else None


def load_average():
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def sgemm_peak(n=2048, repeats=5):
    """Best GFLOP/s of scipy's SGEMM (the BLAS fastmlp calls) on n x n float32 matrices."""
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((n, n), dtype=np.float32))
    b = np.asfortranarray(rng.standard_normal((n, n), dtype=np.float32))
    c = np.zeros((n, n), dtype=np.float32, order="F")
    sgemm(1.0, a, b, beta=0.0, c=c, overwrite_c=True)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        sgemm(1.0, a, b, beta=0.0, c=c, overwrite_c=True)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


# ---------------------------------------------------------------- contenders
#
# Each contender has  train(rows, batch_size, lr) -> model, timed from its first to its last
# update and starting from INITIAL, and  proba(model, X) -> class probabilities.


class FastMLP:
    name = "fastmlp"

    def __init__(self, template, X, y):
        self.template, self.X, self.y = template, X, y

    def train(self, rows, batch_size, lr):
        net = self.template.copy()  # same weights and same shuffling seed every run
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
    momentum; with a BLAS without small-matrix kernels, the layers after a ReLU read its outputs
    as non-zeros too. Here every fit's plan has all of that off: dense GEMMs throughout, the
    minibatches still cut in parts for the threads as before."""

    name = "fastmlp-dense"

    def train(self, rows, batch_size, lr):
        from fastmlp import _plan

        make_plan = _plan.make_plan

        def dense_plan(*args, **kwargs):
            return dataclasses.replace(
                make_plan(*args, **kwargs),
                sparse_inputs=False,
                first_layer_by_columns=False,
                private_columns=False,
                lazy_first_layer=False,
                hidden_lists=(),
            )

        _plan.make_plan = dense_plan
        try:
            return super().train(rows, batch_size, lr)
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


class SklearnMLP:
    """MLPClassifier with the same settings; started from the same weights through warm_start."""

    name = "sklearn"

    def __init__(self, MLPClassifier, weights, biases, X, y):
        self.MLPClassifier = MLPClassifier
        self.weights, self.biases, self.X, self.y = weights, biases, X, y
        # one row per class, to let partial_fit set up the classes before the weights are replaced
        self.setup_rows = np.array([np.flatnonzero(y == k)[0] for k in range(SIZES[-1])])

    def _model(self, batch_size, lr):
        clf = self.MLPClassifier(
            hidden_layer_sizes=tuple(SIZES[1:-1]),
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
            clf.partial_fit(self.X[self.setup_rows], self.y[self.setup_rows], classes=np.arange(SIZES[-1]))
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
    for _ in range(args.repeats):
        for c in contenders:  # interleaved: each takes its turn
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
    return {
        "batch_size": batch_size,
        "lr": lr,
        "momentum": MOMENTUM,
        "contenders": results,
        "other_processes_cpu_fraction": other_load.fraction(),
    }


def bench_predict(contenders, models, X_test, repeats, settle):
    """Best rows/s of class probabilities for all test rows, contenders interleaved."""
    best = {c.name: float("inf") for c in contenders}
    for c in contenders:
        c.proba(models[c.name], X_test[:1000])  # warm-up
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


def print_predict(rates, n_rows):
    fast = rates["fastmlp"]
    print(f"\npredict: class probabilities for {n_rows} test rows, best of repeats")
    print(f"  {'contender':<9} {'rows/s':>12}   fastmlp/this")
    for name, rate in rates.items():
        ratio = "" if name == "fastmlp" else f"{fast / rate:.2f}x"
        print(f"  {name:<9} {fmt_rate(rate):>12}   {ratio}")


def print_summary(results):
    print("\nsummary: fastmlp samples/s divided by each contender's (best of repeats)")
    names = [n for n in results[0]["contenders"] if n != "fastmlp"]
    print(f"  {'batch':>5} " + " ".join(f"{n:>13}" for n in names))
    for result in results:
        res = result["contenders"]
        fast = res["fastmlp"]["samples_per_s_best"]
        print(
            f"  {result['batch_size']:>5} " + " ".join(f"{fast / res[n]['samples_per_s_best']:>12.2f}x" for n in names)
        )


# ---------------------------------------------------------------- main


def optional_contenders(args, weights, biases, X, y):
    extra, versions = [], {}
    if args.no_torch:
        print("note: PyTorch left out (--no-torch)")
    else:
        try:
            import torch
        except ImportError as exc:
            print(f"note: PyTorch is not importable ({exc}); skipped")
        else:
            torch.set_num_threads(args.threads)
            extra.append(TorchMLP(torch, weights, biases, X, y))
            versions["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    if args.no_sklearn:
        print("note: scikit-learn left out (--no-sklearn)")
    else:
        try:
            import sklearn
            from sklearn.neural_network import MLPClassifier
        except ImportError as exc:
            print(f"note: scikit-learn is not importable ({exc}); skipped")
        else:
            extra.append(SklearnMLP(MLPClassifier, weights, biases, X, y))
            versions["sklearn"] = sklearn.__version__
    return extra, versions


def main(args):
    started = time.perf_counter()
    (X, y), (X_test, y_test) = load_data(args.data)
    template = fastmlp.MLP(SIZES, activation="relu", seed=SEED)
    weights = [w.copy() for w in template.weights]
    biases = [b.copy() for b in template.biases]
    contenders = [FastMLP(template, X, y), NumPyMLP(weights, biases, X, y)]
    if not args.no_dense:
        contenders.insert(1, FastMLPDense(template, X, y))
    extra, versions = optional_contenders(args, weights, biases, X, y)
    contenders += extra

    flops = flops_per_sample(SIZES)
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
    print(
        f"fastmlp training benchmark: {'-'.join(map(str, SIZES))} relu, softmax + cross-entropy, "
        f"SGD momentum {MOMENTUM}, MNIST {len(X)} train / {len(X_test)} test rows"
    )
    for key, value in machine.items():
        print(f"  {key:<13} {value}")
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
        "  every contender starts from fastmlp.MLP(sizes, seed=0)'s weights "
        "(sklearn's are written into coefs_ with warm_start)"
    )
    sys.stdout.flush()

    results = []
    for batch_size in args.batch_sizes:
        result = bench_batch_size(contenders, batch_size, args, len(X), X_test, y_test)
        results.append(result)
        print_batch_table(result, flops, peak, len(X))
        sys.stdout.flush()
    print_summary(results)

    predictors = [c for c in contenders if c.name in ("fastmlp", "numpy", "torch")]
    models = {c.name: c.train(2000, 32, 0.1)[0] for c in predictors}
    predict = bench_predict(predictors, models, X_test, repeats=3 if args.quick else 10, settle=args.settle)
    print_predict(predict, len(X_test))
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
        report = {
            "machine": machine,
            "mode": "quick" if args.quick else "full",
            "repeats": args.repeats,
            "sizes": SIZES,
            "flops_per_sample": flops,
            "sgemm_peak_gflops": peak,
            "sgemm_peak_gflops_end": peak_end,
            "training": results,
            "predict_rows_per_s": predict,
            "seconds": elapsed,
            "other_processes_cpu_fraction": other,
        }
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main(ARGS)
