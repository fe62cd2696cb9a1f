"""DotProd (``02-DotProd``, Tetris-style, ``-dimext merge -norm max``): the dot product of the
node's free (CPU, total GPU) vector and the pod's request, each normalised by the maximum node
spec; a smaller product scores higher: int(100 * (1 - dot / 2)); best-fit GPU."""

from __future__ import annotations

import numpy as np

from simulator.fgd_fill.cluster import FillCluster
from simulator.policies.fill.base import Choice, FillContext, best_fit_gpus, pick_max
from simulator.policies.fill.best_fit import MAX_CPU_MILLI, MAX_GPU_MILLI
from simulator.traces.openb import OpenbPod


class DotProduct:
    name = "dotprod"

    def __init__(self, ctx: FillContext) -> None:
        del ctx

    def choose(
        self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray, rng: np.random.Generator
    ) -> Choice:
        cpu = (cluster.cpu_left[nodes] / MAX_CPU_MILLI) * (pod.cpu_milli / MAX_CPU_MILLI)
        gpu = (cluster.gpu_free_total()[nodes] / MAX_GPU_MILLI) * (
            pod.total_gpu_milli / MAX_GPU_MILLI
        )
        scores = np.trunc(100 * (1.0 - (cpu + gpu) / 2)).astype(np.int64)
        node = pick_max(nodes, scores, cluster.rank)
        return node, best_fit_gpus(cluster, pod, node)
