"""Network 2: 784-30-10, sigmoid hidden and output layers, squared error, minibatches of 10, lr 2.0, one epoch.

    python examples/learners/net2_sigmoid_mse_minibatch.py [--show-bug | --diagnose] [--seed 0]

This is the network of Michael Nielsen's book: sigmoids everywhere and the quadratic cost
``0.5 * sum((out - onehot)**2)``. With a sane initialisation one epoch reaches about 94% on the
MNIST test set (lr 3.0 for 10 epochs, the book's setting, gives about 95.7%). The learner's
version answered the same digit for every image.

The learner's code is ``net2_learner_code.py``: Nielsen's network vectorised over the
minibatch, images as columns, W of shape (out, in), biases as (k, 1) columns. Its ``backprop``
returns the gradient *summed* over the 10 images of a minibatch (the book divides by
``len(mini_batch)`` in the update; the vectorised rewrite lost the division), and the update
subtracts ``eta`` times that sum: at ``eta = 2.0`` every step is 10 times too long, a learning
rate of 20. The very first step overshoots: it drives every output pre-activation to between
-5 and -20, so every output says "no" (near 0) for every image, and more than half of the
hidden activations to within 0.01 of 0 or 1. There the sigmoid's derivative, which the
squared error multiplies into every gradient, is about zero, so the network cannot climb back
out: it answers the class whose output is least negative, for every image, about 10%. The fix
is to divide by the number of images (``X.shape[1]``, the columns here), which makes the
gradient the mean over the minibatch; or, equivalently, ``eta / len(mini_batch)`` as the book
has it.

``fastmlp.diagnose`` reads the learner's network, the pair ``(weights, biases)``, as it is;
the glue is four lines: a minibatch in the learner's layout and three adapters from the
learner's signatures ``f(weights, biases, X, ...)`` to ``f(params, X, ...)`` (see ``diagnose``
below). ``--diagnose`` prints its report on the learner's code and on the code with the fix.

Another classic bug with this network: every weight and every bias drawn from uniform [0, 1).
All weights are positive, with mean 0.5, and an MNIST image has roughly 100 "units of ink"
(the sum of its pixels in [0, 1]), so every hidden pre-activation is about 0.5 * 100 = 50, for
every image. sigmoid(50) is 1 to within float precision: all 30 hidden units output 1 whatever
the input, and their derivative ``h * (1 - h)`` is 0, so no gradient reaches the first layer
to undo it. The output layer then sees the same hidden vector (all ones) for every image, so
it gives the same output for every image, and one answer for every image scores that class's
share of the test set, about 10%. Initial weights must be small and of both signs, scaled to
the fan-in (Glorot: uniform in +-sqrt(6 / (n_in + n_out))), and biases usually start at zero.

With ``--show-bug`` the script prints diagnose's reports, then builds the uniform [0, 1)
initialisation with fastmlp (``init=("uniform", 0, 1)``, and the biases written into
``net.biases``), trains it, counts the predicted classes and prints what ``fastmlp.doctor``
says about it, next to its verdict on the correct setup.
"""

import learners_common as common
import numpy as np

import fastmlp

SIZES = [784, 30, 10]
EPOCHS, BATCH_SIZE, LR = 1, 10, 2.0
TARGET = "about 94% (lr 3.0, 10 epochs: about 95.7%)"
DOCTOR = {"batch_size": BATCH_SIZE}  # doctor's short run: 200 minibatches of 10
LEARNER_CODE, FIX = "net2_learner_code", "delta = (activations[-1] - Y) * sigmoid_prime(zs[-1]) / X.shape[1]"


def build(module, seed, **kwargs):
    """Network 2 with a sane init (Glorot, zero biases): fastmlp.MLP or fastmlp.reference.MLP."""
    return module.MLP(SIZES, activation="sigmoid", output="sigmoid", loss="mse", init="glorot", seed=seed, **kwargs)


def build_uniform_01(module, seed, **kwargs):
    """Network 2 as the learner initialised it: weights and biases uniform in [0, 1)."""
    net = module.MLP(
        SIZES, activation="sigmoid", output="sigmoid", loss="mse", init=("uniform", 0.0, 1.0), seed=seed, **kwargs
    )
    rng = np.random.default_rng(seed)
    for layer, n_out in enumerate(SIZES[1:]):
        net.biases[layer] = rng.uniform(0.0, 1.0, size=n_out)
    return net


def diagnose(code, X, y):
    """fastmlp.diagnose on the learner's code ``code`` (a module), given fastmlp's rows of MNIST."""
    X, Y = X[:BATCH_SIZE].T, np.eye(10)[y[:BATCH_SIZE]].T  # glue: a minibatch as columns
    forward = lambda net, X: code.feedforward(*net, X)  # glue
    backprop = lambda net, X, Y: code.backprop(*net, X, Y)  # glue
    step = lambda net, X, Y: code.update_mini_batch(*net, X, Y, code.ETA)  # glue
    return fastmlp.diagnose(
        code.init_network(),
        X,
        Y,
        forward=forward,
        backprop=backprop,
        step=step,
        output="sigmoid",
        loss="mse",
        lr=code.ETA,
    )


def show_bugs(data, seed):
    common.show_diagnose(LEARNER_CODE, FIX, diagnose, data)
    (X, y), (X_test, y_test) = data

    common.heading("Another classic bug: weights and biases uniform in [0, 1)")
    print("The correct setup, for comparison:")
    common.show_doctor(build(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "Glorot init, zero biases", **DOCTOR)

    net = build_uniform_01(fastmlp, seed)
    hidden = 1 / (1 + np.exp(-(X_test @ net.weights[0] + net.biases[0])))
    print(
        f"  before training, {np.mean(hidden > 0.99):.1%} of the hidden activations on the test set "
        f"are above 0.99 (mean pre-activation {np.mean(X_test @ net.weights[0] + net.biases[0]):.1f})"
    )
    seconds = common.fit(net, X, y, EPOCHS, BATCH_SIZE, LR)
    common.line("fastmlp, uniform [0, 1) weights and biases", common.accuracy(net, X_test, y_test), seconds)
    print(f"  {common.predicted_classes(net, X_test)}")
    common.show_doctor(
        build_uniform_01(fastmlp, seed), X, y, fastmlp.SGD(lr=LR), "weights and biases uniform in [0, 1)", **DOCTOR
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
