"""BestFit (``05-BestFit``): minimise sum_i w_i (free_i - request_i) / max_i over CPU and GPU
(w = 0.5 each; max = 128 cores, 8 GPUs), scored as int(100 * (1 - that)); best-fit GPU."""

from __future__ import annotations

import numpy as np

from simulator.fgd_fill.cluster import FillCluster
from simulator.policies.fill.base import Choice, FillContext, best_fit_gpus, pick_max
from simulator.traces.openb import OpenbPod

MAX_CPU_MILLI = 128_000  # the published scorer's normalisers
MAX_GPU_MILLI = 8_000


class BestFit:
    name = "bestfit"

    def __init__(self, ctx: FillContext) -> None:
        del ctx

    def choose(
        self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray, rng: np.random.Generator
    ) -> Choice:
        cpu_slack = (cluster.cpu_left[nodes] - pod.cpu_milli) / MAX_CPU_MILLI
        gpu_slack = (cluster.gpu_free_total()[nodes] - pod.total_gpu_milli) / MAX_GPU_MILLI
        scores = np.trunc((1.0 - (0.5 * cpu_slack + 0.5 * gpu_slack)) * 100).astype(np.int64)
        node = pick_max(nodes, scores, cluster.rank)
        return node, best_fit_gpus(cluster, pod, node)
