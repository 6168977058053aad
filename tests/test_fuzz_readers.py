"""Seeded fuzzing of every file reader: read_idx, load_mnist on .pkl(.gz) and .npz, and fastmlp.load.

Small valid files are cut short and have bytes flipped at random. Each attempt must either return a
valid result or raise ValueError or OSError (FileNotFoundError and friends). Anything else that
escapes (EOFError, zlib.error, pickle.UnpicklingError, zipfile.BadZipFile, KeyError, IndexError,
struct.error, UnicodeDecodeError, MemoryError, ...) is a failure: the library must wrap it into a
ValueError that names the file. So is a hang, caught here by an alarm on POSIX.
"""

import collections
import contextlib
import gzip
import io
import os
import pickle
import signal
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp.datasets import load_mnist, read_idx

ATTEMPTS = 120
SECONDS_PER_ATTEMPT = 10


# ---- small valid files -----------------------------------------------------------------------


def _idx(a):
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def _valid_files():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([1, 2, 3], np.uint8)
    parts = tuple((rng.random((n, 784)).astype(np.float32), (np.arange(n) % 10).astype(np.int64)) for n in (2, 1, 2))
    npz = io.BytesIO()
    np.savez(npz, x_train=images, y_train=labels, x_test=images[:2], y_test=labels[:2])
    npz_compressed = io.BytesIO()
    np.savez_compressed(npz_compressed, x_train=images, y_train=labels, x_test=images[:2], y_test=labels[:2])
    with tempfile.TemporaryDirectory() as folder:
        model = Path(fastmlp.MLP([6, 4, 3], seed=0).save(os.path.join(folder, "model.npz"))).read_bytes()
    return {
        "idx": ("images.idx", _idx(images)),
        "idx-labels": ("labels.idx", _idx(labels)),
        "idx.gz": ("images.idx.gz", gzip.compress(_idx(images))),
        "pkl.gz": ("mnist.pkl.gz", gzip.compress(pickle.dumps(parts, protocol=2))),
        "pkl-protocol-4": ("mnist.pkl", pickle.dumps(parts, protocol=4)),
        "npz": ("mnist.npz", npz.getvalue()),
        "npz-compressed": ("mnist.npz", npz_compressed.getvalue()),
        "model": ("model.npz", model),
    }


VALID = _valid_files()


# ---- what counts as a valid result -----------------------------------------------------------


def _check_idx(result):
    assert isinstance(result, np.ndarray) and result.dtype.isnative


def _check_mnist(result):
    (X_train, y_train), (X_test, y_test) = result
    for X, y in ((X_train, y_train), (X_test, y_test)):
        assert X.dtype == np.float32 and X.ndim == 2 and X.shape[1] == 784 and len(X) >= 1
        assert np.isfinite(X).all() and X.min() >= 0 and X.max() <= 1
        assert y.dtype == np.int64 and y.shape == (len(X),) and y.min() >= 0 and y.max() <= 9


def _check_model(result):
    assert isinstance(result, fastmlp.MLP)
    assert all(np.isfinite(a).all() for a in list(result.weights) + list(result.biases))
    result.predict_proba(np.zeros((2, result.sizes[0]), np.float32))


READERS = {
    "idx": (read_idx, _check_idx),
    "idx-labels": (read_idx, _check_idx),
    "idx.gz": (read_idx, _check_idx),
    "pkl.gz": (load_mnist, _check_mnist),
    "pkl-protocol-4": (load_mnist, _check_mnist),
    "npz": (load_mnist, _check_mnist),
    "npz-compressed": (load_mnist, _check_mnist),
    "model": (fastmlp.load, _check_model),
}


# ---- mutations -------------------------------------------------------------------------------


