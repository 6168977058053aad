"""Steering a fit, predict or evaluate onto one compiled engine, for tests.

Which engine runs a call is decided by ``fastmlp._plan.make_plan`` alone, once per call, and
fastmlp.model always calls it through the module attribute. ``force_plan`` patches that attribute:
every plan made from then on is the real one with the given changes, applied where they apply and
kept consistent, so the engine runs a plan it could have been given (``Plan`` checks itself). A
test thus compares the engine the data picks with another one on the very same call.

    force_plan(monkeypatch, threads=1)              # every call cut in parts runs them on 1 thread
    force_plan(monkeypatch, sparse_inputs=False)    # the dense first layer (its GEMM)
    force_plan(monkeypatch, private_columns=False)  # the first layer stepped in place, by columns
    force_plan(monkeypatch, hidden_lists=())        # the GEMMs after a ReLU, never its non-zeros
    force_plan(monkeypatch, parts=1)                # predict / evaluate whole, on one thread
    force_plan(monkeypatch, fixed_chunk_steps=7)    # batch-1 fits in chunks of 7 steps
    force_plan(monkeypatch, batch1_columns=False)   # batch-1 fits whole, on one thread
    force_plan(monkeypatch, first_forward_by_columns=False)  # the dense first layer's forward by rows

Calls stack: each wraps the make_plan in place, so a later call's changes apply on top of the
earlier ones' (and win for the same field). monkeypatch drops them all at the test's end;
``with pytest.MonkeyPatch.context() as patch: force_plan(patch, ...)`` scopes one to a block.
"""

import dataclasses

from fastmlp import _plan

# What a plan says about the call itself, not about the engine: never forced.
_CALL_FIELDS = ("sizes", "rows", "update")
# The fields a plan turned whole (parts=1) must have: nothing of the engines in parts.
_WHOLE = dict(
    parts=1,
    threads=1,
    sparse_inputs=False,
    first_layer_by_columns=False,
    private_columns=False,
    hidden_lists=(),
    packed_operands=False,
    packed_first_layer=False,
    first_forward_by_columns=False,
    stream_panels=False,
    blas="openblas",
)


def force_plan(monkeypatch, **changes):
    """From now on (until monkeypatch undoes it), every plan is make_plan's with `changes`.

    `changes` are Plan fields, applied where they make sense and with what they entail:

    - ``threads``: to plans cut in parts (fit's minibatches, predict / evaluate on enough rows),
      at most one a part;
    - ``fixed_chunk_steps``: to batch-1 fit plans;
    - ``batch1_columns=False``: to batch-1 fit plans, which then run whole (one part, one
      thread, no private columns);
    - ``parts=1`` (the only value): to inference plans, which then run whole: one thread, no
      sparse inputs, no hidden lists (a fit's minibatches cannot run whole);
    - ``blas`` other than ``"tiles"`` also turns ``packed_operands`` off, and that (or
      ``sparse_inputs=True``) turns ``packed_first_layer``, ``first_forward_by_columns`` and
      ``stream_panels`` off;
    - ``sparse_inputs=False`` also turns ``first_layer_by_columns`` off, and that turns
      ``private_columns`` off;
    - any other field, to every plan.

    Turning an engine on where a plan cannot take it fails with Plan's ValueError, in the call.
    """
    engine_fields = {field.name for field in dataclasses.fields(_plan.Plan)} - set(_CALL_FIELDS)
    unknown = sorted(set(changes) - engine_fields)
    if unknown:
        raise TypeError(f"force_plan: got {unknown}; expected Plan fields among {sorted(engine_fields)}")
    if changes.get("parts", 1) != 1:
        raise ValueError(f"force_plan: got parts={changes['parts']}; only parts=1 (inference whole) is forced")
    make_plan = _plan.make_plan

    def forced(task, *args, **kwargs):
        plan = make_plan(task, *args, **kwargs)
        return dataclasses.replace(plan, **_applicable(changes, task, plan))

    monkeypatch.setattr(_plan, "make_plan", forced)


def _applicable(changes, task, plan):
    """The changes that apply to this plan of this task, with what they entail."""
    applied = {}
    for field, value in changes.items():
        if field == "threads" and plan.parts == 1:
            continue
        if field == "threads":  # as many as asked, up to one a part
            value = min(value, plan.parts)
        if field == "fixed_chunk_steps" and not (task == "fit" and plan.rows == 1):
            continue
        if field != "parts":
            applied[field] = value
    if applied.get("blas", "tiles") != "tiles":  # only the tiles read packed weights
        applied["packed_operands"] = False
    if not applied.get("packed_operands", True) or applied.get("sparse_inputs", False):
        applied["packed_first_layer"] = False
        applied["first_forward_by_columns"] = False
        applied["stream_panels"] = False
    if not applied.get("sparse_inputs", True):
        applied["first_layer_by_columns"] = False
    if not applied.get("first_layer_by_columns", True):
        applied["private_columns"] = False
    if "parts" in changes and task == "infer":
        applied.update(_WHOLE)
    if changes.get("batch1_columns", True) is False and plan.batch1_columns:
        applied.update(parts=1, threads=1, private_columns=False)
    return applied
