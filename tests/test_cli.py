"""The fastmlp command line: every subcommand, its exit status and its messages."""

import os
import struct
import gzip
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import cli, datasets

N_TRAIN, N_TEST = 600, 200


def _write_idx(path, array):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


@pytest.fixture(scope="module")
def small_mnist(mnist, tmp_path_factory):
    """A folder with the four IDX files holding the first 600 training and 200 test rows of MNIST."""
    (X, y), (X_test, y_test) = mnist
    folder = tmp_path_factory.mktemp("mnist")
    to_pixels = lambda a: np.rint(a * 255).reshape(-1, 28, 28)  # noqa: E731
    _write_idx(folder / "train-images-idx3-ubyte", to_pixels(X[:N_TRAIN]))
    _write_idx(folder / "train-labels-idx1-ubyte", y[:N_TRAIN])
    _write_idx(folder / "t10k-images-idx3-ubyte", to_pixels(X_test[:N_TEST]))
    _write_idx(folder / "t10k-labels-idx1-ubyte", y_test[:N_TEST])
    return folder


@pytest.fixture(scope="module")
def model_file(small_mnist, tmp_path_factory):
    """A model trained through the command line on the small MNIST."""
    path = tmp_path_factory.mktemp("model") / "net.npz"
    status = cli.main(
        [
            "train",
            "--data",
            str(small_mnist),
            "--hidden",
            "32",
            "--epochs",
            "5",
            "--seed",
            "0",
            "--batch-size",
            "32",
            "--verbose",
            "0",
            "--out",
            str(path),
        ]
    )
    assert status == 0
    return path


def _run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _one_line_error(err, command):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fastmlp {command}: error: ")
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------------------------------------- usage


@pytest.mark.parametrize(
    "argv", [["--help"], ["train", "--help"], ["evaluate", "--help"], ["predict", "--help"], ["doctor", "--help"]]
)
def test_help_everywhere(capsys, argv):
    status, out, _ = _run(capsys, *argv)
    assert status == 0
    assert out.startswith("usage: fastmlp")


def test_version(capsys):
    status, out, _ = _run(capsys, "--version")
    assert status == 0 and out.strip() == f"fastmlp {fastmlp.__version__}"


