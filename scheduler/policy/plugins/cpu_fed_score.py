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

import numpy as np

from scheduler.policy.interfaces import CycleState, Floats, cycle_for
from scheduler.policy.model import MILLI_PER_GPU, ClusterState, Node, PodRequest
from scheduler.policy.plugins.cpu_fed import mix_cpu_per_milli, unfed_change, unfed_milli

SPAN_MILLI = 2000.0  # the change of unfed milli that spans the whole 0..1 score


def value(change: Floats) -> Floats:
    """The score of a change `d` of unfed milli: clip(0.5 - d / SPAN_MILLI, 0, 1), as
    `minimum(maximum(0, x), 1)` in place: what `np.clip` gives, bit for bit (NaN and -0.0
    kept), without its Python wrapper (this runs per pod)."""
    out: Floats = np.array(change, np.float64)  # a copy (0-d too): the caller's is kept
    out /= SPAN_MILLI
    np.subtract(0.5, out, out=out)
    np.maximum(0.0, out, out=out)
    np.minimum(out, 1.0, out=out)
    return out


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
        out: Floats = np.where(taken > 0, value(d), 0.0)
        return out
