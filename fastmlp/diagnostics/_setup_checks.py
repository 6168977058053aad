"""diagnose's checks of the setup: the inputs, the initial weights, the rows fed, the learning rate.

These need none of the learner's functions: they run on the arrays, and the learning rate on a
``fastmlp.MLP`` built from the learner's parameters.
"""

import numpy as np

from fastmlp.diagnostics import _doctor as doctor
from fastmlp.diagnostics._case import as_canonical
from fastmlp.diagnostics._learner import Raised, call
from fastmlp.diagnostics._report import _count
from fastmlp.model import _advice_silenced, _chance_loss, _describe_unscaled, _unscaled_inputs
from fastmlp.optim import SGD

SATURATION_MARGIN = doctor._SATURATION_MARGIN
SATURATED_SHARE = 0.5  # share of a hidden layer's activations at a bound
LR_STEPS = 100  # steps of each short run that judges the learning rate
LR_FACTORS = (0.1, 0.01, 0.001)
TRAINED = 0.1  # a run ending below this share of chance has trained
SPIKE = 5.0  # a loss jumping past this many times its start overshoots
OUTPUT_SATURATED = 10.0  # an initial loss this many times chance: outputs saturated
CLEARLY_BETTER = 0.5  # a lower rate must end below this share of the loss
MIN_ROWS_FOR_CLASSES = 8  # fewer rows may cover few classes by chance


def check_setup(case, forward=None):
    _check_inputs(case, forward)
    _check_symmetry(case)
    _check_saturation(case) or _check_output_saturation(case)
    _check_classes(case)


def _biases_at_zero(case):
    return "  # and biases at 0" if case.structure.has_biases else ""


def _init_fix(case, layer):
    """The one line that initialises layer (1-based) as the activation wants: He for ReLU, else 1/n_in."""
    slot = next(s for s in case.structure.slots if s.kind == "W" and s.layer == layer - 1)
    n_in, n_out = case.weights[layer - 1].shape
    shape = f"{n_in}, {n_out}" if case.layout.weights_in_out else f"{n_out}, {n_in}"
    gain = 2 if case.activation in ("relu", "leaky_relu") and layer < len(case.weights) else 1
    return slot, f"{slot.label} = np.random.randn({shape}) * np.sqrt({gain} / {n_in})"


def _scales_inside(case, forward):
    """Whether forward's output is the true network's on X / 255: pixels scaled inside the code."""
    if forward is None:
        return False
    from fastmlp.diagnostics._forward_checks import _close, read_forward

    try:
        out, others = read_forward(case, call("forward", forward, case.copy_params(), case.learner_X()))
        theirs = as_canonical(case, out, "")
    except (Raised, ValueError):
        return False
    twin = case.truth()
    with np.errstate(all="ignore"):
        raw, scaled = twin.predict_proba(case.Xc), twin.predict_proba(case.Xc / 255.0)
    # A saturated network answers the same on both: then forward's output tells nothing.
    return _close(theirs, scaled, case) and not _close(raw, scaled, case)


def _check_symmetry(case):
    """symmetric-init: a hidden layer whose units all have the same weights in and out (np.zeros,
    np.ones, a constant) compute the same thing and get the same gradient: they never differ."""
    for layer in range(1, len(case.weights)):
        W_in, b, W_out = case.weights[layer - 1], case.biases[layer - 1], case.weights[layer]
        if W_in.shape[1] < 2:
            continue
        same = np.all(W_in == W_in[:, :1]) and np.all(b == b[0]) and np.all(W_out == W_out[:1, :])
        if not same:
            continue
        slot, fix = _init_fix(case, layer)
        value = f"all {W_in.flat[0]:g}" if np.all(W_in == W_in.flat[0]) else "the same for every unit"
        case.add(
            "symmetric-init",
            slot.label,
            f"the {W_in.shape[1]} units of hidden layer {layer} start with the same weights ({value}), in and "
            "out: they compute the same output and get the same gradient, so they stay copies of one unit "
            "forever",
            fix,
            severity="warning",
        )
        case.facts["init_broken"] = True
        return


