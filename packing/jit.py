"""Compiled kernels: a few per-pod array steps fused into one machine-code loop each.

Why: the fill run and the extender answer one pod at a time over a median of 13 distinct node
states, so a numpy call costs more to dispatch (about 1 us) than its arithmetic; a run made
about 1,000 of them per pod (`benchmarks/RESULTS.md`, "Tessera fill-run speed"). A kernel does
the same arithmetic in one call, in the same order, so its answers equal the numpy steps it
replaced bit for bit (each kernel's test compares them).

A kernel is plain Python over arrays and numbers, written for numba's nopython mode and marked
`@kernel(sample)`. It is compiled ahead of time, when the package is installed: `setup.py`
runs `packing.jit_build`, which compiles every kernel with numba into one extension module,
`packing._kernels`. At run time only that module is loaded: numba and LLVM are build tools, not
runtime dependencies (importing them costs a serving process about 120 MB of RSS, where the
extender's whole budget is 150 MB). `TESSERA_KERNELS=jit` compiles them with numba at run time
instead (for editing kernels without reinstalling; numba must be installed).

The compiled module records a hash of each kernel's source and of the constants and kernels
it reads; a kernel whose source changed since the build is refused with a one-line error
naming the fix, never run stale.

Rules for a kernel: nopython, no Python objects; indexes are checked by the caller (compiled
code does not bounds-check); float division follows numpy (inf/NaN, no exception); no
`fastmath` (it would reorder sums). `sample()` returns small arguments of the types callers
pass (array dtypes and dimensions; any memory layout is accepted).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar, cast

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

MODE_ENV = "TESSERA_KERNELS"  # "jit": compile with numba at run time; "build": `jit_build`
COMPILED = "packing._kernels"


class KernelsUnavailable(ImportError):
    """The compiled kernels are missing or older than their source."""


# Every kernel in import order: (exported name, Python function, sample, the callable used)
REGISTRY: list[tuple[str, Callable[..., Any], Callable[[], tuple[Any, ...]], Any]] = []


def kernel(sample: Callable[[], tuple[Any, ...]]) -> Callable[[F], F]:
    """Mark `f` as a kernel (module docstring): the returned callable is its compiled form."""

    def wrap(f: F) -> F:
        name = exported_name(f)
        mode = os.environ.get(MODE_ENV, "")
        if mode in ("jit", "build"):  # (kernels calling kernels need the dispatchers)
            compiled: Any = _numba_jit(f)
        else:
            got, built = _ahead_of_time(name)
            compiled = checked(name, got, sample(), lambda: _verify(name, f, built))
        REGISTRY.append((name, f, sample, compiled))
        return cast(F, compiled)

    return wrap


# Functions only kernels call (`inner`), by their Python function
_INNER: set[Callable[..., Any]] = set()


def inner(f: F) -> F:
    """Mark `f` as a function that kernels call and Python code does not: compiled into each
    kernel that calls it (not exported on its own), so at run time it stays the plain Python
    function and loads no compiler."""
    if os.environ.get(MODE_ENV, "") in ("jit", "build"):
        compiled = _numba_jit(f)
        _INNER.add(compiled.py_func)
        return cast(F, compiled)
    _INNER.add(f)
    return f


def exported_name(f: Callable[..., Any]) -> str:
    """The kernel's name in the compiled module: its module and name, dots as `__`."""
    return f"{f.__module__}.{f.__qualname__}".replace(".", "__")


def source_hash(f: Callable[..., Any]) -> int:
    """A 60-bit hash of what the compiled code of `f` is made from: its source, and the value
    (constants) or source hash (kernels) of every module-level name it reads."""
    h = hashlib.sha256(inspect.getsource(f).encode())
    names = sorted(set(_global_names(f.__code__)))
    for n in names:
        v = f.__globals__.get(n)
        called = None
        if callable(v):  # (a kernel, or a function only kernels call)
            called = getattr(v, "py_func", None) or _python_of(v) or (v if v in _INNER else None)
        if called is not None and called is not f:
            h.update(f"{n}=kernel:{source_hash(called)}".encode())
        elif isinstance(v, int | float | bool | str | bytes | tuple | type(None)):
            h.update(f"{n}={v!r}".encode())
        elif hasattr(v, "dtype") and hasattr(v, "tobytes"):  # a global array: a constant too
            h.update(f"{n}={v.dtype}{getattr(v, 'shape', ())}".encode() + v.tobytes())
    return int(h.hexdigest()[:15], 16)


