"""Shared plumbing for the learners' networks: arguments, data, training both models, printing.

Each ``net*.py`` script in this folder describes one network and its bugs, and each
``net*_learner_code.py`` is that network as the learner wrote it, bug included; this module only
keeps the repetitive parts (loading MNIST, timing a run, printing a result line, loading the
learner's code with or without its one-line fix, printing what ``fastmlp.diagnose`` and
``fastmlp.doctor`` say) out of the way.
"""

import argparse
import os
import time
import types

import numpy as np

import fastmlp
from fastmlp import reference

HERE = os.path.dirname(os.path.abspath(__file__))
BUG_MARK = "# the bug"  # marks the line of a learner's code that its one-line fix replaces


def parse_args(doc, reference_rows=None, reference_steps=None):
    """The command line every script shares; the reference's budget defaults differ per script."""
    parser = argparse.ArgumentParser(
        description=doc.strip().splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for both models (default 0)")
    parser.add_argument("--data", default=None, help="MNIST location (default: the bundled copy)")
    parser.add_argument(
        "--show-bug",
        action="store_true",
        help="also show the learner's bugs: fastmlp.diagnose on their own code, as written "
        "and with the fix, then what the other bugs do in training",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="only run fastmlp.diagnose on the learner's own code, as written and with the fix (no training)",
    )
    parser.add_argument("--skip-reference", action="store_true", help="train only the compiled model")
    if reference_rows is not None:
        parser.add_argument(
            "--reference-rows",
            type=int,
            default=reference_rows,
            help=f"training rows for the NumPy reference (default {reference_rows}; 60000 for the full run)",
        )
    if reference_steps is not None:
        parser.add_argument(
            "--reference-steps",
            type=int,
            default=reference_steps,
            help=f"full-batch steps for the NumPy reference (default {reference_steps})",
        )
    return parser.parse_args()


def load(path):
    """``((X_train, y_train), (X_test, y_test))``: the 60000/10000 split, pixels in [0, 1].

    Without a path, the copy inside fastmlp, wherever the script is run from.
    """
    return fastmlp.datasets.load_mnist(path if path is not None else fastmlp.datasets.MNIST_DIR)


def fit(net, X, y, epochs, batch_size, lr, shuffle=True):
    """Train ``net`` with plain SGD and return the seconds it took."""
    started = time.perf_counter()
    net.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=fastmlp.SGD(lr=lr), shuffle=shuffle, verbose=0)
    return time.perf_counter() - started


def accuracy(net, X_test, y_test):
    return net.evaluate(X_test, y_test)["accuracy"]


def line(label, acc, seconds=None):
    took = "" if seconds is None else f"   ({seconds:.1f} s)"
    print(f"  {label:<58} {100 * acc:6.2f}%{took}")


def largest_difference(a, b):
    """The largest absolute difference between two models' parameters."""
    pairs = list(zip(a.weights, b.weights)) + list(zip(a.biases, b.biases))
    return max(float(np.max(np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)))) for p, q in pairs)


def compare_per_sample(build, data, epochs, batch_size, lr, target, seed, reference_rows=None, skip_reference=False):
    """Train the correct network with fastmlp on all 60000 rows, and with the reference.

    When ``reference_rows`` is smaller than the training set, the float64 reference trains on
    the first ``reference_rows`` rows only, and fastmlp trains on the same rows once more so the
    two can be compared like for like. Returns the compiled model trained on everything.
    """
    (X, y), (X_test, y_test) = data
    print(f"issue's correct accuracy: {target}")
    net = build(fastmlp, seed)
    seconds = fit(net, X, y, epochs, batch_size, lr)
    line(f"fastmlp, {len(X)} rows", accuracy(net, X_test, y_test), seconds)
    if skip_reference:
        return net
    rows = len(X) if reference_rows is None else min(reference_rows, len(X))
    ref = build(reference, seed, dtype=np.float64)
    ref_seconds = fit(ref, X[:rows], y[:rows], epochs, batch_size, lr)
    if rows == len(X):
        line(f"fastmlp.reference (float64), {rows} rows", accuracy(ref, X_test, y_test), ref_seconds)
        print(f"  largest parameter difference, compiled vs reference: {largest_difference(net, ref):.2e}")
    else:
        twin = build(fastmlp, seed)
        twin_seconds = fit(twin, X[:rows], y[:rows], epochs, batch_size, lr)
        print(
            f"  (the NumPy reference is slow per sample: it trains on the first {rows} rows only; "
            "--reference-rows 60000 for the full run)"
        )
        line(f"fastmlp.reference (float64), first {rows} rows", accuracy(ref, X_test, y_test), ref_seconds)
        line(f"fastmlp, the same first {rows} rows", accuracy(twin, X_test, y_test), twin_seconds)
        print(f"  largest parameter difference, compiled vs reference: {largest_difference(twin, ref):.2e}")
    return net