def _check_inputs(case, forward):
    found = _unscaled_inputs(case.Xc)
    if found is not None and found[0] == "pixels" and _scales_inside(case, forward):
        case.Xc = case.Xc / 255.0
        case.notes.append(
            "X holds raw 0..255 pixels and forward divides them by 255 itself: diagnose compares on X / 255"
        )
        found = None
    case.facts["inputs_unscaled"] = found is not None
    if found is None:
        return
    measured, fix = _describe_unscaled(found)
    if found[0] == "pixels":
        fix = "X = X / 255.0"
    else:
        axis = case.layout.sample_axis()
        fix = (
            f"X = (X - X.mean(axis={axis}, keepdims=True)) / (X.std(axis={axis}, keepdims=True) + 1e-8), "
            "with the training set's mean and std"
        )
    case.add(
        "inputs-not-scaled",
        "X",
        f"{measured}: a weighted sum of hundreds of such values makes the pre-activations huge ("
        + ("every unit at its bound" if case.activation in ("sigmoid", "tanh") else "and the outputs saturate")
        + ") and the gradients with them; a network trains on inputs of order 1",
        fix,
        severity="warning",
    )


def _check_saturation(case):
    """saturated-units: sigmoid or tanh hidden units at their bounds from the start. True when found."""
    if case.activation not in ("sigmoid", "tanh"):
        return False
    _, acts = case.true_pass()
    low = 0.0 if case.activation == "sigmoid" else -1.0
    for layer, a in enumerate(acts[1:-1], 1):
        share = float(np.mean((a < low + SATURATION_MARGIN) | (a > 1 - SATURATION_MARGIN)))
        if share <= SATURATED_SHARE:
            continue
        W = case.weights[layer - 1]
        if case.facts.get("inputs_unscaled") and not _too_large(W) and W.min() < 0:
            return True  # the weights are fine: the unscaled inputs, reported first, saturate them
        slot, fix = _init_fix(case, layer)
        case.add(
            "saturated-units",
            slot.label,
            f"{share:.0%} of hidden layer {layer}'s {case.activation} outputs are within "
            f"{SATURATION_MARGIN} of {'0 or 1' if low == 0 else '-1 or 1'} on {_count(case.n, 'sample')}"
            ": their derivative is almost 0, so almost no gradient passes "
            f"and the network cannot learn. {_describe_weights(W, case, layer)}",
            fix + _biases_at_zero(case),
            severity="warning",
        )
        case.facts["init_broken"] = True
        return True
    return False


def _too_large(W):
    """Weights whose spread is over 3 times the 1/sqrt(n_in) that keeps a layer's sums of order 1."""
    return W.std() > 3 * np.sqrt(2 / W.shape[0])


def _check_output_saturation(case):
    """saturated-units at the output: initial weights so large (randn without its scale, in a ReLU
    network say) that the outputs start confidently wrong, a loss far above chance."""
    if case.loss != "cross_entropy" or case.facts.get("inputs_unscaled"):
        return
    with np.errstate(all="ignore"):
        loss = case.truth().evaluate(case.Xc, case.labels)["loss"]
    chance = _chance_loss(case.output, case.loss, case.sizes[-1])
    large = [layer for layer, W in enumerate(case.weights, 1) if _too_large(W)]
    if not (loss > OUTPUT_SATURATED * chance and large):
        return
    slot, fix = _init_fix(case, large[0])
    case.add(
        "saturated-units",
        slot.label,
        f"the initial loss is {loss:.4g}, {loss / chance:.0f} times chance ({chance:.3g}): the outputs start "
        "saturated, confidently wrong, and np.log of them underflows. "
        + _describe_weights(case.weights[large[0] - 1], case, large[0]),
        fix + _biases_at_zero(case),
        severity="warning",
    )
    case.facts["init_broken"] = True


def _describe_weights(W, case, layer):
    low, high, std = float(W.min()), float(W.max()), float(W.std())
    scaled = 1 / np.sqrt(W.shape[0])
    if low >= 0:
        text = (
            f"The weights of layer {layer} are all positive, in [{low:.2f}, {high:.2f}] (uniform [0, 1)?), "
            "so every unit sums its inputs with the same sign"
        )
    elif _too_large(W):
        text = (
            f"The weights of layer {layer} have std {std:.3g}, where 1/sqrt({W.shape[0]}) = {scaled:.3g} "
            "keeps the sums of order 1 (randn without the scale?)"
        )
    else:
        text = f"The weights of layer {layer} have std {std:.3g}"
    if case.facts.get("inputs_unscaled"):
        text += "; the unscaled inputs add to it"
    return text + "."


