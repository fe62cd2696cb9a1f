"""Compiles every kernel (`packing.jit`) ahead of time into one extension module,
`packing._kernels`, with numba's `pycc` (run by `setup.py` when the package is installed:
numba is a build tool here, not a run-time dependency).

Each kernel is compiled for the argument types of its sample, with every array argument
accepting any memory layout (callers pass slices and transposes too), and exported beside a
function returning its `source_hash`, which `packing.jit` checks when it loads the module.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any

from packing import jit


def extension(modules: Sequence[str]) -> Any:
    """The setuptools `Extension` that builds `packing._kernels` from the kernels of
    `modules` (every module holding a kernel; a kernel outside them is missing at run time
    and refused there by name)."""
    from numba import typeof, types
    from numba.pycc import CC

    _numpy_errors()
    os.environ[jit.MODE_ENV] = "build"  # `kernel` then hands back numba dispatchers
    for name in modules:
        importlib.import_module(name)
    cc = CC("_kernels")  # made in this module: the extension lands in `packing`
    for name, f, sample, dispatcher in jit.REGISTRY:
        args = sample()
        dispatcher(*args)  # numba infers the types, the return type too
        sig = dispatcher.overloads[tuple(typeof(a) for a in args)].signature
        anywhere = [
            t.copy(layout="A", readonly=False) if isinstance(t, types.Array) else t
            for t in sig.args
        ]
        cc.export(name, sig.return_type(*anywhere))(f)
        cc.export("hash__" + name, "i8()")(_constant(jit.source_hash(f)))
    return cc.distutils_extension()


def _constant(value: int) -> Callable[[], int]:
    """A function returning `value` (a literal, compiled into the module)."""
    space: dict[str, Any] = {}
    exec(f"def constant():\n    return {int(value)}\n", space)  # noqa: S102 (an int literal)
    got: Callable[[], int] = space["constant"]
    return got


def _numpy_errors() -> None:
    """pycc compiles the exported functions with numba's default flags, whose error model is
    Python's (1.0 / 0.0 raises ZeroDivisionError); the kernels are written, and tested, for
    numpy's (inf or NaN), as `jit` mode compiles them: give pycc's flags numpy's model."""
    from numba.pycc import compiler

    base = compiler.Flags
    if getattr(base, "numpy_errors", False):
        return

    class NumpyErrorFlags(base):  # type: ignore[misc, valid-type]
        numpy_errors = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.error_model = "numpy"

    compiler.Flags = NumpyErrorFlags  # type: ignore[misc]
