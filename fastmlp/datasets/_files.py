"""Reading files without trusting them: regular files only, gzip decompressed in linear time and never
past a bound the caller sets, .npz members checked against their headers before their data is read.

A reader bounds its memory by what the file can honestly hold: an IDX header says exactly how many
bytes follow, an .npy header gives its array's size, and a file that declares no size (a pickle, a
CSV) is decompressed up to ``MAX_UNDECLARED_BYTES``.
"""

import os
import stat
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"

#: The most a gzipped file that declares no size of its own may decompress to: twice Nielsen's
#: mnist.pkl (220 MB), room for the same data in float64.
MAX_UNDECLARED_BYTES = 1 << 29

#: Deflate turns at most 1032 bytes into one: a header declaring more than that describes data the file
#: cannot hold.
MAX_DEFLATE_RATIO = 1032


def as_path(value, name):
    if isinstance(value, (str, os.PathLike)):
        return Path(value).expanduser()
    raise TypeError(f"{name}: got {value!r} ({type(value).__name__}); expected a str or os.PathLike")


def check_regular_file(path):
    """Raise ValueError unless path names a regular file: /dev/zero or a FIFO would be read until
    memory runs out, or block forever."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = (
            "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise ValueError(f"{os.fspath(path)}: {kind}; expected a regular file to read")


def read_regular_file(path):
    check_regular_file(path)
    with open(path, "rb") as f:
        return f.read()


class GzipStream:
    """The decompressed bytes of every gzip member in ``data``, read on demand.

    Input is fed to zlib in pieces that start small at each member and double, so the bytes zlib
    copies at a member's end are bounded by that member's size: a file of many tiny members takes
    linear time. zlib checks each member's CRC and length trailer.
    """

    _FIRST_FEED = 256
    _MAX_FEED = 1 << 16

    def __init__(self, data, path):
        self._view = memoryview(data)
        self._path = path
        self._pos = 0
        self._feed = self._FIRST_FEED
        self._member = zlib.decompressobj(wbits=31)
        self._done = False

    def read(self, n):
        """Up to ``n`` bytes, as a bytearray; fewer only at the end of the last member."""
        data = bytearray()  # grown in place: joining a list of pieces would need twice the memory
        while len(data) < n and not self._done:
            data += self._step(n - len(data))
        return data

    def _step(self, max_out):
        member = self._member
        if member.eof:
            self._next_member()
            return b""
        chunk = self._view[self._pos : self._pos + self._feed]
        try:
            out = member.decompress(chunk, max_out)
        except zlib.error as exc:
            raise ValueError(f"{self._path}: corrupt gzip data ({exc})") from exc
        # At a member's end the rest of the chunk is in unused_data (and may be in unconsumed_tail too).
        self._pos += len(chunk) - len(member.unused_data if member.eof else member.unconsumed_tail)
        self._feed = min(2 * self._feed, self._MAX_FEED)
        if not out and not member.eof and not chunk:
            raise ValueError(f"{self._path}: corrupt gzip data (the stream is truncated)")
        return out

    def _next_member(self):
        rest = self._view[self._pos :]
        if rest[:2] == GZIP_MAGIC:
            self._member = zlib.decompressobj(wbits=31)
            self._feed = self._FIRST_FEED
        elif bytes(rest).strip(b"\0"):  # gzip allows zero padding after the last member
            raise ValueError(f"{self._path}: corrupt gzip data ({len(rest)} stray bytes after the stream)")
        else:
            self._done = True


def gunzip(data, path, limit=MAX_UNDECLARED_BYTES):
    """All of ``data`` decompressed, as a bytearray; a ValueError, before using more memory, if that is
    over ``limit`` bytes."""
    stream = GzipStream(data, path)
    try:
        out = stream.read(limit)
    except MemoryError:
        raise ValueError(f"{path}: not enough memory to decompress it") from None
    if stream.read(1):
        raise ValueError(f"{path}: decompresses to more than {limit} bytes, more than this kind of file holds")
    return out


def is_csv_header(line):
    """Whether a CSV's first line (str) is a header ("label,1x1,1x2,..."): some field is not a
    number, once a byte-order mark and the spaces around fields are set aside (" 0", "+3" are data)."""
    fields = line.removeprefix("\ufeff").strip().split(",")
    if fields == [""]:
        return False
    try:
        [float(field) for field in fields]
    except ValueError:
        return True
    return False


def npz_member(archive, name, source=None):
    """``archive[name]`` after checking that its .npy header declares plain data of exactly the size
    the zip holds: NumPy allocates what the header says before it reads the data."""
    where = f"{source}: {name}" if source else name
    info = archive.zip.getinfo(name + ".npy")
    with archive.zip.open(info) as member:
        shape, dtype = _npy_header(member)
        header_bytes = member.tell()
    if dtype.hasobject:
        raise ValueError(f"{where}: holds Python objects ({dtype}); expected an array of numbers")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    held = info.file_size - header_bytes
    if info.file_size > max(info.compress_size, 1) * MAX_DEFLATE_RATIO:
        raise ValueError(
            f"{where}: the archive declares {info.file_size} bytes, more than its "
            f"{info.compress_size} compressed bytes can hold"
        )
    if declared != held:
        raise ValueError(
            f"{where}: its header declares shape {shape} of {dtype} ({declared} bytes), "
            f"but the archive holds {held} bytes of data"
        )
    return archive[name]


def npy_header(archive, name):
    """(shape, dtype) of an array in an open .npz, from its .npy header alone."""
    with archive.zip.open(name + ".npy") as member:
        return _npy_header(member)


def _npy_header(member):
    version = np.lib.format.read_magic(member)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(member)
    return shape, dtype
