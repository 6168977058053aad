"""A fit whose optimizer a callback changes between epochs: the next chunk gets a new plan
(fastmlp._plan) and the state buffers the new update needs, and the result is the one two fits
in a row give, the second with the changed optimizer."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastmlp
from fastmlp import SGD
from fastmlp.callbacks import Callback


class ChangeAfterFirstEpoch(Callback):
    def __init__(self, optimizer, **changes):
        super().__init__()
        self.optimizer, self.changes = optimizer, changes

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            for name, value in self.changes.items():
                setattr(self.optimizer, name, value)


def mostly_zero_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.1, 1.0, size=(150, 40)).astype(np.float32)
    X[rng.random(X.shape) < 0.8] = 0.0
    y = np.argmax(X @ rng.normal(size=(40, 3)), axis=1)  # labels to learn
    return X, y


# (optimizer at the start, the change after the first epoch): momentum switched on (a velocity
# buffer appears), Nesterov switched on (the update needs the gradient; sparse inputs leave the
# first layer's columns), and Nesterov switched off again
CHANGES = {
    "momentum_on": (dict(lr=0.01), dict(momentum=0.9)),
    "nesterov_on": (dict(lr=0.01, momentum=0.9), dict(nesterov=True)),
    "nesterov_off": (dict(lr=0.05, momentum=0.9, nesterov=True), dict(nesterov=False)),
}


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_an_optimizer_changed_during_fit_trains_as_two_fits_would(change, batch_size):
    start, changes = CHANGES[change]
    X, y = mostly_zero_data()
    during = fastmlp.MLP([40, 32, 3], seed=1)
    optimizer = SGD(**start)
    during.fit(
        X,
        y,
        epochs=2,
        batch_size=batch_size,
        optimizer=optimizer,
        verbose=0,
        callbacks=[ChangeAfterFirstEpoch(optimizer, **changes)],
    )

    apart = fastmlp.MLP([40, 32, 3], seed=1)
    optimizer = SGD(**start)
    apart.fit(X, y, epochs=1, batch_size=batch_size, optimizer=optimizer, verbose=0)
    for name, value in changes.items():
        setattr(optimizer, name, value)
    apart.fit(X, y, epochs=1, batch_size=batch_size, optimizer=optimizer, verbose=0)

    for mine, theirs in zip(during.weights + during.biases, apart.weights + apart.biases):
        assert_array_equal(mine, theirs)
