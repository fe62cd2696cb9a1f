"""FGD (``06-FGD``): place the pod where the cluster's expected fragmentation grows least.

The target workload is the trace's typical pods (top shapes covering 95 % of tasks, CPU-only
pods included), as in the published configuration. For a shared-GPU pod every fitting GPU of a
node is tried and the node keeps its best (lowest index on ties); the node score is
int(100 * sigmoid(frag decrease / 1000)) and equal scores are broken at random.

Per-node fragmentation counts are cached and refreshed only for nodes that changed.
"""

from __future__ import annotations

import numpy as np

from packing.fgd import FragTable, TaskShape, fgd_score, typical_workload
from packing.fractional import MILLI_PER_GPU, NO_GPU
from simulator.fgd_fill.cluster import FillCluster
from simulator.policies.fill.base import Choice, FillContext, best_fit_gpus, pick_max
from simulator.traces.openb import OpenbPod


def task_shape(pod: OpenbPod) -> TaskShape:
    return TaskShape(pod.cpu_milli, pod.gpu_milli, pod.num_gpu, pod.gpu_spec)


class Fgd:
    name = "fgd"

    def __init__(self, ctx: FillContext, popularity_pct: float = 95.0) -> None:
        workload = typical_workload((task_shape(p) for p in ctx.trace_pods), popularity_pct)
        self.table = FragTable(workload, ctx.cluster.models, max_gpus=ctx.cluster.gpu_left.shape[1])
        n, m = ctx.cluster.size, len(self.table.milli)
        self._version = np.full(n, -1, dtype=np.int64)
        self._cnt = np.zeros((n, m), dtype=np.int64)
        self._big = np.zeros((n, m), dtype=np.int64)
        self._frag = np.zeros(n)

    def _refresh(self, cluster: FillCluster) -> None:
        stale = np.flatnonzero(self._version != cluster.version)
        if stale.size == 0:
            return
        cnt, big = self.table.counts(cluster.gpu_left[stale])
        self._cnt[stale], self._big[stale] = cnt, big
        total = cluster.gpu_free_total()[stale]
        self._frag[stale] = self.table.frag_from_counts(
            total, cnt, big, cluster.cpu_left[stale], cluster.model_idx[stale]
        )
        self._version[stale] = cluster.version[stale]

    def choose(
        self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray, rng: np.random.Generator
    ) -> Choice:
        self._refresh(cluster)
        if pod.num_gpu == 1 and pod.gpu_milli < MILLI_PER_GPU:
            return self._choose_share(cluster, pod, nodes)
        # Whole GPUs: which free GPUs are taken does not change fragmentation; k fully free
        # GPUs leave every threshold's count by k and its milli by k * 1000.
        k = pod.num_gpu
        total = cluster.gpu_free_total()[nodes] - k * MILLI_PER_GPU
        after = self.table.frag_from_counts(
            total,
            self._cnt[nodes] - k,
            self._big[nodes] - k * MILLI_PER_GPU,
            cluster.cpu_left[nodes] - pod.cpu_milli,
            cluster.model_idx[nodes],
        )
        score = fgd_score(self._frag[nodes], after) - self.penalty(cluster, pod, nodes)
        node = pick_max(nodes, score, cluster.rank)
        return node, best_fit_gpus(cluster, pod, node)

    def penalty(self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray) -> np.ndarray | int:
        """Score levels taken off each candidate node (none here; see ``fgd_reserve``)."""
        return 0

    def _choose_share(self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray) -> Choice:
        left = cluster.gpu_left[nodes]
        g = left.shape[1]
        # One candidate per distinct fitting GPU value per node (equal values, equal outcome);
        # keeping the first index of each value preserves "lowest index wins a tie".
        dup = (left[:, :, None] == left[:, None, :]) & np.tri(g, g, -1, dtype=bool)[None, :, :]
        cand = (left >= pod.gpu_milli) & (left != NO_GPU) & ~dup.any(axis=2)
        rows, gpus = np.nonzero(cand)
        sel = nodes[rows]
        v = left[rows, gpus][:, None]
        after_v = v - pod.gpu_milli
        was = v >= self.table.milli[None, :]
        now = after_v >= self.table.milli[None, :]
        after = self.table.frag_from_counts(
            cluster.gpu_free_total()[sel] - pod.gpu_milli,
            self._cnt[sel] - was + now,
            self._big[sel] - np.where(was, v, 0) + np.where(now, after_v, 0),
            cluster.cpu_left[sel] - pod.cpu_milli,
            cluster.model_idx[sel],
        )
        score = fgd_score(self._frag[sel], after) - self.penalty(cluster, pod, sel)
        # Best candidate per node: highest score, then lowest GPU index (rows are node-major
        # and GPU-ascending, so a stable sort on -score keeps index order within a node).
        order = np.lexsort((gpus, -score, rows))
        first = np.ones(order.size, dtype=bool)
        first[1:] = rows[order][1:] != rows[order][:-1]
        best = order[first]
        node = pick_max(sel[best], score[best], cluster.rank)
        gpu = int(gpus[best][sel[best] == node][0])
        return node, (gpu,)
