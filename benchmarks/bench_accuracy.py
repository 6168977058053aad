#!/usr/bin/env python
"""Time to accuracy: how long fastmlp, PyTorch and JAX take to train MNIST to a test accuracy.

What a user waits for is a trained model. For each target (98.0% and 98.5% test accuracy) every
contender trains the same recipe on the bundled MNIST (60000 training rows as loaded, float32 in
[0, 1]; no augmentation, the test rows are never trained on) and the benchmark reports the wall
time from the start of training (the call of ``fit``; the first training step of a rival) to the
end of the first epoch after which the test accuracy reaches the target.

The recipes (one per target, the same for every contender; RECIPES below), both with ReLU hidden
layers, softmax + cross-entropy, SGD with momentum 0.9 and a learning rate set per epoch, decayed
linearly from lr in the first epoch to lr / epochs in the last (fastmlp's
``fastmlp.schedules.LinearDecay``, which sets the rate at each epoch's start):

- 98.0%: 784-320-10, batch 64, lr 0.1, 0.0667, 0.0333, 3 epochs (98.05-98.19% after the third
  epoch in six runs with seeds 0, 1 and 2; 97.4-97.8% after the second). 784-512-10 reaches
  98.09-98.30% the same way, at 1.3x the time per epoch.
- 98.5%: 784-512-256-10, batch 64, weight decay 1e-4, lr 0.1 down to 0.0125 over 8 epochs
  (98.50-98.52% after the sixth or seventh epoch, 98.60-98.65% after the eighth, seeds 0-2).

Both targets sit near what an MLP trained this briefly reaches, so a contender can cross a target
one epoch earlier or later than another from rounding alone: the tables give the epochs, and the
training time per epoch, which is the speed alone. Smaller networks, Adam, Nesterov momentum,
batches of 16 to 128 and geometric schedules were tried too (see benchmarks/README.md).

Every contender starts from the weights of ``fastmlp.MLP(sizes, seed=0)`` (He initialisation,
zero biases) and visits the rows in the same order: fastmlp shuffles with its own generator, and
the benchmark draws the same permutations from a generator in the same state (checked) and
hands them to PyTorch and JAX. The test accuracy is measured at each epoch's end, by each
contender's own forward pass over the 10000 test rows, with the clock stopped: evaluation is not
in the reported time. JAX's compilation (ahead of time, before the clock starts) is reported
apart and not in the time either; nor is copying the data to JAX's device. fastmlp's input
checks at the start of ``fit`` are in it. Each run trains its recipe's whole schedule (or stops
at ``--max-seconds`` of training) so that the final accuracy and the curve are reported too.

    python benchmarks/bench_accuracy.py                  # both targets, 3 repeats
    python benchmarks/bench_accuracy.py --repeats 1 --targets 98.0
    python benchmarks/bench_accuracy.py --json results.json

Only numpy, scipy and fastmlp are needed; torch and jax are used when importable.
"""

