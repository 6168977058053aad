"""Learner-style MNIST networks for tests/test_learner_code.py (issue 17).

Each public file is one style, written as learners write it: ``make()`` returns fresh
``(params, X, Y)`` in the learner's layout, CORRECT holds fastmlp.diagnose's keyword arguments for
the correct program, and BUGS the buggy programs, each a ``_corpus.Bug`` that rebinds some of the
file's names (a helper, a step, the initialisation, the data, the learning rate).
"""
