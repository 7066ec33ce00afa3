"""Builds the compiled loops (eie_sim/_loops.pyx); everything else is in pyproject.toml.

The extension is optional: without a C compiler the package installs and runs its numpy code
(the same results, slower; ``eie-sim --version`` says which code runs)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("eie_sim._loops", ["eie_sim/_loops.pyx"], include_dirs=["eie_sim"],
               depends=["eie_sim/_gemm_rows.h"], extra_compile_args=["-O3"], optional=True)],
    compiler_directives={"language_level": 3},
))
