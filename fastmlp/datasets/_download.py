"""Downloading the four MNIST IDX files, each verified by the SHA-256 of its decompressed content.

Only the standard library is imported here (tqdm lazily, for the progress bar).
"""

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
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
_MAX_DOWNLOAD = 64 * 1024 * 1024  # the largest archive is under 10 MB: anything far bigger is not MNIST

HOW_TO_PASS = (
    "Pass the data yourself: load_mnist(path=...) with a folder holding the four IDX files "
    f"({', '.join(n + '[.gz]' for n in IDX_NAMES)}), mnist.pkl.gz, mnist.npz or "
    "mnist_train.csv/mnist_test.csv, or set the environment variable FASTMLP_DATA to such a "
    "place."
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


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative $XDG_CACHE_HOME.
    base = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return base / "fastmlp" / "mnist"


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


def _check_content(path, stem):
    """None if the .gz at ``path`` decompresses to the expected IDX file, else what is wrong."""
    digest, size = _IDX_SHA256[stem]
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
    directory = cache_dir() if directory is None else as_path(directory, "directory")
    mirrors = MIRRORS if mirrors is None else tuple(mirrors)
    if not mirrors or not all(isinstance(m, str) for m in mirrors):
        raise ValueError(f"mirrors: got {mirrors!r}; expected a non-empty sequence of base URLs")
    if not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
        raise ValueError(f"timeout: got {timeout!r}; expected a positive number of seconds")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"directory: cannot create {str(directory)!r} ({exc}). {HOW_TO_PASS}") from exc
    for stem in IDX_NAMES:
        if find_idx_file(directory, stem):
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
            raise DownloadError(f"could not download {stem}.gz into {directory}:\n{tried}\n{HOW_TO_PASS}", attempts)
    return directory
