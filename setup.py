"""Build the one compiled extension, fastmlp._kernels, from Cython and the C sources in csrc/.

Flags: -O3 and no -march=native, so a wheel runs on any CPU of its architecture. The hot
element-wise loops carry GCC's target_clones (see csrc/fastmlp.h), so an AVX2/FMA path is
picked at load time where the CPU has one; the GEMMs are OpenBLAS's, as shipped with SciPy.
-fno-trapping-math changes no value (nothing here reads the floating-point exception flags); it
lets GCC turn a select such as leaky ReLU's, v > 0 ? v : 0.01 v, into vector code, where it kept
a branch per float to spare the flags of the product.
"""

import glob
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    compile_args, link_args, libraries = ["/O2"], [], []
else:
    compile_args = [
        "-O3",
        "-std=c99",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-ffp-contract=fast",
        "-fopenmp-simd",
        "-pthread",
        "-Wall",
        "-Wno-unused-function",
    ]
    link_args = ["-pthread"]
    libraries = ["dl"] if sys.platform.startswith("linux") else []  # dladdr: csrc/blas_library.c

extension = Extension(
    "fastmlp._kernels",
    sources=["fastmlp/_kernels.pyx"] + sorted(glob.glob("csrc/*.c")),
    include_dirs=["csrc", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    libraries=libraries,
)

setup(
    ext_modules=cythonize(
        [extension], language_level=3, compiler_directives={"boundscheck": False, "wraparound": False}
    )
)
