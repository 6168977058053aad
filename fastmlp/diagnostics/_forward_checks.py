"""diagnose's checks of the learner's forward pass: its output, and its hidden layers when it returns them."""

import numpy as np

from fastmlp import reference
from fastmlp.diagnostics._case import FORWARD_RTOL, as_canonical, output_activation, where
from fastmlp.diagnostics._learner import Raised, call, nan_origin


def _arrays_in(value):
    """The arrays in a return value: itself, a list's or a dict's items, one level of nesting."""
    if isinstance(value, np.ndarray):
        return [value]
    items = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, (list, tuple)) else []
    out = []
    for item in items:
        if isinstance(item, np.ndarray):
            out.append(item)
        elif isinstance(item, (dict, list, tuple)):
            out += [v for v in (item.values() if isinstance(item, dict) else item) if isinstance(v, np.ndarray)]
    return out


def read_forward(case, value):
    """(output, [other arrays]) from what forward returned; the output as the learner returned it."""
    if isinstance(value, np.ndarray):
        return value, []
    if (
        isinstance(value, (list, tuple))
        and value
        and isinstance(value[0], np.ndarray)
        and not all(isinstance(v, np.ndarray) for v in value)
    ):
        return value[0], _arrays_in(value[1:])  # (output, cache)
    arrays = _arrays_in(value)
    if not arrays:
        raise ValueError(
            f"forward returned {type(value).__name__}; expected the output array or the list of the layers' activations"
        )
    if isinstance(value, dict):
        named = [
            v
            for k, v in value.items()
            if str(k).lower().lstrip("a") == str(len(case.sizes) - 1)
            or str(k).lower() in ("out", "output", "probs", "y_hat", "yhat", "a_out")
        ]
        if named:
            return named[0], arrays
    last, first = arrays[-1], arrays[0]
    if (
        isinstance(value, (list, tuple))
        and _width(case, last) != case.sizes[-1]
        and _width(case, first) == case.sizes[-1]
    ):
        return first, arrays[1:]  # (output, hidden...)
    return last, arrays[:-1]


def _width(case, a):
    try:
        return as_canonical(case, a, "").shape[1]
    except ValueError:
        return None


def _close(a, b, case):
    return a.shape == b.shape and np.allclose(a, b, rtol=FORWARD_RTOL[case.dtype], atol=1e-9)


def check_forward(case, forward):
    """Findings about what forward returns: its output, and its hidden layers when it returns them."""
    try:
        value = call("forward", forward, case.copy_params(), case.learner_X())
    except Raised as exc:
        case.add(
            "raised",
            where("forward", forward),
            exc.message,
            "fix the line above; the shapes diagnose read are in the notes",
        )
        case.facts["forward_broken"] = True
        return
    place = where("forward", forward)
    try:
        out, others = read_forward(case, value)
        out, others = _output_by_value(case, out, others)
        theirs = as_canonical(case, out, "forward's output")
    except ValueError as exc:
        case.add("bad-return", place, str(exc), "return the output array (or the list of every layer's activations)")
        case.facts["forward_broken"] = True
        return
    if not np.all(np.isfinite(theirs)):
        origin = nan_origin(forward, case.copy_params(), case.learner_X())
        case.add(
            "not-finite",
            place,
            "forward's output holds NaN or infinity" + (f": {origin}" if origin else ""),
            f"e = np.exp(z - z.max(axis={case.layout.fix_axis()}, keepdims=True))  # and keep np.log away from 0",
        )
        case.facts["forward_broken"] = True
        return
    if _random(case, forward, theirs):
        case.notes.append(
            "forward returns different outputs on two calls with the same arguments (dropout "
            "left on?): diagnose cannot check it; switch the randomness off for predictions"
        )
        return
    case.facts["forward_output"] = theirs
    pre, acts = case.true_pass()
    k = case.sizes[-1]
    if theirs.shape[1] != k:
        _wrong_width(case, theirs, place)
        return
    if _close(theirs, acts[-1], case):
        _check_biases_used(case, forward, place)
        return
    if _close(theirs, pre[-1], case):
        case.notes.append(
            "forward returns the logits (before the output activation); fine if your loss and predict apply it"
        )
        return
    if case.output == "softmax" and _close(theirs, _log_softmax(pre[-1]), case):
        case.notes.append("forward returns log-probabilities (log softmax); fine with a negative log-likelihood loss")
        return
    case.facts["forward_broken"] = True
    if _hidden_layer(case, theirs, place):
        return
    if _softmax_axis(case, theirs, pre[-1], place):
        return
    hidden = [as_canonical(case, a, "an activation") for a in others if np.ndim(a) >= 1 and _sample_count_fits(case, a)]
    explanation = _explain_forward(case, hidden)
    if explanation is None and case.output == "softmax" and not _are_probabilities(theirs):
        case.add(
            "not-probabilities",
            place,
            _not_probabilities_message(case, theirs),
            f"out = np.exp(z - z.max({_axis(case)}, keepdims=True)); out /= out.sum({_axis(case)}, keepdims=True)",
        )
        return
    rel = float(np.max(np.abs(theirs - acts[-1])))
    message = f"forward's output differs from the true network's on the same parameters (by up to {rel:.3g})"
    case.add(
        "forward-wrong",
        place,
        message
        + (
            f": {explanation[0]}"
            if explanation
            else ": return the list of every layer's activations to find the first layer that differs"
        ),
        explanation[1]
        if explanation and explanation[1]
        else "return [A1, A2, ..., out] from forward, and diagnose names the first layer that differs",
    )


