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
    pod could use), kept per node and refreshed only where a node changed.

    A record notes only which nodes changed since the one before and their states then (a
    bind's one node: its GPU row and free CPU as Python values); the values of all noted
    states go through `FragTable.node_frag` in one call when the amounts are read (`frag`,
    `curve`), and each record's amount is then the sum over nodes, as the record left them,
    one `np.add.reduce` per record: the same values, added in the same order, as valuing each
    node when it is recorded (one node valued at every record cost ~28 us, ~0.25 s a run)."""

    def __init__(self, cluster: FillCluster, table: FragTable) -> None:
        self.cluster, self.table = cluster, table
        self.seen = np.full(cluster.size, -1, dtype=np.int64)
        self.per_node = np.zeros(cluster.size)
        self.arrived: list[int] = []
        self._frag: list[float] = []
        # How many binds the cluster had made (`len(placements)`) when `seen` was last
        # brought up to date (None: never).
        self._changes: int | None = None
        # Records not summed yet: per record, how many noted states it brings (-1: nothing
        # placed since the record before, the same amount); the noted states in order.
        self._pending: list[int] = []
        self._nodes: list[int] = []
        self._gpus: list[list[int]] = []
        self._cpus: list[int] = []

    @property
    def frag(self) -> list[float]:
        """The amount at each record so far."""
        if self._pending:
            self._sum_pending()
        return self._frag

    def record(self, arrived_gpu_milli: int) -> None:
        c = self.cluster
        binds = len(c.placements)
        since = None if self._changes is None else binds - self._changes
        self.arrived.append(arrived_gpu_milli)
        if since == 0:  # nothing placed since the last record (a failed pod): the same sum
            self._pending.append(-1)
            return
        if since == 1:  # one bind since, every other node up to date: only its node changed
            i = c.placements[-1][1]
            self._nodes.append(i)
            self._gpus.append(c.gpu_left[i].tolist())
            self._cpus.append(int(c.cpu_left[i]))
            self.seen[i] = c.version[i]
            self._pending.append(1)
        else:
            stale = (self.seen != c.version).nonzero()[0]
            self._nodes.extend(stale.tolist())
            self._gpus.extend(c.gpu_left[stale].tolist())
            self._cpus.extend(c.cpu_left[stale].tolist())
            self.seen[stale] = c.version[stale]
            self._pending.append(len(stale))
        self._changes = binds
        if len(self._nodes) >= MAX_PENDING_STATES:  # bounded memory on a long run
            self._sum_pending()

    def _sum_pending(self) -> None:
        """Value the noted states (one `node_frag` call) and append each pending record's
        amount: its nodes' new values written, then the sum over nodes."""
        nodes = self._nodes
        values: list[float] = []
        if nodes:
            model = self.cluster.model_idx.take(nodes)
            gpus = np.array(self._gpus, dtype=np.int64).reshape(len(nodes), -1)
            values = self.table.node_frag(gpus, np.array(self._cpus, np.int64), model).tolist()
        per_node, out, j = self.per_node, self._frag, 0
        for n in self._pending:
            if n < 0:
                out.append(out[-1])
                continue
            if n == 1:
                per_node[nodes[j]] = values[j]
            elif n:
                per_node[nodes[j : j + n]] = values[j : j + n]
            j += n
            out.append(float(np.add.reduce(per_node)))  # `.sum()`, no wrapper
        self._pending, self._nodes, self._gpus, self._cpus = [], [], [], []

    def curve(self, max_pct: int = 130) -> list[tuple[int, float]]:
        return discrete_curve(self.arrived, self.frag, self.cluster.total_gpu_milli, max_pct)


# Noted states a `FragmentationLog` holds before it values them (~100 bytes each).
MAX_PENDING_STATES = 1 << 16
