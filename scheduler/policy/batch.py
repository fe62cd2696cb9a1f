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

from packing.jit import kernel
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.interfaces import Bools, CycleState, Rows
from scheduler.policy.mig_greedy import planned
from scheduler.policy.model import MILLI_PER_GPU, PodRequest


def scorable(pod: PodRequest) -> bool:
    """Whether the batch scorers can score this pod: whole GPUs, a share, or MIG instances of a
    profile without media extensions (+me: per node)."""
    g = pod.gpu
    if g is None:
        return False
    return g.kind != "mig" or "+me" not in (g.profile or "")


def shape(pod: PodRequest) -> tuple[str, int, int, int]:
    g = pod.gpu
    assert g is not None
    return (g.kind, g.count, g.milli, g.memory_mib)


FEW_ROWS = 4  # rows `_chosen` forms one by one in plain Python (a bind redoes one or a few)


def placement_columns(cycle: CycleState) -> tuple[Bools, Bools]:
    """(columns taken, for every index row; the same for the candidate rows) of a whole-GPU or
    share pod: all False where the pod does not fit."""

    def compute() -> tuple[Bools, Bools]:
        idx, pod = cycle.index, cycle.pod
        every = idx.per_row(("take", *shape(pod)), lambda rr: _chosen(idx, rr, pod))
        return every, every.take(cycle.rows, axis=0)  # (`take`: the rows of `[rows]`)

    return cycle.shared("take", compute)


def taken_counts(cycle: CycleState) -> npt.NDArray[np.int64]:
    """Per candidate row: the GPUs the pod's placement takes there (0: it does not fit), the
    candidates' `placement_columns` summed over each row's columns, GPUs-first (the outer axis
    of a (columns, rows) copy, not an inner axis of 8 per row: integers, the same counts).
    Shared per cycle: `Fragmentation`, `CpuFed` and `Binpack` each read it (read only)."""

    def compute() -> npt.NDArray[np.int64]:
        mine = placement_columns(cycle)[1]
        return np.add.reduce(np.ascontiguousarray(mine.T), axis=0, dtype=np.int64)

    got: npt.NDArray[np.int64] = cycle.shared("taken", compute)
    return got


def _chosen(idx: FleetIndex, r: Rows, pod: PodRequest) -> Bools:
    """Per row of `r`, the columns the pod's placement takes (`_chosen_rows`)."""
    g = pod.gpu
    assert g is not None
    whole = g.kind == "whole"
    out = np.zeros((len(r), idx.slots), bool)
    count = g.count if whole else 1
    _chosen_rows(idx.plain_free, idx.plain_mem, r, whole, count, g.milli, g.memory_mib, out)
    return out


def _chosen_sample() -> tuple[Any, ...]:
    free, mem = np.zeros((3, 2), np.int16), np.zeros((3, 2), np.int32)
    return free, mem, np.zeros(2, np.intp), True, 1, 0, 0, np.zeros((2, 2), bool)


@kernel(_chosen_sample)
def _chosen_rows(free, mem, r, whole, count, milli, memory, out):
    """Into `out` (all False), per row of `r`: the first `count` idle GPUs (`whole`; none
    unless that many are idle), or the GPU with the least free milli among those with `milli`
    and `memory` MiB free, lowest index on ties (a share; none if it fits no GPU)."""
    for i in range(len(r)):
        row = r[i]
        if whole:
            idle = 0
            for j in range(free.shape[1]):
                if free[row, j] == MILLI_PER_GPU:
                    idle += 1
            if idle >= count:
                left = count
                for j in range(free.shape[1]):
                    if left > 0 and free[row, j] == MILLI_PER_GPU:
                        out[i, j] = True
                        left -= 1
        else:
            best = -1
            for j in range(free.shape[1]):
                v = free[row, j]
                if v >= milli and mem[row, j] >= memory and (best < 0 or v < free[row, best]):
                    best = j
            if best >= 0:
                out[i, best] = True


MIG_ROW = np.dtype([("fits", bool), ("slices", float), ("inc", float), ("slow", bool)])


def mig_rows(cycle: CycleState) -> npt.NDArray[Any]:
    """For the candidate rows and one MIG instance of the pod's profile (a `MIG_ROW` each):
    whether it fits, its share of the GPU's memory slices, the fragmentation increase
    (dynamic), and whether the row must go to the per-node path (a +me instance changes the
    planner's tie-break)."""

    def compute() -> npt.NDArray[Any]:
        idx, pod = cycle.index, cycle.pod
        g = pod.gpu
        assert g is not None
        key = ("mig", g.profile, g.dynamic, g.count)
        return idx.per_row(key, lambda rr: _mig_rows(idx, rr, pod))[cycle.rows]

    got: npt.NDArray[Any] = cycle.shared("mig", compute)
    return got


def _mig_rows(idx: FleetIndex, r: Rows, pod: PodRequest) -> npt.NDArray[Any]:
    """Static instances come from the GPUs first (lowest index), then from devices known only
    by count (GFD), which charge no GPU; dynamic ones follow `mig_greedy.plan_dynamic`."""
    g = pod.gpu
    assert g is not None and g.profile is not None
    n = len(r)
    out = np.zeros(n, MIG_ROW)
    out["slow"] = idx.mig_me[r].any(axis=1)
    if g.dynamic:
        plan = planned(idx, r, g.profile, g.count)
        out["fits"], out["slices"], out["inc"] = plan["fits"], plan["share"], plan["inc"]
        return out
    free = idx.static_free.get(g.profile)
    if free is None:
        return out
    pool = idx.pool_free.get(g.profile)
    on_gpus = free[r] - (pool[r] if pool is not None else 0)
    fits = free[r] >= g.count
    slices = np.zeros(n)
    for sel, model, p in idx.mig_models(idx.mig_code[r], g.profile):
        share = p.memory_slices / model.memory_slices
        slices = np.where(sel.any(axis=1), np.minimum(on_gpus, g.count) * share, slices)
    out["fits"], out["slices"] = fits, np.where(fits, slices, 0.0)
    return out
