"""Network 4: 784-128-64-10, sigmoid hidden layers, softmax + cross-entropy, per-sample SGD, lr 0.05, one epoch.

    python examples/learners/net4_sigmoid_deep_per_sample.py [--show-bug] [--seed 0] [--reference-rows 60000]

Trained correctly (Glorot init, biases, one image per update) this network reaches about 95%
on the MNIST test set after one epoch. The learner's version never improved. It had four bugs:

1. A softmax derivative multiplied onto ``p - y``. ``p - y`` already *is* the derivative of
   the cross-entropy with respect to the softmax's inputs: the softmax's Jacobian was used to
   get it. Multiplying by ``p * (1 - p)`` again shrinks every component by up to 4 times, and
   by far more where the network is confidently wrong (``p`` of the true class near 0 makes
   its factor near 0), so it learns slowest where it is most wrong. Through two sigmoid layers
   (each multiplying by at most 1/4 more) the first layer then gets almost nothing.
2. No biases. Every unit computes ``sigmoid(w . x)``, a boundary through the origin, and the
   output layer cannot encode how common each class is. That makes the network weaker, not
   dead: on MNIST, whose pixels are mostly zero and whose classes are almost balanced, it
   costs little or nothing on its own (``--show-bug`` measures it); the correct network has
   biases, and so do the results in the issue.
3. A broken Xavier init. The issue does not record how it was broken; the usual ways are a
   missing scale (``np.random.randn(n_in, n_out)``, standard deviation 1 instead of about
   ``sqrt(2 / (n_in + n_out))``), which drives the 784-input sigmoids into saturation where
   their derivative is zero, or a scale that is far too small, which makes every unit output
   0.5 and the gradient reaching the first layer tiny. Either way the early layers learn
   slowly; the unscaled version costs several points after one epoch (``--show-bug``).
4. The update computed but never applied (``W_new = W - lr * dW``, then ``W`` used again; or
   the update written into a copy). The parameters stay at their random start, so the
   network is exactly as good as a random one, about 10%, however long it trains, and the
   loss does not move at all. This one alone explains "never improved".

With ``--show-bug`` the script prints ``fastmlp.check_backprop``'s verdict on the learner's
output derivative (bug 1; fastmlp itself cannot be made to compute it, so it is not trained);
trains without biases (a loop over ``net.loss_and_gradients`` that never touches the biases,
which stay at zero; bug 2); trains from ``init=("normal", 1.0)``, the unscaled version of bug 3,
with ``fastmlp.doctor``'s report on it; and shows that a network whose update is never applied
is the untrained network (bug 4), which ``fastmlp.doctor`` cannot see: it trains a copy
correctly, so a clean report on a network that does not learn points at the training loop.
"""
import time

import learners_common as common
import numpy as np

import fastmlp

SIZES = [784, 128, 64, 10]
EPOCHS, BATCH_SIZE, LR = 1, 1, 0.05
TARGET = "about 95%"
DOCTOR = {"batch_size": 1, "steps": 2000}       # doctor's short run, one image per step like the setup


def build(module, seed, init="glorot", **kwargs):
    """Network 4, as the learner meant it: fastmlp.MLP or fastmlp.reference.MLP."""
    return module.MLP(SIZES, activation="sigmoid", output="softmax", loss="cross_entropy", init=init,
                      seed=seed, **kwargs)


def learner_gradients(weights, biases, X, Y):
    """The learner's backprop with bug 1: the softmax derivative multiplied onto (p - y)."""
    activations = [X]
    for W, b in zip(weights[:-1], biases[:-1]):
        activations.append(common.sigmoid(activations[-1] @ W + b))
    p = common.softmax(activations[-1] @ weights[-1] + biases[-1])
    delta = (p - Y) * p * (1 - p) / len(X)      # the bug: (p - Y) / len(X) is already dLoss/dz
    dW, db = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        dW[layer] = activations[layer].T @ delta
        db[layer] = delta.sum(axis=0)
        if layer > 0:
            a = activations[layer]
            delta = (delta @ weights[layer].T) * a * (1 - a)
    return dW, db


def show_bugs(data, seed):
    (X, y), (X_test, y_test) = data

    common.heading("The correct setup, for comparison")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "the correct setup", **DOCTOR)

    common.heading("Bug 1: a softmax derivative multiplied onto (p - y)")
    common.show_check_backprop(learner_gradients, SIZES, "sigmoid", "the learner's backprop")

    common.heading("Bug 2: no biases")
    net = build(fastmlp, seed)
    started = time.perf_counter()
    for i in np.random.default_rng(seed).permutation(len(X)):
        _, grads = net.loss_and_gradients(X[i:i + 1], y[i:i + 1])
        for W, (dW, _) in zip(net.weights, grads):
            W -= LR * dW                        # biases are never updated: they stay at zero
    common.line("one epoch with the biases held at zero", common.accuracy(net, X_test, y_test),
                time.perf_counter() - started)
    print("  (a Python loop over net.loss_and_gradients, so much slower than fit)")

    common.heading("Bug 3: a broken Xavier init (here: the scale left out, N(0, 1))")
    net = build(fastmlp, seed, init=("normal", 1.0))
    hidden = common.sigmoid(X_test @ net.weights[0])
    print(f"  before training, {np.mean((hidden < 0.01) | (hidden > 0.99)):.0%} of hidden layer 1's "
          "activations on the test set are within 0.01 of 0 or 1")
    seconds = common.fit(net, X, y, EPOCHS, BATCH_SIZE, LR)
    common.line("one epoch from N(0, 1) weights", common.accuracy(net, X_test, y_test), seconds)
    common.show_doctor(build(fastmlp, seed, init=("normal", 1.0)), X, y, fastmlp.SGD(lr=LR),
                       "weights N(0, 1)", **DOCTOR)

    common.heading("Bug 4: the update computed but never applied")
    net = build(fastmlp, seed)
    before = net.evaluate(X_test, y_test)
    print(f"  the network as it starts, and so as it ends: test loss {before['loss']:.4f}")
    common.line("accuracy of the never-updated network", before["accuracy"])
    print("  fastmlp.doctor trains its copy correctly, so it reports the setup as healthy (above):")
    print("  a clean report on a network that does not learn means the bug is in the training loop.")


def main():
    args = common.parse_args(__doc__, reference_rows=20000)
    data = common.load(args.data)
    print(__doc__.strip().splitlines()[0])
    common.compare_per_sample(build, data, EPOCHS, BATCH_SIZE, LR, TARGET, args.seed,
                              reference_rows=args.reference_rows, skip_reference=args.skip_reference)
    if args.show_bug:
        show_bugs(data, args.seed)


if __name__ == "__main__":
    main()
