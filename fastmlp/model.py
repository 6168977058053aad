"""fastmlp.MLP: the compiled multilayer perceptron.

The model owns one float32 arena holding every weight and bias; ``net.weights[l]`` and
``net.biases[l]`` are NumPy views into it. Gradients and optimizer state are buffers of the same
layout, so an optimizer step is one pass over flat memory and ``copy`` is one memcpy. ``fit``
validates and converts the data once, then hands the compiled loop chunks of minibatches sized
to about a tenth of a second of work; between chunks it updates the progress bar, keeps a
snapshot for divergence recovery and lets Ctrl-C through.
"""

import contextlib
import copy as _copy
import inspect
import json
import math
import os
import sys
import tempfile
import threading
import time
import warnings

import numpy as np

from fastmlp import _dropout, _kernels, _plan, reference
from fastmlp._threads import ThreadTuner, tuner_for
from fastmlp._threads import available as available_threads
from fastmlp._validation import (
    check_choice,
    check_float,
    check_int,
    check_sizes,
    check_targets,
    check_validation_data,
    check_X,
    check_y,
    spread_rows,
    unexpected_keywords,
)
from fastmlp.callbacks import Callback, History, rate_is_logged
from fastmlp.datasets._files import check_regular_file, npy_header, npz_member
from fastmlp.init import initial_parameters, resolve_init
from fastmlp.optim import SGD, Adam

OUTPUTS = ("softmax", "sigmoid", "identity")
LOSSES = ("cross_entropy", "mse", "huber")
FORMAT_VERSION = 1
_CHUNK_SECONDS = 0.1  # work per call into the compiled loop: Ctrl-C answers within this

# fit's advice (UserWarnings), each kind at most once per call
_SCALE_HIGH = 10.0  # max |x| above this: X looks unscaled (pixels 0..255, raw units)
_SCALE_SAMPLE_ROWS = 1024  # rows spread over X that judge it, not a second full pass (which
# took a tenth of a one-epoch MNIST fit)
_AT_CHANCE = 0.99  # an epoch loss above this share of chance is at chance: a network
# stuck on the class frequencies sits a hair below (MNIST: 0.9986)
_CHANCE_STEPS = 100  # updates of this fit before the middle of the epoch, for that warning
_NOT_FALLING = 0.99  # ... and not below this share of the previous epoch's loss
_SMALLEST_SAFE_EPS = 1e-12  # Adam's eps below this, not lr, is the likely cause of a NaN
_GROWTH = 100.0  # an epoch loss this many times the first epoch's: diverging
_GROWTH_FLOOR = 0.1  # ... once it is this share of chance: below, it is a near-perfect fit
# wobbling, not divergence
_ADVICE = r"fit: "  # how every advice message starts


_MAX_INT32 = 2**31 - 1


def _check_size_limits(sizes):
    """The C kernels index a layer with 32-bit ints: refuse what they could not address."""
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if n_in * n_out > _MAX_INT32:
            raise ValueError(
                f"sizes: got a layer of {n_in} x {n_out} weights; expected at most {_MAX_INT32} weights per layer"
            )


class _ParamList(list):
    """The live parameter views: ``net.weights[0] = W`` copies W into the model's arena (refused
    while the model trains, as assigning ``net.weights`` is)."""

    def __init__(self, views, name, owner):
        super().__init__(views)
        self._name, self._owner = name, owner

    def __setitem__(self, index, value):
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"{self._name}: assign one layer at a time, e.g. net.{self._name}[0] = array")
        target = list.__getitem__(self, index)
        self._owner._assign([target], [value], [f"{self._name}[{index}]"], f"{self._name}[{index}]")


class _Use:
    """with net._using(...): a class, not a generator context manager, which cost a one-row predict
    a fifth of its time."""

    __slots__ = ("net", "what", "writes", "callbacks_may", "counted")

    def __init__(self, net, what, writes, callbacks_may):
        self.net, self.what, self.writes, self.callbacks_may = net, what, writes, callbacks_may

    def __enter__(self):
        self.counted = self.net._begin(self.what, self.writes, self.callbacks_may)

    def __exit__(self, *exc):
        if self.counted:
            self.net._end(self.writes)


def _converted(target, value, name):
    """value as a float32 array to copy into the parameter view target, checked."""
    value = np.asarray(value)
    if value.shape != target.shape:
        raise ValueError(f"{name}: got an array of shape {value.shape}; expected shape {target.shape}")
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name}: got an array of dtype {value.dtype}; expected real numbers")
    with np.errstate(over="ignore"):
        value = value.astype(np.float32)  # beyond float32's range becomes inf, caught below
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name}: got NaN, infinite or beyond-float32 values; expected finite numbers")
    return value


