"""Data for fastmlp: MNIST (shipped), Fashion-MNIST and KMNIST (verified downloads), IDX files, and
images of digits.

Only the standard library and NumPy are imported here (tqdm lazily, for the download's progress bar;
matplotlib and Pillow lazily, for images), so the datasets can be read without the compiled extension.
Every reader bounds its memory by what the file can honestly hold, before allocating: see ``_files``.
"""

from fastmlp.datasets._download import MIRRORS, DownloadError, download_mnist
from fastmlp.datasets._fetched import FASHION_MNIST_CLASSES, KMNIST_CLASSES, load_fashion_mnist, load_kmnist
from fastmlp.datasets._files import check_regular_file
from fastmlp.datasets._idx import read_idx
from fastmlp.datasets._images import IMAGE_SUFFIXES, MAX_IMAGE_PIXELS, read_image, to_mnist
from fastmlp.datasets._mnist import MNIST_DIR, load_mnist

__all__ = [
    "load_mnist",
    "MNIST_DIR",
    "load_fashion_mnist",
    "load_kmnist",
    "FASHION_MNIST_CLASSES",
    "KMNIST_CLASSES",
    "read_idx",
    "read_image",
    "to_mnist",
    "download_mnist",
    "DownloadError",
    "MIRRORS",
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_PIXELS",
    "check_regular_file",
]