def compare_full_batch(build, data, rows, steps, lr, target, seed, reference_steps=None, skip_reference=False):
    """Full-batch gradient descent on the first ``rows`` training rows, compiled and reference.

    One step is one epoch over all ``rows`` rows in order (``batch_size=rows``, ``shuffle=False``).
    When ``reference_steps`` is smaller than ``steps``, the reference runs only that many steps
    and is compared with the compiled model at the same step. Returns the compiled model.
    """
    (X, y), (X_test, y_test) = data
    X, y = X[:rows], y[:rows]
    print(f"issue's correct accuracy: {target}")
    ref_steps = steps if reference_steps is None else min(reference_steps, steps)
    net = build(fastmlp, seed)
    optimizer = fastmlp.SGD(lr=lr)  # one optimizer object: a second fit continues the first exactly
    started = time.perf_counter()
    net.fit(X, y, epochs=ref_steps, batch_size=rows, optimizer=optimizer, shuffle=False, verbose=0)
    at_ref_steps = accuracy(net, X_test, y_test)
    net.fit(X, y, epochs=steps - ref_steps, batch_size=rows, optimizer=optimizer, shuffle=False, verbose=0)
    seconds = time.perf_counter() - started
    line(f"fastmlp, {steps} full-batch steps on {rows} rows", accuracy(net, X_test, y_test), seconds)
    if skip_reference:
        return net
    ref = build(reference, seed, dtype=np.float64)
    ref_seconds = fit(ref, X, y, ref_steps, rows, lr, shuffle=False)
    if ref_steps == steps:
        line(f"fastmlp.reference (float64), {steps} steps", accuracy(ref, X_test, y_test), ref_seconds)
        print(f"  largest parameter difference, compiled vs reference: {largest_difference(net, ref):.2e}")
    else:
        print(
            f"  (the NumPy reference is slower: it runs the first {ref_steps} of the {steps} steps; "
            f"--reference-steps {steps} for the full run)"
        )
        line(f"fastmlp.reference (float64), first {ref_steps} steps", accuracy(ref, X_test, y_test), ref_seconds)
        line(f"fastmlp after the same {ref_steps} steps", at_ref_steps)
    return net


def predicted_classes(net, X_test):
    """A one-line summary of how the predictions spread over the classes."""
    counts = np.bincount(net.predict(X_test), minlength=net.sizes[-1])
    top = int(np.argmax(counts))
    return f"predicted classes {counts.tolist()}: class {top} for {100 * counts[top] / counts.sum():.1f}% of rows"


def heading(text):
    print()
    print(text)
    print("-" * len(text))


def show_doctor(net, X, y, optimizer, title, **kwargs):
    """Print what fastmlp.doctor says about training ``net`` on (X, y) with ``optimizer``."""
    from fastmlp.diagnostics import doctor

    print(f"fastmlp.doctor, {title}:")
    report = doctor(net, X, y, optimizer=optimizer, **kwargs)
    print(_indent(str(report)))
    return report


def _read_learner_code(name):
    """``<name>.py`` in this folder: its path, its lines, and the index of the line marked ``# the bug``."""
    path = os.path.join(HERE, name + ".py")
    with open(path) as f:
        lines = f.read().splitlines(keepends=True)
    [row] = [i for i, text in enumerate(lines) if BUG_MARK in text]
    return path, lines, row


def learner_code(name, fix=None):
    """The learner's code ``<name>.py`` from this folder, imported as a module.

    With ``fix`` (one or more lines of code), the line marked ``# the bug`` is replaced by it,
    at the same indentation, and nothing else changes.
    """
    path, lines, row = _read_learner_code(name)
    if fix is not None:
        indent = lines[row][: len(lines[row]) - len(lines[row].lstrip())]
        lines[row] = "".join(indent + part + "\n" for part in fix.splitlines())
    module = types.ModuleType(name)
    module.__file__ = path
    exec(compile("".join(lines), path, "exec"), module.__dict__)
    return module


def show_diagnose(name, fix, diagnose, data):
    """Print ``fastmlp.diagnose``'s report on the learner's code, then on it with the one-line fix.

    ``diagnose(code, X, y)`` runs ``fastmlp.diagnose`` on a learner module, given MNIST's
    training rows as fastmlp keeps them; it holds the glue between the learner's code and
    ``diagnose``. Returns the two reports.
    """
    (X, y), _ = data
    _, lines, row = _read_learner_code(name)
    heading(f"fastmlp.diagnose on the learner's own code ({name}.py)")
    report = diagnose(learner_code(name), X, y)
    print(_indent(str(report)))
    heading("The same code with the one-line fix")
    print(f"  line {row + 1}: {lines[row].strip()}")
    print("  becomes:  " + "\n            ".join(fix.splitlines()))
    fixed = diagnose(learner_code(name, fix), X, y)
    print(_indent(str(fixed)))
    return report, fixed


def _indent(text):
    return "\n".join("    " + row for row in text.splitlines())


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