def _random(case, forward, theirs):
    """Whether a second call of forward on the same arguments gives another output."""
    try:
        out, others = _output_by_value(
            case, *read_forward(case, call("forward", forward, case.copy_params(), case.learner_X()))
        )
        return not np.array_equal(as_canonical(case, out, ""), theirs)
    except (Raised, ValueError):
        return True


def _check_biases_used(case, forward, place):
    """forward-wrong for a bias left out, which biases that start at zero hide: forward runs again
    with small random biases and must follow them."""
    values = case.structure.read(case.params)
    bias_slots = [slot for slot in case.structure.slots if slot.kind == "b"]
    if not bias_slots or any(np.any(values[slot]) for slot in bias_slots):
        return
    rng = np.random.default_rng(0)
    trial = {
        slot: (rng.normal(0, 0.1, np.shape(v)) if slot.kind == "b" else np.array(v, copy=True))
        for slot, v in values.items()
    }
    biases = [case.layout.bias(trial[slot], slot.layer) for slot in bias_slots]
    try:
        out, others = read_forward(case, call("forward", forward, case.structure.build(trial), case.learner_X()))
        theirs = as_canonical(case, _output_by_value(case, out, others)[0], "")
    except (Raised, ValueError):
        return
    twin = reference.MLP.from_parameters(case.weights, biases, case.activation, case.output, case.loss)
    if _close(theirs, twin.predict_proba(case.Xc), case):
        return
    for layer, slot in enumerate(bias_slots, 1):
        without = [np.zeros_like(b) if i == layer - 1 else b for i, b in enumerate(biases)]
        twin = reference.MLP.from_parameters(case.weights, without, case.activation, case.output, case.loss)
        if _close(theirs, twin.predict_proba(case.Xc), case):
            case.facts["forward_broken"] = True
            case.add(
                "forward-wrong",
                place,
                f"forward leaves out layer {layer}'s bias {slot.label}: run with small random biases, its output "
                "does not change with them (yours start at zero, so it shows only once training moves them)",
                f"z = {_product(case, layer)} + {slot.label}",
            )
            return


def _log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _output_by_value(case, out, others):
    """When forward returned several arrays, the one that is the network's true output, whatever its
    place: a hidden layer as wide as the output could be taken for it."""
    if not others:
        return out, others
    _, acts = case.true_pass()
    arrays = [out] + list(others)
    for i, a in enumerate(arrays):
        try:
            canonical = as_canonical(case, a, "")
        except ValueError:
            continue
        if _close(canonical, acts[-1], case):
            return a, arrays[:i] + arrays[i + 1 :]
    return out, others


