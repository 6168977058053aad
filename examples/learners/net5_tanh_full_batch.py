"""Network 5: 784-64-10, tanh, softmax + cross-entropy, N(0, 0.01) weights, full batch on 10000 rows, 100 steps.

    python examples/learners/net5_tanh_full_batch.py [--show-bug | --diagnose] [--seed 0] [--reference-steps 100]

Every step uses the first 10000 training images, so one step is one epoch
(``batch_size=10000, shuffle=False``); the weights start normal with standard deviation 0.01
(``init=("normal", 0.01)``) and the biases at zero. Trained correctly this reaches about 88.6%
on the MNIST test set. The learner's version jumped about and reported nonsense.

The learner's code is ``net5_learner_code.py``: samples as rows (X is (10000, 784)), W of
shape (in, out), biases as (1, k) rows, the parameters in a dict and ``forward`` returning the
output with a cache for ``backward``. Its softmax normalises over ``axis=0``, which with samples
in rows is the 10000 images, not the 10 classes: each column sums to 1 over the batch, so a
"probability" is that image's share of the class over the whole batch. Every value is then
about 1/10000 whatever the weights, the loss sits at log(10000) = 9.2 and cannot fall, and the
error ``P - Y`` is almost exactly ``-Y``: the same push towards the right class on every image,
whether the network already gets it right or not, so nothing tells it what it gets wrong. And
a row's argmax no longer compares the classes for that image, so the accuracy printed from it
(from about 25% down to about 8% as training goes on) says nothing either. The fix is
``axis=1``.

``fastmlp.diagnose`` reads the learner's dict and functions as they are; the glue is two lines:
the labels one-hot, as the learner's code takes them, and an adapter that passes ``forward``'s
cache to ``backward`` (see ``diagnose`` below). ``--diagnose`` prints its report on the
learner's code and on the code with the fix.

Other bugs learners posted with this network:

1. The batch size taken as the feature count. The gradients were divided by
   ``X.shape[1]`` (784, the features) instead of ``X.shape[0]`` (10000, the rows), so every
   gradient was 10000 / 784 = 12.8 times the gradient of the mean loss. That is the same as
   training with a learning rate of 0.3 * 12.8 = 3.8: each step overshoots the valley it is
   meant to descend, the loss climbs from 2.3 to tens, the tanh units saturate, and what
   accuracy the network reaches comes and goes from step to step. Bugs of this kind hide well
   because nothing crashes; they show up as a learning rate that "needs" to be tiny.
2. The bias gradients summed over the wrong axis. The bias gradient is the error summed over
   the rows, one number per unit (``delta.sum(axis=0)`` with rows as examples, shape (64,)).
   Summed over the units instead, it is one number per row, shape (10000,). With rows as
   examples NumPy refuses to subtract that from a (64,) bias; with the units-by-rows layout
   many tutorials use (biases as (64, 1) columns), the mistaken (1, 10000) row broadcasts
   against the (64, 1) column and silently turns the bias into a (64, 10000) matrix: one bias
   vector per training row, updated with a number that mixes all units. That is no longer the
   same model, and it only keeps running because the batch never changes size (and the test
   set happens to have 10000 rows too).
3. The accuracy loop over the wrong dimension. Looping ``for i in range(P.shape[1])`` visits
   the 10 classes, not the 10000 test rows, so the "accuracy" scores the first 10 images
   only (and, divided by 10000, comes out near 0.1%). The number printed says nothing about
   the network either way.

With ``--show-bug`` the script prints diagnose's reports, then trains with the 12.8 times
larger learning rate that bug 1 amounts to, prints the loss per step and ``fastmlp.doctor``'s
report on that setup, and computes the learner's accuracy loop (bug 3) on the correctly
trained network.
"""

import learners_common as common
import numpy as np

import fastmlp

SIZES = [784, 64, 10]
ROWS, STEPS, LR = 10000, 100, 0.3
INIT = ("normal", 0.01)
TARGET = "about 88.6%"
DOCTOR = {"batch_size": ROWS, "steps": 20}  # doctor's short run: 20 full-batch steps
LEARNER_CODE, FIX = "net5_learner_code", "return e / np.sum(e, axis=1, keepdims=True)"


def build(module, seed, **kwargs):
    """Network 5, as the learner meant it: fastmlp.MLP or fastmlp.reference.MLP."""
    return module.MLP(SIZES, activation="tanh", output="softmax", loss="cross_entropy", init=INIT, seed=seed, **kwargs)


def diagnose(code, X, y):
    """fastmlp.diagnose on the learner's code ``code`` (a module), given fastmlp's rows of MNIST."""
    X, Y = X[:ROWS], np.eye(10)[y[:ROWS]]  # glue: one-hot labels
    backprop = lambda p, X, Y: code.backward(p, X, Y, code.forward(p, X)[1])  # glue
    return fastmlp.diagnose(
        code.init_params(),
        X,
        Y,
        forward=code.forward,
        backprop=backprop,
        step=code.train_step,
        activation="tanh",
        lr=LR,
    )


def show_bugs(data, net, seed):
    common.show_diagnose(LEARNER_CODE, FIX, diagnose, data)
    (X, y), (X_test, y_test) = data
    X, y = X[:ROWS], y[:ROWS]

    common.heading("The correct setup, for comparison")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "the correct setup", **DOCTOR)

    common.heading("Bug 1: the gradients divided by 784 (the features) instead of 10000 (the rows)")
    lr = LR * ROWS / SIZES[0]
    print(
        f"  on the real problem the gradients are {ROWS / SIZES[0]:.1f} times too large: "
        f"the same as lr = {LR} * {ROWS} / {SIZES[0]} = {lr:.2f}"
    )
    buggy = build(fastmlp, seed)
    history = buggy.fit(X, y, epochs=STEPS, batch_size=ROWS, optimizer=fastmlp.SGD(lr=lr), shuffle=False, verbose=0)
    losses = history.history["loss"]
    print("  training loss every 10 steps: " + ", ".join(f"{loss:.3g}" for loss in losses[::10]))
    common.line(f"after {STEPS} steps at lr {lr:.2f}", common.accuracy(buggy, X_test, y_test))
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=lr), f"lr {lr:.2f}", **DOCTOR)

    common.heading("Bug 3: the accuracy loop over the wrong dimension")
    P = net.predict_proba(X_test)
    hits = sum(int(np.argmax(P[i]) == y_test[i]) for i in range(P.shape[1]))  # the learner's loop
    common.line("the network's real test accuracy", common.accuracy(net, X_test, y_test))
    print(
        f"  the learner's loop over range(P.shape[1]) = range({P.shape[1]}) visits {P.shape[1]} images: "
        f"{hits}/{P.shape[1]} right, printed as {hits / P.shape[1]:.0%} or, divided by the "
        f"{len(y_test)} rows, as {hits / len(y_test):.2%}"
    )


def main():
    args = common.parse_args(__doc__, reference_steps=STEPS)
    data = common.load(args.data)
    print(__doc__.strip().splitlines()[0])
    if args.diagnose:
        common.show_diagnose(LEARNER_CODE, FIX, diagnose, data)
        return
    net = common.compare_full_batch(
        build,
        data,
        ROWS,
        STEPS,
        LR,
        TARGET,
        args.seed,
        reference_steps=args.reference_steps,
        skip_reference=args.skip_reference,
    )
    if args.show_bug:
        show_bugs(data, net, args.seed)


if __name__ == "__main__":
    main()
