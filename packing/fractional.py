"""Fractional GPU sharing: milli-GPU shares (1000 = one GPU) and GPU memory per GPU.

A request is either a share of one GPU (``count == 1``, ``milli < 1000``) or ``count`` whole
GPUs (``milli == 1000``) -- Alibaba's ``num_gpu``/``gpu_milli``. A GPU's state is its free
milli (0..1000) and, optionally, its free memory in MiB. Node-level arrays pad missing GPUs with
``NO_GPU`` (-1), which no request can fit, so a fleet of mixed nodes is one rectangular array.

Everything here is pure: callers own the state and get new tuples/arrays back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from packing.errors import InvalidCountError, InvalidPlacementError, PackingError

MILLI_PER_GPU = 1000
NO_GPU = -1  # padding in (nodes, gpus) arrays: a slot with no GPU behind it

GpuRule = Literal["best", "worst", "first"]
_RULES: tuple[str, ...] = ("best", "worst", "first")


@dataclass(frozen=True)
class GpuShare:
    """What one pod asks of GPUs: ``count`` GPUs with ``milli`` each (and memory per GPU)."""

    count: int
    milli: int
    memory_mib: int = 0

    def __post_init__(self) -> None:
        for name in ("count", "milli", "memory_mib"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0:
                raise InvalidCountError(f"GPU {name}", value)
        if self.milli > MILLI_PER_GPU:
            raise PackingError(
                f"GPU milli must be at most {MILLI_PER_GPU} (one whole GPU), got {self.milli}"
            )
        if self.count > 1 and self.milli != MILLI_PER_GPU:
            raise PackingError(
                f"a request for {self.count} GPUs must take whole GPUs (milli {MILLI_PER_GPU}), "
                f"got milli {self.milli}"
            )
        if (self.count == 0) != (self.milli == 0):
            raise PackingError(
                f"GPU count and milli must both be zero or both positive, got count "
                f"{self.count} and milli {self.milli}"
            )

    @classmethod
    def from_alibaba(cls, num_gpu: int, gpu_milli: int, memory_mib: int = 0) -> GpuShare:
        """Alibaba openb columns: ``num_gpu`` 0..8, ``gpu_milli`` share per GPU (1000 if whole)."""
        if num_gpu == 0:
            return cls(0, 0, 0)
        return cls(num_gpu, gpu_milli, memory_mib)

    @property
    def is_share(self) -> bool:
        """True for a fraction of one GPU (the GPU may be shared with other pods)."""
        return self.count == 1 and self.milli < MILLI_PER_GPU

    @property
    def total_milli(self) -> int:
        return self.count * self.milli


@lru_cache(maxsize=4096)
def share_of(count: int, milli: int, memory_mib: int = 0) -> GpuShare:
    """`GpuShare(count, milli, memory_mib)`, the checked object memoised (asked per pod, from a
    few thousand shapes; a malformed request raises every time)."""
    return GpuShare(count, milli, memory_mib)


def _check_free(free_milli: Sequence[int]) -> None:
    for i, f in enumerate(free_milli):
        if f != NO_GPU and not 0 <= f <= MILLI_PER_GPU:
            raise PackingError(
                f"free milli of GPU {i} must be within 0..{MILLI_PER_GPU} (or {NO_GPU} for no "
                f"GPU), got {f}"
            )


def gpu_fits(free_milli: int, request: GpuShare, free_memory_mib: int | None = None) -> bool:
    """Whether one GPU with ``free_milli`` (and free memory) can take one unit of ``request``."""
    if free_milli == NO_GPU or free_milli < request.milli:
        return False
    return free_memory_mib is None or free_memory_mib >= request.memory_mib


def fitting_gpus(
    free_milli: Sequence[int],
    request: GpuShare,
    free_memory_mib: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """Indices of the GPUs that can each take one unit of ``request``."""
    _check_free(free_milli)
    return tuple(_fitting(free_milli, request, free_memory_mib))


def _fitting(
    free_milli: Sequence[int], request: GpuShare, free_memory_mib: Sequence[int | None] | None
) -> list[int]:
    """`fitting_gpus` as a list (input checked by the caller): `gpu_fits` of every GPU in
    index order, its test written out (this runs per placed pod: no call per GPU)."""
    milli = request.milli
    if free_memory_mib is None:
        return [i for i, f in enumerate(free_milli) if f != NO_GPU and f >= milli]
    need = request.memory_mib
    return [
        i
        for i, f in enumerate(free_milli)
        if f != NO_GPU and f >= milli and ((m := free_memory_mib[i]) is None or m >= need)
    ]


def node_fits(
    free_milli: Sequence[int],
    request: GpuShare,
    free_memory_mib: Sequence[int] | None = None,
) -> bool:
    """Whether a node's GPUs can hold ``request`` (``count`` distinct GPUs, each fitting)."""
    return len(fitting_gpus(free_milli, request, free_memory_mib)) >= request.count


