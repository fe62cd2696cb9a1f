"""Tie-break: the look-ahead's cost plus the GPU capacity a placement leaves without the CPU
to use it (`LookAhead`, with one more term).

The look-ahead decides the top-level ties by a fine, fixed order; on share-heavy lists that
order sends the pods of one shape to one class of node in turn and leaves idle GPUs on nodes
whose CPU is gone (RESULTS.md, "Round 7 leads": G2 nodes with under one free core). This
plugin adds to each tied node's look-ahead cost the change in the node's *unfed* GPU milli:

    r         = sum_t p_t x cpu_t / sum_t p_t x milli_t x count_t   over the mix's GPU shapes
    unfed(n)  = max(0, free GPU milli of n - free CPU milli of n / r)
    cost(n)   = lookahead(n) + weight x (unfed(n after the pod) - unfed(n now))

r is the CPU milli the pods seen so far (`ClusterState.demand`, the look-ahead's typical mix)
ask per GPU milli, so unfed(n) is the GPU capacity of n that the mix, at its average CPU per
GPU, could not use with the CPU n has left. FGD's measure counts such GPUs only shape by shape
(a node whose CPU still fits the smallest typical pod counts little); this term charges the
ratio itself, so ties go to nodes whose CPU and GPUs are used up together. It is a
tie-break term only: the scorers' levels are unchanged.

Nothing is decided where the look-ahead decides nothing (CPU-only and MIG pods, no mix yet,
tied nodes all alike: `LookAhead.tie_costs` returns None), and the term is 0 when the mix's GPU
shapes ask no CPU (every GPU can be fed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from packing.fgd import TargetWorkload
from packing.jit import kernel
from scheduler.policy import batch
from scheduler.policy.interfaces import CycleState, Floats
from scheduler.policy.model import MILLI_PER_GPU
from scheduler.policy.plugins.lookahead import LookAhead

UNFED_WEIGHT = 1.0  # milli of look-ahead cost per unfed GPU milli (RESULTS.md, round 8)


@dataclass(frozen=True)
class CpuFedArgs:
    """The weight of the unfed term (>= 0; 0 gives the plain look-ahead)."""

    weight: float = UNFED_WEIGHT

    def __post_init__(self) -> None:
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise ValueError(f"CpuFedLookAhead weight must be a finite number >= 0, got {w!r}")


def cpu_per_milli(workload: TargetWorkload) -> float | None:
    """The mix's CPU milli per GPU milli over its GPU shapes (weighted by popularity), or None
    when it has no GPU shape or they ask no CPU (nothing to feed)."""
    cpu = gpu = 0.0
    for s, p in zip(workload.shapes, workload.weights, strict=True):
        if s.num_gpu > 0 and s.gpu_milli > 0:
            cpu += p * s.cpu_milli
            gpu += p * s.gpu_milli * s.num_gpu
    if gpu <= 0 or cpu <= 0:
        return None
    return cpu / gpu


def unfed_milli(free_milli: npt.ArrayLike, free_cpu: npt.ArrayLike, per_milli: float) -> Floats:
    """Per node: the free GPU milli its free CPU cannot feed at `per_milli` CPU per GPU milli,
    max(0, free_milli - free_cpu / per_milli) (negative free CPU counts as none)."""
    gpu = np.asarray(free_milli, np.float64)
    cpu = np.maximum(np.asarray(free_cpu, np.float64), 0.0)
    out: Floats = np.maximum(0.0, gpu - cpu / per_milli)
    return out


class CpuFedLookAhead:
    name = "CpuFedLookAhead"

    def __init__(self, args: CpuFedArgs | None = None) -> None:
        self.weight = (args or CpuFedArgs()).weight
        self._look = LookAhead()

    def tie_costs(self, cycle: CycleState) -> Floats | None:
        """`cost(n)` of the module docstring for every candidate of `cycle`, or None where the
        look-ahead leaves the tie."""
        costs = self._look.tie_costs(cycle)
        mix = cycle.state.demand
        if costs is None or self.weight == 0 or mix is None or mix.workload is None:
            return costs
        r = mix_cpu_per_milli(mix.memo, mix.workload)
        if r is None or cycle.pod.gpu is None:
            return costs
        change, _ = unfed_change(cycle, r)
        # (x 1.0 is x bit for bit, infinities, NaN and -0.0 too: the default weight skips it)
        out: Floats = costs + (change if self.weight == 1.0 else self.weight * change)
        return out


def unfed_change(cycle: CycleState, per_milli: float) -> tuple[Floats, npt.NDArray[np.int64]]:
    """Per candidate row of `cycle` (a GPU pod): unfed(n after the pod) - unfed(n now) at
    `per_milli`, and the GPUs the pod takes there (0: it does not fit). The tie-break and the
    `CpuFed` score both read it: shared per cycle, and a subset of a cycle (the tie-break's
    tied nodes) takes its candidates' entries from what the scores formed (`from_parent`; a
    function of the row's own columns, elementwise: the same values)."""
    key = (_UNFED, per_milli)
    held = cycle.from_parent(key)
    if held is not None:
        (change, taken), at = held
        return change.take(at), taken.take(at)
    return cycle.shared(key, lambda: _unfed_change(cycle, per_milli))


