"""Score: prefer placements that do not leave a node's GPUs without the CPU to use them.

The scorer form of the `CpuFedLookAhead` tie-break's term (`cpu_fed.py`): for a GPU pod (a
whole GPU or a share) on node n, with r the observed mix's CPU milli per GPU milli,

    d     = unfed(n after the pod) - unfed(n now)      (GPU milli; cpu_fed.unfed_milli)
    value = clip(0.5 - d / 2000, 0, 1)

so a placement that leaves as much GPU capacity fed as before scores 0.5, one that strands
1,000 more milli (a GPU's worth) scores 0, one that feeds 1,000 milli more scores 1. CPU-only
and MIG pods, and snapshots without a mix (or whose GPU shapes ask no CPU), score 1 on every
node: the scorer is then constant and moves nothing. A node the pod does not fit scores 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from packing.jit import kernel
from scheduler.policy.interfaces import CycleState, Floats, cycle_for
from scheduler.policy.model import MILLI_PER_GPU, ClusterState, Node, PodRequest
from scheduler.policy.plugins.cpu_fed import mix_cpu_per_milli, unfed_change, unfed_milli

SPAN_MILLI = 2000.0  # the change of unfed milli that spans the whole 0..1 score


def value(change: Floats) -> Floats:
    """The score of each change `d` of unfed milli: clip(0.5 - d / SPAN_MILLI, 0, 1)
    (`_values`), of the same shape."""
    d = np.asarray(change, np.float64)
    out: Floats = np.empty(d.shape)  # (0-d in, 0-d out: the kernel writes through a 1-d view)
    _values(d.reshape(-1), _NO_TAKEN, False, out.reshape(-1))
    return out


_NO_TAKEN = np.zeros(0, np.int64)  # `_values` ungated reads no GPU counts


def _values_sample() -> tuple[Any, ...]:
    return np.zeros(2), np.zeros(2, np.int64), True, np.zeros(2)


@kernel(_values_sample)
def _values(change, taken, gated, out):
    """Into `out`, per change d: numpy's `minimum(maximum(0.0, 0.5 - d / SPAN_MILLI), 1.0)` (what
    `np.clip` gives, NaN kept), and 0 where `gated` and the pod takes no GPU (taken <= 0)."""
    for i in range(len(change)):
        if gated and taken[i] <= 0:
            out[i] = 0.0
            continue
        x = 0.5 - change[i] / SPAN_MILLI
        if x == x and not x > 0.0:  # maximum(0.0, x): 0.0 unless x is above it or NaN
            x = 0.0
        if x > 1.0:  # minimum(x, 1.0): NaN kept
            x = 1.0
        out[i] = x


def _ratio(state: ClusterState, pod: PodRequest) -> float | None:
    """The mix's CPU per GPU milli when this pod is one the scorer judges, else None (once per
    published mix: the tie-break's memo)."""
    g, mix = pod.gpu, state.demand
    if g is None or g.kind == "mig" or mix is None or mix.workload is None:
        return None
    return mix_cpu_per_milli(mix.memo, mix.workload)


class CpuFedScore:
    name = "CpuFed"
    state_only = True  # score_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def score(
        self, state: ClusterState, pod: PodRequest, node: Node, cycle: CycleState | None = None
    ) -> float:
        r = _ratio(state, pod)
        if r is None:
            return 1.0
        placement = cycle_for(state, pod, cycle).placement(node)
        if placement is None:
            return 0.0
        cap = state.capacity(node.name)
        taken = {grant.index: grant.milli or MILLI_PER_GPU for grant in placement.gpus}
        free = [g.free_milli for g in cap.usable_gpus if not g.gpu.mig_enabled]
        after = [g.free_milli - taken.get(g.gpu.index, 0) for g in cap.usable_gpus
                 if not g.gpu.mig_enabled]  # fmt: skip
        d = unfed_milli([sum(after)], [cap.cpu_free - pod.cpu_milli], r) - unfed_milli(
            [sum(free)], [cap.cpu_free], r
        )
        return float(value(d)[0])

    def score_rows(self, cycle: CycleState) -> Floats | None:
        pod = cycle.pod
        n = len(cycle.rows)
        r = _ratio(cycle.state, pod)
        if r is None:
            return np.ones(n)
        d, taken = unfed_change(cycle, r)
        out: Floats = np.empty(n)
        _values(d, taken, True, out)
        return out
