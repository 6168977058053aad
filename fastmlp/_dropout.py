"""Dropout's settings and its stream, in NumPy: what the compiled model (csrc/dropout.c) and the
reference twin share. Whether a unit is kept is a hash of (seed, step, row, layer, unit), so the
masks do not depend on how a step is cut in parts or threads, and the twin draws the same ones."""

import numbers

import numpy as np

# csrc/dropout.c's multipliers and SplitMix64's finaliser: tests check these against the C draws
_STEP, _ROW, _LAYER, _UNIT = (
    np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)
)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def layer_rates(dropout, sizes):
    """The rate each layer's outputs are dropped at, indexed like ``sizes`` (0 for the inputs and
    the outputs): from one rate for every hidden layer, or one per hidden layer."""
    hidden = len(sizes) - 2
    given = [dropout] * hidden if isinstance(dropout, numbers.Real) and not isinstance(dropout, bool) else dropout
    try:
        given = [float(rate) for rate in given]
    except (TypeError, ValueError):
        raise TypeError(
            f"dropout: got {dropout!r}; expected a rate in [0, 1) or one per hidden layer ({hidden})"
        ) from None
    if len(given) != hidden:
        raise ValueError(f"dropout: got {len(given)} rates; expected one per hidden layer ({hidden}), or one for all")
    for rate in given:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout: got {rate!r}; expected rates in [0, 1)")
    return [0.0, *given, 0.0]


def stream_seed(seed):
    """The dropout stream's seed: from the network's seed, so a seeded network and its twin drop
    the same units; fresh entropy without one."""
    sequence = np.random.SeedSequence(None if seed is None else [int(seed), 0xD50])
    return int(sequence.generate_state(1, np.uint64)[0])


def keeps(seed, step, first_row, n_rows, layer, width, rate):
    """(n_rows, width) bool: the units kept in rows first_row.. of a step's minibatch."""
    rows = np.arange(first_row, first_row + n_rows, dtype=np.uint64)[:, None]
    units = np.arange(width, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        key = np.uint64(seed) + np.uint64(step) * _STEP + rows * _ROW + np.uint64(layer) * _LAYER + units * _UNIT
        key ^= key >> np.uint64(30)
        key *= _MIX1
        key ^= key >> np.uint64(27)
        key *= _MIX2
        key ^= key >> np.uint64(31)
    threshold = np.uint64(np.float32(rate) * np.float32(1 << 24))  # as C rounds it, in float32
    return (key >> np.uint64(40)) >= threshold
