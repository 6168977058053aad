"""``fastmlp doctor``: check a saved model or a network spec on MNIST from the command line.

    fastmlp doctor                                     # 784-128-10 relu, SGD(0.1), bundled MNIST
    fastmlp doctor --model mnist.npz --lr 0.5
    fastmlp doctor --sizes 784,30,10 --activation sigmoid --output sigmoid --loss mse --lr 3
    fastmlp doctor --init uniform:0:1                  # see what a bad init looks like
    fastmlp doctor --input-scale 255                   # ... or raw 0..255 pixels

Exit status: 0 when the report is ok, 1 when it has warnings or errors, 2 for usage errors
(bad arguments, a model or data file that cannot be read, a network that does not fit the data).
``add_parser`` plugs the subcommand into the ``fastmlp`` command, with ``func=run``; ``main`` runs
it on its own, with a parser of the doctor options only.
"""

import argparse
import json
import sys

import fastmlp
from fastmlp import reference
from fastmlp._kernels import MAX_LAYERS
from fastmlp.cli._options import (
    add_optimizer_arguments,
    build_optimizer,
    float_in,
    int_in,
    layer_sizes,
    optimizer_misuse,
)
from fastmlp.diagnostics._doctor import _MAX_BATCH, _MAX_PARAMETERS, _MAX_SAMPLE, _MAX_STEPS

DESCRIPTION = (
    "Train a copy of a network briefly on MNIST and report what looks wrong: "
    "unscaled inputs, a bad init, saturated or dead units, a diverging or flat loss, "
    "vanishing gradients, constant predictions."
)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

_MAX_INPUT_SCALE = 1e6  # --input-scale: raw 16-bit pixels are 65535; beyond, overflow is all it shows
_DEFAULT_SIZES = [784, 128, 10]


def _init(text):
    """'he', 'glorot', ..., 'normal:STD' or 'uniform:LOW:HIGH' as fastmlp.MLP's init argument."""
    name, *numbers = text.replace(",", ":").split(":")
    if not numbers:
        return name
    try:
        return (name, *(float(number) for number in numbers))
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected e.g. he, normal:0.01 or uniform:-0.1:0.1") from None


def configure(parser):
    """Add the doctor options to an argparse parser."""
    net = parser.add_argument_group("network (a saved model, or a spec; default 784,128,10 relu)")
    source = net.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="PATH", help="a model saved with net.save(path)")
    source.add_argument(
        "--sizes",
        type=layer_sizes(2, MAX_LAYERS, _MAX_PARAMETERS),
        metavar="N,N,...",
        help="layer sizes, e.g. 784,128,10 (default)",
    )
    net.add_argument("--activation", default="relu", choices=reference.ACTIVATIONS)
    net.add_argument("--output", default="softmax", choices=("softmax", "sigmoid"))
    net.add_argument("--loss", default="cross_entropy", choices=("cross_entropy", "mse"))
    net.add_argument(
        "--init",
        type=_init,
        default="auto",
        help="auto, he, glorot, lecun, normal:STD or uniform:LOW:HIGH (default auto)",
    )
    net.add_argument(
        "--seed", type=int_in(0), default=0, help="seed for the network and the rows drawn, an int >= 0 (default 0)"
    )

    train = parser.add_argument_group("the short training run")
    add_optimizer_arguments(train)
    train.add_argument(
        "--steps", type=int_in(1, _MAX_STEPS), default=200, help=f"minibatch steps, 1 to {_MAX_STEPS} (default 200)"
    )
    train.add_argument(
        "--batch-size",
        type=int_in(1, _MAX_BATCH),
        default=32,
        help=f"rows per step, 1 to {_MAX_BATCH} (default 32); steps x batch size is bounded too, see fastmlp.doctor",
    )
    train.add_argument(
        "--sample",
        type=int_in(1, _MAX_SAMPLE),
        default=2000,
        help=f"rows on which activations and predictions are measured, 1 to {_MAX_SAMPLE} (default 2000)",
    )

    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        metavar="PATH",
        default=None,
        help="MNIST in any form fastmlp.datasets.load_mnist reads (default: the bundled copy)",
    )
    data.add_argument(
        "--input-scale",
        type=float_in(1 / _MAX_INPUT_SCALE, _MAX_INPUT_SCALE),
        default=1.0,
        metavar="FACTOR",
        help="multiply the inputs by this, e.g. 255 to see what raw pixels do; from 1e-06 to 1e+06 (default 1)",
    )

    parser.add_argument("--json", action="store_true", help="print the findings as JSON instead of a table")
    return parser


def add_parser(subparsers):
    """Add the ``doctor`` subcommand to an ``argparse`` subparsers object; returns its parser."""
    parser = subparsers.add_parser("doctor", help="find out why a network does not learn", description=DESCRIPTION)
    configure(parser)
    parser.set_defaults(func=run)
    return parser


def _usage_error(message):
    print(f"fastmlp doctor: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args):
    """Run ``fastmlp doctor`` with parsed arguments; returns the exit status (0, 1 or 2)."""
    misuse = optimizer_misuse(args.optimizer, args.momentum)
    if misuse:
        return _usage_error(misuse)
    try:
        net = _network(args)
        optimizer = build_optimizer(args.optimizer, args.lr, args.momentum)
    except (OSError, ValueError, TypeError) as exc:
        return _usage_error(exc)
    try:
        (X, y), _ = fastmlp.datasets.load_mnist(args.data)
    except Exception as exc:  # noqa: BLE001 -- any failure to find or read the data is a usage error
        return _usage_error(f"could not load the data: {exc}")
    if X.shape[1] != net.sizes[0]:
        return _usage_error(f"the network takes {net.sizes[0]} inputs but the data has {X.shape[1]} features")
    if y.max() >= net.sizes[-1]:
        return _usage_error(f"the network has {net.sizes[-1]} outputs but the labels go up to {y.max()}")
    if args.input_scale != 1.0:
        X = X * args.input_scale
    try:
        report = fastmlp.doctor(
            net,
            X,
            y,
            optimizer=optimizer,
            steps=args.steps,
            batch_size=args.batch_size,
            sample=args.sample,
            seed=args.seed,
        )
    except (ValueError, TypeError) as exc:
        return _usage_error(exc)
    _print_report(report, as_json=args.json)
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _network(args):
    """The saved model of --model, else a new network from --sizes and the other network options."""
    if args.model:
        return fastmlp.load(args.model)
    return fastmlp.MLP(
        args.sizes or _DEFAULT_SIZES,
        activation=args.activation,
        output=args.output,
        loss=args.loss,
        init=args.init,
        seed=args.seed,
    )


def _print_report(report, as_json):
    if as_json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "findings": [
                        {"code": f.code, "severity": f.severity, "message": f.message, "hint": f.hint}
                        for f in report.findings
                    ],
                },
                indent=2,
            )
        )
    else:
        print(report)


def main(argv=None):
    """The doctor subcommand on its own: parse ``argv`` (default ``sys.argv[1:]``), return the exit status."""
    parser = configure(argparse.ArgumentParser(prog="fastmlp doctor", description=DESCRIPTION))
    return run(parser.parse_args(argv))
