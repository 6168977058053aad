"""fastmlp.datasets: the four MNIST formats agree, IDX headers are checked, pickles and npz files cannot run
code, and the download verifies what it fetches. No test touches the network."""

import gzip
import io
import os
import pickle
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastmlp
import fastmlp.datasets as datasets
from fastmlp.datasets import load_mnist, read_idx

REPO = Path(__file__).resolve().parent.parent
BUNDLED = datasets.MNIST_DIR
IDX_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

N_TRAIN, N_TEST = 50, 20
IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(a):
    a = np.asarray(a)
    header = bytes([0, 0, IDX_CODES[a.dtype.type], a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write(path, data, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture(scope="module")
def digits():
    """A small MNIST look-alike: uint8 images (with 0 and 255 present) and labels 0..9."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(N_TRAIN + N_TEST, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = np.arange(N_TRAIN + N_TEST) % 10
    rng.shuffle(labels)
    X = images.reshape(-1, 784).astype(np.float32) / np.float32(255)
    return {"images": images, "labels": labels, "X": X}


def split(d):
    return ((d["images"][:N_TRAIN], d["labels"][:N_TRAIN]), (d["images"][N_TRAIN:], d["labels"][N_TRAIN:]))


def make_idx(folder, d, gz=True, dotted=False):
    folder.mkdir(parents=True, exist_ok=True)
    (tr_img, tr_lab), (te_img, te_lab) = split(d)
    arrays = [tr_img, tr_lab.astype(np.uint8), te_img, te_lab.astype(np.uint8)]
    for name, a in zip(IDX_NAMES, arrays):
        if dotted:
            name = name.replace("-idx", ".idx")
        write(folder / (name + (".gz" if gz else "")), idx_bytes(a), gz)
    return folder


def make_npz(folder, d, **overrides):
    folder.mkdir(parents=True, exist_ok=True)
    (tr_img, tr_lab), (te_img, te_lab) = split(d)
    arrays = dict(x_train=tr_img, y_train=tr_lab.astype(np.uint8), x_test=te_img, y_test=te_lab.astype(np.uint8))
    arrays.update(overrides)
    np.savez_compressed(folder / "mnist.npz", **arrays)
    return folder / "mnist.npz"


class _Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 str (BINSTRING), as the Python 2 pickler that made mnist.pkl.gz did."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj):
        n = len(obj)
        opcode = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(opcode + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def make_pickle(folder, d, protocol=2, python2=False):
    """Nielsen's layout: (training, validation, test), X float32 in [0, 1], y int64; 40 + 10 training rows."""
    folder.mkdir(parents=True, exist_ok=True)
    X, y = d["X"], d["labels"].astype(np.int64)
    parts = ((X[:40], y[:40]), (X[40:N_TRAIN], y[40:N_TRAIN]), (X[N_TRAIN:], y[N_TRAIN:]))
    if python2:
        buffer = io.BytesIO()
        _Python2Pickler(buffer, protocol=2).dump(parts)
        data = buffer.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    else:
        data = pickle.dumps(parts, protocol=protocol)
    path = folder / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(data))
    return path


def make_csv(folder, d, header=False):
    folder.mkdir(parents=True, exist_ok=True)
    for (img, lab), name in zip(split(d), ("mnist_train.csv", "mnist_test.csv")):
        rows = np.column_stack([lab, img.reshape(len(img), -1)])
        columns = [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
        text = "label," + ",".join(columns) + "\n" if header else ""
        text += "\n".join(",".join(map(str, row)) for row in rows) + "\n"
        (folder / name).write_text(text)
    return folder


MAKERS = {
    "idx-gz": lambda tmp, d: make_idx(tmp / "idx", d),
    "idx-raw": lambda tmp, d: make_idx(tmp / "idx", d, gz=False),
    "idx-dotted-names": lambda tmp, d: make_idx(tmp / "idx", d, dotted=True),
    "npz-file": lambda tmp, d: make_npz(tmp / "keras", d),
    "npz-folder": lambda tmp, d: make_npz(tmp / "keras", d).parent,
    "pkl-python2-style": lambda tmp, d: make_pickle(tmp / "nielsen", d, python2=True),
    "pkl-protocol2": lambda tmp, d: make_pickle(tmp / "nielsen", d),
    "pkl-protocol5-folder": lambda tmp, d: make_pickle(tmp / "nielsen", d, protocol=5).parent,
    "csv": lambda tmp, d: make_csv(tmp / "csv", d),
    "csv-with-header": lambda tmp, d: make_csv(tmp / "csv", d, header=True),
}


def check_mnist(data, n_train, n_test):
    (X_train, y_train), (X_test, y_test) = data
    for X, y, n in ((X_train, y_train, n_train), (X_test, y_test, n_test)):
        assert X.shape == (n, 784) and X.dtype == np.float32 and X.flags.c_contiguous
        assert y.shape == (n,) and y.dtype == np.int64
        assert X.min() >= 0.0 and X.max() <= 1.0
        assert y.min() >= 0 and y.max() <= 9


# --------------------------------------------------------------------------------------- bundled data


@pytest.mark.slow
def test_the_copy_inside_fastmlp_is_found_from_any_folder_offline(monkeypatch, tmp_path):
    # after pip install, from wherever the user runs it: no repository, no network
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    monkeypatch.chdir(tmp_path)
    found = load_mnist()
    check_mnist(found, 60000, 10000)
    for y in (found[0][1], found[1][1]):
        assert set(np.unique(y)) == set(range(10))
    assert found[0][0].max() == 1.0 and found[0][0].min() == 0.0
    assert Path(fastmlp.__file__).parent in BUNDLED.parents  # it ships with the package
    by_path = load_mnist(BUNDLED)
    for a, b in zip(found, by_path):  # np.array_equal: assert_array_equal takes seconds on 47M floats
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    X_test, y_test = load_mnist(split="test")
    assert np.array_equal(X_test, found[1][0]) and np.array_equal(y_test, found[1][1])


@pytest.mark.parametrize("fmt", list(MAKERS))
@pytest.mark.parametrize("which", ["train", "test"])
def test_one_split_is_that_split(fmt, which, tmp_path, digits):
    both = load_mnist(MAKERS[fmt](tmp_path, digits))
    X, y = load_mnist(MAKERS[fmt](tmp_path, digits), split=which)
    expected = both[0] if which == "train" else both[1]
    assert_array_equal(X, expected[0])
    assert_array_equal(y, expected[1])


@pytest.mark.parametrize("fmt", ["idx-gz", "npz-file", "csv"])
def test_the_test_split_alone_does_not_read_the_training_files(fmt, tmp_path, digits):
    # fastmlp evaluate reads only the test rows: a broken training file does not stop it
    folder = MAKERS[fmt](tmp_path, digits)
    if fmt == "idx-gz":
        write(folder / "train-images-idx3-ubyte.gz", b"not an IDX file", True)
    elif fmt == "csv":
        (folder / "mnist_train.csv").write_text("1,2,3\n")
    else:
        (tr_img, tr_lab), (te_img, te_lab) = split(digits)
        np.savez(folder, x_train=tr_img[:, :5], y_train=tr_lab, x_test=te_img, y_test=te_lab.astype(np.uint8))
    with pytest.raises(ValueError):
        load_mnist(folder)
    X_test, y_test = load_mnist(folder, split="test")
    assert X_test.shape == (N_TEST, 784)
    assert_array_equal(y_test, digits["labels"][N_TRAIN:])


@pytest.mark.parametrize("which", ["both", "TEST", 1])
def test_split_must_be_train_or_test(which):
    with pytest.raises(ValueError, match=r"split: got .*; expected None \(both\), 'train' or 'test'"):
        load_mnist(split=which)


# ------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", list(MAKERS))
def test_every_format_gives_the_same_arrays(fmt, tmp_path, digits):
    data = load_mnist(MAKERS[fmt](tmp_path, digits))
    check_mnist(data, N_TRAIN, N_TEST)
    (X_train, y_train), (X_test, y_test) = data
    assert_array_equal(X_train, digits["X"][:N_TRAIN])
    assert_array_equal(X_test, digits["X"][N_TRAIN:])
    assert_array_equal(y_train, digits["labels"][:N_TRAIN])
    assert_array_equal(y_test, digits["labels"][N_TRAIN:])


def test_path_none_uses_fastmlp_data_then_cwd(monkeypatch, tmp_path, digits):
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    monkeypatch.setenv("FASTMLP_DATA", str(make_npz(tmp_path / "env", digits)))
    monkeypatch.chdir(tmp_path)
    assert load_mnist()[0][0].shape == (N_TRAIN, 784)
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "empty"))
    make_csv(tmp_path / "data" / "mnist", digits)
    assert_array_equal(load_mnist()[1][1], digits["labels"][N_TRAIN:])


def test_gzip_is_detected_by_content_not_name(tmp_path):
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert_array_equal(read_idx(write(tmp_path / "looks-raw", idx_bytes(a), gz=True)), a)
    assert_array_equal(read_idx(write(tmp_path / "looks.gz", idx_bytes(a))), a)


# -------------------------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5)])
def test_read_idx_round_trip(dtype, gz, shape, tmp_path):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    a = rng.integers(info.min, info.max, size=shape, endpoint=True) if info else rng.standard_normal(shape)
    a = a.astype(dtype)
    back = read_idx(write(tmp_path / "a.idx", idx_bytes(a), gz))
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative and back.shape == shape
    assert back.flags.writeable
    assert_array_equal(back, a)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_rejects_truncated_and_trailing_data(gz, tmp_path):
    good = idx_bytes(np.zeros((4, 5), np.int32))  # 12 header bytes + 80 data bytes
    path = write(tmp_path / "short", good[:-3], gz)
    with pytest.raises(ValueError, match=r"short.*truncated.*expected 92 .*got 89"):
        read_idx(path)
    path = write(tmp_path / "long", good + b"\0\0", gz)
    with pytest.raises(ValueError, match=r"long.*trailing bytes.*expected 92 .*got 94"):
        read_idx(path)
    with pytest.raises(ValueError, match=r"truncated IDX header"):
        read_idx(write(tmp_path / "header", good[:9], gz))


@pytest.mark.parametrize("start", [b"", b"\x00\x01\x08\x01", b"\x00\x00\x07\x01", b"\x89PNG\r\n\x1a\n"])
def test_read_idx_rejects_bad_magic(start, tmp_path):
    path = write(tmp_path / "notidx", start + bytes(20))
    with pytest.raises(ValueError, match=r"notidx: not an IDX file"):
        read_idx(path)


def test_read_idx_rejects_corrupt_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    bad_crc = bytearray(packed)
    bad_crc[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    bad_data = bytearray(packed)
    bad_data[len(packed) // 2] ^= 0xFF
    cases = {
        "cut": packed[: len(packed) // 2],
        "crc": bytes(bad_crc),
        "flipped": bytes(bad_data),
        "stray": packed + b"garbage",
    }
    for name, data in cases.items():
        with pytest.raises(ValueError, match=rf"{name}: corrupt gzip"):
            read_idx(write(tmp_path / name, data))


# ------------------------------------------------------------------------------------------ validation


def test_bad_path_arguments(tmp_path, digits):
    with pytest.raises(TypeError, match=r"path: got 3 \(int\)"):
        load_mnist(3)
    with pytest.raises(FileNotFoundError, match=r"path: got .*nowhere.*does not exist"):
        load_mnist(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"path: got .*empty.*expected a folder with the four MNIST IDX"):
        load_mnist(tmp_path / "empty")
    folder = make_idx(tmp_path / "partial", digits)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match=r"but not t10k-labels-idx1-ubyte"):
        load_mnist(folder)
    with pytest.raises(ValueError, match=r"pass the folder that holds it"):
        load_mnist(folder / "t10k-images-idx3-ubyte.gz")


def test_malformed_contents_are_refused_naming_the_file(tmp_path, digits):
    folder = make_idx(tmp_path / "labels", digits)
    write(folder / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.full(N_TEST, 10, np.uint8)), gz=True)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.gz: the labels: values in \[10, 10\]"):
        load_mnist(folder)
    folder = make_idx(tmp_path / "count", digits)
    write(folder / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(N_TRAIN - 1, np.uint8)), gz=True)
    with pytest.raises(ValueError, match=rf"train-labels-idx1-ubyte.gz: .*{N_TRAIN - 1} labels for"):
        load_mnist(folder)
    folder = make_idx(tmp_path / "size", digits)
    write(folder / "t10k-images-idx3-ubyte.gz", idx_bytes(np.zeros((N_TEST, 27, 27), np.uint8)), gz=True)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: the images: shape \(20, 27, 27\)"):
        load_mnist(folder)
    npz = make_npz(tmp_path / "float-npz", digits, x_test=np.full((N_TEST, 28, 28), 0.5))
    with pytest.raises(ValueError, match=r"mnist.npz: x_test: dtype float64"):
        load_mnist(npz)
    npz = make_npz(tmp_path / "keys", digits)
    np.savez(npz, x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"mnist.npz: missing arrays"):
        load_mnist(npz)
    pkl = tmp_path / "scaled" / "mnist.pkl.gz"
    pkl.parent.mkdir()
    X, y = digits["images"].reshape(-1, 784).astype(np.float32), digits["labels"]
    pkl.write_bytes(gzip.compress(pickle.dumps(((X[:40], y[:40]), (X[40:50], y[40:50]), (X[50:], y[50:])))))
    with pytest.raises(ValueError, match=r"mnist.pkl.gz: the training images: values in \[0.0, 255.0\]"):
        load_mnist(pkl)
    folder = make_csv(tmp_path / "csv", digits)
    with open(folder / "mnist_test.csv", "a") as f:
        f.write("3,1,2\n")
    with pytest.raises(ValueError, match=r"mnist_test.csv: cannot read as MNIST CSV"):
        load_mnist(folder)


class _RunsCode:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("how", ["os.system", "open", "eval"])
def test_malicious_pickle_is_refused_and_runs_nothing(how, tmp_path):
    marker = tmp_path / "pwned"
    payload = {
        "os.system": _RunsCode(os.system, f"touch {marker}"),
        "open": _RunsCode(open, str(marker), "w"),
        "eval": _RunsCode(eval, f"open({str(marker)!r}, 'w')"),
    }[how]
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(((payload, None), (None, None), (None, None)), protocol=2)))
    refused = r"mnist.pkl.gz: refused to load .*global '(os|posix|nt|builtins|__builtin__|io)\.\w+'"
    with pytest.raises(ValueError, match=refused):
        load_mnist(path)
    with pytest.raises(ValueError, match=r"refused to load"):
        load_mnist(tmp_path)
    assert not marker.exists()


