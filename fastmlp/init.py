"""Weight initialisation, shared by fastmlp.MLP and fastmlp.reference.MLP.

Both models draw their weights here, from one NumPy generator, layer by layer, in float64,
and only then cast: that is why the same seed gives the same starting weights in float32
and float64, and in the compiled model and its NumPy twin.
"""

import numpy as np


def resolve_init(init, auto):
    """Return init as a tuple: ("he",), ("glorot",), ("lecun",), ("normal", std) or ("uniform", low, high).

    ``auto`` is what ``init="auto"`` stands for: the activation's own, its ``auto_init`` in
    ``fastmlp.reference.ACTIVATION_FUNCTIONS``."""
    if isinstance(init, str):
        name = init.lower()
        if name == "auto":
            name = auto
        if name == "xavier":
            name = "glorot"
        if name not in ("he", "glorot", "lecun"):
            raise ValueError(
                f"init: got {init!r}; expected 'auto', 'he', 'glorot' (alias 'xavier'), 'lecun', "
                "('normal', std) or ('uniform', low, high)"
            )
        return (name,)
    if isinstance(init, (tuple, list)) and len(init) >= 1 and isinstance(init[0], str):
        name = init[0].lower()
        args = init[1:]
        if name == "normal" and len(args) == 1 and _is_real(args[0]) and np.isfinite(args[0]) and args[0] >= 0:
            return ("normal", float(args[0]))
        if (
            name == "uniform"
            and len(args) == 2
            and all(_is_real(a) and np.isfinite(a) for a in args)
            and args[0] <= args[1]
        ):
            return ("uniform", float(args[0]), float(args[1]))
    raise ValueError(
        f"init: got {init!r}; expected 'auto', 'he', 'glorot' (alias 'xavier'), 'lecun', "
        "('normal', std) with std >= 0, or ('uniform', low, high) with low <= high"
    )


def _is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def draw_weights(rng, init, n_in, n_out):
    """One layer's weights, shape (n_in, n_out), float64, drawn from rng by the resolved init."""
    name = init[0]
    if name == "he":
        return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
    if name == "lecun":
        return rng.normal(0.0, np.sqrt(1.0 / n_in), size=(n_in, n_out))
    if name == "glorot":
        limit = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-limit, limit, size=(n_in, n_out))
    if name == "normal":
        return rng.normal(0.0, init[1], size=(n_in, n_out))
    return rng.uniform(init[1], init[2], size=(n_in, n_out))


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def initial_parameters(sizes, init, rng):
    """Weights (float64, (n_in, n_out)) and zero biases for every layer, drawn in order from rng.

    Raises ValueError when a drawn weight does not fit float32, the compiled model's precision
    (("uniform", -1e300, 1e300) or ("normal", 1e39) would start it at infinity)."""
    weights = [draw_weights(rng, init, n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    for layer, W in enumerate(weights, 1):
        with np.errstate(invalid="ignore"):
            largest = float(np.max(np.abs(W))) if W.size else 0.0
        if not largest < _FLOAT32_MAX:
            raise ValueError(
                f"init: got {init!r}; its layer {layer} weights reach {largest:.3g}, beyond float32's "
                f"range ({_FLOAT32_MAX:.3g}); expected an init whose weights fit float32"
            )
    biases = [np.zeros(n_out) for n_out in sizes[1:]]
    return weights, biases
