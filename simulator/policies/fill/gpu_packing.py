"""GPU Packing (``04-GpuPacking``): prefer already-shared GPUs (score 100 - free% / 10, at least
50), then free GPUs on a used node (50 - free GPUs used, at least 33), then idle nodes
(33 - GPUs, at least the GPU count); CPU-only pods score 0 everywhere. Best-fit GPU."""

from __future__ import annotations

import numpy as np

from packing.fractional import MILLI_PER_GPU, NO_GPU
from simulator.fgd_fill.cluster import FillCluster
from simulator.policies.fill.base import Choice, FillContext, best_fit_gpus, pick_max
from simulator.traces.openb import OpenbPod


class GpuPacking:
    name = "packing"

    def __init__(self, ctx: FillContext) -> None:
        del ctx

    def scores(self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray) -> np.ndarray:
        if pod.num_gpu == 0:
            return np.zeros(nodes.size, dtype=np.int64)
        left = cluster.gpu_left[nodes]
        fully_free = (left == MILLI_PER_GPU).sum(axis=1)
        idle = fully_free == cluster.gpu_count[nodes]
        # The GPUs the pod would take: the first num_gpu fitting ones, least free milli first.
        order = np.argsort(np.where(left == NO_GPU, -1, left), axis=1, kind="stable")
        sorted_left = np.take_along_axis(left, order, axis=1)
        fit = sorted_left >= pod.gpu_milli
        used = fit & (np.cumsum(fit, axis=1) <= pod.num_gpu)
        free_used = (used & (sorted_left == MILLI_PER_GPU)).sum(axis=1)
        free_pct = np.where(used, sorted_left * 100 // MILLI_PER_GPU, 0).sum(axis=1)
        shared = np.maximum(100 - free_pct // 10, 50)
        on_used_node = np.maximum(50 - free_used, 33)
        on_idle_node = np.maximum(33 - fully_free, fully_free)
        return np.where(idle, on_idle_node, np.where(free_used > 0, on_used_node, shared))

    def choose(
        self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray, rng: np.random.Generator
    ) -> Choice:
        node = pick_max(nodes, self.scores(cluster, pod, nodes), cluster.rank)
        return node, best_fit_gpus(cluster, pod, node)
