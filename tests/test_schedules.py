"""Learning-rate schedules (fastmlp.schedules) and the callbacks that set the rate
(LearningRateScheduler, ReduceLROnPlateau): their rates, the compiled model against the reference
under them, and fit's epochs at a scheduled rate against fits of one epoch at that rate."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp
from fastmlp import SGD, Adam, reference
from fastmlp.callbacks import LearningRateScheduler, ReduceLROnPlateau
from fastmlp.schedules import CosineDecay, ExponentialDecay, LinearDecay, OneCycle, StepDecay, WarmUp
from test_model import assert_twins_close, make_data, twins

# ---- the rates ---------------------------------------------------------------------------------


def rates(schedule, epochs):
    return [schedule(epoch) for epoch in range(epochs)]


def test_step_exponential_and_linear_decay():
    assert rates(StepDecay(0.1, drop=0.5, every=2), 5) == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert_allclose(rates(ExponentialDecay(0.1, decay=0.9), 3), [0.1, 0.09, 0.081])
    assert_allclose(rates(LinearDecay(0.1, epochs=3), 4), [0.1, 0.1 * 2 / 3, 0.1 / 3, 0.1 / 3])
    assert rates(LinearDecay(0.1, epochs=1, final=0.05), 2) == [0.05, 0.05]


def test_cosine_decay_goes_half_a_cosine_to_its_minimum():
    schedule = CosineDecay(0.1, epochs=4, minimum=0.02)
    assert_allclose(
        rates(schedule, 6),
        [
            0.1,
            0.02 + 0.08 * (1 + math.cos(math.pi / 4)) / 2,
            0.06,
            0.02 + 0.08 * (1 + math.cos(3 * math.pi / 4)) / 2,
            0.02,
            0.02,
        ],
    )


def test_one_cycle_rises_to_its_peak_then_falls_to_its_end():
    schedule = OneCycle(0.1, epochs=10, warmup=0.3)
    values = rates(schedule, 10)
    peak = int(np.argmax(values))
    assert values[peak] == pytest.approx(0.1) and peak == 3
    assert values[0] == pytest.approx(0.1 / 25) and values[-1] == pytest.approx(0.1 / 1e4)
    assert all(a < b for a, b in zip(values[:peak], values[1 : peak + 1]))
    assert all(a > b for a, b in zip(values[peak:-1], values[peak + 1 :]))


def test_warm_up_rises_in_equal_steps_then_runs_its_schedule():
    assert_allclose(rates(WarmUp(0.1, epochs=3), 5), [0.025, 0.05, 0.075, 0.1, 0.1])
    assert_allclose(rates(WarmUp(StepDecay(0.1, drop=0.5, every=1), epochs=1), 4), [0.05, 0.1, 0.05, 0.025])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: StepDecay(0.0), "lr: got 0.0"),
        (lambda: StepDecay(0.1, drop=1.5), "drop: got 1.5"),
        (lambda: StepDecay(0.1, every=0), "every: got 0"),
        (lambda: ExponentialDecay(0.1, decay=0.0), "decay: got 0.0"),
        (lambda: LinearDecay(float("nan"), epochs=3), "lr: got nan"),
        (lambda: CosineDecay(0.1, epochs=5, minimum=0.2), "minimum: got 0.2"),
        (lambda: OneCycle(0.1, epochs=1), "epochs: got 1"),
        (lambda: OneCycle(0.1, epochs=5, warmup=1.0), "warmup: got 1.0"),
        (lambda: WarmUp(-1.0), "then: got -1.0"),
    ],
)
def test_schedules_refuse_bad_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_schedule_refuses_a_negative_epoch():
    with pytest.raises(ValueError, match="epoch: got -1"):
        StepDecay(0.1)(-1)


# ---- on an optimizer ---------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_an_optimizer_takes_a_schedule_as_its_rate(optimizer):
    schedule = StepDecay(0.2, drop=0.5, every=1)
    opt = optimizer(lr=schedule)
    assert opt.schedule is schedule and opt.lr == 0.2  # epoch 0's rate until fit moves it on
    assert f"lr={schedule!r}" in repr(opt)
    opt.start_epoch(2)
    assert opt.lr == 0.05 and opt.schedule is schedule
    opt.lr = 0.3  # a rate again: the schedule is gone
    assert opt.schedule is None and opt.lr == 0.3
    opt.start_epoch(5)
    assert opt.lr == 0.3


def test_a_schedule_that_gives_a_bad_rate_is_named_with_its_epoch():
    class Broken(StepDecay):
        def rate(self, epoch):
            return 0.1 if epoch == 0 else -1.0

    opt = SGD(lr=Broken(0.1))
    with pytest.raises(ValueError, match=r"Broken\(.*\) at epoch 1: lr: got -1.0"):
        opt.start_epoch(1)


# ---- in fit ------------------------------------------------------------------------------------

SCHEDULES = {  # from a peak rate
    "linear": lambda lr: LinearDecay(lr, epochs=3),
    "cosine": lambda lr: CosineDecay(lr, epochs=3, minimum=lr / 20),
    "one-cycle": lambda lr: OneCycle(lr, epochs=3),
    "warm-up": lambda lr: WarmUp(StepDecay(lr, every=1), epochs=1),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("batch_size", [1, 16])
def test_fit_under_a_schedule_follows_the_reference(name, batch_size):
    X, y = make_data(64, 6, 3)
    net, ref = twins([6, 8, 3], activation="tanh")
    peak = 0.2 if batch_size > 1 else 0.01  # one sample a step: a rate that does not diverge
    h_c = net.fit(X, y, epochs=3, batch_size=batch_size, optimizer=SGD(SCHEDULES[name](peak), momentum=0.9), verbose=0)
    h_r = ref.fit(X, y, epochs=3, batch_size=batch_size, optimizer=SGD(SCHEDULES[name](peak), momentum=0.9))
    assert_twins_close(net, ref, h_c, h_r)
    assert_allclose(h_c.history["learning_rate"], rates(SCHEDULES[name](peak), 3))
    assert h_c.history["learning_rate"] == h_r.history["learning_rate"]


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_each_epoch_trains_at_its_scheduled_rate(optimizer):
    # the same bits as one-epoch fits with the rate set by hand (shuffle off: each fit's epoch 0)
    X, y = make_data(96, 6, 3)
    schedule = ExponentialDecay(0.05, decay=0.5)
    scheduled, by_hand = fastmlp.MLP([6, 8, 3], seed=1), fastmlp.MLP([6, 8, 3], seed=1)
    scheduled.fit(X, y, epochs=3, batch_size=32, optimizer=optimizer(lr=schedule), shuffle=False, verbose=0)
    opt = optimizer(lr=schedule(0))
    for epoch in range(3):
        opt.lr = schedule(epoch)
        by_hand.fit(X, y, epochs=1, batch_size=32, optimizer=opt, shuffle=False, verbose=0)
    for mine, theirs in zip(scheduled.weights + scheduled.biases, by_hand.weights + by_hand.biases):
        assert_array_equal(mine, theirs)


def test_a_constant_rate_adds_nothing_to_the_logs():
    X, y = make_data(32, 6, 3)
    history = fastmlp.MLP([6, 3], seed=0).fit(X, y, epochs=2, verbose=0)
    assert "learning_rate" not in history.history


# ---- callbacks that set the rate ---------------------------------------------------------------


@pytest.mark.parametrize("module", [fastmlp, reference])
def test_learning_rate_scheduler_sets_the_rate_each_epoch(module):
    X, y = make_data(48, 6, 3)
    net = module.MLP([6, 5, 3], seed=0)
    halve = LearningRateScheduler(lambda epoch, lr: lr / 2 if epoch else lr)
    extra = dict(verbose=0) if module is fastmlp else {}
    history = net.fit(X, y, epochs=4, optimizer=SGD(lr=0.08), callbacks=[halve], **extra)
    assert history.history["learning_rate"] == [0.08, 0.04, 0.02, 0.01]
    by_schedule = LearningRateScheduler(StepDecay(0.08, every=1))
    history = net.fit(X, y, epochs=3, optimizer=SGD(lr=0.5), callbacks=[by_schedule], **extra)
    assert history.history["learning_rate"] == [0.08, 0.04, 0.02]


def test_learning_rate_scheduler_refuses_a_bad_rate_and_a_second_schedule():
    X, y = make_data(16, 6, 3)
    net = fastmlp.MLP([6, 3], seed=0)
    with pytest.raises(ValueError, match="gave -1 for epoch 0"):
        net.fit(X, y, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: -1)])
    with pytest.raises(ValueError, match="a schedule already"):
        net.fit(X, y, verbose=0, optimizer=SGD(lr=StepDecay(0.1)), callbacks=[LearningRateScheduler(StepDecay(0.1))])
    with pytest.raises(TypeError, match="schedule: got 0.1"):
        LearningRateScheduler(0.1)


class Losses(fastmlp.callbacks.Callback):
    """Replaces the epoch's loss with a scripted one, for the plateau to watch."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["scripted"] = self.values[epoch]