def _mutate(data, rng):
    """A corrupted copy of data and a description that reproduces it."""
    data = bytearray(data)
    kind = rng.choice(["truncate", "flip", "truncate+flip", "zero-run", "flip-header"])
    steps = []
    if kind in ("truncate", "truncate+flip"):
        cut = int(rng.integers(0, len(data)))
        del data[cut:]
        steps.append(f"data = data[:{cut}]")
    if kind in ("flip", "truncate+flip", "flip-header") and data:
        limit = min(len(data), 64) if kind == "flip-header" else len(data)
        for _ in range(int(rng.integers(1, 5))):
            at, mask = int(rng.integers(0, limit)), int(rng.integers(1, 256))
            data[at] ^= mask
            steps.append(f"data[{at}] ^= {mask}")
    if kind == "zero-run" and data:
        at = int(rng.integers(0, len(data)))
        length = int(rng.integers(1, 64))
        data[at : at + length] = bytes(len(data[at : at + length]))
        steps.append(f"data[{at}:{at + length}] = zeros")
    return bytes(data), "; ".join(steps) or "unchanged"


@contextlib.contextmanager
def _deadline(seconds):
    """Raise TimeoutError if the body runs longer than `seconds` (POSIX main thread only)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("target", list(VALID))
def test_corrupted_files_raise_value_or_os_error(target, tmp_path):
    name, data = VALID[target]
    reader, check = READERS[target]
    path = tmp_path / name
    path.write_bytes(data)
    check(reader(path))  # the intact file is read

    rng = np.random.default_rng(list(VALID).index(target))
    failures = collections.OrderedDict()
    outcomes = collections.Counter()
    for attempt in range(ATTEMPTS):
        corrupt, how = _mutate(data, rng)
        path.write_bytes(corrupt)
        try:
            with _deadline(SECONDS_PER_ATTEMPT):
                result = reader(path)
        except (ValueError, OSError) as exc:
            outcomes[type(exc).__name__] += 1
            if not str(exc):
                failures.setdefault("empty message", (attempt, how, repr(exc)))
            continue
        except BaseException as exc:  # every other escape is what this test looks for
            if isinstance(exc, KeyboardInterrupt):
                raise
            key = f"{type(exc).__module__}.{type(exc).__name__}"
            outcomes[key] += 1
            failures.setdefault(key, (attempt, how, f"{type(exc).__name__}: {exc}"[:200]))
            continue
        outcomes["loaded"] += 1
        try:
            check(result)
        except AssertionError as exc:
            failures.setdefault("invalid result", (attempt, how, str(exc)[:200]))
    print(f"{target}: {dict(outcomes)}")
    assert not failures, (
        f"{target} ({name}): {sum(outcomes[k] for k in failures if k in outcomes)} of {ATTEMPTS} corrupted "
        "files escaped as something other than ValueError/OSError. First of each kind "
        "(attempt, mutation of the valid bytes, error):\n"
        + "\n".join(f"  {kind}: {detail}" for kind, detail in failures.items())
    )


@pytest.mark.parametrize("target", ["idx.gz", "pkl.gz"])
def test_gzip_with_valid_crc_but_corrupt_content(target, tmp_path):
    """Corruption inside the compressed content (re-gzipped, so the gzip layer is intact)."""
    name, data = VALID[target]
    reader, check = READERS[target]
    raw = gzip.decompress(data)
    rng = np.random.default_rng(7)
    path = tmp_path / name
    failures = {}
    for attempt in range(ATTEMPTS // 2):
        corrupt, how = _mutate(raw, rng)
        path.write_bytes(gzip.compress(corrupt))
        try:
            with _deadline(SECONDS_PER_ATTEMPT):
                check(reader(path))
        except (ValueError, OSError):
            continue
        except AssertionError as exc:
            failures.setdefault("invalid result", (attempt, how, str(exc)[:200]))
        except Exception as exc:
            failures.setdefault(type(exc).__name__, (attempt, how, f"{type(exc).__name__}: {exc}"[:200]))
    assert not failures, "\n".join(f"  {kind}: {detail}" for kind, detail in failures.items())