_UNFED = "unfed-change"  # `unfed_change`'s key in a cycle's shared values


def _unfed_change(cycle: CycleState, per_milli: float) -> tuple[Floats, npt.NDArray[np.int64]]:
    """`unfed_change` formed from the cycle's rows (`_unfed_rows`)."""
    g = cycle.pod.gpu
    assert g is not None
    idx = cycle.index
    taken = batch.taken_counts(cycle)
    milli = MILLI_PER_GPU if g.kind == "whole" else g.milli
    change: Floats = _unfed_rows(
        idx.plain_free, idx.cpu, np.asarray(cycle.rows, np.int64), taken, milli,
        cycle.pod.cpu_milli, float(per_milli),
    )  # fmt: skip
    return change, taken


def _sample_rows() -> tuple[object, ...]:
    """`_unfed_rows`' argument types: the fleet index's int16 and int64 columns."""
    i8 = np.int64
    return np.zeros((2, 8), np.int16), np.zeros(2, i8), np.zeros(1, i8), np.zeros(1, i8), 1, 1, 1.0


@kernel(_sample_rows)
def _unfed_rows(free, cpu, rows, taken, milli, pod_cpu, per_milli):  # fmt: skip
    """Per row: `unfed_milli` after the pod (its `taken` GPUs of `milli` gone, its CPU less
    `pod_cpu`) less `unfed_milli` now. A row's free milli is its GPU columns summed, NO_GPU
    as none (integers: exact); then the same float operations on the same values, in the same
    order, as `unfed_milli` (NaN kept as `np.maximum` keeps it)."""
    n = rows.shape[0]
    out = np.empty(n)
    for i in range(n):
        r = rows[i]
        total = 0
        for j in range(free.shape[1]):
            if free[r, j] > 0:
                total += free[r, j]
        after = (
            np.float64(total - milli * taken[i])
            - max(np.float64(cpu[r] - pod_cpu), 0.0) / per_milli
        )
        now = np.float64(total) - max(np.float64(cpu[r]), 0.0) / per_milli
        after = after if after > 0.0 or after != after else 0.0
        now = now if now > 0.0 or now != now else 0.0
        out[i] = after - now
    return out


def mix_cpu_per_milli(memo: dict[object, object], workload: TargetWorkload) -> float | None:
    """`cpu_per_milli` once per published mix (its `memo`)."""
    key = "cpu-fed-per-milli"
    if key not in memo:
        memo[key] = cpu_per_milli(workload)
    got = memo[key]
    assert got is None or isinstance(got, float)
    return got