def test_npz_with_object_arrays_is_refused(tmp_path, digits):
    objects = np.empty(N_TRAIN, dtype=object)
    objects[:] = [list(range(3))] * N_TRAIN
    npz = make_npz(tmp_path, digits, y_train=objects)
    with pytest.raises(ValueError, match=r"mnist.npz: y_train: holds Python objects"):
        load_mnist(npz)


# ----------------------------------------------------------------------------------------- downloading


def _no_network(*args, **kwargs):
    raise AssertionError("a test tried to use the network")


class _Response(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """No MNIST anywhere: empty $FASTMLP_DATA, HOME and XDG cache, cwd, and no copy inside fastmlp."""
    for name in ("home", "xdg", "env", "cwd"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(datasets._mnist, "MNIST_DIR", tmp_path / "no-bundled-data")
    return tmp_path / "xdg" / "fastmlp" / "mnist"


def test_offline_error_lists_what_was_tried(monkeypatch, nowhere, tmp_path):
    urls = []

    def offline(request, timeout=None):
        urls.append(request.full_url)
        assert timeout is not None
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(datasets.DownloadError) as caught:
        load_mnist()
    message = str(caught.value)
    assert isinstance(caught.value, OSError)
    for place in (tmp_path / "env", tmp_path / "cwd" / "data" / "mnist", tmp_path / "no-bundled-data", nowhere):
        assert str(place) in message
    assert urls == [m + "train-images-idx3-ubyte.gz" for m in datasets.MIRRORS]
    for url in urls:
        assert f"{url}: URLError: no network here" in message
    assert "load_mnist(path=...)" in message and "FASTMLP_DATA" in message
    assert not any(nowhere.iterdir())


def test_download_rejects_wrong_bytes_and_leaves_nothing(monkeypatch, nowhere):
    wrong = gzip.compress(idx_bytes(np.zeros((10, 28, 28), np.uint8)))
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout=None: _Response(wrong))
    with pytest.raises(datasets.DownloadError, match=r"decompresses to something other") as caught:
        load_mnist()
    assert len(caught.value.attempts) == len(datasets.MIRRORS)
    assert list(nowhere.iterdir()) == []
    # Files already present are kept, so only the small test labels are fetched: right size, wrong content.
    for name in IDX_NAMES[:3]:
        (nowhere / (name + ".gz")).write_bytes(b"kept as is")
    same_size = gzip.compress(bytes(10008))
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout=None: _Response(same_size))
    mismatch = r"SHA-256 mismatch: got [0-9a-f]{64}, expected ff7bcfd4"
    with pytest.raises(datasets.DownloadError, match=mismatch):
        datasets.download_mnist(progress=False)
    assert sorted(p.name for p in nowhere.iterdir()) == sorted(n + ".gz" for n in IDX_NAMES[:3])


