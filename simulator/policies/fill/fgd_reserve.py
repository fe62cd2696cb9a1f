"""FGD with a scarce-model reserve (a lead for issue 10, not Tessera's shipped profile).

FGD judges a placement by the fragmentation it causes, not by which GPU models it uses up. When
some pods may run only on a few models (``gpu_spec``), unconstrained pods that land on those
models take capacity the constrained pods cannot find elsewhere. The reserve tracks, from the
pods seen so far (what a live scheduler knows), each model's *pressure*: the share of the GPU
request that may only use a set S of models, spread over S by capacity, scaled to the whole
cluster and divided by the model's capacity:

    pressure(M) = sum over constraint sets S containing M of
                  (GPU request seen with set S / all GPU request seen) x C / cap(S)

(C = cluster GPUs, cap(S) = GPUs of the models in S). A pressure of 1 means: if the mix holds
until the cluster is full, constrained pods alone will need all of M. An unconstrained GPU pod
loses ``round(100 x beta x min(1, pressure))`` of FGD's 0..100 score levels on a node of model M.
Constrained pods and CPU-only pods are not penalised: a constrained pod has no choice of model,
and CPU-only pods moved off CPU-rich nodes (T4 hosts in openb) strand other GPUs (RESULTS.md).
"""

from __future__ import annotations

import numpy as np

from simulator.fgd_fill.cluster import FillCluster
from simulator.policies.fill.base import Choice, FillContext
from simulator.policies.fill.fgd import Fgd
from simulator.traces.openb import OpenbPod

BETA = 0.3


def model_pressure(
    demand: dict[frozenset[int], float], total: float, cap: np.ndarray
) -> np.ndarray:
    """Pressure per model index (see the module docstring); zeros when nothing was seen."""
    out = np.zeros(len(cap))
    if total <= 0:
        return out
    for models, milli in demand.items():
        idx = sorted(models)
        cap_s = float(cap[idx].sum())
        if cap_s > 0:
            out[idx] += milli / total * float(cap.sum()) / cap_s
    return out


class FgdReserve(Fgd):
    name = "fgd-reserve"

    def __init__(self, ctx: FillContext, beta: float = BETA) -> None:
        super().__init__(ctx)
        c = ctx.cluster
        self.beta = beta
        self.cap = np.bincount(c.model_idx, weights=c.gpu_count, minlength=len(c.models))
        self.demand: dict[frozenset[int], float] = {}
        self.total = 0.0

    def observe(self, cluster: FillCluster, pod: OpenbPod) -> None:
        self.total += pod.total_gpu_milli
        if pod.gpu_spec and pod.num_gpu:
            allowed = set(pod.gpu_spec.split("|"))
            s = frozenset(i for i, m in enumerate(cluster.models) if m in allowed)
            self.demand[s] = self.demand.get(s, 0.0) + pod.total_gpu_milli

    def choose(
        self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray, rng: np.random.Generator
    ) -> Choice:
        self.observe(cluster, pod)  # every pod the scheduler is asked about, placed or not
        return super().choose(cluster, pod, nodes, rng)

    def penalty(self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray) -> np.ndarray | int:
        if not pod.num_gpu or pod.gpu_spec or not self.demand:
            return 0
        levels = np.round(100 * self.beta * np.minimum(1.0, model_pressure(
            self.demand, self.total, self.cap)))  # fmt: skip
        return levels.astype(np.int64)[cluster.model_idx[nodes]]
