"""The ``fastmlp`` command: train, evaluate, predict and diagnose from the shell.

    fastmlp train --hidden 128 --epochs 3 --out mnist.npz --plot plots/
    fastmlp evaluate mnist.npz
    fastmlp predict mnist.npz digit.png more_digits/ images.npy
    fastmlp doctor ...

Also runs as ``python -m fastmlp``. Exit status: 0 on success, 1 when the command fails (the
reason goes to stderr on one line, without a traceback), 2 for a usage error, 130 on Ctrl-C.
"""
import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np

from fastmlp import reference
from fastmlp.datasets import IMAGE_SUFFIXES, MAX_IMAGE_PIXELS, check_regular_file, read_idx, read_image
from fastmlp.datasets._files import GZIP_MAGIC, MAX_UNDECLARED_BYTES, gunzip, read_regular_file

PROG = "fastmlp"


class CommandError(Exception):
    """A failure to report as one line on stderr, with exit status 1."""


# ------------------------------------------------------------------------------------- argument types

def _int_list(text):
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected comma-separated ints such as 784,128,10") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected positive comma-separated ints such as 784,128,10")
    return values


def _number(kind, minimum, inclusive):
    """An argparse type: a finite int or float above (or at) minimum."""
    bound = f"{'>=' if inclusive else '>'} {minimum}"
    noun = "an int" if kind is int else "a finite number"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {noun} {bound}") from None
        if not (math.isfinite(value) and (value >= minimum if inclusive else value > minimum)):
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {noun} {bound}")
        return value

    return parse


_positive_int = _number(int, 1, inclusive=True)
_non_negative_int = _number(int, 0, inclusive=True)
_positive_float = _number(float, 0, inclusive=False)
_non_negative_float = _number(float, 0, inclusive=True)


def _fraction(text):
    """An argparse type: a number in [0, 1), as momentum and a validation split are."""
    value = _non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected a number in [0, 1)")
    return value


# ------------------------------------------------------------------------------------------- parser

class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, unless it is None or False or the help text gives it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" not in text and action.default not in (None, False, argparse.SUPPRESS)
                and action.option_strings):
            text += " (default: %(default)s)"
        return text