import argparse
import os
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender and target (default 3)")
    parser.add_argument(
        "--targets", default="98.0,98.5", help="comma-separated targets in percent, from RECIPES (default 98.0,98.5)"
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="threads for every contender (default: all cores)"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads for PyTorch alone (default: --threads); on a machine other "
        "processes keep busy, PyTorch on every core can run many times slower than on one",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=120.0,
        help="stop a run after this much training time, target reached or not (default 120)",
    )
    parser.add_argument(
        "--settle", type=float, default=0.5, metavar="SECONDS", help="pause before each run (default 0.5)"
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-jax", action="store_true", help="leave JAX out")
    parser.add_argument(
        "--data", default=None, help="MNIST location for fastmlp.datasets.load_mnist (default: the copy inside fastmlp)"
    )
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the results as JSON")
    args = parser.parse_args(argv)
    try:
        args.targets = [float(t) for t in args.targets.split(",") if t.strip()]
    except ValueError:
        parser.error(f"--targets: got {args.targets!r}; expected numbers such as 98.0,98.5")
    if args.torch_threads is None:
        args.torch_threads = args.threads
    if min(args.repeats, args.threads, args.torch_threads) < 1 or args.max_seconds <= 0:
        parser.error("--repeats, --threads, --torch-threads and --max-seconds must be positive")
    return args


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # BLAS libraries and XLA read their thread counts when they load: set them before the imports.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(ARGS.threads)

import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import fastmlp  # noqa: E402
from fastmlp.callbacks import Callback  # noqa: E402
from _machine import OtherLoad, cpu_model, load_average, rival, sgemm_peak  # noqa: E402

SEED = 0


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One training recipe, the same for every contender. The learning rate is set per epoch:
    ``lr`` in the first, decayed linearly to ``lr / epochs`` in the last."""

    target: float  # test accuracy, a fraction
    sizes: tuple
    batch_size: int
    lr: float
    epochs: int
    optimizer: str = "sgd"  # "sgd" or "adam"
    momentum: float = 0.9  # SGD's
    nesterov: bool = False  # SGD's
    betas: tuple = (0.9, 0.999)  # Adam's
    eps: float = 1e-8  # Adam's
    weight_decay: float = 0.0  # L2, added to the gradient (biases included), as all three do

    def lr_at(self, epoch):
        """The learning rate of epoch ``epoch`` (0-based)."""
        return self.lr * (1.0 - epoch / self.epochs)

    def describe(self):
        schedule = ", ".join(f"{self.lr_at(e):.4g}" for e in range(self.epochs))
        if self.optimizer == "adam":
            optimizer = f"Adam (betas {self.betas[0]}, {self.betas[1]}, eps {self.eps:g})"
        else:
            optimizer = f"SGD momentum {self.momentum}" + (", Nesterov" if self.nesterov else "")
        if self.weight_decay:
            optimizer += f", weight decay {self.weight_decay:g}"
        return (
            f"{'-'.join(map(str, self.sizes))} ReLU, softmax + cross-entropy, {optimizer}, "
            f"batch {self.batch_size}, lr per epoch {schedule} ({self.epochs} epochs)"
        )


RECIPES = {
    98.0: Recipe(target=0.980, sizes=(784, 320, 10), batch_size=64, lr=0.1, epochs=3),
    98.5: Recipe(target=0.985, sizes=(784, 512, 256, 10), batch_size=64, lr=0.1, epochs=8, weight_decay=1e-4),
}


# ---------------------------------------------------------------- data, starting point, order


def load_data(path):
    (X, y), (X_test, y_test) = fastmlp.datasets.load_mnist(path if path is not None else fastmlp.datasets.MNIST_DIR)
    return (
        np.ascontiguousarray(X, dtype=np.float32),
        np.ascontiguousarray(y, dtype=np.int64),
        np.ascontiguousarray(X_test, dtype=np.float32),
        np.ascontiguousarray(y_test, dtype=np.int64),
    )


@dataclasses.dataclass
class Start:
    """Where every contender's run starts, and the order in which it visits the rows."""

    weights: list
    biases: list
    orders: list  # one permutation of the training rows per epoch
    same_order: bool  # whether the orders are fastmlp's own


def starting_point(recipe, n_rows):
    """The Start of a recipe: fastmlp.MLP(sizes, seed=SEED)'s initial parameters,
    and one permutation of the rows per epoch. fastmlp draws its initial weights, then each
    epoch's permutation, from np.random.default_rng(seed): a generator in the same state draws
    the same permutations. That the weights it draws equal fastmlp's is the check; if not
    (fastmlp changed how it draws), the orders are still a fixed seeded sequence shared by the
    rivals, and same_order is False."""
    net = fastmlp.MLP(list(recipe.sizes), activation="relu", seed=SEED)
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    rng = np.random.default_rng(SEED)
    drawn, _ = fastmlp.init.initial_parameters(list(recipe.sizes), ("he",), rng)
    same_order = all(np.array_equal(np.float32(d), w) for d, w in zip(drawn, weights))
    if not same_order:
        rng = np.random.default_rng(SEED)
    orders = [rng.permutation(n_rows) for _ in range(recipe.epochs)]
    return Start(weights, biases, orders, same_order)


# ---------------------------------------------------------------- timing


class Clock:
    """Training time: the wall time since start, less the pauses (the evaluations)."""

    def start(self):
        self.paused = 0.0
        self.begun = time.perf_counter()

    def pause(self):
        """Stop the clock; returns the training time so far."""
        self.pause_began = time.perf_counter()
        return self.pause_began - self.begun - self.paused

    def resume(self):
        self.paused += time.perf_counter() - self.pause_began


class Curve:
    """The test accuracy after each epoch, with the training time it took to get there.

    ``epoch_end`` is called at every epoch's end with the clock running; it stops the clock,
    evaluates and restarts it, and says whether training should go on."""

    def __init__(self, recipe, clock, evaluate, max_seconds):
        self.recipe, self.clock, self.evaluate, self.max_seconds = recipe, clock, evaluate, max_seconds
        self.points = []  # (epoch, training seconds, test accuracy)

    def epoch_end(self, epoch):
        seconds = self.clock.pause()
        self.points.append((epoch + 1, seconds, float(self.evaluate())))
        self.clock.resume()
        return seconds < self.max_seconds

    def result(self):
        reached = next(((e, s, a) for e, s, a in self.points if a >= self.recipe.target), None)
        return {
            "curve": [{"epoch": e, "seconds": s, "accuracy": a} for e, s, a in self.points],
            "seconds_to_target": reached[1] if reached else None,
            "epochs_to_target": reached[0] if reached else None,
            "final_accuracy": self.points[-1][2] if self.points else None,
            "epochs_trained": len(self.points),
        }


# ---------------------------------------------------------------- contenders


class _Evaluation(Callback):
    """fastmlp's side of the curve: after each epoch, the evaluation (clock stopped)."""

    def __init__(self, curve):
        self.curve = curve

    def on_epoch_end(self, epoch, logs=None):
        if not self.curve.epoch_end(epoch):
            self.model.stop_training = True


class FastMLP:
    name = "fastmlp"

    def __init__(self, X, y, X_test, y_test):
        self.X, self.y, self.X_test, self.y_test = X, y, X_test, y_test

    def _network(self, recipe, start):
        net = fastmlp.MLP(list(recipe.sizes), activation="relu", seed=SEED)  # seed: the shuffling
        net.weights, net.biases = start.weights, start.biases  # equal already: set to make it plain
        return net

    def _optimizer(self, recipe):
        lr = fastmlp.schedules.LinearDecay(recipe.lr, recipe.epochs)  # recipe.lr_at, epoch by epoch
        if recipe.optimizer == "adam":
            beta1, beta2 = recipe.betas
            return fastmlp.Adam(lr, beta1, beta2, recipe.eps, recipe.weight_decay)
        return fastmlp.SGD(lr, momentum=recipe.momentum, nesterov=recipe.nesterov, weight_decay=recipe.weight_decay)

    def warm_up(self, recipe, start):
        net = self._network(recipe, start)
        net.fit(
            self.X[:6000], self.y[:6000], batch_size=recipe.batch_size, optimizer=self._optimizer(recipe), verbose=0
        )

    def train(self, recipe, start, max_seconds):
        net = self._network(recipe, start)
        optimizer = self._optimizer(recipe)
        clock = Clock()
        curve = Curve(recipe, clock, lambda: net.evaluate(self.X_test, self.y_test)["accuracy"], max_seconds)
        evaluation = _Evaluation(curve)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clock.start()
            net.fit(
                self.X,
                self.y,
                epochs=recipe.epochs,
                batch_size=recipe.batch_size,
                optimizer=optimizer,
                verbose=0,
                callbacks=[evaluation],
            )
        return curve.result()


class Torch:
    """nn.Sequential of Linear and ReLU, CrossEntropyLoss, torch.optim.SGD or Adam; float32 on the CPU,
    minibatches sliced from the whole tensors (no DataLoader), the learning rate of each epoch
    written into the optimizer's param_groups."""

    name = "torch"

    def __init__(self, torch, X, y, X_test, y_test):
        self.torch = torch
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.X_test, self.y_test = torch.from_numpy(X_test), torch.from_numpy(y_test)

    def _model(self, weights, biases):
        torch, nn = self.torch, self.torch.nn
        layers = []
        for layer, (w, b) in enumerate(zip(weights, biases)):
            linear = nn.Linear(w.shape[0], w.shape[1])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))  # torch's is (out, in)
                linear.bias.copy_(torch.from_numpy(b))
            layers += [linear, nn.ReLU()] if layer < len(weights) - 1 else [linear]
        return nn.Sequential(*layers)

    def _optimizer(self, recipe, model):
        optim = self.torch.optim
        if recipe.optimizer == "adam":
            return optim.Adam(
                model.parameters(),
                recipe.lr_at(0),
                betas=recipe.betas,
                eps=recipe.eps,
                weight_decay=recipe.weight_decay,
            )
        return optim.SGD(
            model.parameters(),
            recipe.lr_at(0),
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )

    def _accuracy(self, model):
        with self.torch.no_grad():
            return (model(self.X_test).argmax(dim=1) == self.y_test).sum().item() / len(self.y_test)

    def _epoch(self, model, optimizer, loss_fn, order, batch_size):
        X, y = self.X, self.y
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()

    def train(self, recipe, start, max_seconds, rows=None):
        torch = self.torch
        model = self._model(start.weights, start.biases)
        optimizer = self._optimizer(recipe, model)
        loss_fn = torch.nn.CrossEntropyLoss()
        orders = [torch.from_numpy(order[:rows]) for order in start.orders]
        clock = Clock()
        curve = Curve(recipe, clock, lambda: self._accuracy(model), max_seconds)
        clock.start()
        for epoch in range(recipe.epochs):
            for group in optimizer.param_groups:
                group["lr"] = recipe.lr_at(epoch)
            self._epoch(model, optimizer, loss_fn, orders[epoch], recipe.batch_size)
            if not curve.epoch_end(epoch):
                break
        return curve.result()

    def warm_up(self, recipe, start):
        short = dataclasses.replace(recipe, epochs=1)
        self.train(short, start, math.inf, rows=100 * recipe.batch_size)


