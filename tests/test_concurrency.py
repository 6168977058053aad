"""One network, one fit at a time: a second fit, loss_and_gradients or a weight assignment while fit
runs is refused with a RuntimeError, from another thread or from fit's own callbacks; predict and
evaluate work from the callbacks and are refused from other threads (issue 18).

The stress tests at the end run in a subprocess (a crash there fails one test instead of killing
pytest): one network under six threads and its own callbacks, then several networks at once."""

import collections
import faulthandler
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings

import numpy as np
import pytest

import fastmlp

# The data are random labels: fit's advice that the loss stays at chance is expected.
pytestmark = pytest.mark.filterwarnings("ignore:fit. :UserWarning")


def _busy_network():
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(2000, 20)).astype(np.float32), rng.integers(0, 3, 2000)
    return fastmlp.MLP([20, 16, 3], seed=0), X, y


class _Probe(fastmlp.callbacks.Callback):
    """Calls `action` from inside fit, once, and keeps what it raised or returned."""

    def __init__(self, action):
        self.action, self.outcome = action, None

    def on_epoch_end(self, epoch, logs=None):
        if self.outcome is None:
            try:
                self.outcome = self.action()
            except Exception as exc:  # noqa: BLE001 -- the outcome is what the test looks at
                self.outcome = exc


@pytest.mark.parametrize(
    "action, refused",
    [
        (lambda net, X, y: net.fit(X, y, verbose=0), True),
        (lambda net, X, y: net.loss_and_gradients(X[:10], y[:10]), True),
        (lambda net, X, y: setattr(net, "weights", [w.copy() for w in net.weights]), True),
        (lambda net, X, y: setattr(net, "biases", [b.copy() for b in net.biases]), True),
        (lambda net, X, y: net.weights.__setitem__(0, net.weights[0].copy()), True),  # net.weights[0] = W
        (lambda net, X, y: net.biases.__setitem__(1, net.biases[1].copy()), True),
        (lambda net, X, y: net.predict(X[:10]), False),
        (lambda net, X, y: net.evaluate(X[:10], y[:10]), False),
    ],
)
def test_a_network_refuses_a_second_fit_from_its_own_callbacks(action, refused):
    net, X, y = _busy_network()
    probe = _Probe(lambda: action(net, X, y))
    net.fit(X, y, epochs=2, verbose=0, callbacks=[probe])
    if refused:
        assert isinstance(probe.outcome, RuntimeError) and "callbacks" in str(probe.outcome)
    else:
        assert not isinstance(probe.outcome, Exception), probe.outcome
    net.fit(X, y, epochs=1, verbose=0)  # and trains again afterwards


