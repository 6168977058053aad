"""``fastmlp predict`` and ``read_inputs``, which turns the files it is given into rows for a network.

An input is an image or a folder of images (made MNIST-like by ``fastmlp.datasets.read_image``), an IDX
file, a ``.npy`` array or a CSV of pixel rows. ``read_inputs`` raises ``ValueError`` or ``OSError``,
as the readers of ``fastmlp.datasets`` do, so it serves the API as well as the command.
"""

import math
import sys
from pathlib import Path

import numpy as np

import fastmlp
from fastmlp.cli._options import Formatter, int_in
from fastmlp.datasets import IMAGE_SUFFIXES, MAX_IMAGE_PIXELS, check_regular_file, read_idx, read_image
from fastmlp.datasets._files import GZIP_MAGIC, MAX_UNDECLARED_BYTES, gunzip, is_csv_header, read_regular_file


def add_parser(commands):
    """Add the ``predict`` subcommand to an argparse subparsers object."""
    predict = commands.add_parser(
        "predict",
        formatter_class=Formatter,
        help="predict the class of images or rows",
        description="Print the predicted class of every input (a regression model's values, tab-separated), "
        "one per line, in the order given; with "
        "more than one input (or a folder), each line starts with the input's name and a tab (a row "
        "of an array file is named file[row]). An input "
        "is an image (PNG, or JPEG etc. with Pillow) of a digit, a folder of such images (sorted "
        "by name), an IDX file (as MNIST's), a .npy array, or a CSV of pixel rows (a header line "
        "and a leading label column are skipped). Images are made to look like MNIST: grayscale, "
        "inverted when the background is light, and, unless already 28 x 28, cropped to the "
        "digit, scaled into a 20 x 20 box and centred by mass. Integer pixels, or any pixels "
        "above 1, are divided by 255.",
        epilog="examples:\n  fastmlp predict mnist.npz my_digit.png\n"
        "  fastmlp predict mnist.npz t10k-images-idx3-ubyte.gz | head",
    )
    predict.add_argument("model", help="a model saved by 'fastmlp train' or MLP.save")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="image, folder, IDX, .npy or .csv file")
    predict.add_argument(
        "--proba", action="store_true", help="print each class's probability after the label, tab-separated"
    )
    predict.add_argument(
        "--max-pixels",
        type=int_in(1),
        default=MAX_IMAGE_PIXELS,
        metavar="N",
        help="refuse images of more than N pixels, before decoding them",
    )
    predict.set_defaults(func=predict_command)


def predict_command(args):
    """Run ``fastmlp predict``: one line per input row, the label (and the probabilities with --proba)."""
    net = fastmlp.load(args.model)
    blocks = [read_inputs(path, net.sizes[0], max_pixels=args.max_pixels) for path in args.inputs]
    X = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    named = len(args.inputs) > 1 or Path(args.inputs[0]).is_dir()  # else line i is row i
    names = [name for path, block in zip(args.inputs, blocks) for name in _row_names(path, len(block))]
    if net.is_regression:  # a regression's values, tab-separated, in place of a label
        results = [[f"{value:.6g}" for value in row] for row in net.predict(X)]
    else:
        proba = net.predict_proba(X)
        results = [
            [str(label)] + ([f"{p:.6f}" for p in row] if args.proba else [])
            for label, row in zip(np.argmax(proba, axis=1), proba)
        ]
    lines = ["\t".join(([name] if named else []) + fields) for name, fields in zip(names, results)]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _row_names(path, n_rows):
    """What each row read from `path` is called: an image's path, or the file and the row's index."""
    p = Path(path)
    if p.is_dir():
        return [str(f) for f in _images_in(p)]
    if p.name.lower().endswith(IMAGE_SUFFIXES):
        return [str(path)]
    return [f"{path}[{i}]" for i in range(n_rows)]


# --------------------------------------------------------------------------------------- reading inputs


