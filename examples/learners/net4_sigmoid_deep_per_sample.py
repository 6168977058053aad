"""Network 4: 784-128-64-10, sigmoid hidden layers, softmax + cross-entropy, per-sample SGD, lr 0.05, one epoch.

    python examples/learners/net4_sigmoid_deep_per_sample.py [--show-bug | --diagnose] [--seed 0]
        [--reference-rows 60000]

Trained correctly (Glorot init, biases, one image per update) this network reaches about 95%
on the MNIST test set after one epoch. The learner's version never improved.

The learner's code is ``net4_learner_code.py``: samples as rows (one image is a (1, 784) row),
W of shape (in, out), no biases. It has an ``update`` function, and ``train_step`` computes
the gradients and the loss, but never calls ``update``: the parameters stay at their random
start, so the network is exactly as good as a random one, about 10%, however long it trains,
and the loss does not move at all. Nothing fails and NumPy prints no warning (a linter does:
``grads`` is assigned but never used): the loop runs, the loss is printed, and it is always the
same. The fix is the missing line,
``update(weights, grads, LR)``.

``fastmlp.diagnose`` takes the learner's list of three weight matrices and their three
functions exactly as they are; the only glue is one line that hands it an image and its label
in the learner's layout (see ``diagnose`` below). ``--diagnose`` prints its report on the
learner's code and on the code with the fix.

Other bugs learners posted with this network:

1. A softmax derivative multiplied onto ``p - y``. ``p - y`` already *is* the derivative of
   the cross-entropy with respect to the softmax's inputs: the softmax's Jacobian was used to
   get it. Multiplying by ``p * (1 - p)`` again shrinks every component by up to 4 times, and
   by far more where the network is confidently wrong (``p`` of the true class near 0 makes
   its factor near 0), so it learns slowest where it is most wrong. Through two sigmoid layers
   (each multiplying by at most 1/4 more) the first layer then gets almost nothing.
2. No biases, as in the learner's code. Every unit computes ``sigmoid(w . x)``, a boundary
   through the origin, and the output layer cannot encode how common each class is. That
   makes the network weaker, not dead: on MNIST, whose pixels are mostly zero and whose
   classes are almost balanced, it costs little or nothing (with its fix, the learner's code
   reaches about 95% in one epoch, like the correct network with biases).
3. A broken Xavier init. The usual ways are a missing scale (``np.random.randn(n_in, n_out)``,
   standard deviation 1 instead of about ``sqrt(2 / (n_in + n_out))``), which drives the
   784-input sigmoids into saturation where their derivative is zero, or a scale that is far
   too small, which makes every unit output 0.5 and the gradient reaching the first layer
   tiny. Either way the early layers learn slowly; the unscaled version costs several points
   after one epoch (``--show-bug``).

With ``--show-bug`` the script prints diagnose's reports, then trains from
``init=("normal", 1.0)``, the unscaled version of bug 3, with ``fastmlp.doctor``'s report on it
next to its report on the correct setup.
"""

import learners_common as common
import numpy as np

import fastmlp

SIZES = [784, 128, 64, 10]
EPOCHS, BATCH_SIZE, LR = 1, 1, 0.05
TARGET = "about 95%"
DOCTOR = {"batch_size": 1, "steps": 2000}  # doctor's short run, one image per step like the setup
LEARNER_CODE, FIX = "net4_learner_code", "update(weights, grads, LR)\nreturn loss"


def build(module, seed, init="glorot", **kwargs):
    """Network 4, as the learner meant it: fastmlp.MLP or fastmlp.reference.MLP."""
    return module.MLP(
        SIZES, activation="sigmoid", output="softmax", loss="cross_entropy", init=init, seed=seed, **kwargs
    )


def diagnose(code, X, y):
    """fastmlp.diagnose on the learner's code ``code`` (a module), given fastmlp's rows of MNIST."""
    x, onehot = X[:1], np.eye(10)[y[:1]]  # glue: one image and its label as the learner's (1, n) rows
    return fastmlp.diagnose(
        code.init_weights(), x, onehot, forward=code.forward, backprop=code.backprop, step=code.train_step, lr=code.LR
    )


def show_bugs(data, seed):
    common.show_diagnose(LEARNER_CODE, FIX, diagnose, data)
    (X, y), (X_test, y_test) = data

    common.heading("The correct setup, for comparison")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "the correct setup", **DOCTOR)

    common.heading("Bug 3: a broken Xavier init (here: the scale left out, N(0, 1))")
    net = build(fastmlp, seed, init=("normal", 1.0))
    hidden = common.sigmoid(X_test @ net.weights[0])
    print(
        f"  before training, {np.mean((hidden < 0.01) | (hidden > 0.99)):.0%} of hidden layer 1's "
        "activations on the test set are within 0.01 of 0 or 1"
    )
    seconds = common.fit(net, X, y, EPOCHS, BATCH_SIZE, LR)
    common.line("one epoch from N(0, 1) weights", common.accuracy(net, X_test, y_test), seconds)
    common.show_doctor(
        build(fastmlp, seed, init=("normal", 1.0)), X, y, fastmlp.SGD(lr=LR), "weights N(0, 1)", **DOCTOR
    )


def main():
    args = common.parse_args(__doc__, reference_rows=20000)
    data = common.load(args.data)
    print(__doc__.strip().splitlines()[0])
    if args.diagnose:
        common.show_diagnose(LEARNER_CODE, FIX, diagnose, data)
        return
    common.compare_per_sample(
        build,
        data,
        EPOCHS,
        BATCH_SIZE,
        LR,
        TARGET,
        args.seed,
        reference_rows=args.reference_rows,
        skip_reference=args.skip_reference,
    )
    if args.show_bug:
        show_bugs(data, args.seed)


if __name__ == "__main__":
    main()
