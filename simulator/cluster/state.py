"""SimCluster: the mutable truth of a simulated cluster, handed to the policy core as an
immutable `ClusterState` view per decision (the same type the extender's `ClusterStore` builds).

Per-node allocation tuples and `NodeCapacity` views are maintained incrementally and only the
touched node's entries are invalidated on bind/release, so a snapshot costs O(1), not
O(allocations); the policy code cannot tell the difference (both fields are ClusterState's own
memo fields). The fleet index is the cluster's own too: each snapshot recomputes the rows of
the nodes touched since the last one in place (`FleetIndex.refresh`) instead of copying the
index per bind. So a snapshot is a live view, valid until the next bind or release, and the
policies use each one for one decision.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from types import MappingProxyType

from packing.catalogue import get_model
from packing.errors import PackingError
from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.demand import DemandMix
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.model import Allocation, ClusterState, Gpu, MigSlot, Node, Placement
from simulator.workloads.model import NodeSpec


def build_node(spec: NodeSpec, dynamic_mig: bool) -> Node:
    """Static mode: the spec's MIG instances exist; dynamic mode: MIG on, no instances yet."""
    try:
        model = get_model(spec.gpu_model)
        key, memory = model.key, model.memory_mib
    except PackingError:  # a trace's undisclosed model (openb G2): shares and whole GPUs only
        if spec.mig_gpus:
            raise
        key, memory = spec.gpu_model, 0
    gpus = []
    for i in range(spec.gpus):
        mig = i < spec.mig_gpus
        static = () if dynamic_mig else spec.gpu_layout(i)  # () for a non-MIG GPU
        inst = tuple(MigSlot(p, s) for p, s in static)
        gpus.append(Gpu(i, f"GPU-{spec.name}-{i}", key, memory, mig, inst))
    return Node(
        spec.name,
        MappingProxyType({"nvidia.com/gpu.product": key}),
        tuple(gpus),
        spec.cpu_milli,
        spec.memory_bytes,
        source="annotation",
    )


