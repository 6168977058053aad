"""What the benchmarks read off the machine they run on, shared by bench_train.py and
bench_accuracy.py: the CPU, the BLAS libraries and their kernels, how fast SGEMM runs, how much
of the cores other processes took meanwhile, and which rivals are installed."""

import importlib
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy.linalg.blas import sgemm


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_libraries():
    """Each loaded BLAS: its version, the kernels it picked for this CPU and its threads
    (threadpoolctl where installed)."""
    try:
        import threadpoolctl
    except ImportError:
        return f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} (threadpoolctl not installed)"
    info = threadpoolctl.threadpool_info()
    return (
        ", ".join(
            f"{Path(i['filepath']).name.split('-')[0]} {i.get('version')} "
            f"{i.get('architecture', '')} {i['num_threads']} threads"
            for i in info
            if i["user_api"] == "blas"
        )
        or "none found"
    )


def openblas_coretype():
    """OPENBLAS_CORETYPE, which overrides the kernels OpenBLAS would pick for the CPU: fastmlp's,
    NumPy's and scikit-learn's BLAS follow it; PyTorch's kernels do not."""
    value = os.environ.get("OPENBLAS_CORETYPE")
    if not value:
        return "not set (OpenBLAS picks its kernels for this CPU)"
    return (
        f"{value}, set in the environment: OpenBLAS runs its {value} kernels for fastmlp, NumPy "
        f"and scikit-learn whatever the CPU; PyTorch's own kernels do not follow it"
    )


class OtherLoad:
    """How much of the machine other processes (and the hypervisor's steal) took over an interval:
    the busy CPU time /proc/stat counts, less this process's own, over wall time x cores."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
        own = os.times()
        return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system

    def fraction(self):
        """Fraction of all cores busy with other work since construction, or None off Linux."""
        end = self._sample()
        if self.start is None or end is None:
            return None
        wall, busy, own = (e - s for e, s in zip(end, self.start))
        return max(0.0, (busy - own) / (wall * (os.cpu_count() or 1))) if wall > 0 else None


def load_average():
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def sgemm_peak(n=2048, repeats=5):
    """Best GFLOP/s of scipy's SGEMM (the BLAS fastmlp calls) on n x n float32 matrices."""
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((n, n), dtype=np.float32))
    b = np.asfortranarray(rng.standard_normal((n, n), dtype=np.float32))
    c = np.zeros((n, n), dtype=np.float32, order="F")
    sgemm(1.0, a, b, beta=0.0, c=c, overwrite_c=True)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        sgemm(1.0, a, b, beta=0.0, c=c, overwrite_c=True)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


def rival(module, label, flag, left_out):
    """The rival's module, or None with a note saying why: left out by its flag, or not importable."""
    if left_out:
        print(f"note: {label} left out ({flag})")
        return None
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        print(f"note: {label} is not importable ({exc}); skipped")
        return None