def test_download_verifies_and_fills_the_cache(monkeypatch, nowhere):
    served = []

    def mirror(request, timeout=None):
        url = request.full_url
        served.append(url)
        if url.startswith(datasets.MIRRORS[0]):
            return _Response(b"<html>a mirror's error page</html>")
        return _Response((BUNDLED / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", mirror)
    data = load_mnist()
    check_mnist(data, 60000, 10000)
    assert sorted(p.name for p in nowhere.iterdir()) == sorted(n + ".gz" for n in IDX_NAMES)
    assert len(served) == 8  # each file: the first mirror fails the check, the second one passes
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    assert_array_equal(load_mnist()[1][1], data[1][1])


@pytest.mark.parametrize("style", ["bom", "space", "sign"])
def test_headerless_csv_keeps_its_first_row_whatever_its_formatting(tmp_path, digits, style):
    """A first row with a UTF-8 BOM, a space after each comma or a sign is data, not a header."""
    folder = make_csv(tmp_path / "csv", digits)
    for name in ("mnist_train.csv", "mnist_test.csv"):
        lines = (folder / name).read_text().splitlines()
        if style == "bom":
            lines[0] = "\ufeff" + lines[0]
        elif style == "space":
            lines[0] = lines[0].replace(",", ", ")
        else:
            lines[0] = "+" + lines[0]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (X, y), (X_test, y_test) = load_mnist(folder)
    assert len(X) == N_TRAIN and len(X_test) == N_TEST
    assert_array_equal(y, digits["labels"][:N_TRAIN])


def test_images_whose_pixels_only_multiply_to_784_are_refused(tmp_path, digits):
    npz = make_npz(tmp_path / "odd-shape", digits, x_train=digits["images"][:N_TRAIN].reshape(N_TRAIN, 4, 196))
    with pytest.raises(ValueError, match=r"x_train: shape \(50, 4, 196\); expected \(n, 28, 28\) or \(n, 784\)"):
        load_mnist(npz)


def test_non_regular_files_are_refused_not_read(tmp_path):
    """/dev/zero would be read until memory runs out, a FIFO would block forever."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, kind in ((os.devnull, "a device"), (fifo, "a FIFO")):
        for reader in (read_idx, fastmlp.load, datasets.read_image):
            with pytest.raises(ValueError, match=rf"{kind}; expected a regular file"):
                reader(path)
        with pytest.raises(ValueError, match=r"neither a file nor a folder"):
            load_mnist(path)


class _ArrayWithoutData:
    """Pickles as NumPy's array reconstruction declaring 300M bytes that the file does not hold."""

    def __reduce__(self):
        reconstruct = np.zeros(0).__reduce__()[0]  # NumPy's own _reconstruct
        return reconstruct, (np.ndarray, (300_000_000,), b"b")


def test_pickle_declaring_an_array_without_its_data_is_refused(tmp_path):
    """A few hundred bytes must not be able to ask for gigabytes of zeros."""
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(_ArrayWithoutData(), protocol=2)))
    assert path.stat().st_size < 1000
    with pytest.raises(ValueError, match="whose data is not in the file"):
        load_mnist(path)