def _hidden_layer(case, theirs, place):
    """hidden-layer-output for an output as wide as the classes that is a hidden layer's activations."""
    _, acts = case.true_pass()
    for layer in range(1, len(case.weights)):
        if acts[layer].shape == theirs.shape and _close(theirs, acts[layer], case):
            case.add(
                "hidden-layer-output",
                place,
                f"forward returns hidden layer {layer}'s activations (its {theirs.shape[1]} units happen to be "
                "as many as the classes), not the output layer's",
                f"return the last layer's output, computed from layer {layer}'s activations through the output weights",
            )
            return True
    return False


def _axis(case):
    return f"axis={case.layout.fix_axis()}"


def _sample_count_fits(case, a):
    try:
        as_canonical(case, a, "")
        return True
    except ValueError:
        return False


def _are_probabilities(out):
    return bool(np.all(out >= 0) and np.all(out <= 1) and np.allclose(out.sum(axis=1), 1, atol=1e-4))


def _softmax_axis(case, theirs, logits, place):
    """softmax-axis when the outputs sum to 1 over the samples instead of over the classes."""
    if case.output != "softmax" or case.sizes[-1] < 2:
        return False
    over_samples = np.allclose(theirs.sum(axis=0), 1, atol=1e-4) and np.all(theirs >= 0)
    if not over_samples or np.allclose(theirs.sum(axis=1), 1, atol=1e-4):
        return False
    axis, wrong = case.layout.fix_axis(), case.layout.sample_axis()
    if case.n == 1:
        measured = (
            f"every output is 1.0 for the one sample: the softmax is taken over axis={wrong}, "
            "the samples, of which there is one"
        )
    else:
        measured = (
            f"the outputs sum to 1 over the {case.n} samples for each of the {case.sizes[-1]} classes, "
            f"instead of over the classes for each sample: the softmax is taken over axis={wrong}"
        )
    case.add(
        "softmax-axis",
        place,
        measured,
        f"e = np.exp(z - z.max(axis={axis}, keepdims=True)); out = e / e.sum(axis={axis}, keepdims=True)",
    )
    return True


def _not_probabilities_message(case, theirs):
    pre, _ = case.true_pass()
    sums = theirs.sum(axis=1)
    text = (
        f"forward's outputs should be probabilities (softmax: each sample's {case.sizes[-1]} values in "
        f"[0, 1], summing to 1), but they range over [{theirs.min():.3g}, {theirs.max():.3g}] and a "
        f"sample's values sum to {sums.min():.3g}..{sums.max():.3g}"
    )
    with np.errstate(all="ignore"):
        if _close(theirs, np.exp(pre[-1]), case):
            text += ": they are np.exp(z), not divided by their sum"
        elif _close(theirs, reference.sigmoid(pre[-1]), case):
            text += ": they are sigmoid(z); softmax was meant"
    return text


def _wrong_width(case, theirs, place):
    """forward returned (n, width) with width not the number of classes."""
    _, acts = case.true_pass()
    width = theirs.shape[1]
    layers = [i for i, size in enumerate(case.sizes[1:-1], 1) if size == width]
    if layers:
        layer = layers[0]
        same = _close(theirs, acts[layer], case)
        case.add(
            "hidden-layer-output",
            place,
            f"forward returns {width} values per sample where the network has {case.sizes[-1]} classes: "
            f"hidden layer {layer}'s {'activations' if same else 'width'}"
            + ("" if same else " (with other values than the true activations)")
            + ", not the output layer's",
            f"return the last layer's output, computed from layer {layer}'s activations through the output weights",
        )
    elif width == case.sizes[0]:
        case.add(
            "bad-return",
            place,
            f"forward returns {width} values per sample, the number of inputs: the input itself?",
            "return the output layer's activations",
        )
    else:
        case.add(
            "bad-return",
            place,
            f"forward returns {width} values per sample; the network has {case.sizes[-1]} classes",
            "return the output layer's activations",
        )