class Jax:
    """The same network and updates written in JAX: one jit-compiled function trains a whole epoch
    (lax.scan over its minibatches, gathered inside from the epoch's order), the learning rate an
    argument, so the schedule needs no recompilation. The updates are fastmlp's: SGD's
    v = momentum v - lr (g + weight_decay W), W += v (PyTorch's when the rate is constant), and
    Adam's, PyTorch's. A last short minibatch, if any, is a second compiled step."""

    name = "jax"

    def __init__(self, jax, X, y, X_test, y_test):
        self.jax, self.jnp, self.tree_map = jax, jax.numpy, jax.tree_util.tree_map
        self.X, self.y = jax.device_put(X), jax.device_put(y.astype(np.int32))
        self.X_test, self.y_test = jax.device_put(X_test), jax.device_put(y_test.astype(np.int32))
        self.compiled = {}  # recipe -> (epoch, last step, accuracy), compiled
        self.compile_seconds = {}

    @staticmethod
    def _logits(jnp, params, X):
        h = X
        for w, b in params[:-1]:
            h = jnp.maximum(h @ w + b, 0.0)
        w, b = params[-1]
        return h @ w + b

    def _loss(self, params, xb, yb):
        logits = self._logits(self.jnp, params, xb)
        logp = logits - self.jax.nn.logsumexp(logits, axis=1, keepdims=True)
        return -self.jnp.mean(self.jnp.take_along_axis(logp, yb[:, None], axis=1))

    def _sgd(self, recipe, params, state, grads, lr):
        tree_map, m = self.tree_map, recipe.momentum
        (velocity,) = state
        velocity = tree_map(lambda v, g: m * v - lr * g, velocity, grads)
        if recipe.nesterov:
            return tree_map(lambda p, v, g: p + m * v - lr * g, params, velocity, grads), (velocity,)
        return tree_map(lambda p, v: p + v, params, velocity), (velocity,)

    def _adam(self, recipe, params, state, grads, lr):
        tree_map, jnp = self.tree_map, self.jnp
        (b1, b2), eps = recipe.betas, recipe.eps
        first, second, t = state
        t = t + 1
        first = tree_map(lambda m, g: b1 * m + (1 - b1) * g, first, grads)
        second = tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, second, grads)
        step, root = lr / (1 - b1**t), jnp.sqrt(1 - b2**t)
        params = tree_map(lambda p, m, v: p - step * m / (jnp.sqrt(v) / root + eps), params, first, second)
        return params, (first, second, t)

    def _step_fn(self, recipe):
        update = self._adam if recipe.optimizer == "adam" else self._sgd
        wd = recipe.weight_decay

        def step(params, state, X, y, idx, lr):
            grads = self.jax.grad(self._loss)(params, X[idx], y[idx])
            grads = self.tree_map(lambda g, p: g + wd * p, grads, params)
            return update(recipe, params, state, grads, lr)

        return step

    def _initial(self, recipe, start):
        """(params, optimizer state) on the device, from the starting weights."""
        jnp = self.jnp
        params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in zip(start.weights, start.biases)]
        zeros = self.tree_map(jnp.zeros_like, params)
        if recipe.optimizer == "adam":
            return params, (zeros, self.tree_map(jnp.zeros_like, params), jnp.float32(0))
        return params, (zeros,)

    def _compile(self, recipe, start):
        jax, jnp = self.jax, self.jnp
        step = self._step_fn(recipe)
        params, state = self._initial(recipe, start)
        n_full, rest = divmod(len(start.orders[0]), recipe.batch_size)

        def epoch(params, state, X, y, batches, lr):
            def body(carry, idx):
                return step(*carry, X, y, idx, lr), None

            return jax.lax.scan(body, (params, state), batches)[0]

        def accuracy(params, X, y):
            return jnp.sum(jnp.argmax(self._logits(jnp, params, X), axis=1) == y)  # correct rows

        lr = jnp.float32(recipe.lr)
        batches = jnp.zeros((n_full, recipe.batch_size), jnp.int32)
        started = time.perf_counter()
        compiled_epoch = jax.jit(epoch).lower(params, state, self.X, self.y, batches, lr).compile()
        last = None
        if rest:
            last = jax.jit(step).lower(params, state, self.X, self.y, jnp.zeros(rest, jnp.int32), lr).compile()
        compiled_accuracy = jax.jit(accuracy).lower(params, self.X_test, self.y_test).compile()
        self.compile_seconds[recipe] = time.perf_counter() - started
        return compiled_epoch, last, compiled_accuracy

    def warm_up(self, recipe, start):
        if recipe not in self.compiled:
            self.compiled[recipe] = self._compile(recipe, start)

    def _batches(self, recipe, start):
        """Each epoch's order as (full minibatches (n, batch_size), the short last one), on the device."""
        n_full = len(start.orders[0]) // recipe.batch_size
        cut = n_full * recipe.batch_size
        jnp = self.jnp
        return [
            (jnp.asarray(o[:cut].reshape(n_full, -1), jnp.int32), jnp.asarray(o[cut:], jnp.int32)) for o in start.orders
        ]

    def train(self, recipe, start, max_seconds):
        compiled_epoch, last, accuracy = self.compiled[recipe]
        params, state = self._initial(recipe, start)
        batches = self._batches(recipe, start)
        latest = {}
        clock = Clock()
        curve = Curve(
            recipe,
            clock,
            lambda: accuracy(latest["params"], self.X_test, self.y_test).item() / len(self.y_test),
            max_seconds,
        )
        clock.start()
        for epoch in range(recipe.epochs):
            lr = self.jnp.float32(recipe.lr_at(epoch))
            full, rest = batches[epoch]
            params, state = compiled_epoch(params, state, self.X, self.y, full, lr)
            if last is not None:
                params, state = last(params, state, self.X, self.y, rest, lr)
            latest["params"] = self.jax.block_until_ready(params)
            if not curve.epoch_end(epoch):
                break
        return curve.result()


