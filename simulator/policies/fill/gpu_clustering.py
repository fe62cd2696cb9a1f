"""GPU Clustering (``03-GpuClustering``): keep pods of the same GPU-request class together.
Bands: 75-100 node hosts only this class, 50-75 several classes incl. this one, 25-50 no GPU
pods yet, 0-25 only other classes; within a band, fuller nodes score higher:
25 * (8000 - free GPU milli) // 8000. CPU-only pods score 0 everywhere. Best-fit GPU."""

from __future__ import annotations

import numpy as np

from simulator.fgd_fill.cluster import AFFINITY_TAGS, FillCluster, affinity_tag
from simulator.policies.fill.base import Choice, FillContext, best_fit_gpus, pick_max
from simulator.policies.fill.best_fit import MAX_GPU_MILLI
from simulator.traces.openb import OpenbPod


class GpuClustering:
    name = "clustering"

    def __init__(self, ctx: FillContext) -> None:
        del ctx

    def scores(self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray) -> np.ndarray:
        if pod.num_gpu == 0:
            return np.zeros(nodes.size, dtype=np.int64)
        aff = cluster.affinity[nodes]
        same = aff[:, AFFINITY_TAGS.index(affinity_tag(pod))] > 0
        classes = (aff > 0).sum(axis=1)
        fullness = 25 * (MAX_GPU_MILLI - cluster.gpu_free_total()[nodes]) // MAX_GPU_MILLI
        band = np.where(same, np.where(classes == 1, 75, 50), np.where(classes == 0, 25, 0))
        return np.asarray(fullness + band, dtype=np.int64)

    def choose(
        self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray, rng: np.random.Generator
    ) -> Choice:
        node = pick_max(nodes, self.scores(cluster, pod, nodes), cluster.rank)
        return node, best_fit_gpus(cluster, pod, node)
