"""The ``fastmlp`` command: train, evaluate, predict and diagnose from the shell.

    fastmlp train --hidden 128 --epochs 3 --out mnist.npz --plot plots/
    fastmlp evaluate mnist.npz
    fastmlp predict mnist.npz digit.png more_digits/ images.npy
    fastmlp doctor ...

Also runs as ``python -m fastmlp``. Exit status: 0 on success, 1 when the command fails (the
reason goes to stderr on one line, without a traceback), 2 for a usage error, 130 on Ctrl-C.
This module builds the parser from the subcommands' modules (``_train``, ``_predict``, ``_doctor``,
which share ``_options``) and turns every failure into its exit status; none of them imports it.
"""

import argparse
import sys

from fastmlp import __version__
from fastmlp.cli import _doctor, _predict, _train
from fastmlp.cli._options import PROG, CommandError, Formatter
from fastmlp.cli._predict import read_inputs

__all__ = ["main", "build_parser", "read_inputs", "CommandError", "PROG"]


def build_parser():
    """The argument parser of the ``fastmlp`` command, with its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=Formatter,
        description="fastmlp: a fast multilayer perceptron for the CPU. Train on MNIST, evaluate a saved "
        "model, predict digits from images or arrays, or diagnose a training setup.",
        epilog="Run 'fastmlp COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"fastmlp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    commands.required = True
    _train.add_parsers(commands)
    _predict.add_parser(commands)
    _doctor.add_parser(commands)
    return parser


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
        if hasattr(args, "check"):  # a subcommand's checks across options: usage errors too, exit 2
            args.check(parser, args)
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