@pytest.mark.parametrize(
    "argv, fragment",
    [
        ([], "required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
        (["train", "--epochs", "many"], "--epochs"),
        (["train", "--sizes", "784,x,10"], "--sizes"),
        (["train", "--sizes", "784,10", "--hidden", "30"], "not allowed with"),
        (["train", "--lr", "-1"], "--lr"),
        (["train", "--optimizer", "rmsprop"], "--optimizer"),
        (["evaluate"], "model"),
        (["predict", "model.npz"], "INPUT"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, fragment):
    status, out, err = _run(capsys, *argv)
    assert status == 2
    assert "usage: fastmlp" in err and fragment in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------- train


def test_train_saves_model_and_plots(small_mnist, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out_path, plots = tmp_path / "m.npz", tmp_path / "plots"
    status, out, err = _run(
        capsys,
        "train",
        "--data",
        str(small_mnist),
        "--hidden",
        "16,16",
        "--epochs",
        "2",
        "--limit",
        "200",
        "--activation",
        "tanh",
        "--optimizer",
        "adam",
        "--lr",
        "0.003",
        "--seed",
        "1",
        "--verbose",
        "2",
        "--out",
        str(out_path),
        "--plot",
        str(plots),
    )
    assert status == 0, err
    assert "Epoch 2/2" in out and "val_accuracy" in out
    assert "test accuracy: " in out and f"saved model to {out_path}" in out
    net = fastmlp.load(out_path)
    assert net.sizes == [784, 16, 16, 10] and net.activation == "tanh"
    for name in ("history.png", "confusion_matrix.png", "misclassified.png", "weights.png"):
        data = (plots / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000


def test_train_learns(model_file, small_mnist, capsys):
    net = fastmlp.load(model_file)
    assert net.sizes == [784, 32, 10]
    status, out, _ = _run(capsys, "evaluate", str(model_file), "--data", str(small_mnist))
    assert status == 0
    values = dict(line.split(": ") for line in out.strip().splitlines())
    assert float(values["accuracy"]) > 0.7 and values["rows"] == str(N_TEST)
    status, out, _ = _run(capsys, "evaluate", str(model_file), "--data", str(small_mnist), "--split", "train")
    assert status == 0 and "rows: 600" in out


def test_train_seed_is_reproducible(small_mnist, tmp_path):
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path in paths:
        assert (
            cli.main(
                [
                    "train",
                    "--data",
                    str(small_mnist),
                    "--hidden",
                    "8",
                    "--epochs",
                    "1",
                    "--seed",
                    "3",
                    "--verbose",
                    "0",
                    "--validation-split",
                    "0.1",
                    "--out",
                    str(path),
                ]
            )
            == 0
        )
    a, b = (fastmlp.load(p) for p in paths)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


def test_train_sizes_and_sgd_options(small_mnist, tmp_path, capsys):
    path = tmp_path / "s.npz"
    status, _, err = _run(
        capsys,
        "train",
        "--data",
        str(small_mnist),
        "--sizes",
        "784,20,10",
        "--epochs",
        "1",
        "--momentum",
        "0.5",
        "--nesterov",
        "--weight-decay",
        "1e-4",
        "--limit",
        "100",
        "--output",
        "sigmoid",
        "--loss",
        "mse",
        "--verbose",
        "0",
        "--out",
        str(path),
    )
    assert status == 0, err
    net = fastmlp.load(path)
    assert net.sizes == [784, 20, 10] and net.output == "sigmoid" and net.loss == "mse"


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--sizes", "100,10"], "784 features"),
        (["--sizes", "784,10,5"], "10 classes"),
        (["--sizes", "784"], "at least inputs and classes"),
    ],
)
def test_train_failures_exit_1_with_one_line(small_mnist, tmp_path, capsys, argv, fragment):
    status, _, err = _run(
        capsys,
        "train",
        "--data",
        str(small_mnist),
        "--verbose",
        "0",
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "x.npz"),
        *argv,
    )
    assert status == 1
    assert fragment in _one_line_error(err, "train")
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_wrong_data_path_exits_1_naming_the_option(command, model_file, tmp_path, capsys):
    argv = ["--out", str(tmp_path / "x.npz")] if command == "train" else [str(model_file)]
    status, _, err = _run(capsys, command, *argv, "--data", str(tmp_path / "nowhere"))
    assert status == 1
    message = _one_line_error(err, command)
    assert "--data: got" in message and "does not exist" in message
    (tmp_path / "empty").mkdir()
    status, _, err = _run(capsys, command, *argv, "--data", str(tmp_path / "empty"))
    assert status == 1 and "--data: got" in _one_line_error(err, command)


def test_train_default_data_is_the_mnist_inside_fastmlp(tmp_path, capsys, monkeypatch):
    # from any folder after pip install: the copy that ships in the package
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    status, out, err = _run(
        capsys,
        "train",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--limit",
        "500",
        "--verbose",
        "0",
        "--out",
        str(tmp_path / "model.npz"),
    )
    assert status == 0, err
    assert (tmp_path / "model.npz").exists()
    assert "test accuracy" in out


# ------------------------------------------------------------------------------------------- evaluate


def test_evaluate_missing_and_corrupt_model(small_mnist, tmp_path, capsys):
    status, _, err = _run(capsys, "evaluate", str(tmp_path / "none.npz"), "--data", str(small_mnist))
    assert status == 1 and "none.npz" in _one_line_error(err, "evaluate")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    status, _, err = _run(capsys, "evaluate", str(bad), "--data", str(small_mnist))
    assert status == 1 and "not a" in _one_line_error(err, "evaluate")


def test_evaluate_reads_only_the_test_rows(small_mnist, model_file, tmp_path, capsys):
    folder = tmp_path / "test-only"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"):
        (folder / name).write_bytes((small_mnist / name).read_bytes())
    (folder / "train-images-idx3-ubyte").write_bytes(b"broken")  # never read
    status, out, err = _run(capsys, "evaluate", str(model_file), "--data", str(folder))
    assert status == 0, err
    assert f"rows: {N_TEST}" in out
    status, _, err = _run(capsys, "evaluate", str(model_file), "--data", str(folder), "--split", "train")
    assert status == 1 and "train-images-idx3-ubyte" in _one_line_error(err, "evaluate")


def test_evaluate_default_data_is_the_mnist_inside_fastmlp(model_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    status, out, err = _run(capsys, "evaluate", str(model_file))
    assert status == 0, err
    assert "rows: 10000" in out


def test_evaluate_wrong_input_size(small_mnist, tmp_path, capsys):
    path = fastmlp.MLP([100, 10], seed=0).save(tmp_path / "small.npz")
    status, _, err = _run(capsys, "evaluate", path, "--data", str(small_mnist))
    assert status == 1 and "100 features" in _one_line_error(err, "evaluate")


# -------------------------------------------------------------------------------------------- predict


@pytest.fixture(scope="module")
def digits(mnist):
    (_, _), (X_test, y_test) = mnist
    return X_test[:12], y_test[:12]


def _labels(out):
    return [int(line) for line in out.strip().splitlines()]


def _named_labels(out):
    return [(name, int(label)) for name, label in (line.split("\t") for line in out.strip().splitlines())]


def test_predict_from_idx_npy_and_csv(model_file, digits, tmp_path, capsys):
    X, _ = digits
    expected = fastmlp.load(model_file).predict(X).tolist()
    pixels = np.rint(X * 255).astype(np.uint8)

    _write_idx(tmp_path / "images-idx3-ubyte", pixels.reshape(-1, 28, 28))
    np.save(tmp_path / "images.npy", pixels.reshape(-1, 28, 28))
    np.save(tmp_path / "floats.npy", X)
    with open(tmp_path / "rows.csv", "w") as file:
        file.write("label," + ",".join(f"p{i}" for i in range(784)) + "\n")
        for row in pixels:
            file.write("0," + ",".join(map(str, row)) + "\n")
    np.savetxt(tmp_path / "plain.csv", pixels, fmt="%d", delimiter=",")

    for name in ("images-idx3-ubyte", "images.npy", "floats.npy", "rows.csv", "plain.csv"):
        status, out, err = _run(capsys, "predict", str(model_file), str(tmp_path / name))
        assert status == 0, err
        assert _labels(out) == expected, name
    # more than one input: each line names its row
    npy, csv = str(tmp_path / "images.npy"), str(tmp_path / "plain.csv")
    status, out, _ = _run(capsys, "predict", str(model_file), npy, csv)
    names = [f"{npy}[{i}]" for i in range(len(X))] + [f"{csv}[{i}]" for i in range(len(X))]
    assert status == 0 and _named_labels(out) == list(zip(names, expected * 2))


def test_predict_from_png_images(model_file, digits, tmp_path, capsys):
    image = pytest.importorskip("matplotlib.image")
    X, _ = digits
    expected = fastmlp.load(model_file).predict(X[:3]).tolist()
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(3):  # MNIST itself: a light digit on black, 28 x 28, grayscale
        image.imsave(folder / f"digit{i}.png", X[i].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    status, out, err = _run(capsys, "predict", str(model_file), str(folder))
    assert status == 0, err
    assert _named_labels(out) == [(str(folder / f"digit{i}.png"), label) for i, label in enumerate(expected)]
    status, out, _ = _run(capsys, "predict", str(model_file), str(folder / "digit1.png"), "--proba")
    fields = out.strip().split("\t")  # one image: its label alone, then the probabilities
    assert status == 0 and int(fields[0]) == expected[1] and len(fields) == 11
    assert abs(sum(float(p) for p in fields[1:]) - 1.0) < 1e-4
    two = [str(folder / "digit2.png"), str(folder / "digit0.png")]
    status, out, _ = _run(capsys, "predict", str(model_file), *two, "--proba")
    lines = [line.split("\t") for line in out.strip().splitlines()]
    assert status == 0 and [(f[0], int(f[1])) for f in lines] == list(zip(two, [expected[2], expected[0]]))
    assert all(len(f) == 12 for f in lines)


def test_to_mnist_normalises_a_drawn_digit(digits):
    X, _ = digits
    digit = X[0].reshape(28, 28)
    drawn = 1.0 - np.kron(digit, np.ones((5, 5)))  # 140 x 140, dark ink on white paper
    drawn = np.pad(drawn, ((10, 40), (60, 5)), constant_values=1.0)  # off-centre
    rgba = np.dstack([drawn, drawn, drawn, np.ones_like(drawn)])
    result = datasets.to_mnist(rgba)
    assert result.shape == (28, 28) and result.dtype == np.float32
    assert 0.0 <= result.min() and result.max() <= 1.0
    assert np.corrcoef(result.ravel(), digit.ravel())[0, 1] > 0.8
    transparent = np.zeros((50, 50, 4))
    transparent[10:40, 24:27, 3] = 1.0  # a black stroke on a transparent background
    stroke = datasets.to_mnist(transparent)
    assert stroke.max() > 0.5 and stroke[0, 0] == 0.0


def test_predict_failures_exit_1(model_file, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello,world\n1,2\n")
    (tmp_path / "x.bin").write_bytes(b"\0" * 10)
    np.save(tmp_path / "wrong.npy", np.zeros((3, 100)))
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.png").write_bytes(b"not a png")
    for name, fragment in [
        ("missing.png", "no such file"),
        ("x.bin", "unrecognised input"),
        ("wrong.npy", "shape (3, 100)"),
        ("notes.txt", "expected 784"),
        ("empty", "no images"),
        ("broken.png", "cannot read"),
    ]:
        status, out, err = _run(capsys, "predict", str(model_file), str(tmp_path / name))
        assert status == 1, name
        assert fragment in _one_line_error(err, "predict"), name
        assert out == ""


# --------------------------------------------------------------------------------------------- doctor


def test_doctor_is_wired(capsys):
    status, out, err = _run(capsys, "doctor", "--help")
    assert status == 0 and "usage: fastmlp doctor" in out


# -------------------------------------------------------------------------------------- as a program


def test_python_m_fastmlp(tmp_path):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run(
        [sys.executable, "-m", "fastmlp", "--help"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: fastmlp")
    done = subprocess.run(
        [sys.executable, "-m", "fastmlp", "train", "--epochs", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2 and "--epochs" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "fastmlp", "evaluate", "nothing.npz"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("fastmlp evaluate: error:")


# ---------------------------------------------------------------------------------- issue 18's cases


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--momentum", "1.5"],
        ["train", "--validation-split", "1.0"],
        ["train", "--momentum", "0", "--nesterov"],
        ["train", "--optimizer", "adam", "--momentum", "0.5"],
    ],
)
def test_bad_option_values_are_usage_errors(capsys, argv):
    status, _, err = _run(capsys, *argv)
    assert status == 2, err
    assert "Traceback" not in err


def test_out_into_a_missing_folder_fails_before_training(capsys, small_mnist, tmp_path):
    missing = tmp_path / "no" / "such" / "model.npz"
    status, out, err = _run(capsys, "train", "--data", str(small_mnist), "--out", str(missing), "--verbose", "0")
    assert status == 1 and "test accuracy" not in out
    assert str(missing) in _one_line_error(err, "train")


@pytest.mark.parametrize("content", [b"", gzip.compress(b"1,2,3\n")[:12]])
def test_unreadable_inputs_to_predict_are_one_line_errors(capsys, model_file, tmp_path, content):
    path = tmp_path / ("empty.npy" if not content else "cut.csv.gz")
    path.write_bytes(content)
    status, _, err = _run(capsys, "predict", str(model_file), str(path))
    assert status == 1
    _one_line_error(err, "predict")


def test_predict_refuses_a_device_in_one_line(capsys, model_file):
    status, _, err = _run(capsys, "predict", str(model_file), os.devnull)
    assert status == 1 and "a device" in _one_line_error(err, "predict")


def test_predict_with_a_regression_model_prints_its_values(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.random((5, 784)).astype(np.float32)
    net = fastmlp.MLP([784, 8, 2], output="identity", loss="mse", seed=0)
    np.save(tmp_path / "rows.npy", X)
    status, out, err = _run(capsys, "predict", str(net.save(tmp_path / "reg.npz")), str(tmp_path / "rows.npy"))
    assert status == 0, err
    values = np.array([[float(v) for v in line.split("\t")] for line in out.strip().splitlines()])
    np.testing.assert_allclose(values, net.predict(X), rtol=1e-5, atol=1e-6)
