"""Small files and arguments that declare, or expand to, far more memory than they hold.

Each reader is run on its bomb in a subprocess whose address space is capped with
``resource.setrlimit``, so an unbounded allocation fails the test (a MemoryError escaping, or the
process killed) instead of the machine. Every case must end in a ValueError that names the file or
the argument; the command line must exit 1 with one line.
"""

import gzip
import io
import json
import re
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
import zlib

import numpy as np
import pytest

from fastmlp import datasets
from fastmlp.datasets import _files, read_idx

resource = pytest.importorskip("resource")

# Room for Python, NumPy, OpenBLAS's buffers and matplotlib, and little more.
ADDRESS_SPACE_LIMIT = 1536 << 20
MB = 1 << 20


def idx_header(dims, type_code=0x08):
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def gzip_members(payload, copies):
    """``copies`` gzip members of ``payload`` each: a file of a few KB per GB it expands to."""
    return gzip.compress(payload, compresslevel=9) * copies


def npy_declaring(shape):
    """A .npy whose header declares ``shape`` of uint8 but holds only 64 bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return header.getvalue() + b"\0" * 64


def npz_declaring(shape):
    """An .npz of MNIST's four arrays, each a .npy declaring ``shape`` with no data behind it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            z.writestr(name + ".npy", npy_declaring(shape))
    return buffer.getvalue()


