"""Network 1: 784-15-10, sigmoid hidden layer, softmax + cross-entropy, per-sample SGD, lr 0.01, one epoch.

    python examples/learners/net1_sigmoid_softmax_per_sample.py [--show-bug | --diagnose] [--seed 0]

Trained correctly, this small network reaches about 92% on the MNIST test set after a single
pass over the 60000 training images, one image per update. The learner's version stayed at
chance.

The learner's code is ``net1_learner_code.py``: images as (784, 1) columns, W of shape
(out, in), biases as (k, 1) columns. It differentiates the cross-entropy through the softmax by
hand, ``dloss/dz[j] = -(1 / p[t]) * dp[t]/dz[j]``, and gets the sign of
``dp[t]/dz[j] = -p[t] * p[j]`` wrong for every class j other than the target t: the error it
backpropagates is ``-p[j]`` there instead of ``+p[j]``. So every wrong class is pushed *up*, in
proportion to how much the network already believes in it. Whichever class the network
favours at the start is pushed up on every image that is not its own, about as hard as the
right class, and the more it wins the harder it is pushed: within a few hundred images it is
the answer for every image (about 10%). And as every component of the error is now negative,
the output logits only ever grow: after some thousands of images the winner's bias is in the
tens, ``p[t]`` underflows to 0, ``1 / p[t]`` is infinite and the weights turn NaN. The fix is
the sign (``dz2[j] = p[j]``); the whole derivative is simply ``p - onehot``.

``fastmlp.diagnose`` reads the learner's parameters and functions as they are; the only glue is
one line that hands it an image in the learner's layout (see ``diagnose`` below).
``--diagnose`` prints its report on the learner's code and on the code with the fix.

Other bugs learners posted with this network:

1. A softmax derivative multiplied onto the cross-entropy derivative. For softmax followed by
   cross-entropy, the gradient of the loss with respect to the logits is exactly ``p - y``: the
   softmax's Jacobian has already been used to get there. Multiplying by ``p * (1 - p)`` once
   more shrinks each component by a factor of at most 1/4, and almost to zero precisely where
   the network is confidently wrong (``p`` near 0 for the true class): the examples it most
   needs to learn from barely move it.
2. A softmax derivative used for the sigmoid hidden layer: ``s * (1 - s)`` of a softmax over
   the 15 hidden pre-activations instead of ``h * (1 - h)`` mixes the units together and gives
   factors near 1/15 instead of up to 1/4: the first layer's gradient is wrong in size and in
   direction.
3. The weights moved with ``+=``: ``W += lr * dW`` climbs the loss instead of descending it;
   the logits grow without bound and accuracy ends at or below chance.
4. The same sample every step (the loop index never reached the indexing). Trained on one
   image 60000 times, the network learns one fact, "the answer is that label", and predicts
   that one class for every input: accuracy is that class's share of the test set, about 10%.
5. 6000 labels for 60000 images. Paired with ``zip``, the loop silently stops after 6000
   images: one tenth of the data, several points lost. Paired any other way (an index taken
   modulo 6000, labels read from the wrong offset), image ``i`` gets a label that is not its
   own, and then there is nothing to learn: the best the network can do is to answer the most
   common label, "1", for (nearly) everything, which scores about 11% on the test set, where
   11.35% of the digits are ones: the famous "stuck at 11%". ``fastmlp.doctor`` cannot tell
   such labels from real ones in a short run (the loss still falls a little as the network
   learns how common each class is), so check the pairing by eye: print a few images with
   their labels.

``fastmlp.diagnose`` names bugs 1 to 3 too, in code written like ``net1_learner_code.py``:
``extra-softmax-derivative``, ``activation-derivative``, and ``ascent`` when the update is a
function it can call.
With ``--show-bug`` the script prints diagnose's reports, then reproduces bugs 4 and 5 with
``fit`` on the data the learner's loop actually saw, with ``fastmlp.doctor``'s reports.
"""

import learners_common as common
import numpy as np

import fastmlp

SIZES = [784, 15, 10]
EPOCHS, BATCH_SIZE, LR = 1, 1, 0.01
TARGET = "about 92%"
DOCTOR = {"batch_size": 1, "steps": 2000}  # doctor's short run, one image per step like the setup
LEARNER_CODE, FIX = "net1_learner_code", "dz2[j] = (1 / p[label]) * p[label] * p[j]"


def build(module, seed, **kwargs):
    """Network 1, as the learner meant it: fastmlp.MLP or fastmlp.reference.MLP."""
    return module.MLP(
        SIZES, activation="sigmoid", output="softmax", loss="cross_entropy", init="glorot", seed=seed, **kwargs
    )


def diagnose(code, X, y):
    """fastmlp.diagnose on the learner's code ``code`` (a module), given fastmlp's rows of MNIST."""
    x, label = X[0].reshape(784, 1), y[0]  # glue: one image as the learner's (784, 1) column
    return fastmlp.diagnose(code.init_params(), x, label, forward=code.forward, backprop=code.backprop, lr=code.LR)


def show_bugs(data, seed):
    common.show_diagnose(LEARNER_CODE, FIX, diagnose, data)
    (X, y), (X_test, y_test) = data

    common.heading("The correct setup, for comparison")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "the correct setup", **DOCTOR)

    common.heading("Bug 4: the same sample every step")
    X_same, y_same = np.repeat(X[:1], len(X), axis=0), np.repeat(y[:1], len(X))
    net = build(fastmlp, seed)
    common.fit(net, X_same, y_same, EPOCHS, BATCH_SIZE, LR)
    common.line(f"accuracy after 60000 steps on image 0 (a {y[0]})", common.accuracy(net, X_test, y_test))
    print(f"  {common.predicted_classes(net, X_test)}")
    common.show_doctor(
        build(fastmlp, seed), X_same, y_same, fastmlp.SGD(lr=LR), "training on what the learner's loop saw", **DOCTOR
    )

    common.heading("Bug 5: 6000 labels for 60000 images")
    net = build(fastmlp, seed)
    seconds = common.fit(net, X[:6000], y[:6000], EPOCHS, BATCH_SIZE, LR)
    common.line("paired with zip: one epoch over the first 6000 images", common.accuracy(net, X_test, y_test), seconds)
    y_wrong = np.random.default_rng(seed).permutation(y)  # each image with some other image's label
    print(f"  labels that do not belong to their images: {np.mean(y_wrong == y):.1%} match by chance")
    net = build(fastmlp, seed)
    seconds = common.fit(net, X, y_wrong, EPOCHS, BATCH_SIZE, LR)
    common.line("one epoch on labels that are not their images'", common.accuracy(net, X_test, y_test), seconds)
    print(f"  {common.predicted_classes(net, X_test)}")
    common.show_doctor(
        build(fastmlp, seed), X, y_wrong, fastmlp.SGD(lr=LR), "with labels that are not their images'", **DOCTOR
    )


def main():
    args = common.parse_args(__doc__)
    data = common.load(args.data)
    print(__doc__.strip().splitlines()[0])
    if args.diagnose:
        common.show_diagnose(LEARNER_CODE, FIX, diagnose, data)
        return
    common.compare_per_sample(
        build, data, EPOCHS, BATCH_SIZE, LR, TARGET, args.seed, skip_reference=args.skip_reference
    )
    if args.show_bug:
        show_bugs(data, args.seed)


if __name__ == "__main__":
    main()
