"""What fastmlp learns from SciPy's BLAS library itself (csrc/blas_library.c): the kernel set
OpenBLAS runs, and whether it has kernels for small matrices, for which the minibatch
engine (csrc/parts.c) cuts its products into pieces of rows. The engine's tests run again under
the other kind of kernel set, in a subprocess with OPENBLAS_CORETYPE set, since OpenBLAS picks
its kernels once, when it is loaded."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fastmlp import _kernels

# the kernel tests' helpers
from test_kernels import cpu_flags

TESTS = Path(__file__).resolve().parent


def scipy_openblas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS)

    found = [
        info
        for info in threadpoolctl.threadpool_info()
        if info["internal_api"] == "openblas" and "scipy_openblas-" in info["filepath"]
    ]
    if not found:
        pytest.skip("SciPy's OpenBLAS is not loaded under its usual name")
    return found[0]


def test_core_is_the_one_openblas_reports():
    assert _kernels.BLAS_CORE == scipy_openblas()["architecture"]


@pytest.mark.parametrize(
    "core, small",
    [
        ("SkylakeX", True),
        ("Cooperlake", True),
        ("SapphireRapids", True),
        ("skylakex", True),
        ("Haswell", False),
        ("Zen", False),
        ("Prescott", False),
        ("", False),
    ],
)
def test_kernel_sets_with_small_kernels(core, small):
    assert _kernels.blas_has_small_kernels(core) is small


def test_small_kernels_follow_the_core():
    expected = _kernels.BLAS_CORE is not None and _kernels.blas_has_small_kernels(_kernels.BLAS_CORE)
    assert _kernels.BLAS_SMALL_KERNELS is expected


def cpu_runs_avx512():
    return {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= set(cpu_flags())


def other_core():
    """A kernel set of the other kind than the one loaded: with small kernels or without."""
    if _kernels.BLAS_CORE is None:
        pytest.skip("SciPy's BLAS is not OpenBLAS")
    if _kernels.BLAS_SMALL_KERNELS:
        return "Haswell"
    if not cpu_runs_avx512():
        pytest.skip("OpenBLAS's kernels for small matrices need AVX-512, which this CPU lacks")
    return "SkylakeX"


def test_split_path_under_the_other_kernel_set():
    core = other_core()
    env = dict(os.environ, OPENBLAS_CORETYPE=core)
    # from the tests' folder, where `import fastmlp` finds the installed package, not the source
    check = subprocess.run(
        [sys.executable, "-c", "from fastmlp import _kernels; print(_kernels.BLAS_CORE)"],
        env=env,
        cwd=TESTS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.stdout.strip().lower() == core.lower(), check.stderr
    # the fits against the float64 reference, and the bits against thread counts and chunks,
    # wide batches included (their products are cut into pieces where the kernels are small),
    # and the hidden layers that skip a ReLU's zeros where the kernels are not
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(TESTS / "test_split.py"),
            "-k",
            "reference or bits or hidden",
        ],
        env=env,
        cwd=TESTS,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
