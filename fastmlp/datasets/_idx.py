"""IDX, the format of the original MNIST files: a header that gives a type and a shape, then the data.

The header says exactly how many bytes follow, so a gzipped file is decompressed up to that size and
no further.
"""

import math
import struct

import numpy as np

from fastmlp.datasets._files import GZIP_MAGIC, MAX_DEFLATE_RATIO, GzipStream, as_path, read_regular_file

#: The four MNIST files, without their .gz: train images, train labels, test images, test labels.
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def idx_variants(stem):
    dotted = stem.replace("-idx", ".idx")  # 'train-images.idx3-ubyte', as some redistributions name them
    return [stem, stem + ".gz", dotted, dotted + ".gz"]


def find_idx_file(folder, stem):
    for name in idx_variants(stem):
        if (folder / name).is_file():
            return folder / name
    return None


class _Plain:
    """GzipStream's read(n) over bytes that are not compressed, without copying them."""

    def __init__(self, data):
        self._data, self._pos = memoryview(data), 0

    def read(self, n):
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


def read_idx_view(path):
    """The IDX array as a read-only, possibly big-endian view of the file's bytes."""
    data = read_regular_file(path)
    gzipped = data[:2] == GZIP_MAGIC
    stream = GzipStream(data, path) if gzipped else _Plain(data)
    where = "decompressed " if gzipped else ""
    head = bytes(stream.read(4))
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file: expected it to start with 00 00, a type code (08, 09, 0B, 0C, 0D "
            f"or 0E) and the number of dimensions; got {head.hex(' ') or 'an empty file'}"
        )
    dtype, ndim = _IDX_DTYPES[head[2]], head[3]
    header = 4 + 4 * ndim
    head += bytes(stream.read(header - 4))
    if len(head) < header:
        raise ValueError(
            f"{path}: truncated IDX header: expected {header} bytes for {ndim} dimensions, got {len(head)} {where}bytes"
        )
    dims = struct.unpack(f">{ndim}I", head[4:header])
    size = math.prod(dims) * dtype.itemsize
    expected = header + size
    if gzipped and size > MAX_DEFLATE_RATIO * len(data):
        raise ValueError(
            f"{path}: its IDX header gives shape {dims} of {dtype.name}, {size} bytes, more than "
            f"its {len(data)} gzipped bytes can hold"
        )
    try:
        body = stream.read(size)
    except MemoryError:
        raise ValueError(f"{path}: not enough memory for the {size} bytes its IDX header declares") from None
    extra = len(stream.read(1 << 20)) if len(body) == size else 0  # count trailing bytes, within bounds
    if len(body) < size or extra:
        problem = "truncated" if len(body) < size else "has trailing bytes"
        got = f"more than {expected + extra - 1}" if extra == 1 << 20 else header + len(body) + extra
        raise ValueError(
            f"{path}: IDX file {problem}: its header gives shape {dims} of {dtype.name}, so expected "
            f"{expected} {where}bytes, got {got}"
        )
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def read_idx(path):
    """Read one IDX file (the format of the original MNIST files), gzipped or not.

    Gzip is recognised by its magic bytes, not by the file name. The header is checked against the
    length of the data: a truncated file or trailing bytes are errors, and a gzipped file is never
    decompressed past the size its header gives.

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
    >>> from fastmlp.datasets import MNIST_DIR                        # doctest: +SKIP
    >>> images = read_idx(MNIST_DIR / "train-images-idx3-ubyte.gz")   # doctest: +SKIP
    >>> images.shape, images.dtype                                    # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    view = read_idx_view(as_path(path, "path"))
    return view.astype(view.dtype.newbyteorder("="))
