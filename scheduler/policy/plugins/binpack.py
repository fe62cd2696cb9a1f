"""Score: prefer nodes whose GPUs end up fuller (keeps whole nodes and GPUs free for big pods).

Value = the mean used fraction over the node's usable GPUs after placing the pod (non-MIG: used
milli / 1000; MIG: memory slices in use / the model's slices).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.policy import batch
from scheduler.policy.capacity import gpu_used_fraction
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.interfaces import Bools, CycleState, Floats, Rows, cycle_for
from scheduler.policy.model import MILLI_PER_GPU, ClusterState, Node, PodRequest

Ints = npt.NDArray[np.int64]


class Binpack:
    name = "Binpack"
    state_only = True  # score_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def score(
        self, state: ClusterState, pod: PodRequest, node: Node, cycle: CycleState | None = None
    ) -> float:
        cap = state.capacity(node.name)
        gpus = cap.usable_gpus
        if not gpus:
            return 0.0
        placement = cycle_for(state, pod, cycle).placement(node)
        grants = placement.gpus if placement is not None else ()
        return sum(gpu_used_fraction(g, grants) for g in gpus) / len(gpus)

    def score_rows(self, cycle: CycleState) -> Floats | None:
        pod = cycle.pod
        idx, r = cycle.index, cycle.rows
        g = pod.gpu
        if g is None:  # a CPU-only pod takes no GPU: the node's fullness as it is
            n = idx.n_usable[r].astype(np.float64)
            now: Floats = np.where(n > 0, idx.used_sum[r] / np.maximum(n, 1), 0.0)
            return now
        if not batch.scorable(pod):
            return None
        if g.kind == "mig":
            rows = batch.mig_rows(cycle)
            nu = idx.n_usable[r].astype(np.float64)
            after = idx.used_sum[r] + np.where(rows["fits"], rows["slices"], 0.0)
            value = np.where(nu > 0, after / np.maximum(nu, 1), 0.0)
            return np.where(rows["slow"], np.nan, value)
        # Straight from the candidates' columns: a per-row memo per request shape would redo
        # every row changed since the shape was last asked (tens of rows, as many array steps
        # as the candidates' own), then gather (elementwise: the same values either way).
        _, mine = batch.placement_columns(cycle)
        per = (MILLI_PER_GPU if g.kind == "whole" else g.milli) / MILLI_PER_GPU
        return _after(idx, r, mine, per, batch.taken_counts(cycle))


def _after(idx: FleetIndex, r: Rows, take: Bools, per: float, counts: Ints | None = None) -> Floats:
    """Mean used fraction after adding `per` of a GPU on each taken column (`counts`: the
    columns taken per row, when the caller has them, `batch.taken_counts`: the same
    integers). One row (a bind redoes one) in plain Python: the same float operations in the
    same order (IEEE doubles, the count converted exactly), so the same value."""
    if len(r) == 1:
        row = int(r[0])
        n1 = int(idx.n_usable[row])
        if n1 <= 0:
            return np.zeros(1)
        taken = int(np.count_nonzero(take[0]))
        return np.array([(float(idx.used_sum[row]) + taken * per) / float(n1)])
    n = idx.n_usable[r].astype(np.float64)
    after = idx.used_sum[r] + (take.sum(axis=1) if counts is None else counts) * per
    return np.where(n > 0, after / np.maximum(n, 1), 0.0)
