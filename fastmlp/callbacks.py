"""Training callbacks, in the shape Keras users know.

A callback's hooks receive ``logs``, a dict of the epoch's metrics (``loss``, ``accuracy`` and,
with validation data, ``val_loss``, ``val_accuracy``). ``self.model`` is the network being
trained; setting ``self.model.stop_training = True`` ends ``fit`` after the current epoch.
"""

import math
import os

from ._validation import check_choice, check_float, check_int
from .schedules import Schedule


class Callback:
    """Base class: override the hooks you need."""

    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


def rate_is_logged(optimizer, callbacks):
    """Whether fit adds the epoch's ``learning_rate`` to its logs: where the rate may change from
    one epoch to the next (a schedule, or a callback that sets it)."""
    return optimizer.schedule is not None or any(getattr(c, "sets_learning_rate", False) for c in callbacks)


class History(Callback):
    """What ``fit`` returns: ``history`` maps each metric name to its list of per-epoch values.

    Attributes
    ----------
    history : dict of str to list of float
        ``loss`` and ``accuracy`` for the training data (averaged over the epoch's minibatches,
        as measured before each update), and ``val_loss``, ``val_accuracy`` when there is
        validation data.
    epoch : list of int
        The index of each completed epoch.
    """

    def __init__(self):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def _resolve_mode(monitor, mode):
    """'min' or 'max': mode itself, or for 'auto', 'max' for accuracies and 'min' otherwise."""
    mode = check_choice("mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


def _improves(mode, min_delta, value, best):
    """Whether a monitored value beats the best so far by more than min_delta."""
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _monitored_value(owner, monitor, logs):
    """logs[monitor] as a float; a missing key is an error, not a warning.

    Keras only warns when the monitored metric is missing, and the callback then silently does
    nothing: a run meant to stop early trains to the end, a checkpoint is never written. We
    raise instead, since that is lost work the user would otherwise discover too late.
    """
    logs = logs or {}
    if monitor not in logs:
        available = ", ".join(repr(key) for key in sorted(logs)) or "none"
        hint = ""
        if monitor.startswith("val_"):
            hint = (
                ". Validation metrics need validation_data=(X_val, y_val) or validation_split in "
                "fit(), or monitor a training metric such as 'loss'"
            )
        raise ValueError(
            f"monitor: got {monitor!r} ({owner}), which is not in this epoch's logs; "
            f"expected one of the logged keys: {available}{hint}"
        )
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop training when a monitored metric has stopped improving.

    After each epoch the monitored value is compared with the best so far; an epoch improves
    when it beats the best by more than ``min_delta``. Training stops (``model.stop_training``
    is set) after ``patience`` epochs in a row without improvement. As in Keras, ``patience=0``
    and ``patience=1`` both stop at the first epoch that does not improve, and training is never
    stopped after the first epoch.

    Parameters
    ----------
    monitor : str, default "val_loss"
        The key of the epoch's logs to watch, e.g. ``"loss"``, ``"val_loss"``,
        ``"val_accuracy"``. A key missing from the logs raises ValueError at the end of the
        first epoch (Keras only warns, and then never stops: we raise, because silently doing
        nothing loses work).
    patience : int, default 0
        Epochs without improvement after which training stops, >= 0.
    min_delta : float, default 0.0
        Smallest change that counts as an improvement, >= 0.
    mode : {"auto", "min", "max"}, default "auto"
        Whether lower or higher is better; ``"auto"`` means ``"max"`` for monitors whose name
        contains ``"acc"`` and ``"min"`` otherwise.
    restore_best_weights : bool, default False
        Keep a copy of the weights and biases of the best epoch, and write them back into the
        model's live arrays at the end of training, whether it was stopped early or ran out of
        epochs (Keras 3 behaviour; Keras 2 restored only when it stopped early). Restoring at
        the end rather than at the stopping epoch means callbacks later in the list, such as a
        ModelCheckpoint, still see that epoch's own weights. When False, the model keeps the
        weights of the last epoch.
    verbose : int or bool, default 0
        1 prints a line when training is stopped and when weights are restored.

    Attributes
    ----------
    best : float
        The best monitored value so far (``inf`` or ``-inf`` before the first epoch).
    best_epoch : int or None
        The 0-based index of the epoch that reached ``best``.
    stopped_epoch : int
        The 0-based index of the epoch after which training was stopped; 0 if it was not.
    wait : int
        Epochs since the last improvement.

    Examples
    --------
    >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> history = net.fit(X, y, epochs=100, validation_split=0.1, callbacks=[stop])  # doctest: +SKIP
    """

    def __init__(
        self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto", restore_best_weights=False, verbose=0
    ):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor: got {monitor!r}; expected a metric name such as 'val_loss'")
        if not isinstance(restore_best_weights, bool):
            raise TypeError(f"restore_best_weights: got {restore_best_weights!r}; expected True or False")
        self.monitor = monitor
        self.patience = check_int("patience", patience, minimum=0)
        self.min_delta = check_float("min_delta", min_delta, low=0.0)
        self.mode = _resolve_mode(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self.verbose = _check_verbose(verbose)
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self._best_params = None

    def _snapshot(self):
        return ([w.copy() for w in self.model.weights], [b.copy() for b in self.model.biases])

    def _restore(self):
        weights, biases = self._best_params
        for live, saved in zip(self.model.weights, weights):
            live[...] = saved
        for live, saved in zip(self.model.biases, biases):
            live[...] = saved

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored_value("EarlyStopping", self.monitor, logs)
        if self.restore_best_weights and self._best_params is None:
            # A first epoch that does not improve (a NaN loss) still leaves something to restore.
            self._best_params = self._snapshot()
        self.wait += 1
        if _improves(self.mode, self.min_delta, value, self.best):
            self.best = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self._best_params = self._snapshot()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                print(
                    f"Epoch {epoch + 1}: early stopping ({self.monitor} has not improved on "
                    f"{self.best:.6g} for {self.wait} epochs)"
                )

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self._best_params is not None:
            if self.verbose and self.best_epoch is not None:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self._restore()

    def __repr__(self):
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, mode={self.mode!r}, "
            f"restore_best_weights={self.restore_best_weights})"
        )


class ModelCheckpoint(Callback):
    """Save the model at the end of every epoch, or only when a monitored metric improves.

    Parameters
    ----------
    path : str or os.PathLike
        Where to save, passed to ``model.save``. It may contain format fields filled from the
        1-based epoch number and the epoch's logs, e.g. ``"ckpt/epoch{epoch:02d}-{val_loss:.3f}.npz"``.
        Missing parent folders are created.
    monitor : str, default "val_loss"
        The key of the epoch's logs to watch when ``save_best_only``. A key missing from the
        logs then raises ValueError (Keras only warns and never saves: we raise, because
        silently saving nothing loses work).
    save_best_only : bool, default False
        Save only when the monitored value is better than at every earlier save.
    mode : {"auto", "min", "max"}, default "auto"
        Whether lower or higher is better; ``"auto"`` means ``"max"`` for monitors whose name
        contains ``"acc"`` and ``"min"`` otherwise.
    verbose : int or bool, default 0
        1 prints a line at each save.

    Attributes
    ----------
    best : float
        The best monitored value saved so far. As in Keras it is kept across calls to ``fit``,
        so a later ``fit`` only overwrites the best model with a better one.
    last_path : str or None
        Where the model was last saved.

    Examples
    --------
    >>> ckpt = ModelCheckpoint("best.npz", monitor="val_accuracy", save_best_only=True)
    >>> net.fit(X, y, epochs=20, validation_data=(X_val, y_val), callbacks=[ckpt])  # doctest: +SKIP
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto", verbose=0):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path: got {path!r}; expected a str or os.PathLike, such as 'model.npz'")
        if not isinstance(monitor, str):
            raise TypeError(f"monitor: got {monitor!r}; expected a metric name such as 'val_loss'")
        if not isinstance(save_best_only, bool):
            raise TypeError(f"save_best_only: got {save_best_only!r}; expected True or False")
        self.path = path
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _resolve_mode(monitor, mode)
        self.verbose = _check_verbose(verbose)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.last_path = None

    def _format_path(self, epoch, logs):
        fields = {**logs, "epoch": epoch + 1}
        try:
            return os.fspath(self.path).format_map(fields)
        except (KeyError, IndexError, ValueError) as exc:
            available = ", ".join(repr(key) for key in sorted(fields))
            raise ValueError(
                f"path: got {os.fspath(self.path)!r}, whose format fields could not be "
                f"filled ({exc!r}); expected fields among {available}"
            ) from exc

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        message = ""
        if self.save_best_only:
            value = _monitored_value("ModelCheckpoint", self.monitor, logs)
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.6g}")
                return
            message = f"{self.monitor} improved from {self.best:.6g} to {value:.6g}, "
            self.best = value
        path = self._format_path(epoch, logs)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self.model.save(path)
        self.last_path = path
        if self.verbose:
            print(f"Epoch {epoch + 1}: {message}saving model to {path}")

    def __repr__(self):
        return (
            f"ModelCheckpoint({os.fspath(self.path)!r}, monitor={self.monitor!r}, "
            f"save_best_only={self.save_best_only}, mode={self.mode!r})"
        )


