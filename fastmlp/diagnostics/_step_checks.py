"""diagnose's checks of the learner's training step and of their predict."""

import numbers

import numpy as np

from fastmlp.diagnostics import _gradients as gradients
from fastmlp.diagnostics._case import as_canonical, where
from fastmlp.diagnostics._gradient_checks import _mse_convention, _scale_cause
from fastmlp.diagnostics._learner import Raised, call

# A step is along the gradient when it is within this relative distance of some multiple of it:
# a learner's step is exact arithmetic, but the gradient of a saturated network is not.
STEP_TOL = 1e-4
MAX_DECAY = 0.1  # weight decay shrinks W by at most this share per step
ROUNDING = 8  # W - lr * dW rounds each entry by up to this many of the dtype's eps times |W|
# The first step of the usual momentum methods, from zero velocity, is lr * g times one of these:
# 1 - beta for an average of gradients (Andrew Ng's course), 1 + mu for Nesterov's (CS231n).
MOMENTUM_FACTORS = {1 - beta: f"1 - {beta:g}" for beta in (0.9, 0.95, 0.99, 0.999)}
MOMENTUM_FACTORS.update({1 + mu: f"1 + {mu:g}" for mu in (0.5, 0.9, 0.95, 0.99)})
MILD = (0.5, 2.0)  # a rate off by less than this, without a count to explain it: clipping, a schedule


def _is_params_like(case, value):
    """The learner's structure read from value, when it holds an array for every parameter."""
    if not isinstance(value, (list, tuple, dict)):
        return None
    read = case.structure.read(value)
    if all(isinstance(v, np.ndarray) and v.dtype.kind in "biuf" for v in read.values()):
        return read
    return None


def _new_parameters(case, returned, passed, before_own):
    """({slot: array} after the step, note): from the return, the copy passed in, or the learner's own
    arrays when the step wrote into those instead (they are then put back)."""
    if (
        returned is not None
        and not isinstance(returned, numbers.Number)
        and not (isinstance(returned, np.ndarray) and returned.ndim == 0)
    ):
        candidates = [returned] + (list(returned) if isinstance(returned, tuple) else [])
        for candidate in candidates:  # the parameters, or (params, loss), or (loss, params)
            read = _is_params_like(case, candidate)
            if read is not None:
                return read, ""
    after = case.structure.read(passed)
    if any(not np.array_equal(after[s], before_own[s]) for s in case.structure.slots):
        return after, ""
    own = case.structure.read(case.params)
    changed = [s for s in case.structure.slots if not np.array_equal(own[s], before_own[s])]
    if changed:
        for slot in changed:
            moved = np.array(own[slot], copy=True)
            own[slot][...] = before_own[slot]
            own[slot] = moved
        return own, (
            "your step changed your own arrays instead of the params it was given; diagnose read "
            "the step from them and put them back"
        )
    return after, ""


def check_step(case, step):
    """update-not-applied, ascent, step-scaled, step-wrong; and whether the step settles what
    backprop's sign or scale left open."""
    try:
        after, before = _run_step(case, step, case.learner_X(), case.learner_Y())
    except Raised as exc:
        case.add("raised", where("step", step), exc.message, "fix the line above")
        return
    place = where("step", step)
    case.facts["first_move"] = after
    moves, reshaped = {}, []
    for slot in case.structure.slots:
        new = np.asarray(after[slot], dtype=np.float64)
        if new.shape != before[slot].shape:
            reshaped.append((slot, before[slot].shape, new.shape))
            continue
        moves[slot] = _canonical(case, slot, new - before[slot])
    if reshaped:
        text = "; ".join(f"{slot.label} went from shape {old} to {new}" for slot, old, new in reshaped)
        case.add(
            "step-wrong",
            place,
            f"the step changed the shape of parameters: {text} (a gradient of "
            "another shape, broadcast against the parameter)",
            "give each gradient its parameter's exact shape before the update",
        )
    if not moves:
        return
    _judge_moves(case, moves, place, step)


