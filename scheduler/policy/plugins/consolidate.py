"""Score: while few pods have been seen, keep idle nodes idle (prefer nodes already in use).

The fragmentation scorer judges a placement against the pods seen so far
(`ClusterState.demand`). Early on that is a small sample: the FGD fill experiment loses about
0.25 pp of the cluster when its target is the observed mix instead of the whole trace's, and
nearly all of it in the first ~2,000 placements (benchmarks/RESULTS.md, "Leads for beating
FGD", round 4). Opening an idle node is the commitment a poorly informed placement cannot take
back cheaply: it breaks up a node that later, better-informed placements could have used whole.
So while fewer than `EARLY_PODS` pods have been seen, a node whose usable GPUs are all idle
scores 0 and every other node 1; after that (or with no demand kept at all) every node scores
1, so the scorer only moves ties and near-ties in the first part of a fill.

A node without usable GPUs scores 1 (it has no GPUs to keep whole).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from packing.jit import kernel
from scheduler.policy.capacity import gpu_used_fraction
from scheduler.policy.interfaces import CycleState, Floats
from scheduler.policy.model import ClusterState, Node, PodRequest

EARLY_PODS = 2000  # pods seen before the observed mix is trusted (RESULTS.md, round 5)


def early(state: ClusterState) -> bool:
    """Whether the snapshot's demand is still a small sample (no demand kept: False)."""
    return state.demand is not None and state.demand.pods < EARLY_PODS


class Consolidate:
    name = "Consolidate"
    state_only = True  # score_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def score(
        self, state: ClusterState, pod: PodRequest, node: Node, cycle: CycleState | None = None
    ) -> float:
        if not early(state):
            return 1.0
        gpus = state.capacity(node.name).usable_gpus
        idle = bool(gpus) and all(gpu_used_fraction(g) == 0.0 for g in gpus)
        return 0.0 if idle else 1.0

    def score_rows(self, cycle: CycleState) -> Floats | None:
        if not early(cycle.state):
            return np.ones(len(cycle.rows))
        idx = cycle.index
        out: Floats = np.empty(len(cycle.rows))
        _busy(idx.n_usable, idx.used_sum, cycle.rows, out)
        return out


def _busy_sample() -> tuple[Any, ...]:
    return np.zeros(3, np.int16), np.zeros(3), np.zeros(2, np.intp), np.zeros(2)


@kernel(_busy_sample)
def _busy(n_usable, used_sum, r, out):
    """Into `out`, per row of `r`: 0.0 where it has usable GPUs and none is used (sum 0),
    else 1.0."""
    for i in range(len(r)):
        out[i] = 0.0 if n_usable[r[i]] > 0 and used_sum[r[i]] == 0.0 else 1.0