def _check_classes(case):
    k = case.sizes[-1]
    present = np.unique(case.labels)
    # n random rows cover about k (1 - (1 - 1/k)^n) classes; far fewer means sorted or repeated rows
    expected = k * (1 - (1 - 1 / k) ** case.n)
    if case.n >= MIN_ROWS_FOR_CLASSES and k >= 3 and len(present) < max(3, expected / 2):
        case.add(
            "single-class-batches",
            "Y",
            f"the {case.n} samples given cover only class{'es' if len(present) > 1 else ''} "
            f"{', '.join(map(str, present))} of {k}: a network trained on such batches learns to answer "
            "those classes whatever the input (data sorted by label, or the same rows every step?)",
            (
                "p = np.random.permutation(len(X)); X, Y = X[p], Y[p]  # shuffle once per epoch"
                if case.layout.rows
                else "p = np.random.permutation(X.shape[1]); X, Y = X[:, p], Y[:, p]  # shuffle once per epoch"
            ),
            severity="warning",
        )


def check_learning_rate(case):
    """lr-too-high: the learner's learning rate diverges or stalls on a copy and a lower one trains."""
    import fastmlp

    if case.facts.get("init_broken"):
        return  # a broken init is the cause; a learning rate tried on it says nothing
    if case.n < MIN_ROWS_FOR_CLASSES:
        case.notes.append(
            f"lr was not checked: {_count(case.n, 'sample')} say{'s' if case.n == 1 else ''} "
            "little about a learning rate; pass a batch of a few dozen to have it checked"
        )
        return

    sizes = case.sizes
    net = fastmlp.MLP(sizes, activation=case.activation, output=case.output, loss=case.loss, seed=0)
    for layer, (W, b) in enumerate(zip(case.weights, case.biases)):
        net.weights[layer][...] = W
        net.biases[layer][...] = b
    X = case.Xc.astype(np.float32)
    y = case.labels
    n = len(X)
    batch = n if n <= 512 else 64
    rng = np.random.default_rng(0)
    need = LR_STEPS * batch
    rows = np.concatenate([rng.permutation(n) for _ in range(-(-need // n))])[:need]
    X_eval, y_eval = X[:500], y[:500]
    chance = _chance_loss(case.output, case.loss, sizes[-1])

    def run(trial, optimizer):
        with _advice_silenced():
            return doctor._short_run(trial, X, y, rows, optimizer, LR_STEPS, batch, X_eval, y_eval)

    # The learner's rate on fastmlp's loss: their squared error may be written with another factor.
    rate = case.lr * case.facts.get("convention", 1.0)
    curve, _, nan_at = run(net.copy(), SGD(lr=rate))
    initial = curve[0][1]
    final = np.inf if nan_at is not None else curve[-1][1]
    spiky = max(loss for _, loss in curve) > SPIKE * initial
    if not np.isfinite(initial) or (final <= TRAINED * chance and not spiky):
        return
    # Too high only when a lower rate does clearly better in the same steps: it ends far lower, or
    # falls smoothly where this one jumps far up first (then memorising a small batch can hide it,
    # but real training ends worse). A slow rate never loses to a slower one.
    for factor in LR_FACTORS:
        lower = float(f"{rate * factor:.6g}")
        better, _, lower_nan = run(net.copy(), SGD(lr=lower))
        smooth = max(loss for _, loss in better) <= 1.5 * better[0][1]
        if doctor._trains_well(better, lower_nan, chance) and (
            better[-1][1] < CLEARLY_BETTER * final or (spiky and smooth)
        ):
            break
    else:
        return
    suggested = float(f"{lower / case.facts.get('convention', 1.0):.6g}")
    peak = max(loss for _, loss in curve)
    if nan_at is not None:
        what = f"turns NaN by step {nan_at}"
    elif peak > doctor._SPIKE_FACTOR * initial:
        what = (
            f"jumps from {initial:.3g} to {peak:.3g}, {peak / initial:.0f} times its start, before it falls "
            f"(to {final:.3g}): each step overshoots"
        )
    else:
        what = f"goes from {initial:.3g} to {final:.3g}"
    case.add(
        "lr-too-high",
        "lr",
        f"with lr={case.lr:g}, {LR_STEPS} steps of {batch} sample{'s' if batch > 1 else ''} on a copy of "
        f"your network: the loss {what}; with lr={suggested:g} it falls {'smoothly ' if spiky else ''}to "
        f"{better[-1][1]:.3g}",
        f"lr = {suggested:g}",
        severity="warning",
    )
