"""MNIST on disk (IDX files, Nielsen's ``mnist.pkl.gz``, Keras' ``mnist.npz``, CSV) and a verified download.

Only the standard library and NumPy are imported here (tqdm lazily, for the download's progress bar), so
the datasets can be read without the compiled extension.
"""
import hashlib
import http.client
import io
import math
import os
import pickle
import stat
import struct
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "read_idx", "download_mnist", "DownloadError", "MIRRORS"]

#: Where ``download_mnist`` looks for the four ``.gz`` files, in order.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# SHA-256 and size of each file's *decompressed* IDX content. The digest is taken after gunzip because the
# same data travels in differently compressed archives (the mirrors' .gz and the repository's copies differ
# byte for byte); pinning the content accepts any faithful copy, and a plain http mirror is safe to use.
_IDX_SHA256 = {
    "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
    "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
    "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
    "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008),
}
_IDX_NAMES = tuple(_IDX_SHA256)   # train images, train labels, test images, test labels
_MAX_DOWNLOAD = 64 * 1024 * 1024  # the largest archive is under 10 MB: anything far bigger is not MNIST

# The repository's bundled copy: a developer install finds it from any working directory. Tests patch this.
_REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "mnist"

_EXPECTED = ("expected a folder with the four MNIST IDX files, mnist.pkl.gz, mnist.npz or "
             "mnist_train.csv/mnist_test.csv, or the path of mnist.pkl.gz or mnist.npz itself")
_HOW_TO_PASS = ("Pass the data yourself: load_mnist(path=...) with a folder holding the four IDX files "
                f"({', '.join(n + '[.gz]' for n in _IDX_NAMES)}), mnist.pkl.gz, mnist.npz or "
                "mnist_train.csv/mnist_test.csv, or set the environment variable FASTMLP_DATA to such a "
                "place.")

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


class DownloadError(OSError):
    """MNIST could not be found locally nor downloaded; the message lists every place and URL tried.

    Attributes
    ----------
    attempts : list of (str, str)
        Each URL tried, with the error it gave.
    """

    def __init__(self, message, attempts=()):
        super().__init__(message)
        self.attempts = list(attempts)


# --------------------------------------------------------------------------------------------- IDX files

_IDX_DTYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def _as_path(value, name):
    if isinstance(value, (str, os.PathLike)):
        return Path(value).expanduser()
    raise TypeError(f"{name}: got {value!r} ({type(value).__name__}); expected a str or os.PathLike")


def _gunzip(data, path):
    """Decompress every gzip member in ``data``; CRC and length trailers are checked by zlib."""
    parts = []
    while True:
        d = zlib.decompressobj(wbits=31)
        try:
            parts.append(d.decompress(data))
        except zlib.error as exc:
            raise ValueError(f"{path}: corrupt gzip data ({exc})") from exc
        if not d.eof:
            raise ValueError(f"{path}: corrupt gzip data (the stream is truncated)")
        data = d.unused_data
        if not data.strip(b"\0"):  # gzip allows zero padding after the last member
            break
        if data[:2] != _GZIP_MAGIC:
            raise ValueError(f"{path}: corrupt gzip data ({len(data)} stray bytes after the stream)")
    return parts[0] if len(parts) == 1 else b"".join(parts)


