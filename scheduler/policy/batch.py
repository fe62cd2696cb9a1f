"""Per-pod work over the fleet index that several batch scorers share (kube-scheduler's
PreScore): which GPU columns each row's placement takes (whole GPUs and shares), and, for one
MIG instance, whether it fits, its share of the GPU and the fragmentation it adds.

Each is computed by the first scorer that asks, memoised per request shape in the index
(`FleetIndex.per_row`: recomputed only for rows a change touched) and per pod in the
`CycleState`. The placements found are the ones `fit.choose` finds: whole GPUs take the
lowest-index idle GPUs; a share takes the tightest GPU that fits, lowest index on ties; one
dynamic MIG instance goes where `packing.fleet.best_start` puts it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from packing.fleet import best_start, can_place
from packing.fragmentation import mig_frag_table
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.interfaces import Bools, CycleState, Rows
from scheduler.policy.model import MILLI_PER_GPU, PodRequest


def scorable(pod: PodRequest) -> bool:
    """Whether the batch scorers can score this pod: whole GPUs, a share, or one MIG instance
    of a profile without media extensions (several instances or +me: per node)."""
    g = pod.gpu
    if g is None:
        return False
    return g.kind != "mig" or (g.count == 1 and "+me" not in (g.profile or ""))


def shape(pod: PodRequest) -> tuple[str, int, int, int]:
    g = pod.gpu
    assert g is not None
    return (g.kind, g.count, g.milli, g.memory_mib)


def placement_columns(cycle: CycleState) -> tuple[Bools, Bools]:
    """(columns taken, for every index row; the same for the candidate rows) of a whole-GPU or
    share pod: all False where the pod does not fit."""

    def compute() -> tuple[Bools, Bools]:
        idx, pod = cycle.index, cycle.pod
        every = idx.per_row(("take", *shape(pod)), lambda rr: _chosen(idx, rr, pod))
        return every, every[cycle.rows]

    return cycle.shared("take", compute)


def _chosen(idx: FleetIndex, r: Rows, pod: PodRequest) -> Bools:
    g = pod.gpu
    assert g is not None
    pf = idx.plain_free[r]
    if g.kind == "whole":
        idle: Bools = np.asarray(pf == MILLI_PER_GPU)
        take = idle & (np.cumsum(idle, axis=1) <= g.count)
        return take & (idle.sum(axis=1) >= g.count)[:, None]
    fit: Bools = np.asarray((pf >= g.milli) & (idx.plain_mem[r] >= g.memory_mib))
    key = np.where(fit, pf, MILLI_PER_GPU + 1)
    best = np.argmin(key, axis=1)
    out = np.zeros(pf.shape, bool)
    out[np.arange(len(r)), best] = True
    fits: Bools = np.asarray(fit.any(axis=1))
    return out & fits[:, None]


MIG_ROW = np.dtype([("fits", bool), ("slices", float), ("inc", float), ("slow", bool)])


def mig_rows(cycle: CycleState) -> npt.NDArray[Any]:
    """For the candidate rows and one MIG instance of the pod's profile (a `MIG_ROW` each):
    whether it fits, its share of the GPU's memory slices, the fragmentation increase
    (dynamic), and whether the row must go to the per-node path (a +me instance changes the
    planner's tie-break; GFD-only devices have no GPU to charge)."""

    def compute() -> npt.NDArray[Any]:
        idx, pod = cycle.index, cycle.pod
        g = pod.gpu
        assert g is not None
        key = ("mig", g.profile, g.dynamic)
        return idx.per_row(key, lambda rr: _mig_rows(idx, rr, pod))[cycle.rows]

    got: npt.NDArray[Any] = cycle.shared("mig", compute)
    return got


def _mig_rows(idx: FleetIndex, r: Rows, pod: PodRequest) -> npt.NDArray[Any]:
    g = pod.gpu
    assert g is not None and g.profile is not None
    codes, masks = idx.mig_code[r], idx.mig_mask[r]
    n = len(r)
    fits = np.zeros(n, bool)
    slices = np.zeros(n)
    inc = np.zeros(n)
    if not g.dynamic:
        free = idx.static_free.get(g.profile)
        fits = free[r] >= 1 if free is not None else fits
    for sel, model, p in idx.mig_models(codes, g.profile):
        share = p.memory_slices / model.memory_slices
        if not g.dynamic:
            slices = np.where(sel.any(axis=1), share, slices)
            continue
        can = sel & can_place(np.where(sel, masks, 0), model, p, idx.mig_me[r])
        used = np.where(can, np.bitwise_count(np.maximum(masks, 0)).astype(np.int16), -1)
        col = np.argmax(used, axis=1)
        here = used[np.arange(n), col] >= 0
        mask = masks[np.arange(n), col]
        start = best_start(np.where(here, mask, 0), model, p).astype(np.int64)
        span = np.where(here, ((1 << p.memory_slices) - 1) << np.maximum(start, 0), 0)
        table = mig_frag_table(model)
        delta = table[np.where(here, mask | span, 0)] - table[np.where(here, mask, 0)]
        better = here & ~fits  # rows hold one model; the first that fits decides
        fits |= here
        slices = np.where(better, share, slices)
        inc = np.where(better, delta, inc)
    out = np.zeros(n, MIG_ROW)
    out["fits"], out["slices"], out["inc"] = fits, slices, inc
    out["slow"] = idx.mig_me[r].any(axis=1) | idx.pool[r]
    return out