# ---------------------------------------------------------------- the machine


def machine_info(args, versions):
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": args.threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "fastmlp": fastmlp.__version__,
        **versions,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "load_average": load_average(),
        "sgemm_gflops": round(sgemm_peak(), 1),
    }


# ---------------------------------------------------------------- running


def rivals(args, data):
    """The contenders besides fastmlp that are wanted and importable, and their versions."""
    found, versions = [], {}
    torch = rival("torch", "PyTorch", "--no-torch", args.no_torch)
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
        found.append(Torch(torch, *data))
        versions["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    jax = rival("jax", "JAX", "--no-jax", args.no_jax)
    if jax is not None:
        found.append(Jax(jax, *data))
        versions["jax"] = f"{jax.__version__} ({jax.default_backend()})"
    return found, versions


def run_all(contenders, recipes, starts, args):
    """Every (target, contender) run, args.repeats times, interleaved: in each round every
    target's contenders take turns, so a slow spell of the machine hits all of them."""
    runs = {(target, c.name): [] for target in recipes for c in contenders}
    for target, recipe in recipes.items():
        for contender in contenders:
            contender.warm_up(recipe, starts[target])
    for round_ in range(args.repeats):
        for target, recipe in recipes.items():
            for contender in contenders:
                time.sleep(args.settle)
                load = OtherLoad()
                result = contender.train(recipe, starts[target], args.max_seconds)
                result["other_load"] = load.fraction()
                runs[target, contender.name].append(result)
                print(f"  round {round_ + 1}, {target:.1f}%, {contender.name:<8} {brief(result, recipe)}", flush=True)
    return runs


def brief(result, recipe):
    seconds = result["seconds_to_target"]
    reached = f"{seconds:.2f} s (epoch {result['epochs_to_target']})" if seconds is not None else "not reached"
    return f"to {100 * recipe.target:.1f}%: {reached}; final {100 * result['final_accuracy']:.2f}%"


def summarise(runs):
    """Best and median time to target over the repeats (a run that did not reach it counts as
    infinitely long), the epochs it took, the final accuracies, and the median training time per
    epoch (the speed alone, whichever epoch reaches the target)."""
    times = sorted(r["seconds_to_target"] if r["seconds_to_target"] is not None else math.inf for r in runs)
    epochs = sorted({r["epochs_to_target"] for r in runs if r["epochs_to_target"] is not None})
    finals = [r["final_accuracy"] for r in runs]
    per_epoch = [r["curve"][-1]["seconds"] / r["epochs_trained"] for r in runs if r["curve"]]
    median = statistics.median(times)
    return {
        "seconds_per_epoch": statistics.median(per_epoch) if per_epoch else None,
        "best": times[0] if times[0] < math.inf else None,
        "median": median if median < math.inf else None,
        "reached": sum(t < math.inf for t in times),
        "epochs": epochs,
        "final_accuracy": [min(finals), max(finals)],
    }


# ---------------------------------------------------------------- printing


def fmt_seconds(value):
    return f"{value:.2f}" if value is not None else "not reached"


def fmt_ratio(value, reference):
    if value is None or reference is None:
        return "-"
    return f"{value / reference:.2f}x"


def fmt_epochs(epochs):
    if not epochs:
        return "-"
    return str(epochs[0]) if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"


def fmt_finals(finals):
    low, high = (100 * f for f in finals)
    return f"{low:.2f}%" if abs(high - low) < 0.005 else f"{low:.2f}-{high:.2f}%"


def print_table(target, recipe, summaries, repeats):
    print(f"\n### Time to {target:.1f}% test accuracy")
    print(f"recipe: {recipe.describe()}")
    print(f"time: training only, test evaluation excluded; best and median of {repeats} run(s)\n")
    print(
        "| contender | best (s) | median (s) | epochs | final accuracy | best / fastmlp | median / fastmlp "
        "| s per epoch | per epoch / fastmlp |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    reference = summaries.get("fastmlp")
    for name, s in summaries.items():
        reached = "" if s["reached"] == repeats else f" ({s['reached']}/{repeats} reached)"
        print(
            f"| {name} | {fmt_seconds(s['best'])} | {fmt_seconds(s['median'])}{reached} | {fmt_epochs(s['epochs'])} "
            f"| {fmt_finals(s['final_accuracy'])} | {fmt_ratio(s['best'], reference['best'])} "
            f"| {fmt_ratio(s['median'], reference['median'])} | {s['seconds_per_epoch']:.2f} "
            f"| {fmt_ratio(s['seconds_per_epoch'], reference['seconds_per_epoch'])} |"
        )


def print_curves(runs_by_name):
    """Each contender's test accuracy after every epoch, and the training time then, from its
    fastest run to the target; a note when the repeats' curves differ."""
    print("\naccuracy after each epoch (% at training seconds), fastest run:")
    for name, runs in runs_by_name.items():
        fastest = min(runs, key=lambda r: (r["seconds_to_target"] or math.inf, r["curve"][-1]["seconds"]))
        points = "  ".join(f"{100 * p['accuracy']:.2f}@{p['seconds']:.2f}" for p in fastest["curve"])
        same = all([p["accuracy"] for p in r["curve"]] == [p["accuracy"] for p in fastest["curve"]] for r in runs)
        print(f"  {name:<8} {points}{'' if same else '  (the repeats differ)'}")


def main(args):
    started = time.perf_counter()
    unknown = [t for t in args.targets if t not in RECIPES]
    if unknown:
        sys.exit(f"--targets: no recipe for {unknown}; expected some of {sorted(RECIPES)}")
    recipes = {t: RECIPES[t] for t in args.targets}
    data = load_data(args.data)
    X = data[0]
    contenders = [FastMLP(*data)]
    extra, versions = rivals(args, data)
    contenders += extra
    machine = machine_info(args, versions)
    starts = {t: starting_point(r, len(X)) for t, r in recipes.items()}

    print(f"Time to accuracy on MNIST ({len(X)} training rows as loaded, float32 in [0, 1]; 10000 test rows)")
    for key, value in machine.items():
        print(f"  {key:<17} {value}")
    same = all(start.same_order for start in starts.values())
    print(
        "  every contender starts from fastmlp.MLP(sizes, seed=0)'s weights and visits the rows in "
        + ("fastmlp's order (checked)" if same else "one shared seeded order (fastmlp's own could not be reproduced)")
    )
    print(f"  {args.repeats} round(s), contenders interleaved, after an untimed warm-up; runs:", flush=True)

    whole_run = OtherLoad()
    runs = run_all(contenders, recipes, starts, args)
    report = {"machine": machine, "repeats": args.repeats, "same_order_as_fastmlp": same, "targets": {}}
    for target, recipe in recipes.items():
        by_name = {c.name: runs[target, c.name] for c in contenders}
        summaries = {name: summarise(r) for name, r in by_name.items()}
        print_table(target, recipe, summaries, args.repeats)
        print_curves(by_name)
        compile_seconds = next((c.compile_seconds.get(recipe) for c in contenders if c.name == "jax"), None)
        if compile_seconds is not None:
            print(f"  jax compilation (ahead of time, not in the times above): {compile_seconds:.2f} s")
        report["targets"][f"{target:.1f}"] = {
            "recipe": {**dataclasses.asdict(recipe), "description": recipe.describe()},
            "summary": summaries,
            "runs": by_name,
            "jax_compile_seconds": compile_seconds,
        }
    other = whole_run.fraction()
    if other is not None:
        flag = " (above 5%: the times are low and noisy; rerun on a quiet machine)" if other > 0.05 else ""
        print(f"\nother processes took {100 * other:.0f}% of the CPU during the runs{flag}")
    report["other_processes_cpu_fraction"] = other
    report["seconds"] = time.perf_counter() - started
    print(f"total time {report['seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main(ARGS)