def build_parser():
    """The argument parser of the ``fastmlp`` command, with its subcommands."""
    from fastmlp import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=_Formatter,
        description="fastmlp: a fast multilayer perceptron for the CPU. Train on MNIST, evaluate a saved "
                    "model, predict digits from images or arrays, or diagnose a training setup.",
        epilog="Run 'fastmlp COMMAND --help' for the options of a command.")
    parser.add_argument("--version", action="version", version=f"fastmlp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    commands.required = True

    train = commands.add_parser(
        "train", formatter_class=_Formatter, help="train a network on MNIST and save it",
        description="Train a network on MNIST (the bundled copy unless --data says otherwise), report its "
                    "test accuracy and save it as .npz.",
        epilog="examples:\n  fastmlp train --hidden 128 --epochs 3 --out mnist.npz\n"
               "  fastmlp train --sizes 784,256,128,10 --optimizer adam --lr 0.001 --plot plots/")
    spec = train.add_mutually_exclusive_group()
    spec.add_argument("--sizes", type=_int_list, metavar="N,...,K",
                      help="every layer size, inputs first and classes last, e.g. 784,128,10")
    spec.add_argument("--hidden", type=_int_list, default=[128], metavar="H[,H...]",
                      help="hidden layer sizes; inputs and classes come from the data (default: 128)")
    train.add_argument("--activation", choices=reference.ACTIVATIONS, default="relu",
                       help="hidden activation")
    train.add_argument("--output", choices=["softmax", "sigmoid"], default="softmax", help="output function")
    train.add_argument("--loss", choices=["cross_entropy", "mse"], default="cross_entropy", help="loss")
    train.add_argument("--init", choices=["auto", "he", "glorot", "xavier", "lecun"], default="auto",
                       help="weight initialisation")
    train.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="optimizer")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (default: 0.1 for sgd, 0.001 for adam)")
    train.add_argument("--momentum", type=_fraction, default=None,
                       help="SGD momentum, in [0, 1) (default: 0.9)")
    train.add_argument("--nesterov", action="store_true", help="Nesterov momentum (sgd)")
    train.add_argument("--weight-decay", type=_non_negative_float, default=0.0, help="L2 weight decay")
    train.add_argument("--epochs", type=_non_negative_int, default=3, help="passes over the training data")
    train.add_argument("--batch-size", type=_positive_int, default=64, help="rows per update")
    train.add_argument("--seed", type=_non_negative_int, default=None, help="seed for a reproducible run")
    train.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                       help="train on the first N training rows only")
    train.add_argument("--validation-split", type=_fraction, default=None, metavar="F",
                       help="hold out this fraction of the training rows for validation "
                            "(default: validate on the test set)")
    _add_data_argument(train)
    train.add_argument("--out", default="model.npz", metavar="PATH", help="where to save the trained model")
    train.add_argument("--plot", default=None, metavar="DIR",
                       help="also write history.png, confusion_matrix.png, misclassified.png and "
                            "weights.png into DIR (needs matplotlib)")
    _add_verbose_argument(train)
    train.set_defaults(func=_train)

    evaluate = commands.add_parser(
        "evaluate", formatter_class=_Formatter, help="report a saved model's loss and accuracy",
        description="Print the loss and accuracy of a saved model on MNIST.",
        epilog="example:\n  fastmlp evaluate mnist.npz --split test")
    evaluate.add_argument("model", help="a model saved by 'fastmlp train' or MLP.save")
    _add_data_argument(evaluate)
    evaluate.add_argument("--split", choices=["test", "train"], default="test", help="which MNIST rows")
    evaluate.set_defaults(func=_evaluate)

    predict = commands.add_parser(
        "predict", formatter_class=_Formatter, help="predict the class of images or rows",
        description="Print the predicted class of every input, one per line, in the order given. An input "
                    "is an image (PNG, or JPEG etc. with Pillow) of a digit, a folder of such images (sorted "
                    "by name), an IDX file (as MNIST's), a .npy array, or a CSV of pixel rows (a header line "
                    "and a leading label column are skipped). Images are made to look like MNIST: grayscale, "
                    "inverted when the background is light, and, unless already 28 x 28, cropped to the "
                    "digit, scaled into a 20 x 20 box and centred by mass. Integer pixels, or any pixels "
                    "above 1, are divided by 255.",
        epilog="examples:\n  fastmlp predict mnist.npz my_digit.png\n"
               "  fastmlp predict mnist.npz data/mnist/t10k-images-idx3-ubyte.gz | head")
    predict.add_argument("model", help="a model saved by 'fastmlp train' or MLP.save")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="image, folder, IDX, .npy or .csv file")
    predict.add_argument("--proba", action="store_true",
                         help="print each class's probability after the label, tab-separated")
    predict.add_argument("--max-pixels", type=_positive_int, default=MAX_IMAGE_PIXELS, metavar="N",
                         help="refuse images of more than N pixels, before decoding them")
    predict.set_defaults(func=_predict)

    _add_doctor(commands)
    return parser


def _add_data_argument(parser):
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="MNIST: a folder of IDX files, mnist.npz, mnist.pkl.gz or a folder with "
                             "mnist_train.csv/mnist_test.csv (default: $FASTMLP_DATA, ./data/mnist, the "
                             "bundled copy, the cache, else download)")


def _add_verbose_argument(parser):
    parser.add_argument("--verbose", type=int, choices=[0, 1, 2], default=None,
                        help="0 silent, 1 a progress bar per epoch, 2 a line per epoch "
                             "(default: 1 on a terminal, else 2)")


def _add_doctor(commands):
    from fastmlp import cli_doctor  # imported here: it imports this module's argument types
    cli_doctor.add_parser(commands)


# ------------------------------------------------------------------------------------------- commands

def _verbosity(args):
    if args.verbose is not None:
        return args.verbose
    return 1 if sys.stderr.isatty() else 2


def _load_data(path):
    from fastmlp.datasets import load_mnist
    return load_mnist(path)


def _optimizer(args):
    import fastmlp
    if args.optimizer == "adam":
        return fastmlp.Adam(lr=args.lr or 1e-3, weight_decay=args.weight_decay)
    momentum = 0.9 if args.momentum is None else args.momentum
    return fastmlp.SGD(lr=args.lr or 0.1, momentum=momentum, nesterov=args.nesterov,
                       weight_decay=args.weight_decay)


