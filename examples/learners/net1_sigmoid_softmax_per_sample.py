"""Network 1: 784-15-10, sigmoid hidden layer, softmax + cross-entropy, per-sample SGD, lr 0.01, one epoch.

    python examples/learners/net1_sigmoid_softmax_per_sample.py [--show-bug] [--seed 0]

Trained correctly, this small network reaches about 92% on the MNIST test set after a single
pass over the 60000 training images, one image per update. The learner's version stayed at
chance. It had five bugs, any one of which is enough to stop learning or to hide it:

1. A softmax derivative multiplied onto the cross-entropy derivative. For softmax followed by
   cross-entropy, the gradient of the loss with respect to the logits is exactly ``p - y``: the
   softmax's Jacobian has already been used to get there (it cancels against the ``1/p`` of the
   log). Multiplying by ``p * (1 - p)`` once more uses the Jacobian twice, and only its
   diagonal. Each component shrinks by a factor of at most 1/4, and the factor is almost zero
   precisely where the network is confidently wrong (``p`` near 0 for the true class): the
   examples it most needs to learn from barely move it. Learning slows to a crawl, in a wrong
   direction.
2. A softmax derivative used for the sigmoid hidden layer. The hidden units are sigmoids, whose
   derivative is ``h * (1 - h)``. Taking a softmax over the 15 hidden pre-activations and using
   ``s * (1 - s)`` instead mixes the units together (each ``s`` depends on all 15) and gives
   factors near 1/15 instead of up to 1/4: the first layer's gradient is wrong in size and in
   direction.
3. The weights moved with ``+=``. The gradient points uphill; ``W += lr * dW`` climbs the loss
   instead of descending it. The network learns to make the correct class as *unlikely* as it
   can, the logits grow without bound and accuracy ends at or below chance.
4. The same sample every step (the loop index never reached the indexing). Trained on one
   image 60000 times, the network learns one fact, "the answer is that label", and predicts
   that one class for every input: accuracy is that class's share of the test set, about 10%.
5. 6000 labels for 60000 images. The issue does not record how the two were paired, and both
   usual outcomes are bad. Paired with ``zip``, the loop silently stops after 6000 images: one
   tenth of the data, several points lost. Paired any other way (an index taken modulo 6000,
   labels read from the wrong offset), image ``i`` gets a label that is not its own, and then
   there is nothing to learn: the best the network can do is to answer the most common label,
   "1", for (nearly) everything, which scores about 11% on the test set, where 11.35% of the
   digits are ones: the famous "stuck at 11%". ``fastmlp.doctor`` cannot tell such labels from
   real ones in a short run (the loss still falls a little as the network learns how common
   each class is), so check the pairing by eye: print a few images with their labels.

With ``--show-bug`` the script reproduces what fastmlp's building blocks can: ascent (a manual
loop over ``net.loss_and_gradients`` that adds the gradient, since ``fastmlp.SGD`` refuses a
negative learning rate), the same sample every step and misaligned labels (both through
``fit`` on the data the learner's loop actually saw). The two derivative bugs live inside the
learner's own backprop, which fastmlp cannot be made to compute; ``fastmlp.check_backprop``
finds them by comparing the learner's gradients with the true ones, so the script writes the
learner's backprop (with each bug behind a switch) and prints its verdicts.
"""
import time

import learners_common as common
import numpy as np

import fastmlp

SIZES = [784, 15, 10]
EPOCHS, BATCH_SIZE, LR = 1, 1, 0.01
TARGET = "about 92%"
DOCTOR = {"batch_size": 1, "steps": 2000}       # doctor's short run, one image per step like the setup


def build(module, seed, **kwargs):
    """Network 1, as the learner meant it: fastmlp.MLP or fastmlp.reference.MLP."""
    return module.MLP(SIZES, activation="sigmoid", output="softmax", loss="cross_entropy",
                      init="glorot", seed=seed, **kwargs)


