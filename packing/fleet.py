"""MIG fit vectorised over many GPUs: each GPU is a bitmask of its occupied memory slices.

Every question about one profile on one GPU is answered once per (model, mask) in a lookup
table of shape (2**memory_slices, profiles), so a fleet query is one numpy gather.  The mask
alone decides fit for every profile except the media-extension ones: per-profile maxima equal
the number of disjoint placements and the compute budget follows from the placement rules
(mig-geometry.md 5.4).  tests/packing/test_fleet.py checks the tables against `mig.free_starts`
on every valid layout.  Media-extension profiles also need `me_used` (a +me instance exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from packing.catalogue import GpuModel, MigProfile, get_model
from packing.mig import MigInstance, check_layout, validate_demand

__all__ = [
    "best_start", "can_fit_multiset", "can_place", "fit_table", "masks_of", "start_table",
]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.integer]


def _model(model: GpuModel | str) -> GpuModel:
    return model if isinstance(model, GpuModel) else get_model(model)


def _starts(p: MigProfile, mask: int) -> list[int]:
    return [s for s in p.placements if not mask & p.span(s)]


def _options_left(m: GpuModel, mask: int) -> int:
    """How many (profile, start) choices remain: the tie-break that keeps the most room."""
    return sum(len(_starts(p, mask)) for p in m.profiles)


@lru_cache(maxsize=32)
def _tables(m: GpuModel) -> tuple[BoolArray, npt.NDArray[np.int8]]:
    n = 1 << m.memory_slices
    fits = np.zeros((n, len(m.profiles)), dtype=bool)
    start = np.full((n, len(m.profiles)), -1, dtype=np.int8)
    for mask in range(n):
        for j, p in enumerate(m.profiles):
            cands = _starts(p, mask)
            if cands:
                fits[mask, j] = True
                # most options left after placing; ties to the lowest start
                start[mask, j] = max(cands, key=lambda s: (_options_left(m, mask | p.span(s)), -s))
    fits.setflags(write=False)
    start.setflags(write=False)
    return fits, start


def fit_table(model: GpuModel | str) -> BoolArray:
    """fit_table[mask, j]: profile j (catalogue order) has a free start on a GPU with `mask`."""
    return _tables(_model(model))[0]


def start_table(model: GpuModel | str) -> npt.NDArray[np.int8]:
    """start_table[mask, j]: the start `best_start` picks for profile j, or -1."""
    return _tables(_model(model))[1]


def _index(m: GpuModel, profile: str | MigProfile) -> tuple[int, MigProfile]:
    p = m.profile(profile.name if isinstance(profile, MigProfile) else profile)
    return m.profiles.index(p), p


def _masks(m: GpuModel, masks: npt.ArrayLike) -> IntArray:
    arr = np.asarray(masks)
    if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0
                     or arr.max() >= 1 << m.memory_slices):
        raise ValueError(
            f"GPU masks for {m.key} must be integers in 0..{(1 << m.memory_slices) - 1}")
    return arr.astype(np.intp, copy=False)


def can_place(masks: npt.ArrayLike, model: GpuModel | str, profile: str | MigProfile,
              me_used: npt.ArrayLike | None = None) -> BoolArray:
    """Per GPU: whether `profile` can be created now (same shape as `masks`)."""
    m = _model(model)
    j, p = _index(m, profile)
    ok = _tables(m)[0][_masks(m, masks), j]
    if p.media_extension and me_used is not None:
        ok = ok & ~np.asarray(me_used, dtype=bool)
    return ok


def best_start(masks: npt.ArrayLike, model: GpuModel | str, profile: str | MigProfile,
               me_used: npt.ArrayLike | None = None) -> npt.NDArray[np.int8]:
    """Per GPU: the start to use for `profile` (most options left, lowest on ties) or -1."""
    m = _model(model)
    j, p = _index(m, profile)
    out = _tables(m)[1][_masks(m, masks), j]
    if p.media_extension and me_used is not None:
        out = np.where(np.asarray(me_used, dtype=bool), np.int8(-1), out)
    return out


def masks_of(model: GpuModel | str,
             layouts: Iterable[Iterable[MigInstance]]) -> npt.NDArray[np.uint16]:
    """Occupancy masks of many GPUs' layouts (each layout validated)."""
    m = _model(model)
    return np.fromiter((check_layout(m, lay) for lay in layouts), dtype=np.uint16)


@lru_cache(maxsize=65536)
def _mask_fits(m: GpuModel, mask: int, todo: tuple[int, ...]) -> bool:
    """Whether profiles `todo` (catalogue indices, largest first) all fit around `mask`."""
    if not todo:
        return True
    p = m.profiles[todo[0]]
    return any(_mask_fits(m, mask | p.span(s), todo[1:]) for s in _starts(p, mask))


@lru_cache(maxsize=1024)
def _multiset_table(m: GpuModel, todo: tuple[int, ...]) -> BoolArray:
    """answer[mask] for one demand: built once, then every fleet query is a gather."""
    out = np.fromiter((_mask_fits(m, mask, todo) for mask in range(1 << m.memory_slices)),
                      dtype=bool, count=1 << m.memory_slices)
    out.setflags(write=False)
    return out


def can_fit_multiset(masks: npt.ArrayLike, model: GpuModel | str, demand: Mapping[str, int],
                     me_used: npt.ArrayLike | None = None) -> BoolArray:
    """Per GPU: whether the whole multiset `demand` fits (+me needs `me_used` to be exact)."""
    m = _model(model)
    arr = _masks(m, masks)
    want = validate_demand(m, demand)
    todo = tuple(sorted((m.profiles.index(m.profile(n)) for n, c in want.items()
                         for _ in range(c)),
                        key=lambda j: (-m.profiles[j].memory_slices, j)))
    wants_me = sum(1 for j in todo if m.profiles[j].media_extension)
    if wants_me > 1:
        return np.zeros(arr.shape, dtype=bool)
    out = _multiset_table(m, todo)[arr]
    if wants_me and me_used is not None:
        out = out & ~np.asarray(me_used, dtype=bool)
    return out
