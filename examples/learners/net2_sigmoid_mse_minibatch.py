"""Network 2: 784-30-10, sigmoid hidden and output layers, squared error, minibatches of 10, lr 2.0, one epoch.

    python examples/learners/net2_sigmoid_mse_minibatch.py [--show-bug] [--seed 0]

This is the network of Michael Nielsen's book: sigmoids everywhere and the quadratic cost
``0.5 * sum((out - onehot)**2)``. With a sane initialisation one epoch reaches about 94% on the
MNIST test set (lr 3.0 for 10 epochs, the book's setting, gives about 95.7%). The learner's
version answered the same digit for every image.

The bug: every weight and every bias drawn from uniform [0, 1). All weights are positive, with
mean 0.5, and an MNIST image has roughly 100 "units of ink" (the sum of its pixels in [0, 1]),
so every hidden pre-activation is about 0.5 * 100 = 50, for every image. sigmoid(50) is 1 to
within float precision: all 30 hidden units output 1 whatever the input, and their derivative
``h * (1 - h)`` is 0, so no gradient reaches the first layer to undo it. The output layer then
sees the same hidden vector (all ones) for every image, so it gives the same output for every
image; its own pre-activations (30 positive weights times 1, plus a positive bias, about 15)
saturate as well, and with the squared error the output sigmoid's derivative multiplies the
error, so even the output layer learns slowly. A network that gives one answer for every
image scores that class's share of the test set, about 10%. Initial weights must be small
and of both signs, scaled to the fan-in (Glorot: uniform in +-sqrt(6 / (n_in + n_out))), and
biases usually start at zero.

With ``--show-bug`` the script builds exactly that initialisation with fastmlp
(``init=("uniform", 0, 1)``, and the biases written into ``net.biases``), trains it, counts
the predicted classes and prints what ``fastmlp.doctor`` says about it, next to its verdict on
the correct setup.
"""
import learners_common as common
import numpy as np

import fastmlp

SIZES = [784, 30, 10]
EPOCHS, BATCH_SIZE, LR = 1, 10, 2.0
TARGET = "about 94% (lr 3.0, 10 epochs: about 95.7%)"
DOCTOR = {"batch_size": BATCH_SIZE}             # doctor's short run: 200 minibatches of 10


def build(module, seed, **kwargs):
    """Network 2 with a sane init (Glorot, zero biases): fastmlp.MLP or fastmlp.reference.MLP."""
    return module.MLP(SIZES, activation="sigmoid", output="sigmoid", loss="mse", init="glorot",
                      seed=seed, **kwargs)


def build_uniform_01(module, seed, **kwargs):
    """Network 2 as the learner initialised it: weights and biases uniform in [0, 1)."""
    net = module.MLP(SIZES, activation="sigmoid", output="sigmoid", loss="mse", init=("uniform", 0.0, 1.0),
                     seed=seed, **kwargs)
    rng = np.random.default_rng(seed)
    for layer, n_out in enumerate(SIZES[1:]):
        net.biases[layer] = rng.uniform(0.0, 1.0, size=n_out)
    return net


def show_bugs(data, seed):
    (X, y), (X_test, y_test) = data
    common.heading("The correct setup, for comparison")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "Glorot init, zero biases", **DOCTOR)

    common.heading("The bug: weights and biases uniform in [0, 1)")
    net = build_uniform_01(fastmlp, seed)
    hidden = 1 / (1 + np.exp(-(X_test @ net.weights[0] + net.biases[0])))
    print(f"  before training, {np.mean(hidden > 0.99):.1%} of the hidden activations on the test set "
          f"are above 0.99 (mean pre-activation {np.mean(X_test @ net.weights[0] + net.biases[0]):.1f})")
    seconds = common.fit(net, X, y, EPOCHS, BATCH_SIZE, LR)
    common.line("fastmlp, uniform [0, 1) weights and biases", common.accuracy(net, X_test, y_test), seconds)
    print(f"  {common.predicted_classes(net, X_test)}")
    common.show_doctor(build_uniform_01(fastmlp, seed), X, y, fastmlp.SGD(lr=LR),
                       "weights and biases uniform in [0, 1)", **DOCTOR)


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
