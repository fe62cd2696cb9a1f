"""Allocation and fragmentation against arrived load, logged after every pod and sampled like
the paper's analysis: for each integer arrived % x, the mean (2-decimal) value over pods whose
arrived % rounds to x, widening to x +/- 1 when none does."""

from __future__ import annotations

import numpy as np

from packing.fgd import FragTable
from simulator.fgd_fill.cluster import FillCluster


def discrete_curve(
    arrived_milli: list[int], value_milli: list[float], total_milli: int, max_pct: int = 130
) -> list[tuple[int, float]]:
    arrived = np.round(np.array(arrived_milli, dtype=float) / total_milli * 100.0)
    value = np.round(np.array(value_milli, dtype=float) / total_milli * 100.0, 2)
    out: list[tuple[int, float]] = []
    for x in range(max_pct + 1):
        sel = value[arrived == x]
        if sel.size == 0:
            sel = value[(arrived >= x - 1) & (arrived <= x + 1)]
        if sel.size:
            out.append((x, round(float(sel.mean()), 2)))
    return out


class AllocationLog:
    def __init__(self, total_gpu_milli: int) -> None:
        self.total = total_gpu_milli
        self.arrived: list[int] = []
        self.used: list[int] = []

    def record(self, arrived_gpu_milli: int, used_gpu_milli: int) -> None:
        self.arrived.append(arrived_gpu_milli)
        self.used.append(used_gpu_milli)

    def curve(self, max_pct: int = 130) -> list[tuple[int, float]]:
        return discrete_curve(self.arrived, [float(u) for u in self.used], self.total, max_pct)


class FragmentationLog:
    """The paper's Fig. 7 amount: the cluster's expected fragmentation (GPU milli no typical
    pod could use), kept per node and refreshed only where a node changed."""

    def __init__(self, cluster: FillCluster, table: FragTable) -> None:
        self.cluster, self.table = cluster, table
        self.seen = np.full(cluster.size, -1, dtype=np.int64)
        self.per_node = np.zeros(cluster.size)
        self.arrived: list[int] = []
        self.frag: list[float] = []
        # How many binds the cluster had made (`len(placements)`) when `per_node` was last
        # brought up to date (None: never).
        self._changes: int | None = None

    def record(self, arrived_gpu_milli: int) -> None:
        c = self.cluster
        binds = len(c.placements)
        since = None if self._changes is None else binds - self._changes
        self.arrived.append(arrived_gpu_milli)
        if since == 0:  # nothing placed since the last record (a failed pod): the same sum
            self.frag.append(self.frag[-1])
            return
        if since == 1:  # one bind since, every other node up to date: only its node changed
            self._one(c.placements[-1][1])
        else:
            stale = (self.seen != c.version).nonzero()[0]
            if len(stale) == 1:
                self._one(int(stale[0]))
            elif len(stale):
                self.per_node[stale] = self.table.node_frag(
                    c.gpu_left[stale], c.cpu_left[stale], c.model_idx[stale]
                )
                self.seen[stale] = c.version[stale]
        self._changes = binds
        self.frag.append(float(np.add.reduce(self.per_node)))  # `.sum()`, no wrapper

    def _one(self, i: int) -> None:
        """One node's value brought up to date (`node_frag` of one state, the same value)."""
        c = self.cluster
        self.per_node[i] = self.table.frag_one(
            c.gpu_left[i].tolist(), int(c.cpu_left[i]), int(c.model_idx[i])
        )
        self.seen[i] = c.version[i]

    def curve(self, max_pct: int = 130) -> list[tuple[int, float]]:
        return discrete_curve(self.arrived, self.frag, self.cluster.total_gpu_milli, max_pct)
