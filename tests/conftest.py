"""Shared fixtures: the MNIST that ships inside fastmlp, loaded once per test session."""

import pytest


@pytest.fixture(scope="session")
def mnist():
    """``((X_train, y_train), (X_test, y_test))`` from fastmlp.datasets.MNIST_DIR."""
    from fastmlp.datasets import MNIST_DIR, load_mnist

    return load_mnist(MNIST_DIR)