def learner_gradients(weights, biases, X, Y, bug=None):
    """The learner's backprop for this network; ``bug`` switches one of their mistakes on.

    Returns the gradients of the mean loss over the rows, ``([dW1, dW2], [db1, db2])``, or, for
    ``bug="ascent"``, the direction their update actually descends along.
    """
    (W1, W2), (b1, b2) = weights, biases
    n = len(X)
    z1 = X @ W1 + b1
    h = common.sigmoid(z1)
    p = common.softmax(h @ W2 + b2)
    d2 = (p - Y) / n                            # softmax + cross-entropy, differentiated together
    if bug == "softmax-derivative-on-ce":
        d2 = d2 * p * (1 - p)                   # the softmax's derivative a second time
    if bug == "softmax-derivative-in-hidden":
        s = common.softmax(z1)
        d1 = (d2 @ W2.T) * s * (1 - s)          # a softmax's derivative for a sigmoid layer
    else:
        d1 = (d2 @ W2.T) * h * (1 - h)
    dW, db = [X.T @ d1, h.T @ d2], [d1.sum(axis=0), d2.sum(axis=0)]
    if bug == "ascent":
        # W += lr * dW is W -= lr * (-dW): the update descends along -dW.
        dW, db = [-g for g in dW], [-g for g in db]
    return dW, db


def show_bugs(data, seed):
    (X, y), (X_test, y_test) = data

    common.heading("The correct setup, for comparison")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "the correct setup", **DOCTOR)

    common.heading("Bugs 1-3 as fastmlp.check_backprop sees them")
    for bug, what in [("softmax-derivative-on-ce", "bug 1: softmax derivative on top of cross-entropy"),
                      ("softmax-derivative-in-hidden", "bug 2: softmax derivative for the sigmoid layer"),
                      ("ascent", "bug 3: the direction W += lr * dW descends along")]:
        common.show_check_backprop(lambda W, b, X_, Y_, bug=bug: learner_gradients(W, b, X_, Y_, bug),
                                   SIZES, "sigmoid", what)

    common.heading("Bug 3 in training: W += lr * dW, one sample at a time")
    net = build(fastmlp, seed)
    before = net.evaluate(X_test, y_test)
    started = time.perf_counter()
    for i in np.random.default_rng(seed).permutation(len(X)):
        _, grads = net.loss_and_gradients(X[i:i + 1], y[i:i + 1])
        for W, b, (dW, db) in zip(net.weights, net.biases, grads):
            W += LR * dW                        # the learner's sign
            b += LR * db
    after = net.evaluate(X_test, y_test)
    print(f"  test loss {before['loss']:.3f} before, {after['loss']:.3f} after one epoch of ascent "
          f"({time.perf_counter() - started:.1f} s, a Python loop)")
    common.line("accuracy after ascent", after["accuracy"])
    print(f"  {common.predicted_classes(net, X_test)}")
    print("  (fastmlp.SGD refuses a negative learning rate, and fastmlp.doctor only descends, so it "
          "cannot see this bug; check_backprop's sign-flipped verdict above does.)")

    common.heading("Bug 4: the same sample every step")
    X_same, y_same = np.repeat(X[:1], len(X), axis=0), np.repeat(y[:1], len(X))
    net = build(fastmlp, seed)
    common.fit(net, X_same, y_same, EPOCHS, BATCH_SIZE, LR)
    common.line(f"accuracy after 60000 steps on image 0 (a {y[0]})", common.accuracy(net, X_test, y_test))
    print(f"  {common.predicted_classes(net, X_test)}")
    common.show_doctor(build(fastmlp, seed), X_same, y_same, fastmlp.SGD(lr=LR),
                       "training on what the learner's loop saw", **DOCTOR)

    common.heading("Bug 5: 6000 labels for 60000 images")
    net = build(fastmlp, seed)
    seconds = common.fit(net, X[:6000], y[:6000], EPOCHS, BATCH_SIZE, LR)
    common.line("paired with zip: one epoch over the first 6000 images", common.accuracy(net, X_test, y_test),
                seconds)
    y_wrong = np.random.default_rng(seed).permutation(y)    # each image with some other image's label
    print(f"  labels that do not belong to their images: {np.mean(y_wrong == y):.1%} match by chance")
    net = build(fastmlp, seed)
    seconds = common.fit(net, X, y_wrong, EPOCHS, BATCH_SIZE, LR)
    common.line("one epoch on labels that are not their images'", common.accuracy(net, X_test, y_test), seconds)
    print(f"  {common.predicted_classes(net, X_test)}")
    common.show_doctor(build(fastmlp, seed), X, y_wrong, fastmlp.SGD(lr=LR),
                       "with labels that are not their images'", **DOCTOR)


def main():
    args = common.parse_args(__doc__)
    data = common.load(args.data)
    print(__doc__.strip().splitlines()[0])
    common.compare_per_sample(build, data, EPOCHS, BATCH_SIZE, LR, TARGET, args.seed,
                              skip_reference=args.skip_reference)
    if args.show_bug:
        show_bugs(data, args.seed)


if __name__ == "__main__":
    main()