def model_declaring(sizes):
    """A fastmlp model file for ``sizes`` whose params.npy header declares all their parameters
    (8.6 GB for the sizes below) but holds 64 bytes."""
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(header, {"descr": "<f4", "fortran_order": False, "shape": (n_params,)})
    metadata = io.BytesIO()
    np.save(
        metadata,
        np.array(
            json.dumps(
                {
                    "format": "fastmlp",
                    "version": 1,
                    "sizes": sizes,
                    "activation": "relu",
                    "output": "softmax",
                    "loss": "cross_entropy",
                    "init": "auto",
                    "seed": 0,
                }
            )
        ),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("params.npy", header.getvalue() + b"\0" * 64)
        z.writestr("metadata.npy", metadata.getvalue())
    return buffer.getvalue()


def png_header_only(width, height):
    """A PNG whose header declares ``width`` x ``height`` pixels, with almost no image data."""

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    files = {
        # an IDX header declaring 1 GB that a 1 KB file cannot hold
        "idx-declares-1gb.gz": gzip.compress(idx_header((1000, 1000, 1000)) + b"\0" * 1000),
        # an honest IDX header, then 2 GB of zeros after the data
        "idx-trailing-2gb.gz": gzip.compress(idx_header((2, 784)) + b"\0" * 1568) + gzip_members(b"\0" * 64 * MB, 32),
        # a pickle with no size of its own that expands to 2 GB
        "mnist.pkl.gz": gzip_members(b"\0" * 64 * MB, 32),
        # a pickle whose BINBYTES8 opcode declares a petabyte
        "declares.pkl": b"\x80\x04\x8e" + (10**15).to_bytes(8, "little") + b"ab.",
        # a pickle reconstructing a 10**12-element array with no data behind it
        "reconstruct.pkl": (
            b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
            b"J\x40\x42\x0f\x00J\x40\x42\x0f\x00\x86cnumpy\ndtype\nX\x02\x00\x00\x00u1"
            b"\x85R\x87R."
        ),
        # .npy headers inside an .npz declaring 10**12 bytes
        "mnist.npz": npz_declaring((10**6, 10**6)),
        # a model whose parameter header declares 8.6 GB
        "model.npz": model_declaring([46340, 46340, 10]),
        # a CSV that expands to 2 GB
        "rows.csv.gz": gzip_members(b"0," * (32 * MB), 32),
        # a .npy declaring 784 GB in 200 bytes
        "rows.npy": npy_declaring((10**9, 784)),
        # a 20000 x 10000 image in a few hundred bytes, and one just past the default limit
        "huge.png": png_header_only(20000, 10000),
        "large.png": png_header_only(6001, 4000),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


# Each case: what to call in the capped subprocess, and what its ValueError must say.
READER_CASES = {
    "idx-declares-1gb.gz": ("read_idx", r"more than its \d+ gzipped bytes can hold"),
    "idx-trailing-2gb.gz": ("read_idx", r"has trailing bytes.*got more than"),
    "mnist.pkl.gz": ("load_mnist", r"decompresses to more than 536870912 bytes"),
    "declares.pkl": ("load_mnist", r"BINBYTES8 at byte 2 declares 1000000000000000 bytes, but 3 follow"),
    "reconstruct.pkl": ("load_mnist", r"shape \(1000000, 1000000\) whose data is not in the file"),
    "mnist.npz": (
        "load_mnist",
        r"declares .*more than its \d+ compressed bytes can hold|"
        r"declares shape \(1000000, 1000000\)",
    ),
    "model.npz": (
        "load",
        r"params: its header declares shape \(2147905350,\) of float32 \(8591621400 bytes\), "
        r"but the archive holds 64 bytes",
    ),
    "huge.png": ("read_image", r"max_pixels"),
    "large.png": ("read_image", r"6001 x 4000 = 24004000 pixels, more than max_pixels=24000000"),
}

_RUNNER = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    import fastmlp
    from fastmlp import datasets
    outcomes = {{}}
    for path, reader in json.loads(sys.argv[1]).items():
        try:
            (getattr(datasets, reader, None) or getattr(fastmlp, reader))(path)
            outcomes[path] = ["returned", ""]
        except BaseException as exc:
            outcomes[path] = [type(exc).__name__, str(exc)]
    print(json.dumps(outcomes))
""")


def run_capped(code, *args, timeout=120):
    """Run Python ``code`` (which sets the address-space cap); the completed process. It runs from
    elsewhere: from the repository, "-c" would import its uncompiled fastmlp/ instead of the installed one."""
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, cwd=tempfile.gettempdir()
    )


def test_every_reader_refuses_its_bomb_under_a_memory_limit(bombs):
    calls = {str(bombs / name): reader for name, (reader, _) in READER_CASES.items()}
    started = time.perf_counter()
    done = run_capped(_RUNNER.format(limit=ADDRESS_SPACE_LIMIT), json.dumps(calls))
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout)
    for name, (reader, message) in READER_CASES.items():
        kind, text = outcomes[str(bombs / name)]
        assert kind == "ValueError", f"{reader}({name}): {kind}: {text}"
        assert name in text, f"{reader}({name}): the message does not name the file: {text}"
        assert re.search(message, text), f"{reader}({name}): {text}"
    assert time.perf_counter() - started < 60


@pytest.mark.parametrize(
    "name, expected",
    [
        ("rows.csv.gz", "decompresses to more than"),
        ("rows.npy", "rows.npy"),
        ("huge.png", "--max-pixels"),
    ],
)
def test_the_command_line_refuses_bombs_with_one_line(bombs, tmp_path, name, expected):
    model = tmp_path / "model.npz"
    code = textwrap.dedent(f"""
        import resource, sys
        import fastmlp
        fastmlp.MLP([784, 8, 10], seed=0).save({str(model)!r})
        resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE_LIMIT}, {ADDRESS_SPACE_LIMIT}))
        from fastmlp import cli
        sys.exit(cli.main(["predict", {str(model)!r}, {str(bombs / name)!r}]))
    """)
    done = run_capped(code)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert expected in done.stderr and "out of memory" not in done.stderr, done.stderr


def test_max_pixels_is_raised_from_the_api_and_the_command_line(bombs, tmp_path):
    image = np.zeros((40, 30), np.uint8)
    image[10:30, 12:18] = 255
    path = tmp_path / "digit.png"
    pytest.importorskip("matplotlib.image").imsave(path, image, cmap="gray")
    assert datasets.read_image(path).shape == (28, 28)
    with pytest.raises(ValueError, match=r"40 = 1200 pixels, more than max_pixels=1199; pass a larger max_pixels"):
        datasets.read_image(path, max_pixels=1199)
    assert datasets.read_image(path, max_pixels=1200).shape == (28, 28)
    with pytest.raises(TypeError, match=r"max_pixels: got 1000000.0 \(float\); expected an int"):
        datasets.read_image(path, max_pixels=1e6)
    with pytest.raises(ValueError, match=r"max_pixels: got 0; expected an int from 1"):
        datasets.read_image(path, max_pixels=0)


def test_gunzip_stops_at_its_limit_and_refuses_what_goes_past(tmp_path):
    data = gzip_members(b"x" * 1000, 5)
    assert bytes(_files.gunzip(data, "f.gz", limit=5000)) == b"x" * 5000
    with pytest.raises(ValueError, match=r"f.gz: decompresses to more than 4999 bytes"):
        _files.gunzip(data, "f.gz", limit=4999)


def _seconds_to_read(path):
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        read_idx(path)
        best = min(best, time.perf_counter() - started)
    return best


def test_gzip_of_many_members_reads_in_linear_time(tmp_path):
    # One member per label: quadratic copying made 60 000 members take minutes.
    def write(n):
        labels = np.arange(n, dtype=np.uint8) % 10
        content = idx_header((n,)) + labels.tobytes()
        path = tmp_path / f"labels-{n}.gz"
        path.write_bytes(b"".join(gzip.compress(content[i : i + 1], compresslevel=1) for i in range(len(content))))
        return path, labels

    small, _ = write(5000)
    large, labels = write(40000)
    np.testing.assert_array_equal(read_idx(large), labels)
    # 8 times the members: linear time is about 8 times as long, quadratic about 64.
    assert _seconds_to_read(large) < 24 * _seconds_to_read(small)


def test_a_photograph_at_the_pixel_limit_is_read_within_the_memory_limit(tmp_path):
    # 24 megapixels of RGBA took 2.5 GB in float64 before large images were shrunk by Pillow first.
    pil = pytest.importorskip("PIL.Image")
    path = tmp_path / "photo.png"
    photo = pil.new("RGBA", (6000, 4000), (255, 255, 255, 255))
    photo.paste((0, 0, 0, 255), (2800, 1000, 3200, 3000))  # a dark "1" on white
    photo.save(path, compress_level=1)
    code = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE_LIMIT}, {ADDRESS_SPACE_LIMIT}))
        from fastmlp import datasets
        digit = datasets.read_image({str(path)!r})
        rows, cols = (digit > 0.5).nonzero()
        print(digit.shape, rows.min(), rows.max(), cols.min(), cols.max())
    """)
    done = run_capped(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(")")[0] == "(28, 28"
    top, bottom, left, right = map(int, done.stdout.split(")")[1].split())
    assert (top, bottom) == (4, 23) and right - left <= 4  # a 20-pixel-tall bar, centred
