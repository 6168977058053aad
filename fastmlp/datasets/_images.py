"""Photographs and drawings of digits made to look like MNIST's: gray, light on black, 20 x 20 in 28 x 28.

Images are decoded by Pillow (through matplotlib, the ``plot`` extra). Their size is read from the
header first, and an image of more than ``max_pixels`` pixels is refused before it is decoded: a
24 KB PNG can declare 200 million pixels.
"""

import math
import warnings

import numpy as np

from fastmlp.datasets._files import as_path, check_regular_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")

#: The most pixels ``read_image`` decodes unless told otherwise: a 24-megapixel photograph (6000 x 4000).
MAX_IMAGE_PIXELS = 24_000_000

_WORKING_PIXELS = 1 << 21  # larger images are shrunk to about this many pixels before to_mnist
_IMAGE_SIDE = 28
_DIGIT_BOX = 20  # MNIST digits fit a 20 x 20 box, centred by mass in the 28 x 28 image
_INK = 0.1  # pixels brighter than this (after inversion) are the digit


def read_image(path, side=_IMAGE_SIDE, *, max_pixels=MAX_IMAGE_PIXELS):
    """Read an image file and make it look like an MNIST digit (see :func:`to_mnist`).

    Parameters
    ----------
    path : str or os.PathLike
        A PNG, JPEG, BMP, GIF or TIFF file.
    side : int, default 28
        The side of the square result; a network with ``n`` inputs takes ``side = sqrt(n)``.
    max_pixels : int, default MAX_IMAGE_PIXELS (24 million)
        Refuse images with more pixels than this, before decoding them. Raise it for larger photographs
        (``fastmlp predict --max-pixels``).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(side, side)``, a light digit on black in [0, 1].

    Raises
    ------
    ValueError
        If the file is not an image that can be decoded, or has more than ``max_pixels`` pixels.
    ImportError
        If matplotlib (and so Pillow) is not installed: ``pip install "fastmlp[plot]"``.
    """
    path = as_path(path, "path")
    side = _check_count(side, "side", 1, 4096)
    max_pixels = _check_count(max_pixels, "max_pixels", 1, 2**62)
    try:
        import matplotlib.image  # noqa: F401 -- Pillow's pixels become arrays as matplotlib makes them
        from PIL import Image
    except ImportError:
        raise ImportError('reading images needs matplotlib and Pillow: pip install "fastmlp[plot]"') from None
    check_regular_file(path)
    try:
        with warnings.catch_warnings():  # Pillow warns of a large image: it is refused below, or wanted
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only
                width, height = image.size
                if width * height > max_pixels:
                    raise ValueError(
                        f"{path}: an image of {width} x {height} = {width * height} pixels, more "
                        f"than max_pixels={max_pixels}; pass a larger max_pixels (fastmlp predict "
                        "--max-pixels) to read it"
                    )
                pixels = _decode_small(image)
    except Image.DecompressionBombError as exc:
        raise ValueError(
            f"{path}: {str(exc).rstrip('.')}, more than max_pixels={max_pixels}; to read it, pass a "
            "larger max_pixels (fastmlp predict --max-pixels) and raise Pillow's "
            "PIL.Image.MAX_IMAGE_PIXELS"
        ) from None
    except (OSError, SyntaxError) as exc:  # Pillow reports some corrupt files as SyntaxError
        raise ValueError(f"{path}: cannot read the image ({exc})") from None
    return to_mnist(pixels, side)


def _decode_small(image):
    """The image's pixels as an array of at most about _WORKING_PIXELS: a larger one is shrunk by
    Pillow, in its own 8-bit pixels (a JPEG while it decodes), by an integer factor, averaging
    blocks as to_mnist's area resizing does; to_mnist works in float64, 32 bytes a pixel in colour."""
    width, height = image.size
    factor = math.ceil(math.sqrt(width * height / _WORKING_PIXELS))
    if factor > 1:
        image.draft("RGB" if image.mode not in ("L", "1") else "L", (width // factor, height // factor))
        if image.mode not in ("L", "LA", "RGB", "RGBA"):
            image = image.convert("RGBA")
        factor = math.ceil(math.sqrt(image.size[0] * image.size[1] / _WORKING_PIXELS))
        if factor > 1:
            image = image.reduce(factor)
    if image.mode.startswith("I"):  # 16- or 32-bit gray: to_mnist scales integers by their range
        return np.asarray(image)
    import matplotlib.image

    return matplotlib.image.pil_to_array(image)


def _check_count(value, name, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: got {value!r} ({type(value).__name__}); expected an int")
    if not low <= value <= high:
        raise ValueError(f"{name}: got {value}; expected an int from {low} to {high}")
    return int(value)


def to_mnist(image, side=_IMAGE_SIDE):
    """Make an image look like an MNIST digit: float32 ``(side, side)``, light digit on black.

    Colour becomes gray; transparency is laid over white; a light background is inverted. An
    image already ``side`` x ``side`` is otherwise kept as it is; any other is cropped to its
    digit, scaled so the longer side fills a 20/28 box and centred by its centre of mass, as
    MNIST's digits were.
    """
    image = np.asarray(image)
    if image.dtype.kind in "biu":
        image = image / (65535.0 if image.max() > 255 else 255.0)
    image = image.astype(np.float64)
    if image.ndim == 3:
        if image.shape[2] in (2, 4):  # gray or colour with alpha: lay it over white
            alpha = image[..., -1:]
            image = image[..., :-1] * alpha + (1.0 - alpha)
        image = image[..., :3].mean(axis=2)
    if image.ndim != 2:
        raise ValueError(f"image: got an array of shape {image.shape}; expected a 2-D grayscale or colour image")
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    if border.mean() > 0.5:
        image = 1.0 - image
    if image.shape == (side, side):
        return image.astype(np.float32)
    ink = np.argwhere(image > _INK)
    if len(ink) == 0:
        return np.zeros((side, side), np.float32)
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0) + 1
    digit = image[top:bottom, left:right]
    box = max(1, round(_DIGIT_BOX * side / _IMAGE_SIDE))
    scale = box / max(digit.shape)
    height, width = max(1, round(digit.shape[0] * scale)), max(1, round(digit.shape[1] * scale))
    digit = _area_resize(digit, height, width)
    out = np.zeros((side, side))
    rows, cols = np.indices(digit.shape)
    mass = digit.sum() or 1.0
    centre_row, centre_col = (rows * digit).sum() / mass, (cols * digit).sum() / mass
    top = int(np.clip(round(side / 2 - centre_row), 0, side - height))
    left = int(np.clip(round(side / 2 - centre_col), 0, side - width))
    out[top : top + height, left : left + width] = digit
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _area_matrix(n_in, n_out):
    """(n_out, n_in): each output pixel averages the input pixels it covers, by overlap."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    matrix = np.zeros((n_out, n_in))
    for i in range(n_out):
        low, high = edges[i], edges[i + 1]
        for j in range(int(math.floor(low)), min(n_in, int(math.ceil(high)))):
            matrix[i, j] = min(high, j + 1) - max(low, j)
        matrix[i] /= high - low
    return matrix


def _area_resize(image, height, width):
    return _area_matrix(image.shape[0], height) @ image @ _area_matrix(image.shape[1], width).T
