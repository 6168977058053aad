"""Running a learner's own functions: where in their code something happened."""
import os
import traceback

import numpy as np

import fastmlp

_LIBRARY_DIRS = tuple(os.path.dirname(os.path.abspath(module.__file__)) + os.sep
                      for module in (np, fastmlp))


def _library_file(path):
    return os.path.abspath(path).startswith(_LIBRARY_DIRS)


def _learner_frame(tb):
    """The innermost traceback frame in the learner's code (not NumPy's, not fastmlp's)."""
    frames = traceback.extract_tb(tb)
    for frame in reversed(frames):
        if not _library_file(frame.filename):
            return frame
    return frames[-1] if frames else None


def _a(value):
    """'a list', 'an int': the type of value with its article, for messages."""
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