def plateau_rates(values, **settings):
    X, y = make_data(16, 6, 3)
    history = fastmlp.MLP([6, 3], seed=0).fit(
        X, y, epochs=len(values), optimizer=SGD(lr=0.1), verbose=0,
        callbacks=[Losses(values), ReduceLROnPlateau("scripted", **settings)],
    )  # fmt: skip
    return history.history["learning_rate"]


def test_reduce_lr_on_plateau_cuts_after_patience_and_waits_its_cooldown():
    flat = [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    # epochs 2 and 3 do not improve: the cut after epoch 3 applies from epoch 4
    assert_allclose(plateau_rates(flat, factor=0.5, patience=2), [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    # Keras' counting: the cooldown's last epoch already counts towards the next cut
    assert_allclose(
        plateau_rates(flat, factor=0.5, patience=1, cooldown=2), [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]
    )
    assert_allclose(
        plateau_rates(flat, factor=0.1, patience=1, min_lr=0.02), [0.1, 0.1, 0.1, 0.02, 0.02, 0.02, 0.02, 0.02]
    )


def test_reduce_lr_on_plateau_mode_max_and_its_checks():
    assert_allclose(plateau_rates([0.5, 0.6, 0.6, 0.7], factor=0.5, patience=1, mode="max"), [0.1, 0.1, 0.1, 0.05])
    with pytest.raises(ValueError, match="factor: got 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="monitor: got 'val_loss'"):
        fastmlp.MLP([6, 3], seed=0).fit(*make_data(16, 6, 3), verbose=0, callbacks=[ReduceLROnPlateau()])
