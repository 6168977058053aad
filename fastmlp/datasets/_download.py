"""Downloading the four IDX files of MNIST (or Fashion-MNIST, KMNIST), each verified by SHA-256.

Only the standard library is imported here (tqdm lazily, for the progress bar).
"""

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from fastmlp.datasets._files import as_path, gunzip, read_regular_file
from fastmlp.datasets._idx import IDX_NAMES, find_idx_file

__all__ = ["download_mnist", "DownloadError", "MIRRORS"]

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
_MAX_DOWNLOAD = 64 * 1024 * 1024  # the largest archive is under 30 MB: anything far bigger is not the data

HOW_TO_PASS = (
    "Pass the data yourself: load_mnist(path=...) with a folder holding the four IDX files "
    f"({', '.join(n + '[.gz]' for n in IDX_NAMES)}), mnist.pkl.gz, mnist.npz or "
    "mnist_train.csv/mnist_test.csv, or set the environment variable FASTMLP_DATA to such a "
    "place."
)


@dataclass(frozen=True)
class Source:
    """Where a dataset's four IDX files come from and what they must be: per file, the SHA-256
    and size of its decompressed content (``of="content"``) or of the .gz itself (``"archive"``)."""

    name: str  # its folder in the cache
    loader: str  # the function that loads it, for the messages
    mirrors: tuple
    files: dict  # stem -> (sha256, size)
    of: str = "content"

    def how_to_pass(self):
        if self.name == "mnist":
            return HOW_TO_PASS
        return (
            f"Pass the data yourself: {self.loader}(path=...) with a folder holding the four IDX files "
            f"({', '.join(n + '[.gz]' for n in IDX_NAMES)})."
        )


MNIST = Source("mnist", "load_mnist", MIRRORS, _IDX_SHA256)
# Digests of the archives as TensorFlow Datasets pins them (its url_checksums)
FASHION_MNIST = Source(
    "fashion-mnist",
    "load_fashion_mnist",
    (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    {
        "train-images-idx3-ubyte": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        "train-labels-idx1-ubyte": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        "t10k-images-idx3-ubyte": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        "t10k-labels-idx1-ubyte": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    },
    of="archive",
)
KMNIST = Source(
    "kmnist",
    "load_kmnist",
    ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
    {
        "train-images-idx3-ubyte": ("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4", 18165135),
        "train-labels-idx1-ubyte": ("e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17", 29497),
        "t10k-images-idx3-ubyte": ("edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5", 3041136),
        "t10k-labels-idx1-ubyte": ("20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c", 5120),
    },
    of="archive",
)


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


def cache_dir(name="mnist"):
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative $XDG_CACHE_HOME.
    base = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return base / "fastmlp" / name


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
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled, leave=False)


def _check_content(path, stem, source):
    """None if the .gz at ``path`` is (or decompresses to) the expected file, else what is wrong."""
    digest, size = source.files[stem]
    if source.of == "archive":
        data = read_regular_file(path)
        if len(data) != size:
            return f"{len(data)} bytes, not the {size} of {stem}.gz"
        got = hashlib.sha256(data).hexdigest()
        return None if got == digest else f"SHA-256 mismatch: got {got}, expected {digest}"
    try:
        content = gunzip(read_regular_file(path), path, limit=size)  # bounded: a hostile archive stops here
    except ValueError as exc:
        return str(exc).removeprefix(f"{path}: ")
    if len(content) != size:
        return f"decompresses to something other than the {size}-byte {stem}"
    got = hashlib.sha256(content).hexdigest()
    if got != digest:
        return f"SHA-256 mismatch: got {got}, expected {digest}"
    return None


def _fetch(url, dest, stem, source, timeout, progress):
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
                        return f"more than {_MAX_DOWNLOAD} bytes, far more than {stem}.gz"
                    f.write(chunk)
                    bar.update(len(chunk))
        problem = _check_content(tmp, stem, source)
        if problem:
            return problem
        os.replace(tmp, dest)  # atomic: the cache never holds a partial or unverified file
        tmp = None
        return None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors
        reason = (
            exc.reason
            if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError)
            else exc
        )
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
    return download(MNIST, directory, mirrors=mirrors, timeout=timeout, progress=progress)


def download(source, directory=None, *, mirrors=None, timeout=30.0, progress=True):
    """download_mnist for any Source: its files into ``directory`` (None: its folder in the cache)."""
    directory = cache_dir(source.name) if directory is None else as_path(directory, "directory")
    mirrors = source.mirrors if mirrors is None else tuple(mirrors)
    if not mirrors or not all(isinstance(m, str) for m in mirrors):
        raise ValueError(f"mirrors: got {mirrors!r}; expected a non-empty sequence of base URLs")
    if not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
        raise ValueError(f"timeout: got {timeout!r}; expected a positive number of seconds")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"directory: cannot create {str(directory)!r} ({exc}). {source.how_to_pass()}") from exc
    for stem in IDX_NAMES:
        if find_idx_file(directory, stem):
            continue
        attempts = []
        for base in mirrors:
            url = base + stem + ".gz"
            problem = _fetch(url, directory / (stem + ".gz"), stem, source, timeout, progress)
            if problem is None:
                break
            attempts.append((url, problem))
        else:
            tried = "\n".join(f"  {url}: {err}" for url, err in attempts)
            raise DownloadError(
                f"could not download {stem}.gz into {directory}:\n{tried}\n{source.how_to_pass()}", attempts
            )
    return directory