def read_inputs(path, n_features, *, max_pixels=MAX_IMAGE_PIXELS):
    """Rows for a network with ``n_features`` inputs, float32 in [0, 1] for pixel data.

    Parameters
    ----------
    path : str or os.PathLike
        An image, a folder of images, an IDX file (gzipped or not), a ``.npy`` array or a CSV file;
        see ``fastmlp predict --help``.
    n_features : int
        The network's input size.
    max_pixels : int, default MAX_IMAGE_PIXELS
        Refuse images of more pixels than this, before decoding them.

    Returns
    -------
    ndarray of float32, shape (n_rows, n_features)

    Raises
    ------
    ValueError
        If the format is not recognised or the data does not fit the network.
    OSError
        If the file cannot be read.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if p.is_dir():
        return _read_image_folder(path, n_features, max_pixels)
    check_regular_file(p)
    name = p.name.lower()
    if name.endswith(IMAGE_SUFFIXES):
        return _read_image(p, n_features, max_pixels)[None, :]
    if name.endswith(".npy"):
        return _read_npy(path, n_features)
    if name.endswith((".csv", ".csv.gz", ".txt")):
        return _read_csv(p, n_features)
    if "idx" in name or "ubyte" in name:
        return _rows(read_idx(p), n_features, path)
    raise ValueError(
        f"{path}: unrecognised input; expected an image ({', '.join(IMAGE_SUFFIXES)}), a folder "
        "of images, an IDX file, a .npy array or a .csv file"
    )


def _images_in(folder):
    return sorted(f for f in Path(folder).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)


def _read_image_folder(path, n_features, max_pixels):
    images = _images_in(path)
    if not images:
        raise ValueError(f"{path}: a folder with no images ({', '.join(IMAGE_SUFFIXES)})")
    return np.stack([_read_image(f, n_features, max_pixels) for f in images])


def _read_image(path, n_features, max_pixels):
    """One image file -> a float32 row like an MNIST sample: light digit on black, in [0, 1]."""
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(f"{path}: the model takes {n_features} features, not a square image")
    return read_image(path, side, max_pixels=max_pixels).reshape(-1)


def _read_npy(path, n_features):
    try:  # mapped, so a header cannot make NumPy allocate more than the file holds
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise ValueError(f"{path}: cannot read as a .npy array ({exc})") from None
    return _rows(array, n_features, path)


def _read_csv(path, n_features):
    data = read_regular_file(path)
    if data[:2] == GZIP_MAGIC:
        data = gunzip(data, path, MAX_UNDECLARED_BYTES)
    lines = [line for line in data.decode("utf-8-sig").splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path}: an empty CSV file")
    if is_csv_header(lines[0]):
        lines = lines[1:]
    try:
        array = np.loadtxt(lines, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: not a CSV of numbers ({exc})") from None
    if array.shape[1] == n_features + 1:
        array = array[:, 1:]  # MNIST-style CSV: the label comes first
    if array.shape[1] != n_features:
        raise ValueError(
            f"{path}: got rows of {array.shape[1]} values; expected {n_features} "
            f"(or {n_features + 1} with a leading label)"
        )
    return _rows(array, n_features, path)


def _rows(array, n_features, source):
    """An array of samples -> float32 (n, n_features), pixels scaled to [0, 1]."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{source}: holds {array.dtype} values; expected numbers")
    if array.ndim >= 2 and array[0].size == n_features:
        array = array.reshape(len(array), n_features)
    elif array.size == n_features:
        array = array.reshape(1, n_features)  # one sample: a row or one image
    else:
        raise ValueError(
            f"{source}: got an array of shape {array.shape}; expected rows of {n_features} "
            f"values (or images of {n_features} pixels) for this model"
        )
    scaled = array.dtype.kind in "biu" or (array.size and float(np.nanmax(array)) > 1.0)
    array = array.astype(np.float32)
    if scaled:
        array /= 255.0
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{source}: holds NaN or infinite values")
    return array