def test_a_network_refuses_calls_from_another_thread_while_it_trains(tmp_path):
    net, X, y = _busy_network()
    folder = str(tmp_path)
    started, outcomes = threading.Event(), {}

    class Signal(fastmlp.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.set()
            time.sleep(0.05)  # keep fit running while the other thread calls

    def train():
        net.fit(X, y, epochs=3, verbose=0, callbacks=[Signal()])

    trainer = threading.Thread(target=train)
    trainer.start()
    started.wait(10)
    for name, call in (
        ("fit", lambda: net.fit(X, y, verbose=0)),
        ("predict", lambda: net.predict(X[:5])),
        ("evaluate", lambda: net.evaluate(X[:5], y[:5])),
        ("loss_and_gradients", lambda: net.loss_and_gradients(X[:5], y[:5])),
        ("weights", lambda: setattr(net, "weights", [w.copy() for w in net.weights])),
        ("weights[0]", lambda: net.weights.__setitem__(0, net.weights[0].copy())),
        ("copy", net.copy),
        ("save", lambda: net.save(os.path.join(folder, "mid-fit.npz"))),
        ("pickle", lambda: pickle.dumps(net)),
    ):
        try:
            call()
            outcomes[name] = "ran"
        except RuntimeError as exc:
            outcomes[name] = str(exc)
    trainer.join()
    for name, outcome in outcomes.items():
        assert "another thread" in outcome or "training already" in outcome, (name, outcome)
    assert not os.listdir(folder), "a refused save left a file behind"
    assert net.predict(X[:5]).shape == (5,)


def test_labels_rewritten_by_a_callback_during_fit_cannot_reach_the_kernels():
    """fit indexes with the labels in C: it owns a copy, so the caller's array may change freely."""
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(300, 8)).astype(np.float32), rng.integers(0, 3, 300).astype(np.int32)
    y_val = y[:50].copy()
    clean = fastmlp.MLP([8, 6, 3], seed=0)
    clean.fit(X, y.copy(), epochs=3, batch_size=16, verbose=0, validation_data=(X[:50], y_val.copy()))

    class Vandal(fastmlp.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            y[:] = 10**6  # far out of bounds
            y_val[:] = -(10**6)

    net = fastmlp.MLP([8, 6, 3], seed=0)
    net.fit(X, y, epochs=3, batch_size=16, verbose=0, validation_data=(X[:50], y_val), callbacks=[Vandal()])
    for mine, theirs in zip(net.weights, clean.weights):
        np.testing.assert_array_equal(mine, theirs)


# ---- stress: run in a subprocess, so that a crash or a hang fails the test instead of pytest ----

_CHILD_SECONDS = 90  # the child dumps every thread's stack and exits after this (a hang)
_JOIN_SECONDS = 60  # a thread still alive after this is hung


def _run_in_subprocess(function_name):
    """Runs this module's function_name() in a fresh interpreter; returns the JSON it printed last.
    The function exits non-zero with its findings on stderr when something went wrong."""
    code = (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('_concurrency_child', {os.path.abspath(__file__)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        f"module.{function_name}()\n"
    )
    try:
        # run from elsewhere: from the repository, "-c" would import its uncompiled fastmlp/
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=_CHILD_SECONDS + 30,
            cwd=tempfile.gettempdir(),
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{function_name} hung (killed after {exc.timeout} s)\nstdout:\n{_text(exc.stdout)}\n"
            f"stderr:\n{_text(exc.stderr)}"
        )
    if done.returncode != 0:
        how = f"was killed by signal {-done.returncode}" if done.returncode < 0 else f"exited with {done.returncode}"
        pytest.fail(f"{function_name} {how}\nstdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-20000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _text(output):
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")


def _child_setup():
    """In the child: tracebacks on a crash, every stack and exit on a hang, fit's advice silenced."""
    faulthandler.enable()
    faulthandler.dump_traceback_later(_CHILD_SECONDS, exit=True)
    warnings.filterwarnings("ignore", message="fit: ", category=UserWarning)


def _child_finish(problems, summary):
    """In the child: exit 1 listing the problems (None is none), else print the summary as JSON."""
    problems = [problem for problem in problems if problem is not None]
    if problems:
        sys.stderr.write(f"{len(problems)} problems:\n" + "\n".join(str(p) for p in problems[:30]) + "\n")
        sys.stderr.flush()
        os._exit(1)
    print(json.dumps(summary))


def _join_all(threads, problems):
    """Joins the threads; a hung one is a problem, reported with every thread's stack, and ends
    the child (it would keep the interpreter alive)."""
    deadline = time.monotonic() + _JOIN_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    hung = [thread.name for thread in threads if thread.is_alive()]
    if hung:
        frames = sys._current_frames()
        stacks = "\n".join(
            f"--- {thread.name}\n" + "".join(traceback.format_stack(frames[thread.ident]))
            for thread in threads
            if thread.is_alive() and thread.ident in frames
        )
        problems.append(f"threads still running after {_JOIN_SECONDS} s: {hung}\n{stacks}")
        _child_finish(problems, None)


def _refusal_problem(exc, what):
    """None when exc is the clean refusal of a call named `what` while the network trains: a
    RuntimeError naming the call, saying the network is training and what to do instead."""
    message = str(exc)
    if (
        isinstance(exc, RuntimeError)
        and message.startswith(f"{what}:")
        and "network is training" in message
        and "after" in message
        and "net.copy()" in message
    ):
        return None
    return f"{what}: not a clean refusal: {''.join(traceback.format_exception(exc))}"


def _proba_problem(proba, rows, n_classes, softmax=True):
    """None when proba is what predict_proba must give: probabilities of the right shape (rows
    summing to 1 for softmax)."""
    if proba.shape != (rows, n_classes) or proba.dtype != np.float32:
        return f"predict_proba gave {proba.shape} {proba.dtype}; expected ({rows}, {n_classes}) float32"
    if not (np.isfinite(proba).all() and proba.min() >= 0 and proba.max() <= 1):
        return "predict_proba gave values that are not probabilities"
    if softmax and not np.allclose(proba.sum(axis=1), 1.0, atol=1e-4):
        return "predict_proba gave softmax rows not summing to 1"
    return None


def _state(net):
    """The network's parameters, as bytes to compare and hash."""
    return b"".join(a.tobytes() for pair in zip(net.weights, net.biases) for a in pair)


def _set_state(net, state):
    """Gives net the parameters _state returned."""
    flat, at, weights, biases = np.frombuffer(state, dtype=np.float32), 0, [], []
    for w, b in zip(net.weights, net.biases):
        weights.append(flat[at : at + w.size].reshape(w.shape))
        biases.append(flat[at + w.size : at + w.size + b.size])
        at += w.size + b.size
    net.weights, net.biases = weights, biases


class _StormProbe(fastmlp.callbacks.Callback):
    """From inside fit (between chunks): predict, evaluate and copy work and agree with each
    other; a second fit, loss_and_gradients and every kind of weight assignment are refused."""

    def __init__(self, X, y, problems, tally):
        self.X, self.y, self.problems, self.tally = X, y, problems, tally

    def on_epoch_end(self, epoch, logs=None):
        net, X, y = self.model, self.X, self.y
        try:
            proba = net.predict_proba(X)
            twin = net.copy()  # the parameters stand still between chunks: the same state
            self._check(_proba_problem(proba, len(X), net.n_classes))
            self._check(
                None
                if np.array_equal(proba, twin.predict_proba(X))
                else "predict from a callback differs from the predict of net.copy() made there"
            )
            scores = net.evaluate(X, y)
            self._check(None if scores == twin.evaluate(X, y) else "evaluate from a callback differs from a copy's")
        except Exception as exc:  # noqa: BLE001 -- everything goes in the report
            self._check(f"callback: predict/evaluate/copy raised {''.join(traceback.format_exception(exc))}")
        refused = (
            ("fit", lambda: net.fit(X, y, verbose=0)),
            ("loss_and_gradients", lambda: net.loss_and_gradients(X, y)),
            ("weights", lambda: setattr(net, "weights", [w.copy() for w in net.weights])),
            ("biases", lambda: setattr(net, "biases", [b.copy() for b in net.biases])),
            ("weights[1]", lambda: net.weights.__setitem__(1, net.weights[1].copy())),
        )
        for what, call in refused:
            try:
                call()
                self._check(f"callback: {what} ran during fit; expected a RuntimeError")
            except Exception as exc:  # noqa: BLE001
                problem = _refusal_problem(exc, what)
                if problem is None and "callbacks" not in str(exc):
                    problem = f"callback: {what}'s refusal does not say it came from a callback: {exc}"
                self._check(problem)
        self.tally("callback checks")

    def _check(self, problem):
        if problem is not None:
            self.problems.append(problem)


def _storm():
    """Six threads, each with its own seeded generator, call fit (with _StormProbe), predict,
    evaluate, loss_and_gradients, weight assignments, copy and save/load on one network. Every
    exception must be a clean refusal, every result finite and well formed; afterwards the network
    is deterministic, agrees with its own saved file and trains on."""
    _child_setup()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 24)).astype(np.float32), rng.integers(0, 3, 300)
    net = fastmlp.MLP([24, 12, 3], seed=0)
    donors = [fastmlp.MLP([24, 12, 3], seed=seed) for seed in (1, 2)]  # weights to assign
    problems, counts, counting = [], collections.Counter(), threading.Lock()  # list.append is atomic

    def tally(key):
        with counting:
            counts[key] += 1

    folder = tempfile.mkdtemp()
    n_threads, rounds = 6, 30
    start = threading.Barrier(n_threads, timeout=_JOIN_SECONDS)

    def fit():
        history = net.fit(
            X, y, epochs=1, batch_size=32, verbose=0, callbacks=[_StormProbe(X[:70], y[:70], problems, tally)]
        )
        if not np.isfinite(history.history["loss"]).all():
            problems.append(f"fit: non-finite loss {history.history['loss']}")

    def predict(generator):
        rows = int(generator.choice([5, 70, 300]))  # one thread, and the two-thread split path
        problems.append(_proba_problem(net.predict_proba(X[:rows]), rows, 3))
        labels = net.predict(X[:rows].astype(np.float64))
        if labels.shape != (rows,) or labels.dtype != np.int64 or labels.min() < 0 or labels.max() > 2:
            problems.append(f"predict gave labels {labels.shape} in [{labels.min()}, {labels.max()}]")

    def evaluate(generator):
        scores = net.evaluate(X, y)
        if not (np.isfinite(scores["loss"]) and scores["loss"] >= 0 and 0 <= scores["accuracy"] <= 1):
            problems.append(f"evaluate gave {scores}")

    def loss_and_gradients(generator):
        loss, gradients = net.loss_and_gradients(X[:64], y[:64])
        shapes = [(dW.shape, db.shape) for dW, db in gradients]
        if (
            not np.isfinite(loss)
            or shapes != [(w.shape, b.shape) for w, b in zip(net.weights, net.biases)]
            or not all(np.isfinite(dW).all() and np.isfinite(db).all() for dW, db in gradients)
        ):
            problems.append(f"loss_and_gradients gave {loss}, shapes {shapes}")

    def assign(generator, what):
        donor = donors[int(generator.integers(len(donors)))]
        if what == "weights":
            net.weights = [w.copy() for w in donor.weights]
        elif what == "biases":
            net.biases = [b + 0.01 for b in donor.biases]
        else:
            net.weights[1] = donor.weights[1]

    def copy(generator):
        twin = net.copy()  # refused while fit runs; else a network of its own
        problems.append(_proba_problem(twin.predict_proba(X[:70]), 70, 3))
        twin.fit(X[:96], y[:96], epochs=1, batch_size=32, verbose=0)
        twin.weights = [w.copy() for w in twin.weights]

    def save_and_load(generator, thread):
        loaded = fastmlp.load(net.save(os.path.join(folder, f"thread{thread}.npz")))
        problems.append(_proba_problem(loaded.predict_proba(X[:70]), 70, 3))

    actions = ["fit", "predict", "evaluate", "loss_and_gradients", "assign", "copy", "save"]

    def worker(thread):
        generator = np.random.default_rng(1000 + thread)
        start.wait()
        for _ in range(rounds):
            action = actions[int(generator.integers(len(actions)))]
            # the name a refusal must give
            what = {"assign": ("weights", "biases", "weights[1]")[int(generator.integers(3))]}.get(action, action)
            try:
                if action == "fit":
                    fit()
                elif action == "assign":
                    assign(generator, what)
                elif action == "copy":
                    copy(generator)
                elif action == "save":
                    save_and_load(generator, thread)
                else:
                    {"predict": predict, "evaluate": evaluate, "loss_and_gradients": loss_and_gradients}[action](
                        generator
                    )
                tally(f"{action}: ran")
            except Exception as exc:  # noqa: BLE001 -- everything goes in the report
                problem = _refusal_problem(exc, what)
                problems.append(problem)
                if problem is None:
                    tally(f"{action}: refused")

    threads = [threading.Thread(target=worker, args=(thread,), name=f"storm-{thread}") for thread in range(n_threads)]
    for thread in threads:
        thread.start()
    _join_all(threads, problems)

    # afterwards: one consistent state, the one the network saves, and the network trains on
    proba = net.predict_proba(X)
    if not np.array_equal(proba, net.predict_proba(X)):
        problems.append("predict_proba after the storm is not deterministic")
    loaded = fastmlp.load(net.save(os.path.join(folder, "final.npz")))
    if _state(loaded) != _state(net) or not np.array_equal(loaded.predict_proba(X), proba):
        problems.append("the network disagrees with the file it saves")
    if not np.array_equal(net.copy().predict_proba(X), proba):
        problems.append("the network disagrees with its copy")
    mine, theirs = net.loss_and_gradients(X, y), loaded.loss_and_gradients(X, y)
    if mine[0] != theirs[0] or not all(
        np.array_equal(a, b) for pa, pb in zip(mine[1], theirs[1]) for a, b in zip(pa, pb)
    ):
        problems.append("loss_and_gradients disagrees with the saved network's")
    final = {}
    trainer = threading.Thread(
        target=lambda: final.update(net.fit(X, y, epochs=2, verbose=0).history), name="final fit"
    )
    trainer.start()
    _join_all([trainer], problems)
    if not np.isfinite(final.get("loss", [np.nan])).all():
        problems.append(f"the final fit gave {final}")
    problems.append(_proba_problem(net.predict_proba(X), len(X), 3))
    _child_finish(problems, dict(counts))


def _flat_gradients(loss, gradients):
    """loss_and_gradients' result as one float64 vector: the loss, then every gradient."""
    return np.concatenate([[loss]] + [a.ravel() for pair in gradients for a in pair]).astype(np.float64)


def _one_writer():
    """One thread writes (fit, assignments) and records each state it leaves; three others predict,
    evaluate and call loss_and_gradients meanwhile. Every result they get must be that of one of
    those states (never a mix of two, or of a fit half done), and the writes end where the same
    writes alone end."""
    _child_setup()
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(300, 24)).astype(np.float32), rng.integers(0, 3, 300)
    X_read = np.tile(X, (8, 1)).astype(np.float64)  # converted outside any lock: a window to race in
    y_read = np.tile(y, 8)
    writes = 30

    def write(net, optimizer, step):
        if step % 5 == 4:
            donor = fastmlp.MLP([24, 12, 3], seed=100 + step)
            net.weights = [w * 0.5 for w in donor.weights]
        else:
            net.fit(X, y, epochs=1, batch_size=32, verbose=0, optimizer=optimizer)

    net, optimizer = fastmlp.MLP([24, 12, 3], seed=0), fastmlp.Adam(lr=1e-2)
    states, done, problems = {_state(net)}, threading.Event(), []
    seen, refused = collections.defaultdict(list), collections.Counter()

    def writer():
        try:
            for step in range(writes):
                write(net, optimizer, step)
                states.add(_state(net))
                time.sleep(0.002)  # leaves room for the readers; no assert depends on it
        except Exception as exc:  # noqa: BLE001
            problems.append(f"writer: {''.join(traceback.format_exception(exc))}")
        finally:
            done.set()

    def reader(kind):
        while not done.is_set():
            try:
                if kind == "predict":
                    seen[kind].append(net.predict_proba(X_read).tobytes())
                elif kind == "evaluate":
                    seen[kind].append(tuple(net.evaluate(X_read, y_read).values()))
                else:
                    seen[kind].append(_flat_gradients(*net.loss_and_gradients(X_read, y_read)))
            except Exception as exc:  # noqa: BLE001
                problem = _refusal_problem(exc, kind)
                if problem is not None:
                    problems.append(problem)
                    return
                refused[kind] += 1
                time.sleep(0.001)  # fit runs: let it, rather than spin on the GIL

    threads = [threading.Thread(target=writer, name="writer")] + [
        threading.Thread(target=reader, args=(kind,), name=kind)
        for kind in ("predict", "evaluate", "loss_and_gradients")
    ]
    for thread in threads:
        thread.start()
    _join_all(threads, problems)

    probe, expected = fastmlp.MLP([24, 12, 3]), collections.defaultdict(set)
    for state in states:
        _set_state(probe, state)
        expected["predict"].add(probe.predict_proba(X_read).tobytes())
        expected["evaluate"].add(tuple(probe.evaluate(X_read, y_read).values()))
        expected["loss_and_gradients"].add(_flat_gradients(*probe.loss_and_gradients(X_read, y_read)).tobytes())
    # loss_and_gradients runs the BLAS unheld, with its own thread count, unless a call on the
    # two-thread path (predict here) holds the whole process's BLAS to one thread meanwhile: the
    # last bits may differ (by about 1e-8 here). A mix of states differs by a training step or more.
    gradients = np.array([np.frombuffer(result, dtype=np.float64) for result in expected["loss_and_gradients"]])
    for kind, results in seen.items():
        if kind == "loss_and_gradients":
            strays = sum(
                not np.isclose(gradients, result, rtol=1e-4, atol=1e-5).all(axis=1).any() for result in results
            )
        else:
            strays = sum(result not in expected[kind] for result in results)
        if strays:
            problems.append(f"{kind}: {strays} of {len(results)} results match none of the {len(states)} states")
    alone, alone_optimizer = fastmlp.MLP([24, 12, 3], seed=0), fastmlp.Adam(lr=1e-2)
    for step in range(writes):
        write(alone, alone_optimizer, step)
    if _state(alone) != _state(net):
        problems.append("the writes ended elsewhere than the same writes alone")
    _child_finish(
        problems,
        {
            "states": len(states),
            "results": {kind: len(results) for kind, results in seen.items()},
            "refused": dict(refused),
        },
    )