def check_regular_file(path):
    """Raise ValueError unless path names a regular file: /dev/zero or a FIFO would be read until
    memory runs out, or block forever."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = ("a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise ValueError(f"{os.fspath(path)}: {kind}; expected a regular file to read")


def _read_maybe_gzipped(path):
    check_regular_file(path)
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:
        return _gunzip(data, path), True
    return data, False


def _read_idx_view(path):
    """The IDX array as a read-only, possibly big-endian view of the file's bytes."""
    data, gzipped = _read_maybe_gzipped(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file: expected it to start with 00 00, a type code (08, 09, 0B, 0C, 0D "
            f"or 0E) and the number of dimensions; got {data[:4].hex(' ') or 'an empty file'}")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    where = "decompressed " if gzipped else ""
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header: expected {header} bytes for {ndim} dimensions, "
                         f"got {len(data)} {where}bytes")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: IDX file {problem}: its header gives shape {dims} of {dtype.name}, so expected "
            f"{expected} {where}bytes, got {len(data)}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def read_idx(path):
    """Read one IDX file (the format of the original MNIST files), gzipped or not.

    Gzip is recognised by its magic bytes, not by the file name. The header is checked against the
    length of the data: a truncated file or trailing bytes are errors.

    Parameters
    ----------
    path : str or os.PathLike
        The IDX file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    numpy.ndarray
        A new, writable, native-endian array of the shape and dtype the header gives
        (uint8, int8, int16, int32, float32 or float64).

    Raises
    ------
    ValueError
        If the file is not IDX, its length does not match its header, or its gzip stream is corrupt.
        The message names the file (and the expected and actual byte counts where they differ).

    Examples
    --------
    >>> images = read_idx("data/mnist/train-images-idx3-ubyte.gz")   # doctest: +SKIP
    >>> images.shape, images.dtype                                    # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    view = _read_idx_view(_as_path(path, "path"))
    return view.astype(view.dtype.newbyteorder("="))


# ------------------------------------------------------------------------------------- validated pieces

def _pixels(a, source, what):
    """Integer pixels 0..255, shape (n, 28, 28) or (n, 784) -> float32 (n, 784) C-contiguous in [0, 1]."""
    a = np.asarray(a)
    if a.shape[1:] not in ((28, 28), (784,)) or a.shape[0] == 0:
        raise ValueError(f"{source}: {what}: shape {a.shape}; "
                         "expected (n, 28, 28) or (n, 784) with n >= 1")
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

def _load_idx(files):
    out = []
    for images_name, labels_name in ((_IDX_NAMES[0], _IDX_NAMES[1]), (_IDX_NAMES[2], _IDX_NAMES[3])):
        img_path, lab_path = files[images_name], files[labels_name]
        X = _pixels(_read_idx_view(img_path), img_path, "the images")
        y = _labels(_read_idx_view(lab_path), len(X), lab_path, "the labels")
        out.append((X, y))
    return tuple(out)


def _load_npz(path):
    check_regular_file(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in z.files]
            if missing:
                raise ValueError(f"{path}: missing arrays {missing}; expected x_train, y_train, x_test, "
                                 f"y_test as in Keras' mnist.npz (found {z.files})")
            arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        # np.load refuses object arrays without allow_pickle; say which file and why.
        raise ValueError(f"{path}: cannot read as a NumPy .npz of plain arrays ({exc})") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, struct.error) as exc:
        raise ValueError(f"{path}: cannot read as a NumPy .npz file ({type(exc).__name__}: {exc})") from exc
    X_train = _pixels(arrays["x_train"], path, "x_train")
    X_test = _pixels(arrays["x_test"], path, "x_test")
    return ((X_train, _labels(arrays["y_train"], len(X_train), path, "y_train")),
            (X_test, _labels(arrays["y_test"], len(X_test), path, "y_test")))


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
    table = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
             ("_codecs", "encode"): _latin1_encode}
    def reconstruct(subtype, shape, dtype):
        # NumPy pickles an array as an empty one, (0,), and then its data: a larger shape here
        # is memory the file does not hold (a 540-byte file could ask for gigabytes of zeros).
        if math.prod(np.atleast_1d(shape).tolist()) > 1:
            raise pickle.UnpicklingError(f"an array of shape {tuple(np.atleast_1d(shape).tolist())} whose data "
                                         "is not in the file")
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


def _load_pickle(path):
    check_regular_file(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == _GZIP_MAGIC:
            data = _gunzip(data, path)
        parts = _ArraysOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("global"):
            raise ValueError(f"{path}: refused to load this pickle: it references {exc}, and only NumPy arrays "
                             "and plain containers are allowed") from None
        raise ValueError(f"{path}: refused to load this pickle: it declares {exc}") from None
    except (EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError, KeyError,
            OverflowError, MemoryError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read as a pickle of NumPy arrays "
                         f"({type(exc).__name__}: {exc})") from exc
    if not (isinstance(parts, (tuple, list)) and len(parts) == 3
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in parts)):
        raise ValueError(f"{path}: expected Nielsen's layout, a tuple (training, validation, test) of "
                         f"(images, labels) pairs; got {type(parts).__name__}")
    loaded = []
    for (X, y), what in zip(parts, ("training", "validation", "test")):
        X = _unit_floats(X, path, f"the {what} images")
        loaded.append((X, _labels(y, len(X), path, f"the {what} labels")))
    (X_tr, y_tr), (X_va, y_va), test = loaded
    return (np.concatenate([X_tr, X_va]), np.concatenate([y_tr, y_va])), test


def _load_csv_file(path):
    check_regular_file(path)
    with open(path, "rb") as f:
        first = f.readline()
    skip = 1 if _is_header(first) else 0
    try:
        table = np.loadtxt(path, dtype=np.uint8, delimiter=",", skiprows=skip, ndmin=2, encoding="utf-8-sig")
    except ValueError as exc:
        raise ValueError(f"{path}: cannot read as MNIST CSV, a label then 784 pixels 0..255 per line "
                         f"({exc})") from exc
    if table.shape[1] != 785 or len(table) == 0:
        raise ValueError(f"{path}: has {len(table)} rows of {table.shape[1]} values; expected rows of 785 "
                         "(a label then 784 pixels)")
    X = _pixels(table[:, 1:], path, "the pixels")
    return X, _labels(table[:, 0], len(X), path, "the labels")


def _is_header(line):
    """Whether a CSV's first line is a header ("label,1x1,1x2,..."): some field is not a number, once
    a UTF-8 byte-order mark and the spaces around fields are set aside (" 0", "+3" are data)."""
    fields = line.removeprefix(b"\xef\xbb\xbf").strip().split(b",")
    if fields == [b""]:
        return False
    try:
        [float(field) for field in fields]
    except ValueError:
        return True
    return False


def _load_csv(train_path, test_path):
    return _load_csv_file(train_path), _load_csv_file(test_path)


# --------------------------------------------------------------------------------------- finding the data

def _idx_variants(stem):
    dotted = stem.replace("-idx", ".idx")  # 'train-images.idx3-ubyte', as some redistributions name them
    return [stem, stem + ".gz", dotted, dotted + ".gz"]


def _find_idx_file(folder, stem):
    for name in _idx_variants(stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _locate(p):
    """What to load from ``p``: a (loader, args) pair, or a string saying why there is nothing to load."""
    if p.is_file():
        with open(p, "rb") as f:
            magic = f.read(4)
        if p.name.endswith(".npz") or magic == _ZIP_MAGIC:
            return _load_npz, (p,)
        siblings = [v for stem in _IDX_NAMES for v in _idx_variants(stem)]
        siblings += ["mnist_train.csv", "mnist_test.csv"]
        if p.name in siblings:
            return f"it is one of several files; pass the folder that holds it ({p.parent})"
        if ".pkl" in p.name or ".pickle" in p.name or magic[:2] == _GZIP_MAGIC or magic[:1] == b"\x80":
            return _load_pickle, (p,)
        return "it is not a .npz, .pkl or .pkl.gz file"
    if not p.is_dir():
        return "it is neither a file nor a folder"
    idx = {stem: _find_idx_file(p, stem) for stem in _IDX_NAMES}
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


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative $XDG_CACHE_HOME.
    base = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return base / "fastmlp" / "mnist"


def _search_paths():
    """The places ``load_mnist()`` looks, in order, as (description, path or None)."""
    env = os.environ.get("FASTMLP_DATA", "")
    return [
        ("$FASTMLP_DATA", Path(env).expanduser() if env else None),
        ("./data/mnist", Path.cwd() / "data" / "mnist"),
        ("the repository's data/mnist", _REPO_DATA_DIR),
        ("the user cache", _cache_dir()),
    ]


def load_mnist(path=None):
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
        ``$FASTMLP_DATA``, ``./data/mnist``, the ``data/mnist`` folder of the repository this package
        was installed from (a developer install), and the user cache ``~/.cache/fastmlp/mnist``
        (``$XDG_CACHE_HOME/fastmlp/mnist`` where that is set). Where none has the data, the four IDX
        files are downloaded into the cache with :func:`download_mnist`.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuples of numpy.ndarray
        ``X`` float32, C-contiguous, shape ``(n, 784)``, pixels divided by 255 (Nielsen's pickle keeps
        its own float values); ``y`` int64 in 0..9. For MNIST, ``n`` is 60000 and 10000.

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
    """
    if path is not None:
        p = _as_path(path, "path")
        if not p.exists():
            raise FileNotFoundError(f"path: got {str(p)!r}, which does not exist; {_EXPECTED}")
        found = _locate(p)
        if isinstance(found, str):
            raise ValueError(f"path: got {str(p)!r}: {found}; {_EXPECTED}")
        loader, args = found
        return loader(*args)

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
        return loader(*args)

    cache = _cache_dir()
    try:
        download_mnist(cache)
    except DownloadError as exc:
        lines = ["MNIST was not found, and downloading it failed.", "Searched:"]
        lines += [f"  {s}" for s in searched]
        lines += [f"Then tried to download into {cache}:"]
        lines += [f"  {url}: {err}" for url, err in exc.attempts] or [f"  {exc}"]
        lines.append(_HOW_TO_PASS)
        raise DownloadError("\n".join(lines), exc.attempts) from None
    return load_mnist(cache)


