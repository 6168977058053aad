"""MNIST on disk: the four IDX files, Nielsen's ``mnist.pkl.gz``, Keras' ``mnist.npz`` or a CSV pair,
found in the usual places and validated into float32 pixels and int64 labels.
"""

import io
import math
import os
import pickle
import pickletools
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from fastmlp.datasets._download import HOW_TO_PASS, DownloadError, cache_dir, download_mnist
from fastmlp.datasets._files import (
    GZIP_MAGIC,
    MAX_UNDECLARED_BYTES,
    ZIP_MAGIC,
    as_path,
    check_regular_file,
    gunzip,
    is_csv_header,
    npz_member,
    read_regular_file,
)
from fastmlp.datasets._idx import IDX_NAMES, find_idx_file, idx_variants, read_idx_view

#: The copy of MNIST that ships inside the package (the four IDX files, gzipped): found from any folder, offline.
MNIST_DIR = Path(__file__).resolve().parent / "mnist"
SPLITS = ("train", "test")

_EXPECTED = (
    "expected a folder with the four MNIST IDX files, mnist.pkl.gz, mnist.npz or "
    "mnist_train.csv/mnist_test.csv, or the path of mnist.pkl.gz or mnist.npz itself"
)


# ------------------------------------------------------------------------------------- validated pieces


def _pixels(a, source, what):
    """Integer pixels 0..255, shape (n, 28, 28) or (n, 784) -> float32 (n, 784) C-contiguous in [0, 1]."""
    a = np.asarray(a)
    if a.shape[1:] not in ((28, 28), (784,)) or a.shape[0] == 0:
        raise ValueError(f"{source}: {what}: shape {a.shape}; expected (n, 28, 28) or (n, 784) with n >= 1")
    if a.dtype != np.uint8:
        if a.dtype.kind not in "iu":
            raise ValueError(f"{source}: {what}: dtype {a.dtype}; expected integer pixels 0..255")
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"{source}: {what}: values in [{lo}, {hi}]; expected pixels 0..255")
    X = np.empty((a.shape[0], 784), dtype=np.float32)
    np.divide(a.reshape(a.shape[0], 784), 255, out=X, dtype=np.float32)
    return X


def _unit_floats(a, source, what):
    """Float pixels already in [0, 1] (Nielsen's pickle) -> float32 (n, 784) C-contiguous."""
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or a.ndim != 2 or a.shape[1] != 784 or not len(a):
        desc = f"shape {a.shape} and dtype {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(f"{source}: {what}: {desc}; expected a float array of shape (n, 784) with n >= 1")
    lo, hi = float(a.min()), float(a.max())
    if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
        raise ValueError(f"{source}: {what}: values in [{lo}, {hi}]; expected pixels in [0, 1]")
    return np.ascontiguousarray(a, dtype=np.float32)


def _labels(a, n, source, what):
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "iu" or a.ndim != 1:
        desc = f"shape {a.shape} and dtype {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(f"{source}: {what}: {desc}; expected a 1-D integer array of labels 0..9")
    if len(a) != n:
        raise ValueError(f"{source}: {what}: {len(a)} labels for {n} images; expected one per image")
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi > 9:
        raise ValueError(f"{source}: {what}: values in [{lo}, {hi}]; expected labels 0..9")
    return a.astype(np.int64)


# -------------------------------------------------------------------------------------- the four formats


# Each loader returns {split: (X, y)} for the splits asked, reading no more than the format makes it.


def _load_idx(files, splits):
    out = {}
    for split, (images_name, labels_name) in zip(SPLITS, ((IDX_NAMES[0], IDX_NAMES[1]), (IDX_NAMES[2], IDX_NAMES[3]))):
        if split not in splits:
            continue
        img_path, lab_path = files[images_name], files[labels_name]
        X = _pixels(read_idx_view(img_path), img_path, "the images")
        out[split] = (X, _labels(read_idx_view(lab_path), len(X), lab_path, "the labels"))
    return out


def _load_npz(path, splits):
    check_regular_file(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in z.files]
            if missing:
                raise ValueError(
                    f"{path}: missing arrays {missing}; expected x_train, y_train, x_test, "
                    f"y_test as in Keras' mnist.npz (found {z.files})"
                )
            arrays = {k: npz_member(z, k, path) for split in splits for k in (f"x_{split}", f"y_{split}")}
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        # np.load refuses object arrays without allow_pickle; say which file and why.
        raise ValueError(f"{path}: cannot read as a NumPy .npz of plain arrays ({exc})") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, struct.error) as exc:
        raise ValueError(f"{path}: cannot read as a NumPy .npz file ({type(exc).__name__}: {exc})") from exc
    out = {}
    for split in splits:
        X = _pixels(arrays[f"x_{split}"], path, f"x_{split}")
        out[split] = (X, _labels(arrays[f"y_{split}"], len(X), path, f"y_{split}"))
    return out


