"""Score: prefer nodes whose GPUs end up fuller (keeps whole nodes and GPUs free for big pods).

Value = the mean used fraction over the node's usable GPUs after placing the pod (non-MIG: used
milli / 1000; MIG: memory slices in use / the model's slices).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from packing.jit import kernel
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
            now: Floats = np.empty(len(r))
            _fullness(idx.used_sum, idx.n_usable, r, _NO_COUNTS, 0.0, False, now)
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
    integers)."""
    n = np.add.reduce(take, axis=1, dtype=np.int64) if counts is None else counts
    out: Floats = np.empty(len(r))
    _fullness(idx.used_sum, idx.n_usable, r, n, per, True, out)
    return out


_NO_COUNTS = np.zeros(0, np.int64)  # `_fullness` without a pod's GPUs reads none


def _fullness_sample() -> tuple[Any, ...]:
    r, out = np.zeros(2, np.intp), np.zeros(2)
    return np.zeros(3), np.zeros(3, np.int16), r, _NO_COUNTS, 0.0, False, out


@kernel(_fullness_sample)
def _fullness(used_sum, n_usable, r, counts, per, add, out):
    """Into `out`, per row of `r`: (used_sum + counts * per, when `add`) / max(n_usable, 1),
    0 on a row without usable GPUs: numpy's `where(n > 0, after / maximum(n, 1), 0.0)`,
    elementwise, the same float steps (the counts made floats, as numpy's int-by-float
    multiply does)."""
    for i in range(len(r)):
        row = r[i]
        n = np.float64(n_usable[row])
        after = used_sum[row] + counts[i] * per if add else used_sum[row]
        out[i] = after / max(n, 1.0) if n > 0 else 0.0
