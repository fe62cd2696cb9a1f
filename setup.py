"""The compiled kernels (`packing/jit.py`): built by numba's `pycc` when the package is
installed. Everything else about the package is in pyproject.toml."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


class BuildKernels(build_ext):
    """Compiles the kernels when the extension is built (not when setuptools merely reads
    this file for the package's metadata)."""

    def finalize_options(self) -> None:
        if self.distribution.ext_modules == [KERNELS]:
            sys.path.insert(0, str(HERE))
            from packing.jit_build import extension

            config = tomllib.loads((HERE / "pyproject.toml").read_text())
            built = extension(config["tool"]["tessera"]["kernel-modules"])
            self.distribution.ext_modules = [built]
        super().finalize_options()
        # Always rebuilt: the extension's only recorded input is numba's C helper, so a kernel
        # edited since the last in-place build would otherwise count as up to date.
        self.force = True

    def build_extension(self, ext: Extension) -> None:
        prepare = getattr(ext, "_prepare_object_files", None)
        if prepare is not None:  # numba's object files of the compiled kernels
            prepare(self)
        super().build_extension(ext)


# Stands in for the kernels' extension until `BuildKernels` makes it (the same name)
KERNELS = Extension("packing._kernels", sources=[])

setup(ext_modules=[KERNELS], cmdclass={"build_ext": BuildKernels})