# (sizes, activation, output, optimizer, batch_size, seed): same-shaped networks share the thread
# tuner; batch 1 takes the per-sample path
_MANY = [
    ([24, 16, 3], "relu", "softmax", lambda: fastmlp.SGD(lr=0.1, momentum=0.9), 32, 1),
    ([24, 16, 3], "relu", "softmax", lambda: fastmlp.Adam(lr=1e-2), 32, 2),
    ([20, 8, 8, 4], "tanh", "softmax", lambda: fastmlp.SGD(lr=0.05, momentum=0.9, nesterov=True), 1, 3),
    ([30, 20, 2], "leaky_relu", "sigmoid", lambda: fastmlp.SGD(lr=0.1, weight_decay=1e-4), 16, 4),
]


def _train_one(index, X, y, predicts=None):
    sizes, activation, output, optimizer, batch_size, seed = _MANY[index]
    net = fastmlp.MLP(sizes, activation=activation, output=output, seed=seed)
    callbacks = []
    if predicts is not None:  # predict on its own network from its callbacks: allowed

        class Predict(fastmlp.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                predicts.append(self.model.predict_proba(X[:70]))

        callbacks = [Predict()]
    history = net.fit(X, y, epochs=3, batch_size=batch_size, optimizer=optimizer(), verbose=0, callbacks=callbacks)
    return _state(net), history.history["loss"]


def _many_networks():
    """Four networks trained at once, one per thread, twice over: none is refused (the lock is
    per network), and each ends bit for bit where the same fit alone ends."""
    _child_setup()
    data = []
    for index, (sizes, *_rest) in enumerate(_MANY):
        rng = np.random.default_rng(10 + index)
        data.append((rng.normal(size=(200, sizes[0])).astype(np.float32), rng.integers(0, sizes[-1], 200)))
    alone = [_train_one(index, *data[index]) for index in range(len(_MANY))]
    problems, rounds = [], 2
    start = threading.Barrier(len(_MANY), timeout=_JOIN_SECONDS)

    def worker(index):
        start.wait()
        for round_ in range(rounds):
            try:
                predicts = []
                result = _train_one(index, *data[index], predicts=predicts)
                if result != alone[index]:
                    problems.append(
                        f"network {index}, round {round_}: trained alongside others it differs from the same fit alone"
                    )
                softmax = _MANY[index][2] == "softmax"
                problems.extend(
                    p
                    for p in (_proba_problem(proba, 70, _MANY[index][0][-1], softmax) for proba in predicts)
                    if p is not None
                )
            except Exception as exc:  # noqa: BLE001 -- everything goes in the report
                problems.append(f"network {index}: {''.join(traceback.format_exception(exc))}")

    threads = [threading.Thread(target=worker, args=(index,), name=f"net-{index}") for index in range(len(_MANY))]
    for thread in threads:
        thread.start()
    _join_all(threads, problems)
    _child_finish(problems, {"networks": len(_MANY), "rounds": rounds})


def _concurrent_gradients():
    """loss_and_gradients from four threads at once on one network (no fit): each call's result
    is the one it gives alone (the gradients are each call's own)."""
    _child_setup()
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(400, 24)).astype(np.float32), rng.integers(0, 3, 400)
    net = fastmlp.MLP([24, 16, 3], seed=0)
    parts = [(X[i::4], y[i::4]) for i in range(4)]
    expected = [net.loss_and_gradients(*part) for part in parts]
    problems, start = [], threading.Barrier(len(parts), timeout=_JOIN_SECONDS)

    def worker(index):
        start.wait()
        for _ in range(150):
            loss, gradients = net.loss_and_gradients(*parts[index])
            want_loss, want = expected[index]
            if loss != want_loss or not all(
                np.array_equal(a, b) for pa, pb in zip(gradients, want) for a, b in zip(pa, pb)
            ):
                problems.append(f"thread {index}: loss_and_gradients differs from the same call alone")
                return

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(parts))]
    for thread in threads:
        thread.start()
    _join_all(threads, problems)
    _child_finish(problems, {"calls": 150 * len(parts)})


def test_one_network_under_threads_and_callbacks_refuses_cleanly_and_stays_consistent():
    counts = _run_in_subprocess("_storm")
    # deterministic, whatever the timing: the seeded threads choose fit, and one of them runs
    assert counts.get("fit: ran", 0) >= 1 and counts.get("callback checks", 0) == counts["fit: ran"], counts


def test_calls_from_other_threads_see_one_state_never_a_write_half_done():
    seen = _run_in_subprocess("_one_writer")
    assert seen["states"] > 1, seen


def test_several_networks_train_at_once_each_as_if_alone():
    _run_in_subprocess("_many_networks")


def test_loss_and_gradients_from_several_threads_at_once_each_as_if_alone():
    _run_in_subprocess("_concurrent_gradients")