def _run_step(case, step, X, Y):
    """({slot: array} after one call of the step on a copy of the parameters, {slot: array} before)."""
    before = {s: np.array(v, copy=True) for s, v in case.structure.read(case.params).items()}
    passed = case.copy_params()
    returned = call("step", step, passed, X, Y)
    after, note = _new_parameters(case, returned, passed, before)
    if note:
        case.notes.append(note)
    return after, before


def _moves_differently(case, step):
    """Whether a second call of the step, on the same arguments, moves the parameters elsewhere."""
    try:
        again, _ = _run_step(case, step, case.learner_X(), case.learner_Y())
    except Raised:
        return True
    first = case.facts["first_move"]
    return any(not np.array_equal(first[s], again[s], equal_nan=True) for s in case.structure.slots)


def _several_updates(case, step, slots):
    """Whether the step makes several updates per call (a loop over the samples or minibatches of
    X): on two samples it is then either one plain step on their mean gradient (minibatches of two
    or more) or two plain steps, one per sample, in turn."""
    if case.n < 3:
        return False
    X2, Y2 = _first_samples(case, 2)
    try:
        after, before = _run_step(case, step, X2, Y2)
    except Raised:
        return False
    moves = {}
    for slot in slots:
        new = np.asarray(after[slot], dtype=np.float64)
        if new.shape != before[slot].shape:
            return False
        moves[slot] = _canonical(case, slot, new - before[slot])
    twin = case.truth()
    mean = twin.loss_and_gradients(case.Xc[:2], case.labels[:2])[1]
    rates = [_fit_rate(moves[s], mean[s.layer][0 if s.kind == "W" else 1], STEP_TOL) for s in slots]
    if all(r is not None and r > 0 for r in rates):
        return True
    rate = _one_sample_rate(case, step, slots[0])
    if rate is None or rate <= 0:
        return False
    start = [p.copy() for p in twin._parameters()]
    for i in range(2):  # one plain step per sample, in turn
        grads = twin.loss_and_gradients(case.Xc[i : i + 1], case.labels[i : i + 1])[1]
        for p, g in zip(twin._parameters(), [g for pair in grads for g in pair]):
            p -= rate * g
    moved = [p - p0 for p, p0 in zip(twin._parameters(), start)]
    return all(
        np.linalg.norm(moves[s] - moved[2 * s.layer + (s.kind == "b")]) <= 1e-3 * np.linalg.norm(moves[s])
        for s in slots
    )


def _one_sample_rate(case, step, slot):
    """r when the step on the first sample alone moves slot by exactly -r times its gradient."""
    X1, Y1 = _first_samples(case, 1)
    try:
        after, before = _run_step(case, step, X1, Y1)
    except Raised:
        return None
    new = np.asarray(after[slot], dtype=np.float64)
    if new.shape != before[slot].shape:
        return None
    grads = case.truth().loss_and_gradients(case.Xc[:1], case.labels[:1])[1]
    return _fit_rate(
        _canonical(case, slot, new - before[slot]), grads[slot.layer][0 if slot.kind == "W" else 1], STEP_TOL
    )


def _first_samples(case, m):
    """The learner's X and Y cut to their first m samples, in their layout."""
    X, Y = np.array(case.X, copy=True), np.array(case.Y, copy=True)
    X1 = X[:m] if case.layout.rows else X[:, :m]
    if case.layout.y_form == "labels" and Y.ndim == 2 and Y.shape[0] == 1:
        Y1 = Y[:, :m]  # labels as a (1, n) row
    elif case.layout.y_form == "labels" or case.layout.rows:
        Y1 = Y[:m]
    else:
        Y1 = Y[:, :m]
    return X1, Y1


def _canonical(case, slot, arr):
    if slot.kind == "W":
        return case.layout.weight(arr)
    return arr.reshape(-1)


def _true_canonical(case, slot):
    dW, db = case.true_gradients()[slot.layer]
    return dW if slot.kind == "W" else db


