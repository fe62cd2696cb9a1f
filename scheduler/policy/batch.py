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

from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.interfaces import Bools, CycleState, Rows
from scheduler.policy.mig_greedy import planned
from scheduler.policy.model import MILLI_PER_GPU, GpuRequest, PodRequest


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
    g = pod.gpu
    assert g is not None
    if len(r) <= FEW_ROWS:  # a bind redoes a row or a few: plain Python beats numpy's cost
        out = np.zeros((len(r), idx.slots), bool)
        for i, row in enumerate(r.tolist()):
            _chosen_one(idx, row, g, out[i])
        return out
    return _chosen_array(idx, r, g)


def _chosen_array(idx: FleetIndex, r: Rows, g: GpuRequest) -> Bools:
    """`_chosen` over many rows at once (numpy)."""
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


def _chosen_one(idx: FleetIndex, row: int, g: GpuRequest, out: Bools) -> None:
    """`_chosen` for one row, written into `out` (the row's columns, all False): the first
    `count` idle GPUs (whole), or the GPU with the least free milli among those the share
    fits, lowest index on ties."""
    pf = idx.plain_free[row].tolist()
    if g.kind == "whole":
        idle = [j for j, v in enumerate(pf) if v == MILLI_PER_GPU]
        if len(idle) >= g.count:
            out[idle[: g.count]] = True
        return
    best = -1
    for j, (v, mem) in enumerate(zip(pf, idx.plain_mem[row].tolist(), strict=True)):
        if v >= g.milli and mem >= g.memory_mib and (best < 0 or v < pf[best]):
            best = j
    if best >= 0:
        out[best] = True


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
