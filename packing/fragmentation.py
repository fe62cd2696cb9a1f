"""Expected fragmentation of MIG GPUs (the FGD measure generalised to MIG) and one entry point
for "how much does this candidate placement increase fragmentation" for MIG or fractional GPUs.

FGD (Weng et al., ATC'23) counts a GPU's free capacity as fragment for a task shape that can no
longer use it, weighted by how popular that shape is in the target workload.  On a MIG GPU the
free capacity is memory slices and a shape is a profile: for profile p, the free slices that no
still-free placement of p covers are fragment for p (slice 3 used on an H100 leaves slices 0-2
unusable for 3g.40gb: 3 slices; slices a profile never reaches do not count).  Expected
fragmentation = sum_p weight_p * fragment_p, in milli-GPU (1000 = the GPU's memory slices), so
MIG and fractional scores share a unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from packing.catalogue import GpuModel, get_model
from packing.errors import PackingError
from packing.fgd import FragTable, frag_increase
from packing.mig import MigInstance, check_layout

__all__ = [
    "FractionalCandidate", "MigCandidate", "default_mix", "fragmentation_increase",
    "mig_frag_table",
    "mig_fragmentation", "mig_fragmentation_fleet", "mig_fragmentation_increase", "normalise_mix",
    "profile_fragment_slices",
]

MILLI = 1000  # same unit as packing.fractional.MILLI_PER_GPU


def _model(model: GpuModel | str) -> GpuModel:
    return model if isinstance(model, GpuModel) else get_model(model)


def default_mix(model: GpuModel | str) -> dict[str, float]:
    """Uniform weight over the model's profiles without media extensions."""
    m = _model(model)
    names = [p.name for p in m.profiles if not p.media_extension]
    return {n: 1.0 / len(names) for n in names}


def normalise_mix(model: GpuModel | str, mix: Mapping[str, float] | None) -> tuple[float, ...]:
    """Weights per catalogue profile (summing to 1); None means `default_mix`."""
    m = _model(model)
    mix = default_mix(m) if mix is None else mix
    w = [0.0] * len(m.profiles)
    for name, weight in mix.items():
        p = m.profile(name)
        if isinstance(weight, bool) or not isinstance(weight, int | float) \
                or not math.isfinite(weight) or weight < 0:
            raise PackingError(f"workload mix weight for {p.name} must be a finite number >= 0, "
                               f"got {weight!r}")
        w[m.profiles.index(p)] += float(weight)
    total = sum(w)
    if total <= 0:
        raise PackingError(f"workload mix for {m.key} has no positive weight: {dict(mix)!r}")
    return tuple(x / total for x in w)


def profile_fragment_slices(model: GpuModel | str, mask: int, profile: str) -> int:
    """Free slices that `profile` could cover on an empty GPU but no free placement covers now.

    (Slices a profile never reaches, like slice 7 for 1g.10gb, are not its fragment: an empty
    GPU has zero fragmentation.)
    """
    m = _model(model)
    p = m.profile(profile)
    reach = usable = 0
    for s in p.placements:
        reach |= p.span(s)
        if not mask & p.span(s):
            usable |= p.span(s)
    return bin(reach & ~mask & ~usable).count("1")


@lru_cache(maxsize=256)
def _table(m: GpuModel, weights: tuple[float, ...]) -> npt.NDArray[np.float64]:
    n = 1 << m.memory_slices
    frag = np.zeros(n, dtype=np.float64)
    for mask in range(n):
        frag[mask] = sum(w * profile_fragment_slices(m, mask, p.name)
                         for p, w in zip(m.profiles, weights, strict=True) if w)
    frag *= MILLI / m.memory_slices
    frag.setflags(write=False)
    return frag


# The default mix's table per model object (id -> (model, table); the model kept alive beside
# it, so its id is not reused while the entry exists): weighing the default mix and hashing
# the model for `_table`'s cache cost more than a dynamic-MIG plan of one instance.
_DEFAULT_TABLES: dict[int, tuple[GpuModel, npt.NDArray[np.float64]]] = {}
_DEFAULT_TABLES_LIMIT = 256