class SimCluster:
    def __init__(self, specs: tuple[NodeSpec, ...], *, dynamic_mig: bool = False) -> None:
        self.nodes: dict[str, Node] = {s.name: build_node(s, dynamic_mig) for s in specs}
        self.order: tuple[str, ...] = tuple(s.name for s in specs)
        self.allocations: dict[str, Allocation] = {}
        self.cpu_used: dict[str, int] = {n: 0 for n in self.nodes}
        self.mem_used: dict[str, int] = {n: 0 for n in self.nodes}
        self._requests: dict[str, tuple[int, int]] = {}
        self._on_node: dict[str, dict[str, Allocation]] = {}
        self._by_node: dict[str, tuple[Allocation, ...]] = {}
        self._capacity: dict[str, NodeCapacity] = {}
        self.freed: set[str] = set()  # nodes that gained capacity since the caller last looked
        self._index: FleetIndex | None = None
        self._dirty: set[str] = set()
        # Dirty nodes whose row holds an earlier view that plain grants on these GPU positions
        # alone separate from the current one (`FleetIndex.refresh`'s `shares`).
        self._shares: dict[str, list[int]] = {}
        self.changes = 0  # binds + releases so far: equal counts mean an unchanged cluster
        self._nodes_view = MappingProxyType(self.nodes)
        self._alloc_view = MappingProxyType(self.allocations)
        self._drained_hosts: dict[frozenset[tuple[int, int]], tuple[str, ...]] = {}

    def snapshot(self, now: float, demand: DemandMix | None = None) -> ClusterState:
        """The view for one decision; the cluster's fleet index, its rows of the nodes touched
        since the last snapshot recomputed in place. `demand`: the pods the scheduler has seen
        so far (`scheduler.policy.demand`), if it keeps count."""
        state = ClusterState(
            self._nodes_view,
            self._alloc_view,
            now=now,
            _by_node=self._by_node,
            _capacity=self._capacity,
            _fleet={} if self._index is None else {"fleet": self._index},
            demand=demand,
        )
        if self._index is None:
            self._index = state.fleet()
        elif self._dirty:
            self._index.refresh([state.capacity(n) for n in self._dirty], self._shares)
        self._dirty, self._shares = set(), {}
        return state

    def fits_host(self, node: str, cpu_milli: int, memory_bytes: int) -> bool:
        """kube-scheduler's NodeResourcesFit on CPU and memory (runs before the extender)."""
        n = self.nodes[node]
        return (
            self.cpu_used[node] + cpu_milli <= n.cpu_milli
            and self.mem_used[node] + memory_bytes <= n.memory_bytes
        )

    def hosts(
        self,
        asks: Iterable[tuple[int, int]],
        only: Container[str] | None = None,
        exclude: Container[str] = (),
    ) -> list[str]:
        """The nodes, in order, where `fits_host` passes for at least one (CPU, memory) ask:
        kube-scheduler's own fit before the extender (a list over every node per decision,
        so the loop reads the counters directly)."""
        nodes, cpu_used, mem_used = self.nodes, self.cpu_used, self.mem_used
        todo = set(asks)
        out = []
        if len(todo) == 1:  # the usual case: one pod, or a gang whose members ask alike
            ((c, m),) = todo
            for n in self.order:
                node = nodes[n]
                if (
                    cpu_used[n] + c <= node.cpu_milli
                    and mem_used[n] + m <= node.memory_bytes
                    and (only is None or n in only)
                    and n not in exclude
                ):
                    out.append(n)
            return out
        for n in self.order:
            if (only is not None and n not in only) or n in exclude:
                continue
            node, cpu, mem = nodes[n], cpu_used[n], mem_used[n]
            if any(cpu + c <= node.cpu_milli and mem + m <= node.memory_bytes for c, m in todo):
                out.append(n)
        return out

    def hosts_drained(self, asks: Iterable[tuple[int, int]]) -> list[str]:
        """The nodes, in order, whose CPU and memory could hold one of `asks` once empty
        (memoised: a node's allocatable CPU and memory never change here)."""
        key = frozenset(asks)
        hit = self._drained_hosts.get(key)
        if hit is None:
            nodes = self.nodes
            hit = self._drained_hosts[key] = tuple(
                n
                for n in self.order
                if any(c <= nodes[n].cpu_milli and m <= nodes[n].memory_bytes for c, m in key)
            )
        return list(hit)

    def bind(
        self,
        uid: str,
        placement: Placement,
        cpu_milli: int,
        memory_bytes: int,
        gang: str | None = None,
    ) -> None:
        if uid in self.allocations:
            raise ValueError(f"pod {uid} is already bound")
        node = placement.node
        alloc = self.allocations[uid] = Allocation(
            uid, uid, placement, gang=gang, cpu_milli=cpu_milli
        )
        self.cpu_used[node] += cpu_milli
        self.mem_used[node] += memory_bytes
        self._requests[uid] = (cpu_milli, memory_bytes)
        self._on_node.setdefault(node, {})[uid] = alloc
        self._recharge(node, lambda cap: cap.with_allocation(alloc))

    def release(self, uid: str) -> None:
        alloc = self.allocations.pop(uid)
        cpu, mem = self._requests.pop(uid)
        node = alloc.placement.node
        self.cpu_used[node] -= cpu
        self.mem_used[node] -= mem
        del self._on_node[node][uid]
        self.freed.add(node)
        self._recharge(node, lambda cap: cap.without_allocation(uid))

    def _recharge(self, node: str, step: Callable[[NodeCapacity], NodeCapacity | None]) -> None:
        """After one bind or release on `node`: its view becomes `step` of the last one where
        that is exact (plain grants, `NodeCapacity.with_allocation` / `without_allocation`),
        without a rebuild, and the fleet index redoes only the moved GPUs' shares."""
        before = self._capacity.get(node)
        current = self._index is not None and node not in self._dirty  # its row: `before`
        held = self._shares.get(node)
        self._touch(node)
        after = None if before is None else step(before)
        if before is None or after is None:
            return
        self._capacity[node] = after
        moved = [i for i, g in enumerate(after.gpus) if g is not before.gpus[i]]
        if (current or held is not None) and not any(after.gpus[i].gpu.mig_enabled for i in moved):
            self._shares[node] = sorted({*moved, *(held or ())})  # only their shares redone

    def on_node(self, node: str) -> tuple[Allocation, ...]:
        """The allocations held on `node` (bound or reserved)."""
        return self._by_node.get(node, ())

    def _touch(self, node: str) -> None:
        self.changes += 1
        on = self._on_node.setdefault(node, {})
        if on:
            self._by_node[node] = tuple(on.values())
        else:
            self._by_node.pop(node, None)
        self._capacity.pop(node, None)
        self._shares.pop(node, None)
        self._dirty.add(node)