def _judge_moves(case, moves, place, step):
    # A parameter whose gradient backprop already got wrong (zero, summed over the wrong axis...)
    # moves as that gradient says: the backprop finding is the cause, not the step.
    settled_later = ("ok", "sign-flipped", "scaled")
    blamed = {
        slot for slot, v in case.facts.get("gradients", {}).items() if v.verdict not in settled_later or v.mistake
    }
    moves = {s: d for s, d in moves.items() if s not in blamed and np.any(_true_canonical(case, s))}
    still = [s for s, d in moves.items() if not np.any(d)]
    if still:
        every = len(still) == len(case.structure.slots)
        names = ", ".join(s.label for s in still)
        case.add(
            "update-not-applied",
            place,
            ("the step leaves every parameter exactly as it was" if every else f"the step never changes {names}")
            + ": the update is computed but not stored (W = W - lr * dW inside a loop or a function only "
            "rebinds a local name), or the update function is never called"
            + (" (a class whose update sets self.W = ... needs glue that returns the new arrays)" if every else ""),
            f"{still[0].label} -= lr * d{still[0].name}  # in place, every step",
        )
    rates, tols = {}, {}
    before = case.structure.read(case.params)
    for slot, d in moves.items():
        if not np.any(d):
            continue
        g = _true_canonical(case, slot)
        W = _canonical(case, slot, np.asarray(before[slot], dtype=np.float64))
        tol = STEP_TOL + ROUNDING * np.finfo(case.dtype).eps * float(np.linalg.norm(W) / np.linalg.norm(d))
        rate = _fit_rate(d, g, tol)
        if rate is None:
            rate = _explained_otherwise(case, slot, d, g, W, tol)
        rates[slot], tols[slot] = rate, tol
    wrong = [s for s, r in rates.items() if r is None]
    if wrong and _moves_differently(case, step):
        case.notes.append(
            "step moves the parameters differently on two calls with the same arguments (it "
            "draws a minibatch, shuffles, uses dropout or keeps a state): diagnose cannot check "
            "it; make one step on the X and Y it is given, without randomness, to have it checked"
        )
        return
    if wrong and _several_updates(case, step, wrong):
        case.notes.append(
            "step makes several updates per call (one per sample or minibatch of X): on one "
            "sample it is a plain step along minus the gradient; its size is not checked"
        )
        return
    if wrong:
        cosines = ", ".join(f"{s.name}: {_cosine(moves[s], -_true_canonical(case, s)):+.2f}" for s in wrong)
        case.add(
            "step-wrong",
            place,
            f"the step moves {', '.join(s.label for s in wrong)} in a direction that "
            f"is not minus the gradient (cosine with -gradient {cosines})",
            "W -= lr * dW  # dW the gradient of the mean loss, for this same W",
        )
    fitted = {s: r for s, r in rates.items() if isinstance(r, float)}
    if not fitted:
        return
    climbing = [s for s, r in fitted.items() if r < 0]
    if climbing:
        if _sign_flip_explains(case, climbing):
            return
        case.add(
            "ascent",
            place,
            f"the step moves {', '.join(s.label for s in climbing)} up the gradient "
            f"(by {-min(fitted[s] for s in climbing):.4g} times it): every step increases the loss",
            "W -= lr * dW  # not W += lr * dW",
        )
        return
    _check_rates(case, fitted, tols, place)


def _fit_rate(d, g, tol):
    """r with d = -r * g, when d is that exactly; None otherwise."""
    norm = float(np.vdot(g, g))
    if norm == 0:
        return None
    r = -float(np.vdot(d, g)) / norm
    if np.linalg.norm(d + r * g) <= tol * np.linalg.norm(d):
        return r
    return None


def _cosine(a, b):
    denominator = np.linalg.norm(a) * np.linalg.norm(b)
    return float(np.vdot(a, b) / denominator) if denominator else 0.0


