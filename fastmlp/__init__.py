"""fastmlp: a fast multilayer perceptron for the CPU, with a plain NumPy twin to learn from.

>>> import fastmlp
>>> (X, y), (X_test, y_test) = fastmlp.datasets.load_mnist()
>>> net = fastmlp.MLP([784, 128, 10], seed=0)
>>> history = net.fit(X, y, epochs=3, batch_size=64, optimizer=fastmlp.SGD(lr=0.1, momentum=0.9))
"""

try:
    from fastmlp import _kernels  # noqa: F401  (the compiled extension everything below needs)
except ImportError as _exc:
    from fastmlp._source_folder import missing_extension

    raise ImportError(missing_extension(_exc)) from _exc

from fastmlp import callbacks, datasets, diagnostics, reference, schedules  # noqa: E402
from fastmlp.diagnostics import check_backprop, diagnose, doctor, gradcheck  # noqa: E402
from fastmlp.model import MLP, load  # noqa: E402
from fastmlp.optim import SGD, Adam  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "load",
    "diagnose",
    "doctor",
    "gradcheck",
    "check_backprop",
    "callbacks",
    "datasets",
    "diagnostics",
    "reference",
    "schedules",
]
