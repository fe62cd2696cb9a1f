"""Compiled kernels: a few per-pod array steps fused into one machine-code loop each (numba).

Why: the fill run and the extender answer one pod at a time over a median of 13 distinct node
states, so a numpy call costs more to dispatch (about 1 us) than its arithmetic; a run makes
about 1,000 of them per pod (`benchmarks/RESULTS.md`, "Tessera fill-run speed"). A kernel
does the same arithmetic in one call, in the same order, so its answers equal the numpy steps
it replaces bit for bit (each kernel's test compares them).

Kernels compile on their first call and are cached on disk (numba's `cache=True`: beside the
module in `__pycache__`, or under `NUMBA_CACHE_DIR`), so a process pays the compile once per
machine. `warm()` compiles (or loads) every registered kernel from its sample arguments: the
extender calls it before it reports ready, so no request waits for a compile.

Rules for a kernel: nopython, no Python objects, no allocation it can avoid; indexes are
checked by the caller (numba does not bounds-check); float division follows numpy (inf/NaN,
no exception: `error_model="numpy"`); no `fastmath` (it would reorder sums).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])

# (compiled kernel, its sample arguments), in registration (import) order
_KERNELS: list[tuple[Callable[..., Any], Callable[[], tuple[Any, ...]]]] = []


def kernel(sample: Callable[[], tuple[Any, ...]]) -> Callable[[F], F]:
    """Compile `f` with numba (nopython, cached on disk, releasing the GIL) and register it
    for `warm()`; `sample()` gives arguments of the types the callers pass (arrays of the
    same dtypes and dimensions), small ones."""

    def wrap(f: F) -> F:
        compiled = numba.njit(cache=True, nogil=True, error_model="numpy")(f)
        _KERNELS.append((compiled, sample))
        return cast(F, compiled)

    return wrap


def warm() -> tuple[int, float]:
    """Compile or load every registered kernel (those of the modules imported so far) by
    calling it on its sample: (kernels, seconds taken)."""
    start = time.perf_counter()
    for compiled, sample in _KERNELS:
        compiled(*sample())
    return len(_KERNELS), time.perf_counter() - start


def kernels() -> tuple[Callable[..., Any], ...]:
    """The registered kernels, in import order."""
    return tuple(k for k, _ in _KERNELS)
