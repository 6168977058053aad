"""Running a learner's own functions: where in their code something happened."""

import contextlib
import inspect
import os
import sys
import traceback
import weakref

import numpy as np

import fastmlp

_LIBRARY_DIRS = tuple(os.path.dirname(os.path.abspath(module.__file__)) + os.sep for module in (np, fastmlp))


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


def _location(frame):
    """'net.py:12 in forward(): a = X @ W1' for a traceback frame."""
    text = f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}()"
    return text + (f": {frame.line.strip()}" if frame.line else "")


def defined_at(fn):
    """(name, 'net.py:12'): a learner's function and where it is defined ('' when Python cannot tell).
    For a glue lambda that ``call`` has run, the learner's function it called first."""
    if fn in _CALLEES:
        return _CALLEES[fn]
    try:
        path = inspect.getsourcefile(fn)
        line = inspect.getsourcelines(fn)[1]
    except (TypeError, OSError):
        return getattr(fn, "__name__", ""), ""
    return fn.__name__, f"{os.path.basename(path)}:{line}" if path else ""


# glue lambda -> the learner's function it called first: (name, 'file.py:line')
_CALLEES = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def _watching_callees(fn):
    """Note in _CALLEES which of the learner's functions a glue lambda ``fn`` calls first."""
    code = getattr(fn, "__code__", None)
    if code is None or fn.__name__ != "<lambda>" or fn in _CALLEES:
        yield
        return

    def profile(frame, event, arg):
        if (
            event == "call"
            and frame.f_back is not None
            and frame.f_back.f_code is code
            and not _library_file(frame.f_code.co_filename)
            and fn not in _CALLEES
        ):
            callee = frame.f_code
            _CALLEES[fn] = callee.co_name, f"{os.path.basename(callee.co_filename)}:{callee.co_firstlineno}"

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(previous)


class Raised(Exception):
    """A learner's function raised: ``message`` says what and on which line of their code."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def call(name, fn, *args):
    """fn(*args) with NumPy's warnings silenced, as the learner ran it; Raised when it raises."""
    try:
        with np.errstate(all="ignore"), _watching_callees(fn):
            return fn(*args)
    except Exception as exc:  # noqa: BLE001 -- the learner's bug is the report's subject, not a crash
        frame = _learner_frame(exc.__traceback__)
        where = f" at {_location(frame)}" if frame is not None else ""
        raise Raised(f"{name} raised {type(exc).__name__}: {exc}{where}") from None


def nan_origin(fn, *args):
    """Where fn first makes a NaN or an infinity from finite numbers (0/0, inf - inf, log(0)...):
    the learner's line, found by running fn again with NumPy raising on it; '' if it does not."""
    try:
        with np.errstate(invalid="raise", divide="raise", over="ignore", under="ignore"):
            fn(*args)
    except FloatingPointError as exc:
        frame = _learner_frame(exc.__traceback__)
        return f"{exc} at {_location(frame)}" if frame is not None else str(exc)
    except Exception:  # noqa: BLE001 -- only the floating-point error is of interest here
        return ""
    return ""
