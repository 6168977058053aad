"""fastmlp.diagnose on learner-style networks (issue 17).

Each file of tests/learner_code/ is one style of from-scratch MNIST network, written as learners
write it, with its correct program (CORRECT) and its bugs (BUGS). A buggy program must be named
by its first finding; every correct program must come out ok; and diagnose must leave the arrays
of every program as make() returned them, whatever the learner's step does to its copies.
"""

import ast
import copy
import functools
import importlib
import pkgutil
import re

import numpy as np
import pytest

import fastmlp
import learner_code
from learner_code._corpus import program

STYLES = {
    name: importlib.import_module(f"learner_code.{name}")
    for _, name, _ in pkgutil.iter_modules(learner_code.__path__)
    if not name.startswith("_")
}
BUGS = [(style, index) for style, module in STYLES.items() for index in range(len(module.BUGS))]
CODES = {
    "softmax-axis",
    "not-probabilities",
    "hidden-layer-output",
    "forward-wrong",
    "sign-flipped",
    "scaled",
    "transposed",
    "shape",
    "zero",
    "wrong",
    "extra-softmax-derivative",
    "activation-derivative",
    "bias-gradient-axis",
    "update-not-applied",
    "ascent",
    "step-scaled",
    "step-wrong",
    "symmetric-init",
    "saturated-units",
    "inputs-not-scaled",
    "lr-too-high",
    "single-class-batches",
    "predict-wrong",
}


def bug_id(style, index):
    bugs = STYLES[style].BUGS
    code = bugs[index].code
    repeat = [bug.code for bug in bugs[:index]].count(code)
    return f"{style}-{code}" + (f"-{repeat + 1}" if repeat else "")


@functools.lru_cache(maxsize=None)
def diagnosed(style, index=None):
    """(what make() returned, a deep copy of it taken before, the report) for one program."""
    module = STYLES[style]
    make, kwargs = program(module, None if index is None else module.BUGS[index])
    made = make()
    before = copy.deepcopy(made)
    return made, before, fastmlp.diagnose(*made, **kwargs)


def assert_same(got, expected, where="make()"):
    if isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray) and got.shape == expected.shape, where
        np.testing.assert_array_equal(got, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, f"{where}[{i}]")
    else:
        assert got == expected, where


def test_corpus_has_twenty_bugs_with_known_codes():
    assert len(BUGS) >= 20
    assert {bug.code for module in STYLES.values() for bug in module.BUGS} <= CODES


@pytest.mark.parametrize("style", STYLES)
def test_correct_twin_is_ok(style):
    report = diagnosed(style)[2]
    assert report.ok, str(report)


@pytest.mark.parametrize(
    "style, index", [(style, None) for style in STYLES] + BUGS, ids=list(STYLES) + [bug_id(*b) for b in BUGS]
)
def test_diagnose_leaves_the_arrays_alone(style, index):
    made, before, _ = diagnosed(style, index)
    assert_same(made, before)


@pytest.mark.parametrize("style, index", BUGS, ids=[bug_id(*b) for b in BUGS])
def test_bug_is_named_first(style, index):
    report = diagnosed(style, index)[2]
    assert report.codes and report.codes[0] == STYLES[style].BUGS[index].code, str(report)


CODE_LINE = re.compile(r"^[A-Za-z_][\w\[\]'.]*(\s*,\s*[A-Za-z_][\w\[\]'.]*)*\s*(=|-=|\+=)\s")


def test_every_fix_that_is_code_is_python():
    """A fix written as a line of NumPy must parse as one (a trailing '# ...' comment aside)."""
    fixes = set()
    for style, index in [(style, None) for style in STYLES] + BUGS:
        fixes.update(f.fix for f in diagnosed(style, index)[2].findings if CODE_LINE.match(f.fix))
    assert len(fixes) >= 10
    for fix in fixes:
        ast.parse(fix)
