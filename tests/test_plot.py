"""fastmlp.plot: every figure has axes with something drawn, and saves as a non-empty PNG."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import fastmlp  # noqa: E402
import fastmlp.plot  # noqa: E402
from fastmlp.callbacks import History  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _saved_png(fig, tmp_path, name="fig.png"):
    path = tmp_path / name
    fig.savefig(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 50 and image.shape[1] > 50
    assert image[..., :3].std() > 0  # not a blank canvas
    return path


def _drawn(ax):
    return len(ax.lines) + len(ax.images) + len(ax.patches) + len(ax.collections) + len(ax.texts)


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X = rng.random((200, 784), dtype=np.float32)
    y = rng.integers(0, 10, 200)
    net = fastmlp.MLP([784, 16, 10], seed=0)
    history = net.fit(X[:150], y[:150], epochs=3, batch_size=32, validation_data=(X[150:], y[150:]), verbose=0)
    return net, history, X, y


def test_history_from_fit(trained, tmp_path):
    _, history, _, _ = trained
    fig = fastmlp.plot.history(history)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    for ax in axes:
        assert len(ax.lines) == 2  # training and validation
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
        assert len(ax.lines[0].get_xdata()) == 3
    _saved_png(fig, tmp_path)


def test_history_from_dict_without_validation(tmp_path):
    fig = fastmlp.plot.history({"loss": [1.0, 0.5, 0.3]}, title="run 1")
    (ax,) = fig.get_axes()
    assert len(ax.lines) == 1 and ax.get_title() == "loss"
    _saved_png(fig, tmp_path)


def test_history_bad_input():
    with pytest.raises(TypeError, match="history_or_dict"):
        fastmlp.plot.history([1, 2, 3])
    with pytest.raises(ValueError, match="no epochs"):
        fastmlp.plot.history(History())


def test_confusion_matrix(tmp_path):
    y_true = np.array([0, 1, 2, 2, 1, 0, 2])
    y_pred = np.array([0, 2, 2, 2, 1, 0, 1])
    fig = fastmlp.plot.confusion_matrix(y_true, y_pred)
    ax = fig.get_axes()[0]
    counts = np.asarray(ax.images[0].get_array())
    assert counts.tolist() == [[2, 0, 0], [0, 1, 1], [0, 1, 2]]
    assert len(ax.texts) == 9 and "accuracy" in ax.get_title()
    _saved_png(fig, tmp_path)
    normalized = fastmlp.plot.confusion_matrix(y_true, y_pred, normalize=True)
    rows = np.asarray(normalized.get_axes()[0].images[0].get_array())
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="same number"):
        fastmlp.plot.confusion_matrix([0, 1], [0])


def test_misclassified(trained, tmp_path):
    net, _, X, y = trained
    y_pred = net.predict(X)
    wrong = int(np.sum(y_pred != y))
    assert wrong > 25
    fig = fastmlp.plot.misclassified(X, y, y_pred, n=25)
    with_images = [ax for ax in fig.get_axes() if ax.images]
    assert len(with_images) == 25
    assert with_images[0].images[0].get_array().shape == (28, 28)
    first = np.flatnonzero(y_pred != y)[0]
    assert with_images[0].get_title() == f"true {y[first]}, pred {y_pred[first]}"
    _saved_png(fig, tmp_path)
    # the figure's title clear of the first row's
    renderer = fig.canvas.get_renderer()
    suptitle = fig._suptitle.get_window_extent(renderer)
    for ax in with_images[:5]:
        assert ax.title.get_window_extent(renderer).y1 < suptitle.y0


def test_misclassified_when_all_correct(tmp_path):
    X = np.zeros((3, 784))
    fig = fastmlp.plot.misclassified(X, [1, 2, 3], [1, 2, 3])
    assert "no misclassified" in fig.get_axes()[0].texts[0].get_text()
    _saved_png(fig, tmp_path)


def test_misclassified_needs_square_images():
    with pytest.raises(ValueError, match="square"):
        fastmlp.plot.misclassified(np.zeros((2, 10)), [0, 1], [1, 0])


def test_weights(trained, tmp_path):
    net, _, _, _ = trained
    fig = fastmlp.plot.weights(net, n=64)
    with_images = [ax for ax in fig.get_axes() if ax.images]
    assert len(with_images) == 16  # only 16 hidden units
    np.testing.assert_allclose(with_images[3].images[0].get_array(), net.weights[0][:, 3].reshape(28, 28), rtol=1e-6)
    # one colour scale for all, read off a colour bar
    limits = {ax.images[0].get_clim() for ax in with_images}
    assert limits == {(-np.abs(net.weights[0]).max(), np.abs(net.weights[0]).max())}
    (bar,) = [ax for ax in fig.get_axes() if not ax.images]
    assert bar.get_ylabel() == "weight"
    _saved_png(fig, tmp_path)
    assert len([ax for ax in fastmlp.plot.weights(net, n=5).get_axes() if ax.images]) == 5


def test_weights_need_square_inputs():
    with pytest.raises(ValueError, match="square"):
        fastmlp.plot.weights(fastmlp.MLP([10, 4, 2]))


def test_every_figure_draws_something(trained):
    net, history, X, y = trained
    y_pred = net.predict(X)
    for fig in (
        fastmlp.plot.history(history),
        fastmlp.plot.confusion_matrix(y, y_pred),
        fastmlp.plot.misclassified(X, y, y_pred),
        fastmlp.plot.weights(net),
    ):
        assert isinstance(fig, matplotlib.figure.Figure)
        assert fig.get_axes() and any(_drawn(ax) for ax in fig.get_axes())


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "fastmlp\[plot\]"'):
        fastmlp.plot.history({"loss": [1.0]})


def test_history_names_a_metric_that_is_not_a_list():
    pytest.importorskip("matplotlib")
    import fastmlp.plot

    with pytest.raises(TypeError, match=r"history_or_dict\['loss'\]: got 5"):
        fastmlp.plot.history({"loss": 5})