def _explain_forward(case, hidden):
    """(what, fix) for the first layer whose output differs, from their hidden activations or from
    single-change variants of the true network; None when nothing explains it."""
    pre, acts = case.true_pass()
    layers = len(case.weights)
    theirs_by_layer = {}
    for a in hidden:
        for layer in range(1, layers):
            if a.shape[1] == case.sizes[layer] and layer not in theirs_by_layer and not _close(a, pre[layer - 1], case):
                theirs_by_layer[layer] = a
                break
    for layer in range(1, layers):
        if layer in theirs_by_layer and not _close(theirs_by_layer[layer], acts[layer], case):
            found = _variant_matching(case, layer, theirs_by_layer[layer], acts[layer - 1])
            return found or (f"hidden layer {layer} is the first that differs", "")
    out = case.facts["forward_output"]
    for layer in range(1, layers + 1):
        found = _variant_matching(case, layer, out, acts[layer - 1], through=True)
        if found:
            return found
    return None


def _variants(case, layer):
    """(description, fix, function of the previous activation) for one layer computed wrongly."""
    W, b = case.weights[layer - 1], case.biases[layer - 1]
    last = layer == len(case.weights)
    wanted = case.output if last else case.activation
    fns = {"sigmoid": reference.sigmoid, "softmax": reference.softmax, "identity": lambda z: z}
    fns.update({name: act.f for name, act in reference.ACTIVATION_FUNCTIONS.items()})
    bias = _param_name(case, "b", layer)
    out = []
    if case.structure.has_biases and np.any(b != 0):
        out.append(
            (
                f"layer {layer} leaves out its bias {bias}",
                f"z = {_product(case, layer)} + {bias}",
                lambda a: fns[wanted](a @ W),
            )
        )
    if wanted == "leaky_relu":
        for slope in LEAKY_SLOPES:
            out.append(
                (
                    f"layer {layer} uses a leaky ReLU of slope {slope:g}; fastmlp's leaky_relu, which "
                    "diagnose checks against, has slope 0.01 (fine if you meant it, but diagnose cannot "
                    "check the rest)",
                    "np.where(z > 0, z, 0.01 * z)  # only to check it with diagnose",
                    lambda a, slope=slope: _leaky(a @ W + b, slope),
                )
            )
    for other, fn in fns.items():
        if other != wanted and not (last and other in ("relu", "leaky_relu")):
            used = "no activation" if other == "identity" else other
            out.append(
                (
                    f"layer {layer} applies {used} where the network uses {wanted}",
                    f"apply {wanted} to layer {layer}'s pre-activation",
                    lambda a, fn=fn: fn(a @ W + b),
                )
            )
    return out


LEAKY_SLOPES = (0.02, 0.05, 0.1, 0.2, 0.3)  # the slopes tutorials and Keras use


def _leaky(z, slope):
    return np.where(z > 0, z, slope * z)


def _product(case, layer):
    name = _param_name(case, "W", layer)
    prev = "X" if layer == 1 else f"A{layer - 1}"
    if not case.layout.rows:
        return f"{name} @ {prev}"
    return f"{prev} @ {name}" if case.layout.weights_in_out else f"{prev} @ {name}.T"


def _param_name(case, kind, layer):
    for slot in case.structure.slots:
        if slot.kind == kind and slot.layer == layer - 1:
            return slot.label
    return f"{kind}{layer}"


def _variant_matching(case, layer, target, previous, through=False):
    """The variant of `layer` whose result (or, with through, the network's output computed from it)
    equals target."""
    table = reference.ACTIVATION_FUNCTIONS[case.activation]
    with np.errstate(all="ignore"):
        for description, fix, fn in _variants(case, layer):
            a = fn(previous)
            if through:
                for later in range(layer, len(case.weights)):
                    z = a @ case.weights[later] + case.biases[later]
                    a = output_activation(case.output, z) if later == len(case.weights) - 1 else table.f(z)
            if a.shape == target.shape and _close(target, a, case):
                return description, fix
    return None
