"""``fastmlp train`` and ``fastmlp evaluate``: fit a network on MNIST and save it, or score a saved one.

``add_parsers`` adds both subcommands; each parser's ``func`` runs it and returns the exit status,
and ``check_train_options`` finds the usage errors that no single option shows. The plots of
``train --plot`` are drawn here too, into files only (matplotlib's Agg backend).
"""

import math
import os
import sys
import time

import fastmlp
from fastmlp import reference
from fastmlp.datasets._mnist import load_mnist_given_as
from fastmlp.cli._options import (
    CommandError,
    Formatter,
    add_optimizer_arguments,
    build_optimizer,
    float_in,
    fraction,
    int_in,
    layer_sizes,
    optimizer_misuse,
)


def add_parsers(commands):
    """Add the ``train`` and ``evaluate`` subcommands to an argparse subparsers object."""
    _add_train_parser(commands)
    _add_evaluate_parser(commands)


def _add_train_parser(commands):
    train = commands.add_parser(
        "train",
        formatter_class=Formatter,
        help="train a network on MNIST and save it",
        description="Train a network on MNIST (the bundled copy unless --data says otherwise), report its "
        "test accuracy and save it as .npz.",
        epilog="examples:\n  fastmlp train --hidden 128 --epochs 3 --out mnist.npz\n"
        "  fastmlp train --sizes 784,256,128,10 --optimizer adam --lr 0.001 --plot plots/",
    )
    spec = train.add_mutually_exclusive_group()
    spec.add_argument(
        "--sizes",
        type=layer_sizes(),
        metavar="N,...,K",
        help="every layer size, inputs first and classes last, e.g. 784,128,10",
    )
    spec.add_argument(
        "--hidden",
        type=layer_sizes(),
        default=[128],
        metavar="H[,H...]",
        help="hidden layer sizes; inputs and classes come from the data (default: 128)",
    )
    train.add_argument("--activation", choices=reference.ACTIVATIONS, default="relu", help="hidden activation")
    train.add_argument("--output", choices=["softmax", "sigmoid"], default="softmax", help="output function")
    train.add_argument("--loss", choices=["cross_entropy", "mse"], default="cross_entropy", help="loss")
    train.add_argument(
        "--init", choices=["auto", "he", "glorot", "xavier", "lecun"], default="auto", help="weight initialisation"
    )
    add_optimizer_arguments(train)
    train.add_argument("--nesterov", action="store_true", help="Nesterov momentum (sgd)")
    train.add_argument("--weight-decay", type=float_in(0), default=0.0, help="L2 weight decay")
    train.add_argument("--epochs", type=int_in(0), default=3, help="passes over the training data")
    train.add_argument("--batch-size", type=int_in(1), default=64, help="rows per update")
    train.add_argument("--seed", type=int_in(0), default=None, help="seed for a reproducible run")
    train.add_argument(
        "--limit", type=int_in(1), default=None, metavar="N", help="train on the first N training rows only"
    )
    train.add_argument(
        "--validation-split",
        type=fraction,
        default=None,
        metavar="F",
        help="hold out this fraction of the training rows for validation (default: validate on the test set)",
    )
    _add_data_argument(train)
    train.add_argument("--out", default="model.npz", metavar="PATH", help="where to save the trained model")
    train.add_argument(
        "--plot",
        default=None,
        metavar="DIR",
        help="also write history.png, confusion_matrix.png, misclassified.png and "
        "weights.png into DIR (needs matplotlib)",
    )
    train.add_argument(
        "--verbose",
        type=int,
        choices=[0, 1, 2],
        default=None,
        help="0 silent, 1 a progress bar per epoch, 2 a line per epoch (default: 1 on a terminal, else 2)",
    )
    train.set_defaults(func=train_command, check=check_train_options)


def _add_evaluate_parser(commands):
    evaluate = commands.add_parser(
        "evaluate",
        formatter_class=Formatter,
        help="report a saved model's loss and accuracy",
        description="Print the loss and accuracy of a saved model on MNIST.",
        epilog="example:\n  fastmlp evaluate mnist.npz --split test",
    )
    evaluate.add_argument("model", help="a model saved by 'fastmlp train' or MLP.save")
    _add_data_argument(evaluate)
    evaluate.add_argument("--split", choices=["test", "train"], default="test", help="which MNIST rows")
    evaluate.set_defaults(func=evaluate_command)


def _add_data_argument(parser):
    parser.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help="MNIST: a folder of IDX files, mnist.npz, mnist.pkl.gz or a folder with "
        "mnist_train.csv/mnist_test.csv (default: $FASTMLP_DATA, ./data/mnist, else the "
        "copy inside fastmlp)",
    )