def _explained_otherwise(case, slot, d, g, W, tol):
    """A move that is not along the true gradient: along backprop's own gradient (whose fault it
    then is, already reported), the first step of an adaptive method, or SGD with weight decay;
    else None."""
    theirs = case.facts.get("their_gradients", {}).get(slot)
    if theirs is not None:
        try:
            shape = np.shape(case.structure.read(case.params)[slot])
            t = _canonical(case, slot, np.broadcast_to(np.asarray(theirs, dtype=np.float64), shape))
        except ValueError:
            t = None
        if t is not None and _fit_rate(d, t, tol) is not None:
            return "follows backprop"
    if _adaptive_first_step(d, g):
        case.notes.append(
            "the step moves every parameter by about the same amount against its gradient's "
            "sign, as the first step of Adam, RMSprop or Adagrad does; its size is not checked"
        )
        return "adaptive"
    A = np.stack([g.reshape(-1), W.reshape(-1)], axis=1)
    coef, *_ = np.linalg.lstsq(A, -d.reshape(-1), rcond=None)
    if coef[0] > 0 and 0 < coef[1] <= MAX_DECAY and np.linalg.norm(A @ coef + d.reshape(-1)) <= tol * np.linalg.norm(d):
        case.notes.append(
            f"the step of {slot.label} includes weight decay ({coef[1] / coef[0]:.3g} * W added to the gradient)"
        )
        return "weight decay"
    return None


def _adaptive_first_step(d, g):
    """Whether d moves each parameter with a sizeable gradient by the same amount against the
    gradient's sign: lr * g / (|g| + eps), the first step of Adam, RMSprop and Adagrad."""
    big = np.abs(g) > 1e-3 * np.max(np.abs(g))
    if big.sum() < 2:
        return False
    sizes = np.abs(d[big])
    return bool(np.all(np.sign(d[big]) == -np.sign(g[big])) and sizes.min() >= 0.95 * sizes.max())


def _sign_flip_explains(case, climbing):
    """A backprop that returns minus the gradient and a step that subtracts it: the sign-flipped
    finding already names the cause; say the step climbs there."""
    flipped = {v.slot for v in case.facts.get("sign_flipped", [])}
    if not flipped or not set(climbing) <= flipped:
        return False
    for i, finding in enumerate(case.findings):
        if finding.code == "sign-flipped":
            message = (
                finding.message.split(". That is right")[0]
                + ", and your step subtracts them: every step climbs the loss"
            )
            case.findings[i] = type(finding)(
                finding.code, finding.severity, message, "dZ = out - Y  # not Y - out", finding.where
            )
    return True


def _check_rates(case, fitted, tols, place):
    """The step is along -gradient: settle backprop's sign and scale, and compare its size with lr.
    tols: how far each parameter's rate may be off by rounding (float32 at a small rate)."""
    flipped = case.facts.get("sign_flipped", [])
    if flipped:
        _drop(case, "sign-flipped")
        case.notes.append("backprop returns minus the gradient and step adds it: that is right")
    scaled = case.facts.get("scaled", [])
    if case.lr is None:
        rates = sorted({round(r, 6) for r in fitted.values()})
        case.notes.append(
            f"the step's effective learning rate is {', '.join(f'{r:g}' for r in rates)} (pass lr= to have it checked)"
        )
        return

    def near(rate, target, slot):
        return abs(rate / target - 1) <= max(1e-3, 10 * tols[slot])

    off = {s: r for s, r in fitted.items() if not near(r, case.lr, s)}
    if scaled and all(near(fitted[v.slot], case.lr, v.slot) for v in scaled if v.slot in fitted):
        _drop(case, "scaled")
        case.notes.append("backprop's gradients are scaled, and step undoes it: the step is right")
    if not off:
        return
    factors = {round(r / case.lr, 6) for r in off.values()}
    scaled_by = {v.slot: v.factor for v in scaled}
    if all(s in scaled_by and near(off[s], case.lr * scaled_by[s], s) for s in off):
        for i, finding in enumerate(case.findings):
            if finding.code == "scaled":
                rate = max(off.values())
                case.findings[i] = type(finding)(
                    finding.code,
                    finding.severity,
                    finding.message + f"; your step applies them with "
                    f"lr={case.lr:g}, an effective learning rate of {rate:.4g}",
                    finding.hint,
                    finding.where,
                )
        return
    factor = sorted(factors)[-1]
    reason = _scale_cause(case, factor)
    convention = _mse_convention(case, factor)
    momentum = next((text for value, text in MOMENTUM_FACTORS.items() if abs(factor - value) <= 1e-4 * value), None)
    if convention and len(factors) == 1:
        case.facts["convention"] = factor
        case.notes.append(f"the step is {factor:.4g} x lr x the gradient of fastmlp's mse: {convention}")
        return
    strong = gradients._scale_reason(factor, case.n, case.sizes[0], case.sizes[-1])
    if not strong and len(factors) == 1 and not momentum and MILD[0] <= factor <= MILD[1]:
        case.notes.append(
            f"the step is {factor:.4g} x lr x the gradient (clipping, a schedule?): an effective "
            f"learning rate of {factor * case.lr:.4g}"
        )
        return
    if momentum and not strong and len(factors) == 1:
        case.notes.append(
            f"the step is {factor:.4g} x lr x the gradient, as the first step of momentum is "
            f"({momentum}); its later steps are not checked"
        )
        return
    names = ", ".join(s.label for s in off)
    case.add(
        "step-scaled",
        place,
        f"the step moves {names} along minus the gradient, but by "
        f"{factor:.4g} x lr (an effective learning rate of {factor * case.lr:.4g} for lr={case.lr:g})"
        + (f": {reason}" if reason else ""),
        "W -= lr * dW  # dW the gradient of the mean loss over the batch",
    )


