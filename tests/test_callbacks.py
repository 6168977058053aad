"""EarlyStopping and ModelCheckpoint, driven by synthetic logs on a stand-in model."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastmlp.callbacks import Callback, EarlyStopping, History, ModelCheckpoint


class FakeModel:
    """What the callbacks use of a model: live weights and biases, stop_training, save."""

    def __init__(self, sizes=(3, 4, 2)):
        pairs = zip(sizes[:-1], sizes[1:])
        self.weights = [np.zeros((n_in, n_out), dtype=np.float32) for n_in, n_out in pairs]
        self.biases = [np.zeros(n_out, dtype=np.float32) for n_out in sizes[1:]]
        self.stop_training = False
        self.saved = []

    def set_all(self, value):
        for p in self.weights + self.biases:
            p[...] = value

    def save(self, path):
        self.saved.append((path, float(self.weights[0].flat[0])))


def run(callback, values, key="val_loss", model=None, extra=None):
    """Drive callback through the epochs like fit does; epoch i sets every parameter to i.

    Returns the model and the number of epochs run before stop_training was set.
    """
    model = model or FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    epochs_run = 0
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        model.set_all(epoch)
        logs = {"loss": 1.0, "accuracy": 0.5, key: value, **(extra or {})}
        callback.on_epoch_end(epoch, logs)
        epochs_run += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return model, epochs_run


# --- EarlyStopping ---------------------------------------------------------------------------


def test_subclasses_callback():
    assert issubclass(EarlyStopping, Callback) and issubclass(ModelCheckpoint, Callback)
    assert History().history == {}


@pytest.mark.parametrize("patience, stop_epoch", [(0, 2), (1, 2), (2, 3), (3, 4), (5, 6), (6, None)])
def test_early_stopping_patience(patience, stop_epoch):
    # best at epoch 1; epochs 2, 3, 4, ... do not improve
    values = [1.0, 0.5, 0.6, 0.7, 0.55, 0.9, 0.8]
    stop = EarlyStopping(patience=patience)
    model, epochs_run = run(stop, values)
    assert stop.best == 0.5 and stop.best_epoch == 1
    if stop_epoch is None:
        assert not model.stop_training and stop.stopped_epoch == 0 and epochs_run == len(values)
    else:
        assert model.stop_training and stop.stopped_epoch == stop_epoch and epochs_run == stop_epoch + 1


def test_early_stopping_wait_resets_on_improvement():
    stop = EarlyStopping(monitor="loss", patience=2)
    model, epochs_run = run(stop, [1.0, 0.9, 0.95, 0.8, 0.85, 0.7, 0.75, 0.76], key="loss")
    assert model.stop_training and stop.stopped_epoch == 7 and stop.best_epoch == 5


def test_early_stopping_never_stops_after_first_epoch():
    model, _ = run(EarlyStopping(patience=0), [float("nan"), 1.0])
    assert not model.stop_training


def test_early_stopping_min_delta():
    # improvements of 0.05 do not count with min_delta=0.1
    stop = EarlyStopping(patience=2, min_delta=0.1)
    model, _ = run(stop, [1.0, 0.95, 0.9, 0.85, 0.8])
    assert model.stop_training and stop.stopped_epoch == 2 and stop.best == 1.0 and stop.best_epoch == 0
    # an improvement of more than min_delta does count
    stop = EarlyStopping(patience=1, min_delta=0.1)
    model, _ = run(stop, [1.0, 0.85, 0.8])
    assert stop.best_epoch == 1 and stop.stopped_epoch == 2


@pytest.mark.parametrize(
    "monitor, mode", [("val_accuracy", "auto"), ("accuracy", "auto"), ("val_acc", "auto"), ("val_loss", "max")]
)
def test_early_stopping_mode_max(monitor, mode):
    stop = EarlyStopping(monitor=monitor, patience=1, mode=mode)
    assert stop.mode == "max"
    model, _ = run(stop, [0.5, 0.9, 0.8], key=monitor)
    assert stop.best == 0.9 and stop.best_epoch == 1 and model.stop_training and stop.stopped_epoch == 2


def test_early_stopping_mode_min_for_losses_and_explicit():
    assert EarlyStopping(monitor="val_loss").mode == "min"
    assert EarlyStopping(monitor="loss").mode == "min"
    assert EarlyStopping(monitor="val_accuracy", mode="min").mode == "min"


def test_early_stopping_restores_best_weights_into_live_arrays_when_stopped():
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    model = FakeModel()
    live = [id(p) for p in model.weights + model.biases]
    run(stop, [1.0, 0.4, 0.6, 0.7, 0.8], model=model)
    assert stop.stopped_epoch == 3
    assert [id(p) for p in model.weights + model.biases] == live  # written into, not replaced
    for p in model.weights + model.biases:
        assert_array_equal(p, np.full_like(p, 1.0))  # epoch 1 set every parameter to 1


def test_early_stopping_restores_at_train_end_without_stopping():
    stop = EarlyStopping(patience=10, restore_best_weights=True)
    model, _ = run(stop, [1.0, 0.2, 0.6, 0.7])
    assert not model.stop_training
    for p in model.weights + model.biases:
        assert_array_equal(p, np.full_like(p, 1.0))


def test_early_stopping_snapshot_is_a_copy():
    stop = EarlyStopping(patience=10, restore_best_weights=True)
    model = FakeModel()
    stop.set_model(model)
    stop.on_train_begin()
    model.set_all(7.0)
    stop.on_epoch_end(0, {"val_loss": 0.1})
    model.set_all(-1.0)  # a later in-place update must not reach the snapshot
    stop.on_epoch_end(1, {"val_loss": 0.5})
    stop.on_train_end()
    assert_array_equal(model.weights[0], np.full((3, 4), 7.0))
    assert_array_equal(model.biases[1], np.full(2, 7.0))


def test_early_stopping_without_restore_keeps_last_weights():
    model, _ = run(EarlyStopping(patience=1), [1.0, 0.2, 0.6, 0.7])
    assert_array_equal(model.weights[0], np.full((3, 4), 2.0))


def test_early_stopping_state_resets_on_train_begin():
    stop = EarlyStopping(patience=1)
    run(stop, [1.0, 2.0])
    assert stop.stopped_epoch == 1
    model, epochs_run = run(stop, [5.0, 4.0, 3.0])
    assert not model.stop_training and stop.stopped_epoch == 0 and stop.best == 3.0 and epochs_run == 3


@pytest.mark.parametrize("logs", [{"loss": 1.0, "accuracy": 0.5}, {}, None])
def test_early_stopping_missing_monitor_raises(logs):
    stop = EarlyStopping(monitor="val_loss")
    stop.set_model(FakeModel())
    stop.on_train_begin()
    with pytest.raises(ValueError) as info:
        stop.on_epoch_end(0, logs)
    message = str(info.value)
    assert "'val_loss'" in message and "validation_data" in message
    if logs:
        assert "'accuracy', 'loss'" in message


def test_early_stopping_verbose_prints(capsys):
    run(EarlyStopping(patience=1, restore_best_weights=True, verbose=1), [1.0, 0.5, 0.7])
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out and "best epoch: 2" in out


@pytest.mark.parametrize(
    "kwargs, cls, match",
    [
        (dict(monitor=None), TypeError, "monitor: got None"),
        (dict(monitor=["val_loss"]), TypeError, "monitor: got"),
        (dict(patience=-1), ValueError, "patience: got -1"),
        (dict(patience=2.0), TypeError, "patience: got 2.0"),
        (dict(patience=True), TypeError, "patience: got True"),
        (dict(min_delta=-0.1), ValueError, "min_delta: got -0.1"),
        (dict(min_delta="0"), TypeError, "min_delta: got"),
        (dict(min_delta=float("nan")), ValueError, "min_delta: got nan"),
        (dict(mode="minimum"), ValueError, "mode: got 'minimum'"),
        (dict(mode=None), TypeError, "mode: got None"),
        (dict(restore_best_weights=1), TypeError, "restore_best_weights: got 1"),
        (dict(verbose=-1), ValueError, "verbose: got -1"),
        (dict(verbose="yes"), TypeError, "verbose: got 'yes'"),
    ],
)
def test_early_stopping_validates_arguments(kwargs, cls, match):
    with pytest.raises(cls) as info:
        EarlyStopping(**kwargs)
    assert match in str(info.value)


def test_early_stopping_repr():
    assert "patience=3" in repr(EarlyStopping(patience=3))


# --- ModelCheckpoint ---------------------------------------------------------------------------


def test_checkpoint_saves_every_epoch_with_formatted_path(tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "ckpt" / "epoch{epoch:02d}-{val_loss:.2f}.npz")
    model, _ = run(ckpt, [1.0, 0.5, 0.75])
    names = ["epoch01-1.00.npz", "epoch02-0.50.npz", "epoch03-0.75.npz"]
    assert [path for path, _ in model.saved] == [str(tmp_path / "ckpt" / name) for name in names]
    assert all(isinstance(path, str) for path, _ in model.saved)
    assert (tmp_path / "ckpt").is_dir()  # the parent folder is created for the model to save into
    assert ckpt.last_path == model.saved[-1][0]


def test_checkpoint_without_fields_overwrites_one_file(tmp_path):
    model, _ = run(ModelCheckpoint(str(tmp_path / "model.npz")), [1.0, 2.0])
    assert [path for path, _ in model.saved] == [str(tmp_path / "model.npz")] * 2


def test_checkpoint_save_best_only(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "best-{epoch}.npz"), save_best_only=True)
    model, _ = run(ckpt, [1.0, 0.5, 0.7, 0.4, 0.4, float("nan")])
    assert model.saved == [(str(tmp_path / f"best-{e + 1}.npz"), float(e)) for e in (0, 1, 3)]
    assert ckpt.best == 0.4


def test_checkpoint_save_best_only_max_for_accuracy(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "best.npz"), monitor="val_accuracy", save_best_only=True)
    assert ckpt.mode == "max"
    model, _ = run(ckpt, [0.5, 0.4, 0.9, 0.8], key="val_accuracy")
    assert [weight for _, weight in model.saved] == [0.0, 2.0]


def test_checkpoint_best_persists_across_fits(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "best.npz"), save_best_only=True)
    run(ckpt, [1.0, 0.5])
    model, _ = run(ckpt, [0.7, 0.6, 0.3])
    assert [weight for _, weight in model.saved] == [2.0]


def test_checkpoint_missing_monitor_raises_only_with_save_best_only(tmp_path):
    model, _ = run(ModelCheckpoint(str(tmp_path / "m.npz"), monitor="val_loss"), [1.0], key="loss")
    assert len(model.saved) == 1
    with pytest.raises(ValueError, match="'val_loss'.*'accuracy', 'loss'"):
        run(ModelCheckpoint(str(tmp_path / "m.npz"), save_best_only=True), [1.0], key="loss")


def test_checkpoint_unknown_format_field_raises(tmp_path):
    with pytest.raises(ValueError, match="path: got .*val_acc"):
        run(ModelCheckpoint(str(tmp_path / "m-{val_acc:.2f}.npz")), [1.0])


def test_checkpoint_verbose_prints(tmp_path, capsys):
    run(ModelCheckpoint(str(tmp_path / "m.npz"), save_best_only=True, verbose=True), [1.0, 2.0])
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from inf to 1" in out and "did not improve" in out


@pytest.mark.parametrize(
    "kwargs, cls, match",
    [
        (dict(path=None), TypeError, "path: got None"),
        (dict(path=3), TypeError, "path: got 3"),
        (dict(monitor=1), TypeError, "monitor: got 1"),
        (dict(save_best_only="yes"), TypeError, "save_best_only: got 'yes'"),
        (dict(mode="best"), ValueError, "mode: got 'best'"),
        (dict(verbose=1.0), TypeError, "verbose: got 1.0"),
    ],
)
def test_checkpoint_validates_arguments(kwargs, cls, match):
    kwargs = {"path": "m.npz", **kwargs}
    with pytest.raises(cls) as info:
        ModelCheckpoint(**kwargs)
    assert match in str(info.value)