def check_train_options(parser, args):
    """Usage errors (exit 2) that one option alone cannot show."""
    message = optimizer_misuse(args.optimizer, args.momentum, args.nesterov)
    if message:
        parser.error(message)


# ---------------------------------------------------------------------------------------------- train


def train_command(args):
    """Run ``fastmlp train``: fit, report the test accuracy, save, and plot when asked."""
    if args.plot is not None:
        _pyplot_for_files()  # fail before training, not after
    _check_out_folder(args.out)
    (X, y), (X_test, y_test) = load_mnist_given_as(args.data, None, "--data")
    if args.limit is not None:
        X, y = X[: args.limit], y[: args.limit]
    sizes = _network_sizes(args, n_features=X.shape[1], n_classes=int(max(y.max(), y_test.max())) + 1)
    optimizer = build_optimizer(
        args.optimizer, args.lr, args.momentum, nesterov=args.nesterov, weight_decay=args.weight_decay
    )
    net = fastmlp.MLP(
        sizes, activation=args.activation, output=args.output, loss=args.loss, init=args.init, seed=args.seed
    )
    if args.validation_split:
        validation = dict(validation_split=args.validation_split)
    else:
        validation = dict(validation_data=(X_test, y_test))
    verbose = _verbosity(args)
    if verbose:
        print(
            f"training {net} on {len(X)} rows with {optimizer}, {args.epochs} epochs of batch {args.batch_size}",
            flush=True,
        )
    started = time.perf_counter()
    history = net.fit(
        X, y, epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer, verbose=verbose, **validation
    )
    seconds = time.perf_counter() - started
    result = net.evaluate(X_test, y_test)
    print(
        f"test accuracy: {result['accuracy']:.4f}  test loss: {result['loss']:.4f}  "
        f"({args.epochs} epochs in {seconds:.2f} s)"
    )
    print(f"saved model to {net.save(args.out)}")
    if args.plot is not None:
        written = _write_plots(args.plot, net, history, X_test, y_test)
        print(f"wrote plots: {', '.join(written)}")
    return 0


def _check_out_folder(out):
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise CommandError(f"--out: got {out!r}, whose folder {folder} does not exist; create it first")


def _network_sizes(args, n_features, n_classes):
    """--sizes checked against the data, or the data's inputs and classes around --hidden."""
    if args.sizes is None:
        return [n_features, *args.hidden, n_classes]
    sizes = args.sizes
    if len(sizes) < 2:
        raise CommandError(
            f"--sizes: got {','.join(map(str, sizes))}; expected at least inputs and classes, "
            f"such as {n_features},128,{n_classes}"
        )
    if sizes[0] != n_features:
        raise CommandError(f"--sizes: got {sizes[0]} inputs; the data has {n_features} features per row")
    if sizes[-1] < n_classes:
        raise CommandError(f"--sizes: got {sizes[-1]} outputs; the data has {n_classes} classes")
    return sizes


def _verbosity(args):
    return args.verbose if args.verbose is not None else 1  # fit shows a bar on a terminal, else lines


def _pyplot_for_files():
    try:
        import matplotlib
    except ImportError:
        raise CommandError('--plot needs matplotlib: pip install "fastmlp[plot]"') from None
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # files only: no window, no display needed
    import matplotlib.pyplot as plt

    return plt


def _write_plots(directory, net, history, X_test, y_test):
    from fastmlp import plot

    plt = _pyplot_for_files()
    os.makedirs(directory, exist_ok=True)
    y_pred = net.predict(X_test)
    figures = {
        "history.png": lambda: plot.history(history),
        "confusion_matrix.png": lambda: plot.confusion_matrix(y_test, y_pred),
        "misclassified.png": lambda: plot.misclassified(X_test, y_test, y_pred),
    }
    if math.isqrt(net.sizes[0]) ** 2 == net.sizes[0]:
        figures["weights.png"] = lambda: plot.weights(net)
    written = []
    for name, make in figures.items():
        if name == "history.png" and not history.epoch:
            continue  # zero epochs: nothing to draw
        fig = make()
        path = os.path.join(directory, name)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


# ------------------------------------------------------------------------------------------- evaluate


def evaluate_command(args):
    """Run ``fastmlp evaluate``: print a saved model's loss, accuracy and rows on one MNIST split."""
    net = fastmlp.load(args.model)
    X, y = load_mnist_given_as(args.data, args.split, "--data")
    if X.shape[1] != net.sizes[0]:
        raise CommandError(f"{args.model}: the model takes {net.sizes[0]} features; the data has {X.shape[1]}")
    result = net.evaluate(X, y)
    print(f"loss: {result['loss']:.6f}")
    print(f"accuracy: {result['accuracy']:.6f}")
    print(f"rows: {len(X)}")
    return 0