def _drop(case, code):
    case.findings[:] = [f for f in case.findings if f.code != code]


# ----------------------------------------------------------------------------------------------
# predict
# ----------------------------------------------------------------------------------------------


def check_predict(case, predict):
    try:
        value = call("predict", predict, case.copy_params(), case.learner_X())
    except Raised as exc:
        case.add("raised", where("predict", predict), exc.message, "fix the line above")
        return
    place = where("predict", predict)
    labels, problem = _read_labels(case, value)
    pre, acts = case.true_pass()
    truth = np.argmax(acts[-1], axis=1)
    if problem:
        hint = _hidden_argmax(case, value)
        case.add(
            "predict-wrong",
            place,
            problem + (f"; {hint}" if hint else ""),
            f"labels = np.argmax(out, axis={case.layout.fix_axis()})  # out: the output layer's activations",
        )
        return
    top2 = np.sort(acts[-1], axis=1)[:, -2:] if acts[-1].shape[1] > 1 else None
    margin = 1e-9 if case.dtype == np.float64 else 1e-5  # closer than this, float32 may rank them either way
    decided = np.ones(case.n, bool) if top2 is None else (top2[:, 1] - top2[:, 0]) > margin
    disagree = (labels != truth) & decided
    if not np.any(disagree):
        return
    their_out = case.facts.get("forward_output")
    if their_out is not None and np.array_equal(labels, np.argmax(their_out, axis=1)):
        return  # predict follows forward, whose finding is the cause
    hint = _hidden_argmax(case, labels)
    case.add(
        "predict-wrong",
        place,
        f"predict's labels differ from the argmax of the network's output for {int(disagree.sum())} of "
        f"{case.n} samples" + (f": {hint}" if hint else ""),
        f"labels = np.argmax(out, axis={case.layout.fix_axis()})  # out: the output layer's activations",
    )


def _read_labels(case, value):
    """(labels (n,), "") or (None, what is wrong)."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf":
        return None, f"predict returned {type(value).__name__}; expected integer labels"
    k = case.sizes[-1]
    if arr.size == case.n:
        return arr.reshape(-1).astype(np.int64), ""
    if arr.size == case.n * k:
        try:
            return np.argmax(as_canonical(case, arr, "predict's return"), axis=1), ""
        except ValueError:
            pass
    if arr.ndim <= 2 and arr.size == k and case.n != k:
        return None, (
            f"predict returned {k} labels for {case.n} samples: the argmax is taken over the "
            "samples instead of the classes"
        )
    return None, f"predict returned shape {arr.shape} for {case.n} samples"


def _hidden_argmax(case, labels):
    """'they are the argmax of hidden layer 1' when they are; '' otherwise."""
    _, acts = case.true_pass()
    labels = np.asarray(labels).reshape(-1)
    for layer, a in enumerate(acts[1:-1], 1):
        if labels.size == case.n and np.array_equal(labels, np.argmax(a, axis=1)):
            return (
                f"they are the argmax of hidden layer {layer}'s {a.shape[1]} activations, not of the "
                f"{case.sizes[-1]} outputs (accuracy computed from a hidden layer)"
            )
    return ""