def choose_gpus(
    free_milli: Sequence[int],
    request: GpuShare,
    rule: GpuRule = "best",
    free_memory_mib: Sequence[int] | None = None,
) -> tuple[int, ...] | None:
    """Which GPUs of one node to give ``request``; None when it does not fit.

    ``best`` takes the GPUs with the least free milli that still fit (tightest, keeps whole GPUs
    free), ``worst`` the most free, ``first`` the lowest indices; ties go to the lower index.
    """
    if rule not in _RULES:
        raise PackingError(f"unknown GPU selection rule {rule!r}; known: {', '.join(_RULES)}")
    count = request.count
    if count == 0:
        return ()
    _check_free(free_milli)
    fit = _fitting(free_milli, request, free_memory_mib)
    if len(fit) < count:
        return None
    if rule == "first":
        return tuple(fit[:count])
    # `fit` is in index order and `sorted` is stable, so ties keep the lower index first.
    if rule == "best":
        if count == 1:  # the first of the least free (`min` keeps the first of equals)
            return (min(fit, key=free_milli.__getitem__),)
        fit.sort(key=free_milli.__getitem__)
    else:
        fit.sort(key=free_milli.__getitem__, reverse=True)
    return tuple(sorted(fit[:count]))


def allocate(free_milli: Sequence[int], request: GpuShare, gpus: Sequence[int]) -> tuple[int, ...]:
    """Free milli after giving ``request`` the GPUs ``gpus``; refuses any over-allocation."""
    _check_free(free_milli)
    if len(gpus) != request.count or len(set(gpus)) != len(gpus):
        raise InvalidPlacementError(
            f"request for {request.count} GPU(s) needs as many distinct GPU indices, got "
            f"{list(gpus)}"
        )
    out = list(free_milli)
    for g in gpus:
        if not 0 <= g < len(out):
            raise InvalidPlacementError(f"GPU index {g} out of range 0..{len(out) - 1}")
        if not gpu_fits(out[g], request):
            raise InvalidPlacementError(
                f"GPU {g} has {out[g]} milli free, cannot take {request.milli}"
            )
        out[g] -= request.milli
    return tuple(out)


def release(free_milli: Sequence[int], request: GpuShare, gpus: Sequence[int]) -> tuple[int, ...]:
    """Free milli after ``request`` leaves ``gpus``; refuses to exceed one whole GPU."""
    _check_free(free_milli)
    out = list(free_milli)
    for g in gpus:
        if out[g] == NO_GPU or out[g] + request.milli > MILLI_PER_GPU:
            raise InvalidPlacementError(
                f"releasing {request.milli} milli on GPU {g} with {out[g]} free would exceed "
                f"{MILLI_PER_GPU}"
            )
        out[g] += request.milli
    return tuple(out)


# ---- vectorised over many nodes: free is an int array (nodes, max_gpus), NO_GPU padded ----


def fits_per_gpu(
    free: np.ndarray, request: GpuShare, free_memory: np.ndarray | None = None
) -> np.ndarray:
    """Boolean (nodes, gpus): each GPU can take one unit of ``request``."""
    ok = free >= max(request.milli, 0)  # NO_GPU (-1) is below any request: padding never fits
    if free_memory is not None and request.memory_mib:
        ok &= free_memory >= request.memory_mib
    return np.asarray(ok)


def fits(free: np.ndarray, request: GpuShare, free_memory: np.ndarray | None = None) -> np.ndarray:
    """Boolean per node: at least ``request.count`` of its GPUs can each take one unit."""
    if request.count == 0:
        return np.ones(free.shape[0], dtype=bool)
    per_gpu = fits_per_gpu(free, request, free_memory)
    if request.count == 1:
        return np.asarray(per_gpu.any(axis=1))
    return np.asarray(per_gpu.sum(axis=1) >= request.count)


def best_gpu(free: np.ndarray, request: GpuShare) -> np.ndarray:
    """Per node, the index of the tightest GPU that fits one unit of a share; -1 if none."""
    ok = fits_per_gpu(free, request)
    # Tightest = least free milli; masked GPUs get a key above any real value.
    key = np.where(ok, free, MILLI_PER_GPU + 1)
    idx = np.argmin(key, axis=1)
    return np.where(ok.any(axis=1), idx, -1)
