"""What the subcommands share: the argparse types, the options of the optimizer and the one builder.

Every number an option takes is checked here by a bounded type (``int_in``, ``float_in``), so a bad
value exits 2 with argparse's usage message naming the option. ``layer_sizes`` is the one parser of
layer sizes (``--sizes``, ``--hidden``); ``add_optimizer_arguments``, ``optimizer_misuse`` and
``build_optimizer`` are the one definition of ``--optimizer``, ``--lr`` and ``--momentum``, used by
``train`` and ``doctor`` alike. This module imports no other module of the command line.
"""

import argparse
import math

import fastmlp

PROG = "fastmlp"


class CommandError(Exception):
    """A failure to report as one line on stderr, with exit status 1."""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, unless it is None or False or the help text gives it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" not in text and action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
            text += " (default: %(default)s)"
        return text


# ------------------------------------------------------------------------------------- argument types


def int_in(low, high=None):
    """An argparse type: an int from low to high (no upper bound when high is None)."""
    expected = f"an int from {low} to {high}" if high is not None else f"an int >= {low}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {expected}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {expected}")
        return value

    return parse


def float_in(low, high=math.inf, low_open=False, high_open=False):
    """An argparse type: a finite number in [low, high], each end open when asked."""
    if math.isinf(high):
        expected = f"a finite number {'>' if low_open else '>='} {low:g}"
    else:
        expected = f"a finite number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {expected}") from None
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {expected}")
        return value

    return parse


positive_float = float_in(0, low_open=True)
fraction = float_in(0, 1, high_open=True)  # momentum, a validation split


def layer_sizes(at_least=1, max_layers=None, max_parameters=None):
    """An argparse type: comma-separated positive layer sizes such as 784,128,10.

    ``at_least`` is 1 for hidden sizes, 2 for a whole network; the bounds, when given, apply to a whole
    network: ``max_layers`` weight layers, ``max_parameters`` weights and biases.
    """

    def parse(text):
        sizes = _positive_ints(text, at_least)
        if max_layers is not None and len(sizes) - 1 > max_layers:
            raise argparse.ArgumentTypeError(
                f"got {len(sizes)} sizes, {len(sizes) - 1} weight layers; expected at most {max_layers} weight layers"
            )
        parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
        if max_parameters is not None and parameters > max_parameters:
            raise argparse.ArgumentTypeError(
                f"got {text!r}, a network of {parameters} parameters; expected at most {max_parameters}, "
                "as fastmlp.doctor takes (784,2048,2048,10 has 5.8 million)"
            )
        return sizes

    return parse


def _positive_ints(text, at_least):
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected comma-separated ints such as 784,128,10") from None
    if len(values) < at_least or min(values) < 1:
        count = "" if at_least == 1 else f"at least {at_least} "
        raise argparse.ArgumentTypeError(
            f"got {text!r}; expected {count}positive comma-separated ints such as 784,128,10"
        )
    return values


# ---------------------------------------------------------------------------------------- optimizer


def add_optimizer_arguments(parser):
    """Add --optimizer, --lr and --momentum, the options ``build_optimizer`` reads."""
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="optimizer (default: sgd)")
    parser.add_argument(
        "--lr", type=positive_float, default=None, help="learning rate (default: 0.1 for sgd, 0.001 for adam)"
    )
    parser.add_argument(
        "--momentum", type=fraction, default=None, help="SGD momentum, in [0, 1) (default: 0, as fastmlp.SGD)"
    )


def optimizer_misuse(optimizer, momentum, nesterov=False):
    """Why SGD's options do not go with the optimizer chosen, as a usage message; None when they do."""
    if optimizer == "adam" and momentum is not None:
        return (
            f"--momentum: got {momentum:g} with --optimizer adam; expected it only with sgd "
            "(Adam has no momentum setting)"
        )
    if optimizer == "adam" and nesterov:
        return "--nesterov: got it with --optimizer adam; expected it only with sgd"
    if nesterov and not momentum:
        return "--nesterov: Nesterov momentum needs --momentum > 0"
    return None


def build_optimizer(optimizer, lr=None, momentum=None, nesterov=False, weight_decay=0.0):
    """A ``fastmlp.SGD`` or ``fastmlp.Adam`` from the options.

    An option left at None keeps the class's own default, so the command and the API agree
    (lr 0.1 for SGD and 0.001 for Adam, momentum 0).
    """
    if optimizer == "adam":
        return fastmlp.Adam(**_given(lr=lr, weight_decay=weight_decay))
    return fastmlp.SGD(**_given(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay))


def _given(**options):
    return {name: value for name, value in options.items() if value is not None}