def _global_names(code: Any) -> list[str]:
    out = list(code.co_names)
    for c in code.co_consts:
        if inspect.iscode(c):
            out += _global_names(c)
    return out


def _python_of(v: object) -> Callable[..., Any] | None:
    """The Python source function of a registered kernel's compiled callable `v`, if any."""
    for _, f, _, compiled in REGISTRY:
        if compiled is v:
            return f
    return None


def _numba_jit(f: Callable[..., Any]) -> Any:
    import numba  # a build tool; at run time only with TESSERA_KERNELS=jit

    return numba.njit(cache=True, nogil=True, error_model="numpy")(f)


_module: ModuleType | None = None


def _ahead_of_time(name: str) -> tuple[Callable[..., Any], Callable[[], int]]:
    """The compiled kernel `name` and its built source hash, or `KernelsUnavailable`."""
    global _module
    if _module is None:
        try:
            _module = importlib.import_module(COMPILED)
        except ImportError as exc:
            raise KernelsUnavailable(
                f"Tessera's compiled kernels ({COMPILED}) are not built ({exc}): reinstall "
                f"(`python3 -m pip install -e .`), or set {MODE_ENV}=jit to compile them at run "
                "time with numba"
            ) from None
    got = getattr(_module, name, None)
    built = getattr(_module, "hash__" + name, None)
    if got is None or built is None:
        raise _stale(name)
    return got, built


def _verify(name: str, f: Callable[..., Any], built: Callable[[], int]) -> None:
    """Refuse a compiled kernel built from another source than `f`'s. Checked at the first
    call, not at import: a kernel may read constants its module defines after it (numba
    reads them when it compiles, so the hash covers them)."""
    if built() != source_hash(f):
        raise _stale(name)


def _stale(name: str) -> KernelsUnavailable:
    return KernelsUnavailable(
        f"Tessera's compiled kernel {name} is missing or older than its source: reinstall "
        f"(`python3 -m pip install -e .`), or set {MODE_ENV}=jit to compile it at run time "
        "with numba"
    )


def checked(
    name: str,
    compiled: Callable[..., Any],
    sample: tuple[Any, ...],
    verify: Callable[[], None] | None = None,
) -> Any:
    """`compiled` behind a check of every argument against the sample's types: compiled
    code reads an array as the dtype and dimensions it was built for, whatever it is handed,
    so a wrong one would be misread (or crash the process), never refused. A wrong argument
    raises a one-line `TypeError` naming the kernel, the argument and both types instead.
    `verify` runs once, at the first call."""
    env: dict[str, Any] = {"C": compiled, "ndarray": np.ndarray, "bad": _bad(name, sample)}
    env["PENDING"], env["verify"] = verify is not None, verify
    params = [f"a{i}" for i in range(len(sample))]
    lines = [f"def call({', '.join(params)}):", "    global PENDING"]
    lines += ["    if PENDING:", "        verify()", "        PENDING = False"]
    for i, (p, want) in enumerate(zip(params, sample, strict=True)):
        if isinstance(want, np.ndarray):
            env[f"D{i}"] = want.dtype
            lines.append(
                f"    if not (type({p}) is ndarray and {p}.ndim == {want.ndim} and "
                f"({p}.dtype is D{i} or ({p}.dtype == D{i} and {p}.dtype.isnative))): "
                f"bad({i}, {p})"
            )
        else:
            env[f"K{i}"] = _SCALARS[type(want)]
            lines.append(f"    if not isinstance({p}, K{i}): bad({i}, {p})")
    lines.append(f"    return C({', '.join(params)})")
    exec("\n".join(lines), env)  # noqa: S102 (made from the sample's types only)
    call: Callable[..., Any] = env["call"]
    call.__name__ = call.__qualname__ = name
    return call


# The Python scalars a kernel's number parameter accepts, by the sample's type
_SCALARS: dict[type, tuple[type, ...]] = {
    bool: (bool, np.bool_),
    int: (int, np.integer),
    float: (int, float, np.integer, np.floating),
}


def _bad(name: str, sample: tuple[Any, ...]) -> Callable[[int, Any], None]:
    def bad(i: int, got: Any) -> None:
        want = sample[i]
        expected = (
            f"an array of dtype {want.dtype} with {want.ndim} dimension(s)"
            if isinstance(want, np.ndarray)
            else f"a {type(want).__name__}"
        )
        seen = (
            f"an array of dtype {got.dtype} with {got.ndim} dimension(s)"
            if isinstance(got, np.ndarray)
            else f"{type(got).__name__}"
        )
        raise TypeError(f"kernel {name}: argument {i} must be {expected}, got {seen}")

    return bad