# ------------------------------------------------------------------------------------------- downloading

class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


def _progress_bar(total, desc, enabled):
    try:
        from tqdm import tqdm
    except ImportError:  # a missing progress bar should not stop the download
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled,
                leave=False)


def _check_content(path, stem):
    """None if the .gz at ``path`` decompresses to the expected IDX file, else what is wrong."""
    digest, size = _IDX_SHA256[stem]
    with open(path, "rb") as f:
        data = f.read()
    d = zlib.decompressobj(wbits=31)
    try:
        content = d.decompress(data, size + 1)  # bounded: a hostile archive cannot expand without limit
    except zlib.error as exc:
        return f"not a valid gzip file ({exc})"
    if not d.eof or len(content) != size or d.unused_data.strip(b"\0"):
        return f"decompresses to something other than the {size}-byte {stem}"
    got = hashlib.sha256(content).hexdigest()
    if got != digest:
        return f"SHA-256 mismatch: got {got}, expected {digest}"
    return None


def _fetch(url, dest, stem, timeout, progress):
    """Download ``url`` to ``dest`` via a temporary file; None on success, else what went wrong."""
    tmp = None
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "fastmlp"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
            with os.fdopen(fd, "wb") as f, _progress_bar(total, dest.name, progress) as bar:
                received = 0
                while True:
                    chunk = response.read(1 << 16)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > _MAX_DOWNLOAD:
                        return f"more than {_MAX_DOWNLOAD} bytes, far more than the MNIST file"
                    f.write(chunk)
                    bar.update(len(chunk))
        problem = _check_content(tmp, stem)
        if problem:
            return problem
        os.replace(tmp, dest)  # atomic: the cache never holds a partial or unverified file
        tmp = None
        return None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors
        reason = exc.reason if isinstance(exc, urllib.error.URLError) and not isinstance(
            exc, urllib.error.HTTPError) else exc
        return f"{type(exc).__name__}: {reason}"
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def download_mnist(directory=None, *, mirrors=None, timeout=30.0, progress=True):
    """Download the four MNIST IDX files (``.gz``) and verify them by SHA-256.

    Each file is fetched from the first mirror that serves it correctly, into a temporary file that
    is renamed into ``directory`` only once its decompressed content matches the pinned SHA-256
    digest; a mismatch deletes it and tries the next mirror. Files already in ``directory`` are kept.

    Parameters
    ----------
    directory : str, os.PathLike or None, default None
        Where to put the files; created if needed. ``None`` means the user cache,
        ``~/.cache/fastmlp/mnist`` (``$XDG_CACHE_HOME/fastmlp/mnist`` where that is set).
    mirrors : sequence of str or None, default None
        Base URLs, each ending in ``/``, tried in order. ``None`` means :data:`MIRRORS`.
    timeout : float, default 30.0
        Seconds to wait on the network before giving up on a mirror.
    progress : bool, default True
        Show a tqdm progress bar per file.

    Returns
    -------
    pathlib.Path
        The folder holding the four files, ready for ``load_mnist(path=...)``.

    Raises
    ------
    DownloadError
        (an ``OSError``) If a file cannot be had from any mirror. The message lists each URL and its
        error; ``.attempts`` holds them as (url, error) pairs.
    """
    directory = _cache_dir() if directory is None else _as_path(directory, "directory")
    mirrors = MIRRORS if mirrors is None else tuple(mirrors)
    if not mirrors or not all(isinstance(m, str) for m in mirrors):
        raise ValueError(f"mirrors: got {mirrors!r}; expected a non-empty sequence of base URLs")
    if not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
        raise ValueError(f"timeout: got {timeout!r}; expected a positive number of seconds")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"directory: cannot create {str(directory)!r} ({exc}). {_HOW_TO_PASS}") from exc
    for stem in _IDX_NAMES:
        if _find_idx_file(directory, stem):
            continue
        attempts = []
        for base in mirrors:
            url = base + stem + ".gz"
            problem = _fetch(url, directory / (stem + ".gz"), stem, timeout, progress)
            if problem is None:
                break
            attempts.append((url, problem))
        else:
            tried = "\n".join(f"  {url}: {err}" for url, err in attempts)
            raise DownloadError(f"could not download {stem}.gz into {directory}:\n{tried}\n{_HOW_TO_PASS}",
                                attempts)
    return directory
