"""One network, one fit at a time: a second fit, loss_and_gradients or a weight assignment while fit
runs is refused with a RuntimeError, from another thread or from fit's own callbacks; predict and
evaluate work from the callbacks and are refused from other threads (issue 18)."""
import threading
import time

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


@pytest.mark.parametrize("action, refused", [
    (lambda net, X, y: net.fit(X, y, verbose=0), True),
    (lambda net, X, y: net.loss_and_gradients(X[:10], y[:10]), True),
    (lambda net, X, y: setattr(net, "weights", [w.copy() for w in net.weights]), True),
    (lambda net, X, y: net.predict(X[:10]), False),
    (lambda net, X, y: net.evaluate(X[:10], y[:10]), False),
])
def test_a_network_refuses_a_second_fit_from_its_own_callbacks(action, refused):
    net, X, y = _busy_network()
    probe = _Probe(lambda: action(net, X, y))
    net.fit(X, y, epochs=2, verbose=0, callbacks=[probe])
    if refused:
        assert isinstance(probe.outcome, RuntimeError) and "callbacks" in str(probe.outcome)
    else:
        assert not isinstance(probe.outcome, Exception), probe.outcome
    net.fit(X, y, epochs=1, verbose=0)          # and trains again afterwards


def test_a_network_refuses_calls_from_another_thread_while_it_trains():
    net, X, y = _busy_network()
    started, outcomes = threading.Event(), {}

    class Signal(fastmlp.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.set()
            time.sleep(0.05)                    # keep fit running while the other thread calls

    def train():
        net.fit(X, y, epochs=3, verbose=0, callbacks=[Signal()])

    trainer = threading.Thread(target=train)
    trainer.start()
    started.wait(10)
    for name, call in (("fit", lambda: net.fit(X, y, verbose=0)), ("predict", lambda: net.predict(X[:5])),
                       ("loss_and_gradients", lambda: net.loss_and_gradients(X[:5], y[:5]))):
        try:
            call()
            outcomes[name] = "ran"
        except RuntimeError as exc:
            outcomes[name] = str(exc)
    trainer.join()
    for name, outcome in outcomes.items():
        assert "another thread" in outcome or "training already" in outcome, (name, outcome)
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
            y[:] = 10**6                        # far out of bounds
            y_val[:] = -10**6

    net = fastmlp.MLP([8, 6, 3], seed=0)
    net.fit(X, y, epochs=3, batch_size=16, verbose=0, validation_data=(X[:50], y_val), callbacks=[Vandal()])
    for mine, theirs in zip(net.weights, clean.weights):
        np.testing.assert_array_equal(mine, theirs)
