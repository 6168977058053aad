"""Network 3: 784-16-16-10, ReLU, softmax + cross-entropy, full batch on 10000 rows, lr 0.1, 300 steps.

    python examples/learners/net3_relu_full_batch.py [--show-bug] [--seed 0] [--reference-steps 300]

Every step uses the same 10000 training images (the first 10000 of the 60000), so one step is
one epoch: ``fit(X[:10000], y[:10000], epochs=300, batch_size=10000, shuffle=False)``. Trained
correctly it reaches 89 to 91% on the MNIST test set. The learner's version seemed stuck near
chance. It had two bugs:

1. The accuracy was read from the second hidden layer instead of the output. ``argmax`` over
   the 16 ReLU units of hidden layer 2 is a number from 0 to 15 that has nothing to do with
   the digit; comparing it with the labels measures nothing, so the printed accuracy stayed
   near chance whatever the network learned. This bug breaks the *measurement*, not the
   learning: the network underneath may be fine, and the learner had no way to see it.
2. The bias gradients were summed to one number over all units and all rows. A bias gradient
   has one entry per unit: the sum (or the mean) over the rows of that unit's error, never a
   sum over units. Adding up the units' errors gives every unit of a layer the same bias
   change, so biases can no longer differ between units, and for the output layer it is
   exactly zero: with softmax and cross-entropy each row's errors ``p - y`` add up to
   ``1 - 1 = 0``, so the output biases never move at all. And where the weights use the mean
   over the rows but the biases the sum, the bias steps are 10000 times too large, which
   throws the ReLUs far into their dead or their linear region. On its own, with the mean over
   rows, this costs little: the weights carry most of the learning (``--show-bug`` measures
   it); it is the wrong measurement that made the network look dead.

With ``--show-bug`` the script trains the correct network and then reads the accuracy the way
the learner did (from hidden layer 2); prints ``fastmlp.check_backprop``'s verdict on the
learner's bias gradients and trains with them (a loop over ``net.loss_and_gradients`` that
applies the summed bias gradient to every unit, since ``fit`` computes the right one); and, as
the usual cause of a ReLU network that really is stuck at 11%, shows what a 30 times too large
learning rate does to this network, with ``fastmlp.doctor``'s report on it.
"""
import time

import learners_common as common
import numpy as np

import fastmlp

SIZES = [784, 16, 16, 10]
ROWS, STEPS, LR = 10000, 300, 0.1
TARGET = "89 to 91%"
DOCTOR = {"batch_size": ROWS, "steps": 20}      # doctor's short run: 20 full-batch steps


def build(module, seed, **kwargs):
    """Network 3, as the learner meant it (He init, zero biases): fastmlp.MLP or fastmlp.reference.MLP."""
    return module.MLP(SIZES, activation="relu", output="softmax", loss="cross_entropy", init="he",
                      seed=seed, **kwargs)


def learner_gradients(weights, biases, X, Y):
    """The learner's backprop: right weight gradients, bias gradients summed over units and rows.

    Each bias gradient is returned as the single number broadcast over the layer's units, which
    is what ``b -= lr * db`` does with it.
    """
    activations, z = [X], []
    for W, b in zip(weights[:-1], biases[:-1]):
        z.append(activations[-1] @ W + b)
        activations.append(np.maximum(z[-1], 0))
    p = common.softmax(activations[-1] @ weights[-1] + biases[-1])
    delta = (p - Y) / len(X)
    dW, db = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        dW[layer] = activations[layer].T @ delta
        db[layer] = np.full_like(biases[layer], delta.sum())      # the bug: should be delta.sum(axis=0)
        if layer > 0:
            delta = (delta @ weights[layer].T) * (z[layer - 1] > 0)
    return dW, db


def hidden_layer_2(net, X):
    h1 = np.maximum(X @ net.weights[0] + net.biases[0], 0)
    return np.maximum(h1 @ net.weights[1] + net.biases[1], 0)


def show_bugs(data, net, seed):
    (X, y), (X_test, y_test) = data
    X, y = X[:ROWS], y[:ROWS]

    common.heading("Bug 1: the accuracy read from hidden layer 2")
    common.line("the network's real test accuracy (argmax of the output)", common.accuracy(net, X_test, y_test))
    wrong = np.mean(np.argmax(hidden_layer_2(net, X_test), axis=1) == y_test)
    common.line("what the learner printed (argmax of hidden layer 2)", wrong)

    common.heading("Bug 2: bias gradients summed to one number")
    common.show_check_backprop(learner_gradients, SIZES, "relu", "the learner's bias gradients")
    buggy = build(fastmlp, seed)
    started = time.perf_counter()
    for _ in range(STEPS):
        _, grads = buggy.loss_and_gradients(X, y)
        for W, b, (dW, db) in zip(buggy.weights, buggy.biases, grads):
            W -= LR * dW
            b -= LR * db.sum()                  # the same number for every unit of the layer
    common.line(f"{STEPS} steps with the summed bias gradients", common.accuracy(buggy, X_test, y_test),
                time.perf_counter() - started)
    print(f"  largest output bias after training: {np.abs(buggy.biases[-1]).max():.1e} (they start at 0 and "
          "only float rounding moves them)")

    common.heading("Stuck at 11% for real: a learning rate 30 times too large (lr 3.0)")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "the correct setup", **DOCTOR)
    fast = build(fastmlp, seed)
    history = fast.fit(X, y, epochs=20, batch_size=ROWS, optimizer=fastmlp.SGD(lr=3.0), shuffle=False,
                       verbose=0)
    print("  training loss per step: " + ", ".join(f"{loss:.3g}" for loss in history.history["loss"][:8]) + ", ...")
    common.line("after 20 full-batch steps at lr 3.0", common.accuracy(fast, X_test, y_test))
    print(f"  {common.predicted_classes(fast, X_test)}")
    dead = [int(np.sum(h.max(axis=0) <= 0)) for h in
            (np.maximum(X_test @ fast.weights[0] + fast.biases[0], 0), hidden_layer_2(fast, X_test))]
    print(f"  dead ReLU units (never active on the test set): {dead[0]} of 16 in layer 1, "
          f"{dead[1]} of 16 in layer 2")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=3.0), "lr 3.0", **DOCTOR)


def main():
    args = common.parse_args(__doc__, reference_steps=100)
    data = common.load(args.data)
    print(__doc__.strip().splitlines()[0])
    net = common.compare_full_batch(build, data, ROWS, STEPS, LR, TARGET, args.seed,
                                    reference_steps=args.reference_steps, skip_reference=args.skip_reference)
    if args.show_bug:
        show_bugs(data, net, args.seed)


if __name__ == "__main__":
    main()
