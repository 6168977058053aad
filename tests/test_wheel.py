"""Build a wheel from this source tree, install it into a fresh virtual environment, train with it.

This is what a user of ``pip install fastmlp`` gets: the compiled extension inside the wheel, the
dependencies from PyPI, nothing from the source tree (the script runs in a temporary folder with
a clean environment). The build runs in pip's or build's isolated environment, so it needs PyPI.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Not needed to build a wheel; skipping them keeps the copy small and leaves the tree untouched.
_IGNORE = shutil.ignore_patterns(
    ".git",
    ".ci-venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.so",
    "*.pyd",
    ".pytest_cache",
    "benchmarks",
    "examples",
    "tests",
)

_SMOKE = textwrap.dedent("""
    import os, sys
    import numpy as np
    import fastmlp
    assert "site-packages" in fastmlp.__file__, fastmlp.__file__
    import fastmlp._kernels
    assert fastmlp._kernels.__file__.endswith((".so", ".pyd")), fastmlp._kernels.__file__
    rng = np.random.default_rng(0)
    X = rng.random((512, 20), dtype=np.float32)
    y = (X[:, 0] + X[:, 1] > 1.0).astype(np.int64)
    net = fastmlp.MLP([20, 16, 2], seed=0)
    net.fit(X, y, epochs=30, batch_size=32, optimizer=fastmlp.SGD(lr=0.1, momentum=0.9), verbose=0)
    accuracy = net.evaluate(X, y)["accuracy"]
    assert accuracy > 0.9, accuracy
    net.save("smoke.npz")
    assert (fastmlp.load("smoke.npz").predict(X) == net.predict(X)).all()
    (X_test, y_test) = fastmlp.datasets.load_mnist(split="test")  # MNIST ships inside the wheel
    assert "site-packages" in str(fastmlp.datasets.MNIST_DIR) and X_test.shape == (10000, 784)
    print("ok", fastmlp.__version__, accuracy)
""")


def _run(args, cwd, timeout=900):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_trains(tmp_path):
    if not (REPO / "pyproject.toml").exists():
        pytest.skip("not running from a source tree")
    if importlib.util.find_spec("venv") is None or importlib.util.find_spec("ensurepip") is None:
        pytest.skip("the venv module with ensurepip is needed to make a fresh environment")

    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=_IGNORE)
    wheels = tmp_path / "wheels"
    if importlib.util.find_spec("build") is not None:
        _run([sys.executable, "-m", "build", "--wheel", "--outdir", wheels, source], cwd=tmp_path)
    else:
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", wheels, source], cwd=tmp_path)
    (wheel,) = wheels.glob("fastmlp-*.whl")
    assert "-cp3" in wheel.name and "none-any" not in wheel.name  # a binary wheel, not pure Python

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    _run([python, "-m", "pip", "install", "--quiet", wheel], cwd=tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    (work / "smoke.py").write_text(_SMOKE)
    done = _run([python, "smoke.py"], cwd=work, timeout=300)
    assert done.stdout.startswith("ok ")

    # the console script and python -m both come with the wheel
    script = bin_dir / ("fastmlp.exe" if os.name == "nt" else "fastmlp")
    assert _run([script, "--help"], cwd=work).stdout.startswith("usage: fastmlp")
    assert _run([python, "-m", "fastmlp", "--version"], cwd=work).stdout.startswith("fastmlp ")

    # run from the source folder, Python finds its fastmlp (with no compiled code) first: say so
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([python, "-c", "import fastmlp"], cwd=source, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("ImportError: Error importing fastmlp: you are importing it from its source folder")
    assert "run Python from another folder" in message and "pip install -e ." in message