def mig_frag_table(model: GpuModel | str,
                   mix: Mapping[str, float] | None = None) -> npt.NDArray[np.float64]:
    """frag[mask]: expected fragmentation (milli-GPU) of a GPU with occupancy `mask`."""
    m = _model(model)
    if mix is not None:
        return _table(m, normalise_mix(m, mix))
    hit = _DEFAULT_TABLES.get(id(m))
    if hit is None:
        if len(_DEFAULT_TABLES) >= _DEFAULT_TABLES_LIMIT:  # (models made per node, unbounded)
            _DEFAULT_TABLES.clear()
        hit = _DEFAULT_TABLES[id(m)] = (m, _table(m, normalise_mix(m, None)))
    return hit[1]


def mig_fragmentation(model: GpuModel | str, instances: tuple[MigInstance, ...] | list[MigInstance],
                      mix: Mapping[str, float] | None = None) -> float:
    """Expected fragmentation (milli-GPU) of one GPU holding `instances`."""
    m = _model(model)
    return float(mig_frag_table(m, mix)[check_layout(m, instances)])


def mig_fragmentation_fleet(masks: npt.ArrayLike, model: GpuModel | str,
                            mix: Mapping[str, float] | None = None) -> npt.NDArray[np.float64]:
    """Expected fragmentation per GPU for an array of occupancy masks."""
    m = _model(model)
    arr = np.asarray(masks)
    if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0
                     or arr.max() >= 1 << m.memory_slices):
        raise PackingError(f"GPU masks for {m.key} must be integers in "
                           f"0..{(1 << m.memory_slices) - 1}")
    return mig_frag_table(m, mix)[arr.astype(np.intp, copy=False)]


def mig_fragmentation_increase(model: GpuModel | str, instances: tuple[MigInstance, ...]
                               | list[MigInstance], profile: str, start: int,
                               mix: Mapping[str, float] | None = None) -> float:
    """frag(after placing profile@start) - frag(before), in milli-GPU; raises if invalid."""
    m = _model(model)
    before = check_layout(m, instances)
    after = check_layout(m, (*instances, MigInstance(m.profile(profile).name, start)))
    table = mig_frag_table(m, mix)
    return float(table[after] - table[before])


@dataclass(frozen=True)
class MigCandidate:
    """Candidate: create `profile@start` on a GPU of `model` that holds `instances`."""

    model: str
    instances: tuple[MigInstance, ...]
    profile: str
    start: int


@dataclass(frozen=True)
class FractionalCandidate:
    """Candidate: take `milli` from each GPU in `gpus` (and `cpu_milli`) of a non-MIG node.

    `table` is packing.fgd's FragTable for the target workload; `gpu_left` is the node's free
    milli per GPU (packing.fractional.NO_GPU for padding).
    """

    table: FragTable
    gpu_left: tuple[int, ...]
    cpu_left: int
    model: str
    gpus: tuple[int, ...]
    milli: int
    cpu_milli: int = 0


def fragmentation_increase(candidate: MigCandidate | FractionalCandidate,
                           mix: Mapping[str, float] | None = None) -> float:
    """Increase of expected fragmentation (milli-GPU) caused by a candidate placement.

    MIG candidates use the slice measure above (`mix` = profile weights); fractional ones use
    the FGD paper's measure from packing.fgd (its workload lives in the candidate's table).
    """
    if isinstance(candidate, MigCandidate):
        return mig_fragmentation_increase(candidate.model, candidate.instances,
                                          candidate.profile, candidate.start, mix)
    if isinstance(candidate, FractionalCandidate):
        return frag_increase(candidate.table, candidate.gpu_left, candidate.cpu_left,
                             candidate.model, candidate.gpus, candidate.milli,
                             candidate.cpu_milli)
    raise PackingError(f"not a placement candidate: {candidate!r}")