def _train(args):
    import fastmlp
    if args.plot is not None:
        _pyplot_for_files()  # fail before training, not after
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise CommandError(f"--out: got {args.out!r}, whose folder {folder} does not exist; create it first")
    (X, y), (X_test, y_test) = _load_data(args.data)
    if args.limit is not None:
        X, y = X[:args.limit], y[:args.limit]
    n_features, n_classes = X.shape[1], int(max(y.max(), y_test.max())) + 1
    if args.sizes is not None:
        sizes = args.sizes
        if len(sizes) < 2:
            raise CommandError(f"--sizes: got {','.join(map(str, sizes))}; expected at least inputs and classes, "
                               f"such as {n_features},128,{n_classes}")
        if sizes[0] != n_features:
            raise CommandError(f"--sizes: got {sizes[0]} inputs; the data has {n_features} features per row")
        if sizes[-1] < n_classes:
            raise CommandError(f"--sizes: got {sizes[-1]} outputs; the data has {n_classes} classes")
    else:
        sizes = [n_features, *args.hidden, n_classes]
    optimizer = _optimizer(args)
    net = fastmlp.MLP(sizes, activation=args.activation, output=args.output, loss=args.loss, init=args.init,
                      seed=args.seed)
    if args.validation_split:
        validation = dict(validation_split=args.validation_split)
    else:
        validation = dict(validation_data=(X_test, y_test))
    verbose = _verbosity(args)
    if verbose:
        print(f"training {net} on {len(X)} rows with {optimizer}, {args.epochs} epochs of batch {args.batch_size}",
              flush=True)
    import time
    started = time.perf_counter()
    history = net.fit(X, y, epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer,
                      verbose=verbose, **validation)
    seconds = time.perf_counter() - started
    result = net.evaluate(X_test, y_test)
    print(f"test accuracy: {result['accuracy']:.4f}  test loss: {result['loss']:.4f}  "
          f"({args.epochs} epochs in {seconds:.2f} s)")
    path = net.save(args.out)
    print(f"saved model to {path}")
    if args.plot is not None:
        written = _write_plots(args.plot, net, history, X_test, y_test)
        print(f"wrote plots: {', '.join(written)}")
    return 0


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
    import fastmlp.plot
    plt = _pyplot_for_files()
    os.makedirs(directory, exist_ok=True)
    y_pred = net.predict(X_test)
    figures = {"history.png": lambda: fastmlp.plot.history(history),
               "confusion_matrix.png": lambda: fastmlp.plot.confusion_matrix(y_test, y_pred),
               "misclassified.png": lambda: fastmlp.plot.misclassified(X_test, y_test, y_pred)}
    if math.isqrt(net.sizes[0]) ** 2 == net.sizes[0]:
        figures["weights.png"] = lambda: fastmlp.plot.weights(net)
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


def _load_model(path):
    import fastmlp
    return fastmlp.load(path)


def _evaluate(args):
    net = _load_model(args.model)
    (X, y), (X_test, y_test) = _load_data(args.data)
    if args.split == "test":
        X, y = X_test, y_test
    if X.shape[1] != net.sizes[0]:
        raise CommandError(f"{args.model}: the model takes {net.sizes[0]} features; the data has {X.shape[1]}")
    result = net.evaluate(X, y)
    print(f"loss: {result['loss']:.6f}")
    print(f"accuracy: {result['accuracy']:.6f}")
    print(f"rows: {len(X)}")
    return 0


def _predict(args):
    net = _load_model(args.model)
    blocks = [read_inputs(path, net.sizes[0], max_pixels=args.max_pixels) for path in args.inputs]
    X = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    proba = net.predict_proba(X)
    labels = np.argmax(proba, axis=1)
    lines = []
    for label, row in zip(labels, proba):
        if args.proba:
            lines.append("\t".join([str(label)] + [f"{p:.6f}" for p in row]))
        else:
            lines.append(str(label))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


# --------------------------------------------------------------------------------------- reading inputs