def _check_verbose(verbose):
    # verbose=True reads naturally, so bools are accepted here, unlike in check_int.
    if isinstance(verbose, bool):
        return int(verbose)
    return check_int("verbose", verbose, minimum=0)


def _optimizer_of(owner, model):
    """The optimizer of the fit `model` is in, for a callback that sets its rate."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise RuntimeError(f"{owner}: the model has no optimizer; it is set when fit starts")
    if optimizer.schedule is not None:
        raise ValueError(
            f"{owner}: the optimizer's lr is a schedule already ({optimizer.schedule!r}); "
            "use the schedule or this callback, not both"
        )
    return optimizer


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch, as Keras' callback does.

    Parameters
    ----------
    schedule : callable or fastmlp.schedules.Schedule
        ``schedule(epoch, lr)`` returns the rate for ``epoch`` (0-based, within this fit) given
        the current one; a ``fastmlp.schedules.Schedule`` is called with the epoch alone. (A
        schedule can also be the optimizer's ``lr`` itself: ``SGD(lr=schedule)``.)
    verbose : int or bool, default 0
        1 prints the rate at each epoch's start.

    The rate of each epoch is added to its logs as ``learning_rate``.
    """

    sets_learning_rate = True

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"schedule: got {schedule!r}; expected a function (epoch, lr) -> lr or a Schedule")
        self.schedule = schedule
        self.verbose = _check_verbose(verbose)

    def on_train_begin(self, logs=None):
        _optimizer_of("LearningRateScheduler", self.model)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer_of("LearningRateScheduler", self.model)
        if isinstance(self.schedule, Schedule):
            rate = self.schedule(epoch)
        else:
            rate = self.schedule(epoch, optimizer.lr)
        try:
            optimizer.lr = rate
        except (TypeError, ValueError) as exc:
            raise ValueError(f"LearningRateScheduler: the schedule gave {rate!r} for epoch {epoch}: {exc}") from None
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {optimizer.lr:.6g}.")

    def __repr__(self):
        return f"LearningRateScheduler(schedule={self.schedule!r})"


