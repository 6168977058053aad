"""Datasets in MNIST's format that do not ship with fastmlp: Fashion-MNIST and KMNIST, downloaded
into the user cache on first use (each file checked by SHA-256) and read by MNIST's readers."""

from fastmlp.datasets._download import FASHION_MNIST, KMNIST, cache_dir, download
from fastmlp.datasets._idx import IDX_NAMES, find_idx_file
from fastmlp.datasets._mnist import load_mnist_given_as

#: Fashion-MNIST's ten classes, by label.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
#: KMNIST's ten classes, by label: the hiragana each stands for, romanised.
KMNIST_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")


def load_fashion_mnist(path=None, split=None, *, progress=True):
    """Load Zalando's Fashion-MNIST: 28 x 28 greyscale images of clothes in ten classes
    (:data:`FASHION_MNIST_CLASSES`), 60000 for training and 10000 for test, as ``load_mnist``
    returns MNIST.

    Parameters
    ----------
    path : str, os.PathLike or None, default None
        A folder with the four IDX files (gzipped or not), in any of the forms ``load_mnist``
        reads. ``None``: the user cache, ``~/.cache/fastmlp/fashion-mnist``
        (``$XDG_CACHE_HOME/fastmlp/fashion-mnist``), where the files are downloaded on first use
        (about 30 MB), each checked against its pinned SHA-256 before it is kept.
    split : {None, "train", "test"}, default None
        As ``load_mnist``'s.
    progress : bool, default True
        A progress bar per file while downloading.

    Returns
    -------
    (X_train, y_train), (X_test, y_test), or (X, y) with ``split``
        ``X`` float32 ``(n, 784)`` in [0, 1]; ``y`` int64 in 0..9.

    Raises
    ------
    DownloadError
        (an ``OSError``) If a file is missing and no mirror serves it correctly.
    ValueError, FileNotFoundError
        As ``load_mnist``.
    """
    return _load(FASHION_MNIST, path, split, progress)


def load_kmnist(path=None, split=None, *, progress=True):
    """Load Kuzushiji-MNIST (KMNIST): 28 x 28 images of ten cursive Japanese characters
    (:data:`KMNIST_CLASSES`), 60000 for training and 10000 for test, as ``load_mnist`` returns
    MNIST; downloaded into ``~/.cache/fastmlp/kmnist`` on first use (about 21 MB). Parameters,
    returns and errors as :func:`load_fashion_mnist`."""
    return _load(KMNIST, path, split, progress)


def _load(source, path, split, progress):
    if path is None:
        path = cache_dir(source.name)
        if not all(find_idx_file(path, stem) for stem in IDX_NAMES):
            download(source, path, progress=progress)
    return load_mnist_given_as(path, split, "path")
