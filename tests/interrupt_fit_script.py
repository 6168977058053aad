"""Run by tests/test_reliability.py in a subprocess: a long fit that the parent interrupts with SIGINT.

Usage: python interrupt_fit_script.py MODE MARKER SIGNAL_TIME_FILE

MODE "long": one epoch lasts several seconds (batch_size=1 on all of MNIST), so the signal lands in
the middle of the first epoch. MODE "short": epochs are short, so several complete before it.

The script writes MARKER once training is under way, then waits for KeyboardInterrupt. The parent
writes the wall-clock time at which it sends SIGINT into SIGNAL_TIME_FILE just before sending it.
On catching the interrupt the script checks the model and prints one JSON line; any other outcome
exits non-zero.
"""

import json
import sys
import time

import numpy as np

import fastmlp
from fastmlp.callbacks import Callback
from fastmlp.datasets import MNIST_DIR, load_mnist


class Tracker(Callback):
    """Writes the marker when training starts and counts the epochs that complete."""

    def __init__(self, marker):
        self.marker = marker
        self.completed = 0

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 0:
            with open(self.marker, "w") as f:
                f.write("started")

    def on_epoch_end(self, epoch, logs=None):
        self.completed += 1


def main():
    mode, marker, signal_file = sys.argv[1:4]
    (X, y), (X_test, y_test) = load_mnist(MNIST_DIR)
    if mode == "long":
        sizes, epochs = [784, 512, 10], 10
    else:
        sizes, epochs = [784, 32, 10], 100_000
        X, y = X[:1000], y[:1000]
    net = fastmlp.MLP(sizes, seed=0)
    initial = [w.copy() for w in net.weights]
    tracker = Tracker(marker)
    try:
        net.fit(X, y, epochs=epochs, batch_size=1, optimizer=fastmlp.SGD(lr=0.01), verbose=0, callbacks=[tracker])
    except KeyboardInterrupt:
        caught = time.time()
    else:
        print(json.dumps({"error": "fit finished without KeyboardInterrupt"}))
        sys.exit(3)
    with open(signal_file) as f:
        sent = float(f.read())
    finite = all(np.isfinite(a).all() for a in net.weights + net.biases)
    trained = any(not np.array_equal(a, b) for a, b in zip(net.weights, initial))
    history_len = len(net.history.history.get("loss", [])) if net.history is not None else -1
    predictions = net.predict(X_test[:100])
    loss, _ = net.loss_and_gradients(X_test[:100], y_test[:100])
    # The model keeps training after the interruption.
    net.fit(X_test[:200], y_test[:200], epochs=1, batch_size=20, verbose=0)
    print(
        json.dumps(
            {
                "latency": caught - sent,
                "finite": bool(finite),
                "trained": bool(trained),
                "history_len": history_len,
                "completed": tracker.completed,
                "predict_ok": bool(predictions.shape == (100,) and 0 <= predictions.min() and predictions.max() < 10),
                "loss_finite": bool(np.isfinite(loss)),
                "after_fit_finite": bool(all(np.isfinite(a).all() for a in net.weights + net.biases)),
            }
        )
    )


if __name__ == "__main__":
    main()
