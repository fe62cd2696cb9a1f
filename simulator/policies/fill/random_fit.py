"""Random (FGD paper baseline ``01-Random``): a uniformly random feasible node, and a uniformly
random fitting GPU for a shared-GPU pod (whole GPUs: the lowest-indexed free ones)."""

from __future__ import annotations

import numpy as np

from simulator.fgd_fill.cluster import FillCluster
from simulator.policies.fill.base import Choice, FillContext, best_fit_gpus
from simulator.traces.openb import OpenbPod


class RandomFit:
    name = "random"

    def __init__(self, ctx: FillContext) -> None:
        del ctx

    def choose(
        self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray, rng: np.random.Generator
    ) -> Choice:
        node = int(nodes[rng.integers(nodes.size)])
        if pod.num_gpu == 1 and pod.gpu_milli < 1000:
            fitting = np.flatnonzero(cluster.gpu_left[node] >= pod.gpu_milli)
            return node, (int(fitting[rng.integers(fitting.size)]),)
        return node, best_fit_gpus(cluster, pod, node)
