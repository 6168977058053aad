"""Real MNIST, from the bundled data/mnist: the headline result and short sanity runs."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastmlp
from fastmlp import SGD, Adam, reference

pytestmark = pytest.mark.slow


def test_mnist_784_128_10_reaches_97_percent(mnist):
    (X, y), (X_test, y_test) = mnist
    assert X.shape == (60000, 784) and X_test.shape == (10000, 784)
    net = fastmlp.MLP([784, 128, 10], activation="relu", seed=0)
    history = net.fit(X, y, epochs=3, batch_size=64, optimizer=SGD(lr=0.1, momentum=0.9), verbose=0)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][2] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.97
    scores = net.evaluate(X_test, y_test)
    assert scores["accuracy"] >= 0.97, scores
    assert scores["loss"] < 0.12, scores
    assert np.mean(net.predict(X_test) == y_test) == pytest.approx(scores["accuracy"])


def test_mnist_full_batch_gradient_descent(mnist):
    (X, y), (X_test, y_test) = mnist
    X, y = X[:3000], y[:3000]
    net = fastmlp.MLP([784, 32, 10], seed=0)
    history = net.fit(X, y, epochs=30, batch_size=len(X), optimizer=Adam(lr=0.01), verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert net.evaluate(X_test[:2000], y_test[:2000])["accuracy"] >= 0.85


def test_mnist_batch_one_sgd(mnist):
    (X, y), (X_test, y_test) = mnist
    net = fastmlp.MLP([784, 32, 10], seed=0)
    net.fit(X[:10000], y[:10000], epochs=1, batch_size=1, optimizer=SGD(lr=0.01), verbose=0)
    assert net.evaluate(X_test[:2000], y_test[:2000])["accuracy"] >= 0.85


@pytest.mark.parametrize("batch_size, rows, epochs", [(1, 60, 1), (64, 256, 1), (256, 256, 5)])
def test_mnist_steps_follow_reference(mnist, batch_size, rows, epochs):
    # Real images are mostly zeros: this exercises the paths that skip zero inputs.
    (X, y), _ = mnist
    X, y = X[:rows], y[:rows]
    net = fastmlp.MLP([784, 32, 10], seed=1)
    ref = reference.MLP([784, 32, 10], seed=1, dtype=np.float64)
    for target, source in zip(ref.weights + ref.biases, net.weights + net.biases):
        target[...] = source
    h_c = net.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=SGD(lr=0.1, momentum=0.9), verbose=0)
    h_r = ref.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=SGD(lr=0.1, momentum=0.9), verbose=0)
    for layer in range(2):
        assert_allclose(net.weights[layer], ref.weights[layer], rtol=1e-3, atol=1e-4)
        assert_allclose(net.biases[layer], ref.biases[layer], rtol=1e-3, atol=1e-4)
    assert_allclose(h_c.history["loss"], h_r.history["loss"], rtol=1e-3)
