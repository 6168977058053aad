"""Fashion-MNIST and KMNIST (fastmlp.datasets._fetched): downloaded into the cache on first use,
each file checked by SHA-256, then read as MNIST is. Small IDX files these tests write stand in for
the real ones (their digests pinned in place of the real ones'); nothing touches the network."""

import dataclasses
import gzip
import hashlib
import re
import urllib.request

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastmlp.datasets as datasets
from fastmlp.datasets import _download, _fetched
from test_datasets import _no_network, _Response, idx_bytes

N_TRAIN, N_TEST = 30, 10
LOADERS = {"fashion-mnist": "load_fashion_mnist", "kmnist": "load_kmnist"}
SOURCES = {"fashion-mnist": "FASHION_MNIST", "kmnist": "KMNIST"}


@pytest.fixture(scope="module")
def archives():
    """The four .gz files of a small look-alike, and the arrays they hold."""
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(N_TRAIN + N_TEST, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=N_TRAIN + N_TEST).astype(np.uint8)
    arrays = [images[:N_TRAIN], labels[:N_TRAIN], images[N_TRAIN:], labels[N_TRAIN:]]
    files = {stem: gzip.compress(idx_bytes(a), mtime=0) for stem, a in zip(datasets._idx.IDX_NAMES, arrays)}
    return files, (images, labels)


@pytest.fixture(params=sorted(LOADERS))
def dataset(request, archives, monkeypatch, tmp_path):
    """(name, loader, served urls): the dataset with the look-alike's digests pinned, a server of
    its files at its mirrors, and an empty cache."""
    name = request.param
    files, _ = archives
    real = getattr(_fetched, SOURCES[name])
    pinned = {stem: (hashlib.sha256(data).hexdigest(), len(data)) for stem, data in files.items()}
    monkeypatch.setattr(_fetched, SOURCES[name], dataclasses.replace(real, files=pinned))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    served = {real.mirrors[-1] + stem + ".gz": data for stem, data in files.items()}
    urls = []

    def serve(request, timeout=None):
        urls.append(request.full_url)
        if request.full_url not in served:
            raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, None)
        return _Response(served[request.full_url])

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    return name, getattr(datasets, LOADERS[name]), urls, served


def test_first_use_downloads_into_the_cache_then_reads_it_offline(dataset, archives, monkeypatch, tmp_path):
    name, load, urls, served = dataset
    _, (images, labels) = archives
    (X, y), (X_test, y_test) = load(progress=False)
    assert_array_equal(X, images[:N_TRAIN].reshape(N_TRAIN, 784) / np.float32(255))
    assert_array_equal(y, labels[:N_TRAIN])
    assert_array_equal(y_test, labels[N_TRAIN:])
    assert X.dtype == np.float32 and y.dtype == np.int64 and X_test.shape == (N_TEST, 784)
    assert set(served) <= set(urls)  # the last mirror served each file, after the others failed
    cache = tmp_path / "cache" / "fastmlp" / name
    assert sorted(p.name for p in cache.iterdir()) == sorted(stem + ".gz" for stem in datasets._idx.IDX_NAMES)
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    X_again, y_again = load(split="train")
    assert_array_equal(X_again, X)
    assert_array_equal(y_again, y)


def test_a_file_that_fails_its_check_is_refused_and_not_kept(dataset, monkeypatch, tmp_path):
    name, load, _, served = dataset
    stem = "t10k-labels-idx1-ubyte"
    url = next(u for u in served if u.endswith(stem + ".gz"))
    served[url] = served[url][:-1] + bytes([served[url][-1] ^ 1])  # one bit off
    with pytest.raises(datasets.DownloadError) as caught:
        load(progress=False)
    message = str(caught.value)
    assert f"could not download {stem}.gz" in message and f"{url}: " in message
    assert re.search("SHA-256 mismatch|bytes, not the", message)
    assert f"{LOADERS[name]}(path=...)" in message
    cache = tmp_path / "cache" / "fastmlp" / name
    assert not (cache / (stem + ".gz")).exists()
    assert not any(p.name.endswith(".part") for p in cache.iterdir())


def test_a_path_is_read_without_the_network(dataset, archives, monkeypatch, tmp_path):
    name, load, _, _ = dataset
    files, (images, labels) = archives
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    folder = tmp_path / "mine"
    folder.mkdir()
    for stem, data in files.items():
        (folder / (stem + ".gz")).write_bytes(data)
    X_test, y_test = load(folder, split="test")
    assert_array_equal(y_test, labels[N_TRAIN:])
    with pytest.raises(FileNotFoundError, match="path: got"):
        load(tmp_path / "nowhere")


def test_the_download_shows_a_progress_bar(dataset, capsys):
    _, load, _, _ = dataset
    load()
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_pinned_files_are_four_sha256_digests(name):
    source = getattr(_download, SOURCES[name])
    assert source.of == "archive" and source.name == name and source.mirrors
    assert sorted(source.files) == sorted(datasets._idx.IDX_NAMES)
    for digest, size in source.files.values():
        assert re.fullmatch("[0-9a-f]{64}", digest) and size > 1000


def test_class_names():
    assert len(datasets.FASHION_MNIST_CLASSES) == len(datasets.KMNIST_CLASSES) == 10
    assert datasets.FASHION_MNIST_CLASSES[9] == "Ankle boot"
