"""Score: keep unconstrained GPU pods off the GPU models that constrained pods will need.

FGD judges a placement by the fragments it leaves, not by which models it uses up. When some
pods accept only a few models (`nvidia.com/gpu.product` constraints), an unconstrained pod that
lands on those models takes capacity the constrained ones cannot find elsewhere. From the pods
seen so far (`ClusterState.demand`), each model's pressure is the share of it that constrained
pods would need if the mix holds until the cluster is full (`DemandMix.pressure`; 1 = all of
it). An unconstrained GPU pod scores 1 - min(1, pressure) on a node of that model; constrained
and CPU-only pods score 1 everywhere (a constrained pod has no choice of model, and moving
CPU-only pods off CPU-rich hosts strands other GPUs by CPU: benchmarks/RESULTS.md, fill leads).
With no demand seen, or a node without a single GPU model, the score is 1.
"""

from __future__ import annotations

import numpy as np

from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.interfaces import CycleState, Floats
from scheduler.policy.model import ClusterState, Node, PodRequest
from scheduler.policy.rules import node_products


def _applies(state: ClusterState, pod: PodRequest) -> bool:
    return pod.gpu is not None and pod.allowed_products is None and state.demand is not None


def model_pressure(state: ClusterState, idx: FleetIndex) -> Floats:
    """Pressure per model code of the index (`idx.keys`), from the snapshot's demand and the
    usable GPUs of each model in the cluster."""
    mix = state.demand
    assert mix is not None
    gpus: Floats = idx.inventory(("model-gpus", len(idx.keys)), _gpus_per_model)
    # Memoised on the mix by the GPUs per model (they change only with the fleet's inventory).
    key = (tuple(idx.keys), gpus.tobytes())
    got = mix.memo.get(key)
    if got is None:
        by_model = {k: int(gpus[c]) for c, k in enumerate(idx.keys) if k and gpus[c] > 0}
        pressure = mix.pressure(by_model)
        got = np.array([pressure.get(k, 0.0) if k else 0.0 for k in idx.keys])
        got.setflags(write=False)
        if len(mix.memo) >= 8:
            mix.memo.clear()
        mix.memo[key] = got
    out: Floats = got
    return out


def _gpus_per_model(idx: FleetIndex) -> Floats:
    """Usable GPUs per model code of the index, over its live rows."""
    alive = idx.alive
    out = np.bincount(idx.product[alive], weights=idx.n_usable[alive], minlength=len(idx.keys))
    return np.asarray(out, np.float64)


class ModelReserve:
    name = "ModelReserve"
    state_only = True  # score_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def score(
        self, state: ClusterState, pod: PodRequest, node: Node, cycle: CycleState | None = None
    ) -> float:
        if not _applies(state, pod):
            return 1.0
        products = node_products(node)
        if len(products) != 1:
            return 1.0
        idx = state.fleet()
        code = idx.keys.index(next(iter(products))) if next(iter(products)) in idx.keys else -1
        if code < 0:
            return 1.0
        return 1.0 - min(1.0, float(model_pressure(state, idx)[code]))

    def score_rows(self, cycle: CycleState) -> Floats | None:
        state, pod = cycle.state, cycle.pod
        if not _applies(state, pod):
            return np.ones(len(cycle.rows))
        idx = cycle.index
        pressure = model_pressure(state, idx)
        # Memoised beside the pressure it is made from (the same read-only array while the
        # mix and the GPUs per model hold): two array steps per pod saved.
        key = ("reserve-score", id(pressure))
        mix = state.demand
        assert mix is not None  # `_applies`
        got = mix.memo.get(key)
        if got is None or got[0] is not pressure:
            per_code = 1.0 - np.minimum(1.0, pressure)
            per_code[0] = 1.0  # code 0 is "": no GPUs, or several models
            got = mix.memo[key] = (pressure, per_code)
        out: Floats = got[1].take(idx.product.take(cycle.rows))
        return out