def read_inputs(path, n_features, *, max_pixels=MAX_IMAGE_PIXELS):
    """Rows for a network with ``n_features`` inputs, float32 in [0, 1] for pixel data.

    Parameters
    ----------
    path : str or os.PathLike
        An image, a folder of images, an IDX file (gzipped or not), a ``.npy`` array or a CSV file;
        see ``fastmlp predict --help``.
    n_features : int
        The network's input size.
    max_pixels : int, default MAX_IMAGE_PIXELS
        Refuse images of more pixels than this, before decoding them.

    Returns
    -------
    ndarray of float32, shape (n_rows, n_features)

    Raises
    ------
    ValueError
        If the format is not recognised or the data does not fit the network.
    OSError
        If the file cannot be read.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if not p.is_dir():
        check_regular_file(p)
    if p.is_dir():
        images = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise CommandError(f"{path}: a folder with no images ({', '.join(IMAGE_SUFFIXES)})")
        return np.stack([_read_image(f, n_features, max_pixels) for f in images])
    name = p.name.lower()
    if name.endswith(IMAGE_SUFFIXES):
        return _read_image(p, n_features, max_pixels)[None, :]
    if name.endswith(".npy"):
        try:  # mapped, so a header cannot make NumPy allocate more than the file holds
            array = np.load(p, mmap_mode="r", allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            raise CommandError(f"{path}: cannot read as a .npy array ({exc})") from None
        return _rows(array, n_features, path)
    if name.endswith((".csv", ".csv.gz", ".txt")):
        return _read_csv(p, n_features)
    if "idx" in name or "ubyte" in name:
        return _rows(read_idx(p), n_features, path)
    raise CommandError(f"{path}: unrecognised input; expected an image ({', '.join(IMAGE_SUFFIXES)}), a folder "
                       "of images, an IDX file, a .npy array or a .csv file")


def _rows(array, n_features, source):
    """An array of samples -> float32 (n, n_features), pixels scaled to [0, 1]."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise CommandError(f"{source}: holds {array.dtype} values; expected numbers")
    if array.ndim >= 2 and array[0].size == n_features:
        array = array.reshape(len(array), n_features)
    elif array.size == n_features:
        array = array.reshape(1, n_features)  # one sample: a row or one image
    else:
        raise CommandError(f"{source}: got an array of shape {array.shape}; expected rows of {n_features} "
                           f"values (or images of {n_features} pixels) for this model")
    scaled = array.dtype.kind in "biu" or (array.size and float(np.nanmax(array)) > 1.0)
    array = array.astype(np.float32)
    if scaled:
        array /= 255.0
    if not np.all(np.isfinite(array)):
        raise CommandError(f"{source}: holds NaN or infinite values")
    return array


def _read_csv(path, n_features):
    data = read_regular_file(path)
    if data[:2] == GZIP_MAGIC:
        data = gunzip(data, path, MAX_UNDECLARED_BYTES)
    lines = [line for line in data.decode("utf-8-sig").splitlines() if line.strip()]
    if not lines:
        raise CommandError(f"{path}: an empty CSV file")
    try:
        [float(v) for v in lines[0].split(",")]
    except ValueError:
        lines = lines[1:]  # a header line
    try:
        array = np.loadtxt(lines, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise CommandError(f"{path}: not a CSV of numbers ({exc})") from None
    if array.shape[1] == n_features + 1:
        array = array[:, 1:]  # MNIST-style CSV: the label comes first
    if array.shape[1] != n_features:
        raise CommandError(f"{path}: got rows of {array.shape[1]} values; expected {n_features} "
                           f"(or {n_features + 1} with a leading label)")
    return _rows(array, n_features, path)


def _read_image(path, n_features, max_pixels):
    """One image file -> a float32 row like an MNIST sample: light digit on black, in [0, 1]."""
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise CommandError(f"{path}: the model takes {n_features} features, not a square image")
    return read_image(path, side, max_pixels=max_pixels).reshape(-1)


# ------------------------------------------------------------------------------------------------ main

def main(argv=None):
    """Run the ``fastmlp`` command with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Returns
    -------
    int
        0 on success, 1 when the command fails, 2 for a usage error, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_combinations(parser, args)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed the message
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        status = args.func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- every failure is one line on stderr, never a traceback
        print(f"{PROG} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0 if status is None else int(status)


def _one_line(exc):
    """What went wrong, in a line: the message, the file of an OSError, the kind of a bare error."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
        message = f"{exc.filename}: {message}"
    if isinstance(exc, MemoryError):
        message = f"out of memory ({message}): a smaller network, batch or file?"
    elif not isinstance(exc, (CommandError, ValueError, TypeError, OSError, ImportError, FloatingPointError)):
        message = f"{type(exc).__name__}: {message}"
    return " ".join(message.split())


def _check_combinations(parser, args):
    """Usage errors (exit 2) that one option alone cannot show."""
    if args.command != "train":
        return
    if args.optimizer == "adam" and (args.momentum is not None or args.nesterov):
        parser.error("--momentum and --nesterov apply to --optimizer sgd only")
    if args.nesterov and args.momentum == 0:
        parser.error("--nesterov: Nesterov momentum needs --momentum > 0")


if __name__ == "__main__":
    sys.exit(main())
