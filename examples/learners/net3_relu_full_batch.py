"""Network 3: 784-16-16-10, ReLU, softmax + cross-entropy, full batch on 10000 rows, lr 0.1, 300 steps.

    python examples/learners/net3_relu_full_batch.py [--show-bug | --diagnose] [--seed 0] [--reference-steps 300]

Every step uses the same 10000 training images (the first 10000 of the 60000), so one step is
one epoch: ``fit(X[:10000], y[:10000], epochs=300, batch_size=10000, shuffle=False)``. Trained
correctly it reaches 89 to 91% on the MNIST test set. The learner's version seemed stuck at
chance or below.

The learner's code is ``net3_learner_code.py``: a popular two-layer from-scratch tutorial
grown by one hidden layer, images as columns, W of shape (out, in), biases as (k, 1) columns,
every function taking the arrays one by one. The new layer renamed the output from ``A2`` to
``A3``, but ``get_predictions`` still takes the argmax of ``A2``, which is now hidden layer 2.
``argmax`` over its 16 ReLU units is a number from 0 to 15 that has nothing to do with the
digit; comparing it with the labels measures nothing, so the printed accuracy stayed near
chance (a few percent: it even falls as the network learns) whatever the network learned.
This bug breaks the *measurement*, not the learning: the network underneath trains to about
90%, and the learner had no way to see it. The fix: ``np.argmax(A3, 0)``.

``fastmlp.diagnose`` reads the learner's six arrays as they are; the glue is four lines: the
learner's images as columns and three adapters from their signatures (``forward_prop`` takes
the arrays one by one and returns ``Z1, A1, Z2, A2, Z3, A3``; see ``diagnose`` below).
``--diagnose`` prints its report on the learner's code and on the code with the fix.

The tutorial this code grew from has a second bug, already fixed in the learner's code: the
bias gradients summed to one number over all units and all rows (``np.sum(dZ2)``). A bias
gradient has one entry per unit: the sum (or the mean) over the rows of that unit's error,
never a sum over units. Adding up the units' errors gives every unit of a layer the same bias
change, so biases can no longer differ between units, and for the output layer it is exactly
zero: with softmax and cross-entropy each row's errors ``p - y`` add up to ``1 - 1 = 0``, so
the output biases never move at all. With the mean over the rows this costs little (the weights
carry most of the learning); ``fastmlp.diagnose`` reports it as ``bias-gradient-axis``.

With ``--show-bug`` the script prints diagnose's reports, then reads the accuracy of the
correctly trained network the way the learner did (from hidden layer 2); and, as the usual
cause of a ReLU network that really is stuck at 11%, shows what a 30 times too large learning
rate does to this network, with ``fastmlp.doctor``'s report on it.
"""

import learners_common as common
import numpy as np

import fastmlp

SIZES = [784, 16, 16, 10]
ROWS, STEPS, LR = 10000, 300, 0.1
TARGET = "89 to 91%"
DOCTOR = {"batch_size": ROWS, "steps": 20}  # doctor's short run: 20 full-batch steps
LEARNER_CODE, FIX = "net3_learner_code", "return np.argmax(A3, 0)"


def build(module, seed, **kwargs):
    """Network 3, as the learner meant it (He init, zero biases): fastmlp.MLP or fastmlp.reference.MLP."""
    return module.MLP(SIZES, activation="relu", output="softmax", loss="cross_entropy", init="he", seed=seed, **kwargs)


def diagnose(code, X, y):
    """fastmlp.diagnose on the learner's code ``code`` (a module), given fastmlp's rows of MNIST."""
    X, y = X[:ROWS].T, y[:ROWS]  # glue: images as columns
    forward = lambda p, X: code.forward_prop(*p, X)[1::2]  # glue: A1, A2, A3
    backprop = lambda p, X, y: code.backward_prop(*code.forward_prop(*p, X), *p[::2], X, y)  # glue
    predict = lambda p, X: code.get_predictions(*p, X)  # glue
    return fastmlp.diagnose(
        code.init_params(), X, y, forward=forward, backprop=backprop, predict=predict, activation="relu", lr=LR
    )


def hidden_layer_2(net, X):
    h1 = np.maximum(X @ net.weights[0] + net.biases[0], 0)
    return np.maximum(h1 @ net.weights[1] + net.biases[1], 0)


def show_bugs(data, net, seed):
    common.show_diagnose(LEARNER_CODE, FIX, diagnose, data)
    (X, y), (X_test, y_test) = data
    X, y = X[:ROWS], y[:ROWS]

    common.heading("The accuracy read from hidden layer 2, on the correctly trained network")
    common.line("the network's real test accuracy (argmax of the output)", common.accuracy(net, X_test, y_test))
    wrong = np.mean(np.argmax(hidden_layer_2(net, X_test), axis=1) == y_test)
    common.line("what the learner printed (argmax of hidden layer 2)", wrong)

    common.heading("Stuck at 11% for real: a learning rate 30 times too large (lr 3.0)")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "the correct setup", **DOCTOR)
    fast = build(fastmlp, seed)
    history = fast.fit(X, y, epochs=20, batch_size=ROWS, optimizer=fastmlp.SGD(lr=3.0), shuffle=False, verbose=0)
    print("  training loss per step: " + ", ".join(f"{loss:.3g}" for loss in history.history["loss"][:8]) + ", ...")
    common.line("after 20 full-batch steps at lr 3.0", common.accuracy(fast, X_test, y_test))
    print(f"  {common.predicted_classes(fast, X_test)}")
    dead = [
        int(np.sum(h.max(axis=0) <= 0))
        for h in (np.maximum(X_test @ fast.weights[0] + fast.biases[0], 0), hidden_layer_2(fast, X_test))
    ]
    print(f"  dead ReLU units (never active on the test set): {dead[0]} of 16 in layer 1, {dead[1]} of 16 in layer 2")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=3.0), "lr 3.0", **DOCTOR)


def main():
    args = common.parse_args(__doc__, reference_steps=100)
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