class MLP:
    """A multilayer perceptron trained by compiled C kernels.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_features, hidden..., n_classes]``: at least two positive ints.
    activation : {"relu", "leaky_relu", "sigmoid", "tanh"}, default "relu"
        Activation of the hidden layers (leaky_relu has slope 0.01 below zero).
    output : {"softmax", "sigmoid"}, default "softmax"
        Output function.
    loss : {"cross_entropy", "mse", "huber"}, default "cross_entropy"
        ``softmax`` + ``cross_entropy`` is computed fused and stable; ``sigmoid`` +
        ``cross_entropy`` is the per-unit binary cross-entropy; ``mse`` is
        ``0.5 * sum over classes of (out - onehot)**2``. Every loss is averaged over rows.
    init : str or tuple, default "auto"
        ``"auto"`` (He for relu/leaky_relu, Glorot for sigmoid/tanh), ``"he"``, ``"glorot"``
        (alias ``"xavier"``), ``"lecun"``, ``("normal", std)`` or ``("uniform", low, high)``.
        Biases start at zero.
    seed : int or None, default None
        Makes initialisation and shuffling reproducible. ``fastmlp.reference.MLP`` with the
        same seed starts from the same weights and shuffles the same way.
    n_threads : int or None, default None
        The most threads ``fit``, ``predict`` and ``evaluate`` use. None: ``OMP_NUM_THREADS``
        where it is set, else every CPU this process may run on. Results are the same bits
        whatever the count; a settable attribute, not saved with the network.
    dropout : float or sequence of float, default 0.0
        The rate hidden units are dropped at in training, one for every hidden layer or one per
        hidden layer, in [0, 1); kept units are scaled by ``1 / (1 - rate)``, and ``predict`` and
        ``evaluate`` drop nothing. The units dropped follow from the seed and the step alone, so
        a seeded fit gives the same bits on any thread count, and the reference twin drops the same.
    max_norm : float or None, default None
        After every step, each unit's incoming weights (a column of ``weights[l]``) are scaled
        to a norm of at most this, as Keras' ``MaxNorm`` (the dropout paper trains with 3 or 4).
        Networks with dropout or max_norm train in parts, batch size 1 included.

    Attributes
    ----------
    weights : list of ndarray
        float32 C-contiguous ``(n_in, n_out)`` arrays: the live parameters.
    biases : list of ndarray
        float32 ``(n_out,)`` arrays: the live parameters.
    history : History or None
        The history of the last ``fit``.

    Examples
    --------
    >>> import fastmlp
    >>> (X, y), (X_test, y_test) = fastmlp.datasets.load_mnist()
    >>> net = fastmlp.MLP([784, 128, 10], seed=0)
    >>> net.fit(X, y, epochs=3, batch_size=64, optimizer=fastmlp.SGD(lr=0.1, momentum=0.9))
    >>> net.evaluate(X_test, y_test)["accuracy"]  # doctest: +SKIP
    0.975
    """

    def __init__(
        self,
        sizes,
        activation="relu",
        output="softmax",
        loss="cross_entropy",
        init="auto",
        seed=None,
        n_threads=None,
        dropout=0.0,
        max_norm=None,
    ):
        self.sizes = check_sizes(sizes)
        _check_size_limits(self.sizes)
        if len(self.sizes) - 1 > _kernels.MAX_LAYERS:
            raise ValueError(f"sizes: got {len(self.sizes) - 1} weight layers; expected at most {_kernels.MAX_LAYERS}")
        self.activation = check_choice("activation", activation, reference.ACTIVATIONS)
        self.output = check_choice("output", output, OUTPUTS)
        self.loss = check_choice("loss", loss, LOSSES)
        if (self.output, self.loss) not in _kernels.HEADS:
            raise ValueError(
                f"output, loss: got ({output!r}, {loss!r}); expected one of {sorted(_kernels.HEADS)} "
                "(a regression's identity output goes with mse or huber)"
            )
        if self.sizes[-1] < 2 and not self.is_regression:
            raise ValueError(
                f"sizes: got an output layer of {self.sizes[-1]} unit; expected at least 2, "
                "one per class (use 2 outputs for a yes/no problem)"
            )
        self.init = init
        self._init = resolve_init(init, reference.ACTIVATION_FUNCTIONS[self.activation].auto_init)
        if seed is not None:
            seed = check_int("seed", seed, minimum=0)
        self.seed = seed
        self._rate_list = _dropout.layer_rates(dropout, self.sizes)  # by layer, as given
        self._rates = np.array(self._rate_list, dtype=np.float32)  # as the C loop reads them
        self.dropout = dropout
        self.max_norm = None if max_norm is None else check_float("max_norm", max_norm, 0.0, math.inf, low_open=True)
        self.n_threads = n_threads
        self._threads()  # checked now, and again at each call, since it may be set later
        self._rng = np.random.default_rng(seed)
        self._sizes = np.array(self.sizes, dtype=np.int32)
        self._params = _aligned_zeros(_kernels.param_count(self._sizes))
        self._grads = _aligned_zeros(len(self._params))
        self._weights, self._biases = self._views(self._params)
        self._engine = self._new_engine(self._params, self._grads)
        weights, _ = initial_parameters(self.sizes, self._init, self._rng)
        for view, value in zip(self._weights, weights):
            view[...] = value
        self._optimizer = None  # the optimizer object whose state the buffers hold
        self._opt_state = ()
        self._opt_step = 0
        self._chunk_steps = {}  # batch size -> steps per call, adapted to _CHUNK_SECONDS
        self._snapshots = None  # divergence recovery during fit
        self._fit_plan = None  # (plan, workspace) of the fit running
        self._new_locks()
        self.stop_training = False
        self.history = None

    # ---- parameters ----

    def _views(self, arena):
        weights, biases, at = [], [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            weights.append(arena[at : at + n_in * n_out].reshape(n_in, n_out))
            at += n_in * n_out
            biases.append(arena[at : at + n_out])
            at += n_out
        return weights, biases

    @property
    def weights(self):
        return _ParamList(self._weights, "weights", self)

    @weights.setter
    def weights(self, values):
        self._set_all(self._weights, values, "weights")

    @property
    def biases(self):
        return _ParamList(self._biases, "biases", self)

    @biases.setter
    def biases(self, values):
        self._set_all(self._biases, values, "biases")

    def _set_all(self, views, values, name):
        self._refuse_while_fitting(name)
        values = list(values)
        if len(values) != len(views):
            raise ValueError(f"{name}: got {len(values)} arrays; expected {len(views)}, one per layer")
        self._assign(views, values, [f"{name}[{index}]" for index in range(len(views))], name)

    def _assign(self, views, values, names, what):
        """Copy values into the parameter views, all checked first: refused while fit runs, and
        never half done as seen by predict, evaluate or loss_and_gradients in another thread."""
        self._refuse_while_fitting(what)
        arrays = [_converted(view, value, name) for view, value, name in zip(views, values, names)]
        with self._using(what, writes=True):
            for view, array in zip(views, arrays):
                view[...] = array

    @property
    def n_classes(self):
        return self.sizes[-1]

    def _new_engine(self, params, grads):
        """The C view of these parameters, with the network's kinds, dropout and max-norm."""
        engine = _kernels.Network(self._sizes, _kernels.ACTIVATIONS[self.activation], self._head(), params, grads)
        rates = self._rates if self._rates.any() else None
        engine.set_regularisation(rates, _dropout.stream_seed(self.seed), self.max_norm or 0.0)
        return engine

    def _regularised(self):
        """Whether training drops units out or bounds weight norms: both run in parts only."""
        return bool(self._rates.any()) or self.max_norm is not None

    @property
    def is_regression(self):
        """Whether the network predicts values (``output="identity"``, ``loss="mse"`` or ``"huber"``),
        not classes."""
        return self.output == "identity"

    def _checked_targets(self, y, n_samples, name="y", x_name="X"):
        """Class labels (int32), or a regression's float32 targets (n, outputs)."""
        check = check_targets if self.is_regression else check_y
        return check(y, n_samples, self.n_classes, name=name, x_name=x_name)

    def _c_targets(self, targets):
        """Targets as csrc/ reads them: 4-byte words, a row's target_words apart (a label, or the
        float values' bits)."""
        return targets.view(np.int32).reshape(-1) if self.is_regression else targets

    def _head(self):
        return _kernels.HEADS[(self.output, self.loss)]

    def _target_words(self):
        return _kernels.target_words(self._head(), self.n_classes)

    def copy(self):
        """An independent model: same settings, parameters and random state, no shared memory."""
        twin = object.__new__(type(self))  # not copy.copy: that would go through __reduce__, as pickle does
        twin.__dict__.update(self.__dict__)
        twin._params = _aligned_zeros(len(self._params))
        with self._reading("copy"):
            twin._params[...] = self._params
            twin._rng = _copy.deepcopy(self._rng)
        twin._grads = _aligned_zeros(len(self._params))
        twin._weights, twin._biases = twin._views(twin._params)
        twin._engine = twin._new_engine(twin._params, twin._grads)
        twin._engine.steps = self._engine.steps  # the dropout stream goes on where it was
        twin._optimizer, twin._opt_state, twin._opt_step = None, (), 0
        twin._chunk_steps = dict(self._chunk_steps)
        twin._snapshots = None
        twin._new_locks()
        twin.history = None
        return twin

    def _new_locks(self):
        self._fit_lock = threading.Lock()  # held while fit runs: one fit at a time per network
        self._fitting = None  # the thread running fit, while it runs
        # guards _fitting and the calls under way in other threads (see _begin): fit waits for
        # them to end before it starts; reads wait for a write, a write for the reads
        self._guard = threading.Condition(threading.Lock())
        self._readers, self._writing = 0, False
        self._grads_lock = threading.Lock()  # loss_and_gradients in several threads take turns

    def _refuse_while_fitting(self, what, callbacks_may=False):
        """RuntimeError when fit is running on this network: from another thread always (the
        compiled loop is writing the parameters), from fit's own callbacks unless callbacks_may."""
        fitting = self._fitting
        if fitting is None:
            return
        elsewhere = fitting != threading.get_ident()
        if callbacks_may and not elsewhere:
            return
        where = "in another thread" if elsewhere else "and this call comes from one of its callbacks"
        advice = "or on a net.copy() made in one of fit's callbacks" if elsewhere else "or on net.copy()"
        raise RuntimeError(
            f"{what}: this network is training (fit is running {where}); call it after fit returns, {advice}"
        )

    def _begin(self, what, writes=False, callbacks_may=False):
        """Start a call's use of the parameters (in C, without the GIL); _end(writes) ends it
        when this returns True (False: from fit's own callbacks, between chunks, nothing to end).
        Calls use both through _using.

        Refused as by _refuse_while_fitting, decided under the lock fit starts under: no call
        reaches the parameters once fit has started, and fit waits for the ones begun before.
        Reads (writes=False) run together; a write waits for them, and they for it. None of them
        runs the caller's code in between, so each wait is as short as one such call."""
        with self._guard:
            self._refuse_while_fitting(what, callbacks_may)
            while self._fitting is None and self._writing:
                self._guard.wait()
                self._refuse_while_fitting(what, callbacks_may)
            if self._fitting is not None:
                return False
            if not writes:
                self._readers += 1
                return True
            self._writing = True
            try:
                self._guard.wait_for(lambda: not self._readers)
            except BaseException:  # Ctrl-C while waiting: the reads must not wait for this write
                self._writing = False
                self._guard.notify_all()
                raise
            return True

    def _end(self, writes=False):
        with self._guard:
            if writes:
                self._writing = False
            else:
                self._readers -= 1
            if writes or self._writing or self._fitting is not None:  # else no one waits
                self._guard.notify_all()

    def _using(self, what, writes=False, callbacks_may=False):
        """The parameters for one call, between _begin and _end (see _begin)."""
        return _Use(self, what, writes, callbacks_may)

    def _reading(self, what):
        """Read the parameters as predict does: refused from other threads while fit runs, allowed
        from its callbacks, never in the middle of an assignment."""
        return self._using(what, callbacks_may=True)

    def __repr__(self):
        return (
            f"MLP({self.sizes}, activation={self.activation!r}, output={self.output!r}, "
            f"loss={self.loss!r}, init={self.init!r}, seed={self.seed!r}"
            + (f", dropout={self.dropout!r}" if self._rates.any() else "")
            + (f", max_norm={self.max_norm!r}" if self.max_norm is not None else "")
            + ")"
        )

    # ---- inference ----

    def _checked_X(self, X):
        return check_X(X, self.sizes[0])

    def _threads(self):
        """The threads a call may use (n_threads, else the machine's)."""
        if self.n_threads is not None:
            check_int("n_threads", self.n_threads, minimum=1)
        return available_threads(self.n_threads)

    def _planned(self, task, X, batch_size=None, optimizer=None):
        """The plan of a call (fastmlp._plan decides), and a workspace laid out for it."""
        plan = _plan.make_plan(
            task,
            self.sizes,
            self.activation,
            X,
            batch_size,
            optimizer,
            self._threads(),
            self._target_words(),
            self._regularised(),
        )
        return plan, _kernels.Workspace(self._sizes, plan.c_struct(), plan.blas)

    def predict_proba(self, X):
        """The network's outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Any real dtype and memory layout.

        Returns
        -------
        ndarray of float32, shape (n_samples, n_classes)
            Softmax probabilities, or the per-unit sigmoids for ``output="sigmoid"``.
        """
        if self.is_regression:
            raise TypeError(
                "predict_proba: a regression network (output='identity') has no class probabilities; "
                "predict(X) gives its values"
            )
        return self._outputs(X, "predict")  # refusals name the family: predict

    def _outputs(self, X, caller):
        self._refuse_while_fitting(caller, callbacks_may=True)
        X = self._checked_X(X)
        out = np.empty((X.shape[0], self.n_classes), dtype=np.float32)
        plan, workspace = self._planned("infer", X)
        with self._reading(caller):
            self._engine.predict(workspace, X, out, plan.threads)
        return out

    def predict(self, X):
        """Predicted class labels, int64 of shape (n_samples,): the argmax of ``predict_proba``;
        for a regression, its values, float32 of shape (n_samples, n_outputs)."""
        if self.is_regression:
            return self._outputs(X, "predict")
        return np.argmax(self._outputs(X, "predict"), axis=1).astype(np.int64)

    def evaluate(self, X, y):
        """Mean loss and accuracy over X, y; for a regression, the mean loss (half the squared
        error summed over the outputs), ``mse``, ``mae`` and ``r2`` (scikit-learn's ``r2_score``,
        the outputs' average).

        Returns
        -------
        dict
            ``{"loss": float, "accuracy": float}``, or ``{"loss", "mse", "mae", "r2"}``.
        """
        self._refuse_while_fitting("evaluate", callbacks_may=True)
        X = self._checked_X(X)
        y = self._checked_targets(y, X.shape[0])
        if self.is_regression:  # one forward pass: the loss from the values, by the head's definition
            predicted = self._outputs(X, "evaluate")
            loss_sum, _ = _kernels.head_loss(predicted, None, self._c_targets(y), self._head(), 1.0)
            return {"loss": loss_sum / len(X), **reference.regression_scores(predicted, y)}
        plan, workspace = self._planned("infer", X)
        with self._reading("evaluate"):
            loss_sum, correct = self._engine.evaluate(workspace, X, y, plan.threads)
        return {"loss": loss_sum / len(X), "accuracy": correct / len(X)}

    def loss_and_gradients(self, X, y):
        """The mean loss over the rows of X and its gradients, without changing the model.

        Returns
        -------
        loss : float
        gradients : list of (dW, db)
            float32 arrays shaped like ``weights[l]`` and ``biases[l]``.
        """
        self._refuse_while_fitting("loss_and_gradients")
        X = self._checked_X(X)
        y = self._c_targets(self._checked_targets(y, X.shape[0]))
        _, workspace = self._planned("gradients", X)
        # the gradients buffer is the network's: one call fills it at a time, and copies it out
        # before its end, since a fit starting then writes the same buffer
        with self._grads_lock, self._using("loss_and_gradients"):
            loss = self._engine.loss_and_gradients(workspace, X, y)
            grad_w, grad_b = self._views(self._grads)
            return loss, [(dW.copy(), db.copy()) for dW, db in zip(grad_w, grad_b)]

    # ---- training ----

    @property
    def optimizer(self):
        """The optimizer of the running or the last ``fit`` (None before the first): callbacks
        read and set its ``lr`` here, as with Keras' ``model.optimizer``."""
        return self._optimizer

    def _attach_optimizer(self, optimizer):
        """Reuse the optimizer's state when the same object trains again; else start fresh.

        The buffers needed follow the optimizer's settings now, which may have been changed
        since the last fit (``opt.momentum = 0.9``): then the velocity starts at zero."""
        if isinstance(optimizer, Adam):
            needed = 2
        else:
            needed = 1 if optimizer.momentum > 0 or optimizer.weight_decay > 0 else 0
        if optimizer is self._optimizer and len(self._opt_state) == needed:
            return
        self._optimizer = optimizer
        self._opt_step = 0
        self._opt_state = tuple(_aligned_zeros(len(self._params)) for _ in range(needed))
        self._engine.set_state(*self._opt_state)

    def _reset_optimizer_state(self):
        for buffer in self._opt_state:
            buffer[...] = 0.0
        self._opt_step = 0

    def fit(
        self,
        X,
        y,
        epochs=1,
        batch_size=32,
        optimizer=None,
        shuffle=True,
        validation_data=None,
        validation_split=0.0,
        verbose=1,
        callbacks=None,
        **unexpected,
    ):
        """Train from the current parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Any real dtype and memory layout; converted to float32 once.
        y : array-like of shape (n_samples,)
            Integer class labels in ``[0, n_classes)``.
        epochs : int, default 1
        batch_size : int, default 32
            Rows per update; ``batch_size=1`` is per-sample SGD and ``len(X)`` full-batch
            gradient descent. The last batch of an epoch may be smaller.
        optimizer : SGD or Adam, default None
            None means ``SGD(lr=0.1)``. Passing the same object again continues its momentum.
        shuffle : bool, default True
            Shuffle the rows each epoch (with the model's seeded generator).
        validation_data : (X_val, y_val), optional
        validation_split : float, default 0.0
            Fraction of the rows, taken from the end before shuffling, held out for validation.
        verbose : {0, 1, 2}, default 1
            0 silent; 1 a progress bar per epoch where stderr is a terminal, with the loss and
            accuracy (and the validation's, once the epoch ends), else as 2; 2 one line per
            epoch on stdout, for logs, pipes and CI.
        callbacks : list of Callback, optional
        **unexpected
            None is taken: an unknown keyword raises TypeError saying where its value goes
            (``lr=0.1`` into ``optimizer=fastmlp.SGD(lr=0.1)``).

        Returns
        -------
        History
            ``history.history`` maps loss, accuracy (and val_loss, val_accuracy) to per-epoch lists.

        Raises
        ------
        FloatingPointError
            When the loss turns NaN or infinite; the parameters are restored to the last finite
            ones first, so the model stays usable.
        RuntimeError
            When this network is training already: a second ``fit`` from another thread or from
            a callback is refused, and so, while ``fit`` runs, are ``loss_and_gradients`` and
            assigning ``weights`` or ``biases`` (or one layer of them). ``predict`` and
            ``evaluate`` work from fit's callbacks (the parameters are consistent between chunks)
            and are refused from other threads (the compiled loop is writing them); such calls
            begun before ``fit`` end before it starts. So are ``copy``, ``save`` and pickling: a
            callback's ``net.copy()`` is a network other threads can use while ``fit`` runs.

        Warns
        -----
        UserWarning
            Each of these at most once per call, pointing at the line that called ``fit``:

            - X looks unscaled: some ``|x|`` exceeds 10 (judged on about a thousand rows spread
              over X). Whole numbers in 0..255 are taken for pixels (divide by 255); other
              features should be standardised, ``(X - mean) / std``.
            - The network is not learning: an epoch's loss is still at chance (within 1%) or
              above it, and no longer falling by 1% an epoch, once at least half of the epoch's
              batches were trained after the first 100 updates of this call. Chance is the loss
              of all-zero logits: ``ln(n_classes)`` for softmax + cross_entropy.
            - The loss is diverging: an epoch's loss is a hundred times the first epoch's (and
              at least a tenth of chance).

            ``fastmlp.doctor(net, X, y, optimizer=...)`` finds out why. Silence them with
            ``warnings.filterwarnings("ignore", message="fit: ", category=UserWarning)``.
        """
        if unexpected:
            named = inspect.signature(MLP.fit).parameters
            raise unexpected_keywords("fit", unexpected, [name for name in named if name not in ("self", "unexpected")])
        if not self._fit_lock.acquire(blocking=False):
            self._refuse_while_fitting("fit")
            raise RuntimeError(
                "fit: this network is training already (in another thread, or this call comes "
                "from one of its callbacks); call fit after it returns, or on net.copy()"
            )
        try:
            # from here on other threads' calls are refused; the ones begun before end first (_begin)
            with self._guard:
                self._fitting = threading.get_ident()
                self._guard.wait_for(lambda: not self._readers and not self._writing)
            return self._fit(
                X, y, epochs, batch_size, optimizer, shuffle, validation_data, validation_split, verbose, callbacks
            )
        finally:
            with self._guard:
                self._fitting = None
            self._fit_lock.release()

    def _fit(self, X, y, epochs, batch_size, optimizer, shuffle, validation_data, validation_split, verbose, callbacks):
        X = self._checked_X(X)
        y = self._checked_targets(y, X.shape[0])
        epochs = check_int("epochs", epochs, minimum=0)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        optimizer = SGD() if optimizer is None else optimizer
        if not isinstance(optimizer, (SGD, Adam)):
            raise TypeError(f"optimizer: got {optimizer!r}; expected fastmlp.SGD(...) or fastmlp.Adam(...)")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle: got {shuffle!r}; expected True or False")
        if not isinstance(verbose, (int, np.integer)) or isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError(f"verbose: got {verbose!r}; expected 0, 1 or 2")
        callbacks = self._checked_callbacks(callbacks)
        _warn_if_unscaled(X)
        X, y, validation = self._split_validation(X, y, validation_data, validation_split)
        batch_size = min(batch_size, len(X))
        self._attach_optimizer(optimizer)

        history = History()
        self.history = history
        callbacks = [history] + callbacks
        for callback in callbacks:
            callback.set_model(self)
        self.stop_training = False
        for callback in callbacks:
            callback.on_train_begin({})
        plan, workspace = self._fit_plan = self._planned("fit", X, batch_size, optimizer)
        self._snapshots = (self._params.copy(), self._params.copy())
        self._thread_tuner = (
            tuner_for((plan.sizes, plan.rows, plan.sparse_inputs), plan.threads) if plan.parts > 1 else ThreadTuner(1)
        )
        try:
            self._run_epochs(X, y, epochs, batch_size, shuffle, validation, optimizer, verbose, callbacks)
        finally:
            self._fit_plan = None  # the workspace's memory goes with it
        for callback in callbacks:
            callback.on_train_end({})
        return history

    def _run_epochs(self, X, y, epochs, batch_size, shuffle, validation, optimizer, verbose, callbacks):
        chance = _chance_loss(self.output, self.loss, self.n_classes, y)
        steps_per_epoch = -(-len(X) // batch_size)
        losses, warned = [], set()
        bar = verbose == 1 and _on_a_terminal(sys.stderr)  # else a line per epoch: a log, a pipe, CI
        for epoch in range(epochs):
            optimizer.start_epoch(epoch)  # its schedule's rate, where lr is one
            for callback in callbacks:
                callback.on_epoch_begin(epoch, {})
            rate = optimizer.lr
            order = self._rng.permutation(len(X)) if shuffle else None
            progress = _progress_bar(len(X), epoch, epochs) if bar else None
            try:
                logs = self._train_epoch(X, y, order, batch_size, optimizer, epoch, progress)
                if validation is not None:
                    val = self.evaluate(*validation)
                    logs["val_loss"] = val["loss"]
                    if not self.is_regression:
                        logs["val_accuracy"] = val["accuracy"]
                if progress is not None:
                    progress.set_postfix({k: f"{v:.4f}" for k, v in logs.items()})
            finally:
                if progress is not None:
                    progress.close()
            if rate_is_logged(optimizer, callbacks):
                logs["learning_rate"] = rate
            losses.append(logs["loss"])
            for kind, message in _loss_advice(losses, steps_per_epoch, chance, optimizer.lr, warned):
                warned.add(kind)
                warnings.warn(message, UserWarning, stacklevel=4)  # at the line calling fit (fit, _fit, here)
            if verbose and not bar:
                print(
                    f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()), flush=True
                )
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if self.stop_training:
                break

    @staticmethod
    def _checked_callbacks(callbacks):
        if callbacks is None:
            return []
        if isinstance(callbacks, Callback):
            return [callbacks]
        callbacks = list(callbacks)
        for callback in callbacks:
            if isinstance(callback, type) and issubclass(callback, Callback):
                raise TypeError(
                    f"callbacks: got the class {callback.__name__} itself; expected an instance, "
                    f"{callback.__name__}(...)"
                )
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks: got {callback!r}; expected instances of fastmlp.callbacks.Callback")
        return callbacks

    def _split_validation(self, X, y, validation_data, validation_split):
        validation_split = check_float("validation_split", validation_split, 0.0, 1.0, high_open=True)
        if validation_data is not None:
            check = check_targets if self.is_regression else None
            return X, y, check_validation_data(validation_data, self.sizes[0], self.n_classes, check)
        if validation_split == 0.0:
            return X, y, None
        n_val = int(len(X) * validation_split)
        if n_val == 0 or n_val == len(X):
            raise ValueError(
                f"validation_split: got {validation_split} of {len(X)} rows, which leaves "
                f"{n_val} rows for validation; expected a split leaving rows on both sides"
            )
        cut = len(X) - n_val
        return X[:cut], y[:cut], (X[cut:], y[cut:])

    def _train_epoch(self, X, y, order, batch_size, optimizer, epoch, progress):
        n_batches = -(-len(X) // batch_size)
        loss_sum, correct, rows, batch = 0.0, 0, 0, 0
        targets = self._c_targets(y)
        stepped = None  # the workspace of the chunk before in this epoch: callbacks run between epochs
        while batch < n_batches:
            plan, workspace = self._fit_plan_for(optimizer, X, batch_size)
            threads, steps = self._thread_tuner.chunk(self._chunk_length(plan))
            steps = min(steps, n_batches - batch)
            started = time.perf_counter()
            (status, chunk_loss, chunk_correct, chunk_rows, done, self._opt_step, threads_run) = (
                self._engine.train_chunk(
                    _optimizer_struct(optimizer, self._opt_step),
                    workspace,
                    X,
                    targets,
                    order,
                    batch,
                    steps,
                    loss_sum,
                    threads,
                    weights_unchanged=workspace is stepped,
                )
            )
            stepped = workspace
            seconds = time.perf_counter() - started
            self._adapt_chunk(batch_size, done, seconds)
            self._thread_tuner.record(threads_run, chunk_rows, seconds)
            # the loss is summed in C across chunks, so chunk boundaries never change it
            loss_sum, correct, rows = chunk_loss, correct + chunk_correct, rows + chunk_rows
            batch += done
            if status != _kernels.STATUS_OK or not _kernels.all_finite(self._params):
                self._diverged(optimizer, epoch, batch, steps_done=done)
            self._take_snapshot()
            if progress is not None:
                progress.update(chunk_rows)
                progress.set_postfix({k: f"{v:.4f}" for k, v in self._epoch_logs(loss_sum, correct, rows).items()})
        return self._epoch_logs(loss_sum, correct, rows)

    def _epoch_logs(self, loss_sum, correct, rows):
        if self.is_regression:
            return {"loss": loss_sum / rows}
        return {"loss": loss_sum / rows, "accuracy": correct / rows}

    def _fit_plan_for(self, optimizer, X, batch_size):
        """The fit's plan and workspace, planned again when a callback changed how the optimizer
        steps (momentum from 0, Nesterov on or off): its state buffers then start at zero."""
        plan, _ = self._fit_plan
        if _plan.update_rule(optimizer) != plan.update:
            self._attach_optimizer(optimizer)
            self._fit_plan = self._planned("fit", X, batch_size, optimizer)
        return self._fit_plan

    def _chunk_length(self, plan):
        """Steps for the next call into C: the plan's where they must not depend on timing (batch
        1), else about _CHUNK_SECONDS of them, as timed."""
        if plan.fixed_chunk_steps:
            return plan.fixed_chunk_steps
        return self._chunk_steps.get(plan.rows) or self._first_chunk(plan.rows)

    def _first_chunk(self, batch_size):
        flops = 6.0 * batch_size * sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        return max(1, int(2e9 * _CHUNK_SECONDS / flops))

    def _adapt_chunk(self, batch_size, steps, seconds):
        if steps > 0:
            rate = steps / max(seconds, 1e-6)
            self._chunk_steps[batch_size] = max(1, int(rate * _CHUNK_SECONDS))

    def _take_snapshot(self):
        """Keep the parameters at this return from the compiled loop, and the ones before.

        Each snapshot's parameters gave a finite loss on the next chunk's first batch, unless
        that chunk failed at once; then the one before is the last known good state."""
        self._snapshots = (self._snapshots[1], self._snapshots[0])
        np.copyto(self._snapshots[0], self._params)

    def _diverged(self, optimizer, epoch, batch, steps_done):
        latest, previous = self._snapshots
        np.copyto(self._params, latest if steps_done > 0 else previous)
        self._reset_optimizer_state()
        raise FloatingPointError(
            f"fit: the loss became NaN or infinite at epoch {epoch + 1}, batch {batch + 1}; the parameters "
            f"were restored to the last finite values. {_divergence_advice(optimizer)}; check that the inputs "
            "are scaled (e.g. pixels / 255), or run fastmlp.doctor(net, X, y)."
        )

    # ---- files ----

    def to_onnx(self, path):
        """Write the network as an ONNX model (needs ``pip install "fastmlp[onnx]"``).

        The graph takes input ``"X"`` (float32, ``[N, n_features]``) through Gemm and activation
        nodes to ``"probabilities"`` (Softmax or Sigmoid), which under onnxruntime equals
        ``predict_proba`` within 1e-5, and ``"label"`` (int64 argmax). Returns the path written.
        """
        from fastmlp.onnx import export

        return export(self, path)

    def __reduce__(self):
        """pickle and copy.deepcopy carry the network's settings and parameters, as ``save`` does;
        ``net.copy()`` also keeps the optimizer state and the generator."""
        with self._reading("pickle"):
            return _unpickle, (self._metadata(), np.array(self._params, copy=True))

    def _metadata(self):
        return {
            "format": "fastmlp",
            "version": FORMAT_VERSION,
            "sizes": self.sizes,
            "activation": self.activation,
            "output": self.output,
            "loss": self.loss,
            "init": list(self.init) if isinstance(self.init, tuple) else self.init,
            "seed": self.seed,
            "dropout": self._rate_list[1:-1],
            "max_norm": self.max_norm,
        }

    def save(self, path):
        """Save the model as ``.npz`` (parameters plus JSON metadata), readable with allow_pickle=False.

        The file is written beside its destination and renamed into place, so an interrupted
        save never leaves a truncated model behind. ``.npz`` is appended when missing.
        """
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError(f"path: got {path!r}; expected a file path (str or os.PathLike)")
        path = os.fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not path.endswith(".npz"):
            path += ".npz"
        with self._reading("save"):
            params = np.array(self._params, copy=True)
        weights, biases = self._views(params)
        for name, array in zip(
            (f"{kind}{layer}" for layer in range(1, len(weights) + 1) for kind in "Wb"),
            (a for pair in zip(weights, biases) for a in pair),
        ):
            if not np.all(np.isfinite(array)):
                raise ValueError(
                    f"save: parameter {name} holds {int(np.count_nonzero(~np.isfinite(array)))} "
                    "non-finite values (NaN or Inf); expected finite parameters, which load can read"
                )
        directory = os.path.dirname(os.path.abspath(path))
        handle, temporary = tempfile.mkstemp(suffix=".npz", dir=directory)
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, params=params, metadata=np.array(json.dumps(self._metadata())))
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise
        return path


def _optimizer_struct(optimizer, step):
    """The optimizer as the fields of csrc's fm_optimizer, which Cython makes into the struct."""
    adam = isinstance(optimizer, Adam)
    return {
        "kind": _kernels.OPTIMIZER_KINDS["adam" if adam else "sgd"],
        "lr": optimizer.lr,
        "momentum": 0.0 if adam else optimizer.momentum,
        "weight_decay": optimizer.weight_decay,
        "nesterov": 0 if adam else int(optimizer.nesterov),
        "beta1": optimizer.beta1 if adam else 0.9,
        "beta2": optimizer.beta2 if adam else 0.999,
        "eps": optimizer.eps if adam else 1e-8,
        "step": step,
    }


def _divergence_advice(optimizer):
    """What to change first: Adam's eps when it is so small that a step, m / (sqrt(v) + eps), can
    divide a small gradient by almost nothing; else the learning rate."""
    eps = getattr(optimizer, "eps", None)
    if eps is not None and eps < _SMALLEST_SAFE_EPS:
        return (
            f"Adam's eps={eps} is tiny, and where gradients are small its steps divide by about eps: "
            f"try eps=1e-8 (the default), then a lower learning rate than lr={optimizer.lr}"
        )
    return f"Try a lower learning rate than lr={optimizer.lr}"


def _aligned_zeros(count):
    """float32 zeros (count,) starting on a 64-byte cache line: a layer whose rows are whole lines
    keeps them whole (AVX-512 loads in csrc/ never straddle two); NumPy only promises 16 bytes."""
    lines = np.zeros(count + 16, dtype=np.float32)
    skip = (-lines.ctypes.data % 64) // 4
    return lines[skip : skip + count]


def _chance_loss(output, loss, n_classes, targets=None):
    """The loss of a network whose logits are all zero: what an untrained network should show;
    for a regression, that of predicting each output's mean."""
    if output == "identity":  # predicting each output's mean, by the loss's one definition (loss.c)
        means = np.empty_like(targets)
        means[...] = targets.mean(axis=0)
        total, _ = _kernels.head_loss(
            means, None, targets.view(np.int32).reshape(-1), _kernels.HEADS[(output, loss)], 1.0
        )
        return total / len(targets)
    if output == "softmax" and loss == "cross_entropy":
        return math.log(n_classes)
    if output == "sigmoid" and loss == "cross_entropy":
        return n_classes * math.log(2.0)
    if output == "sigmoid":  # mse with every output at 0.5
        return 0.125 * n_classes
    return 0.5 * (1 - 1 / n_classes)  # softmax + mse with every output at 1/k


def _looks_like_pixels(X, low, high):
    """Whole numbers reaching past 127 within 0..255 (small whole numbers, like 0..16, are counts)."""
    return low >= 0 and 127 < high <= 255 and np.array_equal(X, np.rint(X))


_COLUMN_ROWS = 20  # rows enough for a column's median to say what its values are like
_MEDIAN_ROWS = 256  # rows the medians are taken on (1024 took 8.5 ms on MNIST's 784 columns)


def _unscaled_inputs(X):
    """How the rows X are unscaled: ("pixels", max), ("feature", column, median |x|), or None.

    Whole numbers in 128..255 are pixels. Otherwise a feature is unscaled when its typical value,
    the median |x| over the rows, passes _SCALE_HIGH: a standardised feature reaches past it in a
    rare row (a pixel lit in one image of a hundred), and that is what standardising is meant to
    give, not a reason to warn. With few rows the median is taken over all their values.
    """
    if X.size == 0:
        return None
    low, high = float(X.min()), float(X.max())
    if max(high, -low) <= _SCALE_HIGH:
        return None
    if _looks_like_pixels(X, low, high):
        return "pixels", high
    magnitude = np.abs(X)
    if len(X) < _COLUMN_ROWS:
        typical = float(np.median(magnitude))
        return ("feature", None, typical) if typical > _SCALE_HIGH else None
    medians = np.median(spread_rows(magnitude, _MEDIAN_ROWS), axis=0)
    column = int(np.argmax(medians))
    return ("feature", column, float(medians[column])) if medians[column] > _SCALE_HIGH else None


def _describe_unscaled(found):
    """(what was measured, the fix) for what _unscaled_inputs found."""
    if found[0] == "pixels":
        return f"X reaches {found[1]:.4g}: raw 0..255 pixels", "divide by 255 (X = X / 255.0)"
    column = "" if found[1] is None else f" of feature {found[1]}"
    return (
        f"the typical value{column} is {found[2]:.4g} (the median |x|)",
        "X = (X - mean) / std, with the training set's mean and std for each feature",
    )


def _warn_if_unscaled(X):
    """fit's warning when X (float32, checked) looks unscaled, judged on a sample of rows."""
    found = _unscaled_inputs(spread_rows(X, _SCALE_SAMPLE_ROWS))
    if found is None:
        return
    measured, fix = _describe_unscaled(found)
    warnings.warn(
        f"fit: {measured}; a network trains best on inputs of order 1: {fix}", UserWarning, stacklevel=4
    )  # at the line calling fit (fit, _fit, here)


def _loss_advice(losses, steps_per_epoch, chance, lr, warned):
    """fit's warnings after an epoch, as (kind, message) pairs: losses are this fit's epoch losses
    so far, warned the kinds given already. A diverging loss is also above chance: one warning says it."""
    epoch, loss = len(losses), losses[-1]
    if "growth" in warned:
        return []
    if loss >= _GROWTH * losses[0] and loss >= _GROWTH_FLOOR * chance:
        return [
            (
                "growth",
                f"fit: the training loss grew a hundredfold, from {losses[0]:.4g} in epoch 1 to "
                f"{loss:.4g} in epoch {epoch}: training is diverging. A lower learning rate than "
                f"lr={lr:g} often helps; fastmlp.doctor(net, X, y, optimizer=...) finds out why.",
            )
        ]
    # An epoch's loss averages its batches as they were trained. Once half of them came after the
    # first _CHANCE_STEPS updates, a working setup has that average clearly below chance, unless it
    # started far above it and is still coming down (Adam at lr=1e-3 on iris: 135 updates).
    trained = (epoch - 0.5) * steps_per_epoch >= _CHANCE_STEPS
    falling = epoch > 1 and loss < _NOT_FALLING * losses[-2]
    if "chance" not in warned and trained and not falling and loss >= _AT_CHANCE * chance:
        return [
            (
                "chance",
                f"fit: the training loss is {loss:.4g} in epoch {epoch}, after "
                f"{epoch * steps_per_epoch} updates: no better than chance ({chance:.4g}, the "
                "loss of all-zero logits). The network is not learning; "
                "fastmlp.doctor(net, X, y, optimizer=...) finds out why.",
            )
        ]
    return []


@contextlib.contextmanager
def _advice_silenced():
    """Silence fit's advice: for callers that train on the user's behalf and report their own way
    (the scikit-learn wrapper, doctor)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_ADVICE, category=UserWarning)
        yield


def _on_a_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False


def _progress_bar(total, epoch, epochs):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"Epoch {epoch + 1}/{epochs}", unit=" rows", leave=True, dynamic_ncols=True)


def _from_metadata(metadata):
    """A network with the settings save wrote (its parameters still the initial ones)."""
    init = metadata.get("init", "auto")
    return MLP(
        metadata["sizes"],
        metadata["activation"],
        metadata["output"],
        metadata["loss"],
        tuple(init) if isinstance(init, list) else init,
        metadata.get("seed"),
        dropout=metadata.get("dropout", 0.0),
        max_norm=metadata.get("max_norm"),
    )


def _unpickle(metadata, params):
    net = _from_metadata(metadata)
    net._params[...] = params
    return net


_MAX_METADATA_BYTES = 1 << 20  # a model's JSON metadata is a few hundred bytes


def load(path):
    """Load a model written by ``MLP.save``.

    Raises
    ------
    ValueError
        If the file is not a fastmlp model, or is truncated or corrupt.
    OSError
        If it cannot be read.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: got {path!r}; expected a file path (str or os.PathLike)")
    path = os.fspath(path)
    try:
        check_regular_file(path)
        with np.load(path, allow_pickle=False) as archive:
            if set(archive.files) != {"params", "metadata"}:
                raise ValueError(f"holds {sorted(archive.files)}, not the arrays a fastmlp model has")
            shape, dtype = npy_header(archive, "metadata")
            if shape != () or dtype.kind != "U" or dtype.itemsize > _MAX_METADATA_BYTES:
                raise ValueError(f"its metadata is {shape} {dtype}, not a short JSON string")
            metadata = json.loads(str(npz_member(archive, "metadata")))
            params_shape, params_dtype = npy_header(archive, "params")
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"load: {path!r} is not a readable fastmlp model file ({exc})") from exc
    except ValueError as exc:
        raise ValueError(f"load: {path!r} is not a valid fastmlp model file: {exc}") from exc
    except Exception as exc:  # zipfile.BadZipFile, json errors and the like from a corrupt file
        raise ValueError(f"load: {path!r} is not a valid fastmlp model file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(metadata, dict) or metadata.get("format") != "fastmlp":
        raise ValueError(f"load: {path!r} is not a fastmlp model file (no fastmlp metadata)")
    if metadata.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"load: {path!r} has format version {metadata.get('version')!r}; "
            f"this fastmlp reads version {FORMAT_VERSION}"
        )
    try:
        sizes = check_sizes(metadata["sizes"])
        _check_size_limits(sizes)
        expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"load: {path!r} has invalid model metadata: {exc}") from exc
    # checked on the header, before the data are read and the network is built and allocated
    if params_shape != (expected,) or params_dtype != np.float32:
        raise ValueError(
            f"load: {path!r} holds {params_shape} {params_dtype} parameters; the network {sizes} "
            f"needs ({expected},) float32"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            params = npz_member(archive, "params")
    except Exception as exc:  # noqa: BLE001 -- a corrupt data stream behind a valid header
        raise ValueError(f"load: {path!r} is not a valid fastmlp model file ({type(exc).__name__}: {exc})") from exc
    try:
        net = _from_metadata(metadata)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"load: {path!r} has invalid model metadata: {exc}") from exc
    if not np.isfinite(params).all():
        raise ValueError(f"load: {path!r} holds non-finite parameters")
    net._params[...] = params
    return net