class ReduceLROnPlateau(Callback):
    """Cut the learning rate when a monitored metric has stopped improving, as Keras' callback.

    After ``patience`` epochs in a row without an improvement of more than ``min_delta``, the
    optimizer's rate is multiplied by ``factor`` (not below ``min_lr``), takes effect from the
    next epoch, and ``cooldown`` epochs pass before the count starts again.

    Parameters
    ----------
    monitor : str, default "val_loss"
        A key of the epoch's logs; a missing one raises ValueError (as EarlyStopping's).
    factor : float, default 0.1
        In (0, 1).
    patience : int, default 10
    verbose : int or bool, default 0
        1 prints a line at each cut.
    mode : {"auto", "min", "max"}, default "auto"
    min_delta : float, default 1e-4
    cooldown : int, default 0
    min_lr : float, default 0.0

    The rate of each epoch is added to its logs as ``learning_rate``.
    """

    sets_learning_rate = True

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor: got {monitor!r}; expected a metric name such as 'val_loss'")
        self.monitor = monitor
        self.factor = check_float("factor", factor, 0.0, 1.0, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, minimum=0)
        self.verbose = _check_verbose(verbose)
        self.mode = _resolve_mode(monitor, mode)
        self.min_delta = check_float("min_delta", min_delta, low=0.0)
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_lr = check_float("min_lr", min_lr, low=0.0)
        self._reset()

    def _reset(self):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_train_begin(self, logs=None):
        _optimizer_of("ReduceLROnPlateau", self.model)
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored_value("ReduceLROnPlateau", self.monitor, logs)
        optimizer = self.model.optimizer
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if _improves(self.mode, self.min_delta, value, self.best):
            self.best = value
            self.wait = 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience and optimizer.lr > self.min_lr:
            optimizer.lr = max(optimizer.lr * self.factor, self.min_lr) or optimizer.lr
            if self.verbose:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {optimizer.lr:.6g}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0

    def __repr__(self):
        return (
            f"ReduceLROnPlateau(monitor={self.monitor!r}, factor={self.factor}, patience={self.patience}, "
            f"mode={self.mode!r}, min_delta={self.min_delta}, cooldown={self.cooldown}, min_lr={self.min_lr})"
        )