def _latin1_encode(text, encoding="latin1"):
    # Python 3 pickles bytes at protocol <= 2 as _codecs.encode(text, "latin1"): admit exactly that.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"global '_codecs.encode' called with encoding {encoding!r}")
    return text.encode("latin1")


def _pickle_globals():
    try:  # NumPy 2
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray, numeric
    table = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype, ("_codecs", "encode"): _latin1_encode}

    def reconstruct(subtype, shape, dtype):
        # NumPy pickles an array as an empty one, (0,), and then its data: a larger shape here
        # is memory the file does not hold (a 540-byte file could ask for gigabytes of zeros).
        if math.prod(np.atleast_1d(shape).tolist()) > 1:
            raise pickle.UnpicklingError(
                f"an array of shape {tuple(np.atleast_1d(shape).tolist())} whose data is not in the file"
            )
        return multiarray._reconstruct(subtype, shape, dtype)

    for prefix in ("numpy.core", "numpy._core"):
        table[(prefix + ".multiarray", "_reconstruct")] = reconstruct
        table[(prefix + ".multiarray", "scalar")] = multiarray.scalar
        table[(prefix + ".numeric", "_frombuffer")] = numeric._frombuffer  # arrays pickled at protocol 5
    for container in (list, tuple, dict, set, frozenset):
        table[("builtins", container.__name__)] = container
        table[("__builtin__", container.__name__)] = container  # Python 2's name, as in Nielsen's file
    return table


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Resolves globals from a fixed table, so a pickle can build NumPy arrays and containers and nothing
    else: no module is imported and no other callable is reachable."""

    _allowed = None

    def find_class(self, module, name):
        if _ArraysOnlyUnpickler._allowed is None:
            _ArraysOnlyUnpickler._allowed = _pickle_globals()
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}'") from None


# Bytes of the length prefix of each kind of counted argument, and whether it is signed.
_COUNT_PREFIX = {
    pickletools.TAKEN_FROM_ARGUMENT1: (1, False),
    pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
    pickletools.TAKEN_FROM_ARGUMENT4U: (4, False),
    pickletools.TAKEN_FROM_ARGUMENT8U: (8, False),
}


def _check_lengths(data):
    """Raise ValueError where an opcode declares more bytes than follow it: the unpickler allocates
    the declared size before it finds the data missing. Walks the opcodes without decoding them."""
    pos, end = 0, len(data)
    while pos < end:
        op = pickletools.code2op.get(chr(data[pos]))
        if op is None:
            raise ValueError(f"unknown pickle opcode {data[pos]:#04x} at byte {pos}")
        start, pos = pos, pos + 1
        if op.name == "STOP":
            return
        n = op.arg.n if op.arg is not None else 0
        if n >= 0:
            pos += n
        elif n == pickletools.UP_TO_NEWLINE:
            for _ in range(2 if op.name in ("GLOBAL", "INST") else 1):
                newline = data.find(b"\n", pos)
                if newline < 0:
                    raise ValueError(f"{op.name} at byte {start} has no end of line")
                pos = newline + 1
        else:
            width, signed = _COUNT_PREFIX[n]
            size = int.from_bytes(data[pos : pos + width], "little", signed=signed)
            pos += width
            if size < 0 or pos + size > end:
                raise ValueError(f"{op.name} at byte {start} declares {size} bytes, but {max(end - pos, 0)} follow")
            pos += size
    raise ValueError("the pickle ends before its STOP opcode")


def _load_pickle(path, splits):
    try:
        data = read_regular_file(path)
        if data[:2] == GZIP_MAGIC:
            data = gunzip(data, path, MAX_UNDECLARED_BYTES)
        _check_lengths(data)
        parts = _ArraysOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("global"):
            raise ValueError(
                f"{path}: refused to load this pickle: it references {exc}, and only NumPy arrays "
                "and plain containers are allowed"
            ) from None
        raise ValueError(f"{path}: refused to load this pickle: it declares {exc}") from None
    except (
        EOFError,
        AttributeError,
        ImportError,
        IndexError,
        TypeError,
        ValueError,
        KeyError,
        OverflowError,
        MemoryError,
    ) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read as a pickle of NumPy arrays ({type(exc).__name__}: {exc})") from exc
    if not (
        isinstance(parts, (tuple, list))
        and len(parts) == 3
        and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in parts)
    ):
        raise ValueError(
            f"{path}: expected Nielsen's layout, a tuple (training, validation, test) of "
            f"(images, labels) pairs; got {type(parts).__name__}"
        )
    loaded = []
    for (X, y), what in zip(parts, ("training", "validation", "test")):
        X = _unit_floats(X, path, f"the {what} images")
        loaded.append((X, _labels(y, len(X), path, f"the {what} labels")))
    (X_tr, y_tr), (X_va, y_va), test = loaded
    both = {"train": (np.concatenate([X_tr, X_va]), np.concatenate([y_tr, y_va])), "test": test}
    return {split: both[split] for split in splits}


def _load_csv_file(path):
    check_regular_file(path)
    with open(path, "rb") as f:
        first = f.readline()
    skip = 1 if is_csv_header(first.decode("utf-8-sig", errors="replace")) else 0
    try:
        table = np.loadtxt(path, dtype=np.uint8, delimiter=",", skiprows=skip, ndmin=2, encoding="utf-8-sig")
    except ValueError as exc:
        raise ValueError(f"{path}: cannot read as MNIST CSV, a label then 784 pixels 0..255 per line ({exc})") from exc
    if table.shape[1] != 785 or len(table) == 0:
        raise ValueError(
            f"{path}: has {len(table)} rows of {table.shape[1]} values; expected rows of 785 (a label then 784 pixels)"
        )
    X = _pixels(table[:, 1:], path, "the pixels")
    return X, _labels(table[:, 0], len(X), path, "the labels")


def _load_csv(train_path, test_path, splits):
    return {split: _load_csv_file(path) for split, path in zip(SPLITS, (train_path, test_path)) if split in splits}


# --------------------------------------------------------------------------------------- finding the data


def _locate(p):
    """What to load from ``p``: a (loader, args) pair, or a string saying why there is nothing to load."""
    if p.is_file():
        with open(p, "rb") as f:
            magic = f.read(4)
        if p.name.endswith(".npz") or magic == ZIP_MAGIC:
            return _load_npz, (p,)
        siblings = [v for stem in IDX_NAMES for v in idx_variants(stem)]
        siblings += ["mnist_train.csv", "mnist_test.csv"]
        if p.name in siblings:
            return f"it is one of several files; pass the folder that holds it ({p.parent})"
        if ".pkl" in p.name or ".pickle" in p.name or magic[:2] == GZIP_MAGIC or magic[:1] == b"\x80":
            return _load_pickle, (p,)
        return "it is not a .npz, .pkl or .pkl.gz file"
    if not p.is_dir():
        return "it is neither a file nor a folder"
    idx = {stem: find_idx_file(p, stem) for stem in IDX_NAMES}
    if all(idx.values()):
        return _load_idx, (idx,)
    for name in ("mnist.npz", "mnist.pkl.gz", "mnist.pkl"):
        if (p / name).is_file():
            return _locate(p / name)
    train_csv, test_csv = p / "mnist_train.csv", p / "mnist_test.csv"
    if train_csv.is_file() and test_csv.is_file():
        return _load_csv, (train_csv, test_csv)
    found = [stem for stem, f in idx.items() if f]
    if found:
        missing = [stem for stem, f in idx.items() if not f]
        return f"it has {', '.join(found)} but not {', '.join(missing)} (with or without .gz)"
    if train_csv.is_file() or test_csv.is_file():
        return f"it has {'mnist_train.csv' if train_csv.is_file() else 'mnist_test.csv'} but not the other"
    return "it holds none of the MNIST files"


def _search_paths():
    """The places ``load_mnist()`` looks, in order, as (description, path or None)."""
    env = os.environ.get("FASTMLP_DATA", "")
    return [
        ("$FASTMLP_DATA", Path(env).expanduser() if env else None),
        ("./data/mnist", Path.cwd() / "data" / "mnist"),
        ("the copy inside fastmlp", MNIST_DIR),
        ("the user cache", cache_dir()),
    ]


def load_mnist(path=None, split=None):
    """Load MNIST as float32 pixels in [0, 1] and int64 labels.

    Parameters
    ----------
    path : str, os.PathLike or None, default None
        Where the data is. One of:

        - a folder with the four IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
          ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``) or not (the
          variant names ``train-images.idx3-ubyte`` etc. work too);
        - Nielsen's ``mnist.pkl.gz``, whose training and validation parts together give the 60000
          training rows. It is read with an unpickler that admits only NumPy arrays and plain
          containers, so a tampered pickle cannot run code;
        - Keras' ``mnist.npz`` (read with ``allow_pickle=False``);
        - a folder with ``mnist_train.csv`` and ``mnist_test.csv``: per line a label then 784 pixels
          0..255, with or without a header line.

        A folder holding ``mnist.npz`` or ``mnist.pkl.gz`` works too. ``None`` searches, in order,
        ``$FASTMLP_DATA``, ``./data/mnist``, the copy that ships inside fastmlp
        (:data:`fastmlp.datasets.MNIST_DIR`, so this works from any folder, offline), and the user
        cache ``~/.cache/fastmlp/mnist`` (``$XDG_CACHE_HOME/fastmlp/mnist`` where that is set). Where
        none has the data (an install without the bundled files), the four IDX files are downloaded
        into the cache with :func:`download_mnist`.
    split : {None, "train", "test"}, default None
        ``None``: both splits. ``"train"`` or ``"test"``: that split alone, and the other is not read
        (except from Nielsen's pickle, which holds them in one stream).

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuples of numpy.ndarray
        ``X`` float32, C-contiguous, shape ``(n, 784)``, pixels divided by 255 (Nielsen's pickle keeps
        its own float values); ``y`` int64 in 0..9. For MNIST, ``n`` is 60000 and 10000. With
        ``split``, the one pair ``(X, y)`` of that split.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` holds no MNIST data, or what it holds is malformed (shapes, labels outside 0..9,
        pixels out of range, a corrupt file, a pickle that references anything but NumPy arrays).
        The message names the file.
    DownloadError
        (an ``OSError``) With ``path=None``, if the data is nowhere and cannot be downloaded. The message
        lists each place searched and each URL tried, and how to pass a path.

    Examples
    --------
    >>> from fastmlp.datasets import load_mnist
    >>> (X_train, y_train), (X_test, y_test) = load_mnist()   # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train.dtype           # doctest: +SKIP
    ((60000, 784), dtype('float32'), dtype('int64'))
    >>> X_test, y_test = load_mnist(split="test")             # doctest: +SKIP
    """
    return load_mnist_given_as(path, split, "path")


def load_mnist_given_as(path, split, argument):
    """load_mnist, its errors naming the path `argument` as the caller's user knows it (the
    command line's ``--data``)."""
    if split is not None and (not isinstance(split, str) or split not in SPLITS):
        raise ValueError(f"split: got {split!r}; expected None (both), 'train' or 'test'")
    splits = SPLITS if split is None else (split,)
    loaded = _find_and_load(path, splits, argument)
    return loaded[split] if split is not None else (loaded["train"], loaded["test"])


def _find_and_load(path, splits, argument):
    """{split: (X, y)} for `splits`, from `path` or the first place in the search that has MNIST."""
    if path is not None:
        p = as_path(path, argument)
        if not p.exists():
            raise FileNotFoundError(f"{argument}: got {str(p)!r}, which does not exist; {_EXPECTED}")
        found = _locate(p)
        if isinstance(found, str):
            raise ValueError(f"{argument}: got {str(p)!r}: {found}; {_EXPECTED}")
        loader, args = found
        return loader(*args, splits)

    searched, seen = [], set()
    for label, p in _search_paths():
        if p is None:
            searched.append(f"{label}: not set")
            continue
        if p.resolve() in seen:
            continue
        seen.add(p.resolve())
        if not p.exists():
            searched.append(f"{label}: {p} (does not exist)")
            continue
        found = _locate(p)
        if isinstance(found, str):
            searched.append(f"{label}: {p} ({found})")
            continue
        loader, args = found
        return loader(*args, splits)

    cache = cache_dir()
    try:
        download_mnist(cache)
    except DownloadError as exc:
        lines = ["MNIST was not found, and downloading it failed.", "Searched:"]
        lines += [f"  {s}" for s in searched]
        lines += [f"Then tried to download into {cache}:"]
        lines += [f"  {url}: {err}" for url, err in exc.attempts] or [f"  {exc}"]
        how = HOW_TO_PASS if argument == "path" else HOW_TO_PASS.replace("load_mnist(path=...)", f"{argument} PATH")
        lines.append(how)
        raise DownloadError("\n".join(lines), exc.attempts) from None
    return _find_and_load(cache, splits, argument)
