"""Shared fixtures: the bundled MNIST, loaded once per test session."""

import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_DIR = os.path.join(REPO, "data", "mnist")


@pytest.fixture(scope="session")
def mnist():
    """``((X_train, y_train), (X_test, y_test))`` from data/mnist, via fastmlp.datasets."""
    if not os.path.isdir(MNIST_DIR):
        pytest.skip("data/mnist is not present")
    from fastmlp.datasets import load_mnist

    return load_mnist(MNIST_DIR)
