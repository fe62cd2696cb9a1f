"""The policy core's snapshot: `ClusterState`, the immutable view every plugin reads.

The records it is made of (nodes, GPUs, pods, placements) live in `scheduler.policy.records`
and are re-exported here. The snapshot memoises two derived views, each built by a module
below this one: per-node free capacity (`scheduler.policy.capacity`) and the column view of the
whole fleet (`scheduler.policy.fleet_index`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.demand import DemandMix
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.records import (
    MILLI_PER_GPU,
    UNKNOWN_INDEX,
    Allocation,
    GangPlanRecord,
    GangRef,
    Gpu,
    GpuGrant,
    GpuHealth,
    GpuLoad,
    GpuRequest,
    GpuRequestKind,
    MigSlot,
    Node,
    Placement,
    PodRequest,
    slot_key,
)
from scheduler.policy.rules import Qos
from scheduler.policy.views import With as _With
from scheduler.policy.views import Without as _Without

__all__ = [
    "MILLI_PER_GPU",
    "UNKNOWN_INDEX",
    "Allocation",
    "ClusterState",
    "FleetSeed",
    "GangPlanRecord",
    "GangRef",
    "Gpu",
    "GpuGrant",
    "GpuHealth",
    "GpuLoad",
    "GpuRequest",
    "GpuRequestKind",
    "MigSlot",
    "Node",
    "Placement",
    "PodRequest",
    "Qos",
    "slot_key",
]

# A previous fleet index and the names of nodes changed since it was built.
FleetSeed = tuple[FleetIndex, frozenset[str]]


@dataclass(frozen=True)
class ClusterState:
    """An immutable snapshot: nodes, allocations (bound + reserved, by pod UID), gang plans, now.

    Per-node free capacity is derived lazily and memoised (`capacity(name)`), so a filter over
    thousands of nodes computes each node's view at most once per snapshot.
    """

    nodes: Mapping[str, Node]
    allocations: Mapping[str, Allocation] = field(default_factory=lambda: MappingProxyType({}))
    gangs: Mapping[str, GangPlanRecord] = field(default_factory=lambda: MappingProxyType({}))
    now: float = 0.0
    _by_node: dict[str, tuple[Allocation, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _capacity: dict[str, NodeCapacity] = field(default_factory=dict, compare=False, repr=False)
    _seed: FleetSeed | None = field(default=None, compare=False, repr=False)
    _fleet: dict[str, FleetIndex] = field(default_factory=dict, compare=False, repr=False)
    # Optional per-node source of allocations (expired ones are filtered here), so a snapshot
    # need not index every allocation up front; memoised per node in `_by_node`.
    _on: Callable[[str], Iterable[Allocation]] | None = field(
        default=None, compare=False, repr=False
    )
    # What the scheduler has seen pods ask for (`scheduler.policy.demand`): the default
    # profile's fragmentation and reserve scorers read it; None = judge each pod by its own shape.
    demand: DemandMix | None = field(default=None, compare=False, repr=False)
    # Set by the store: (the previous snapshot's allocations mapping, the nodes whose
    # allocations may differ from it), so a snapshot derived from this one and that one (the
    # telemetry overlay) knows what changed without diffing every allocation of the cluster.
    _since: tuple[Mapping[str, Allocation], frozenset[str]] | None = field(
        default=None, compare=False, repr=False
    )
    # Set by `with_allocations`: (the state it added to, what it added), so that adding to
    # this one again adds to that state at once instead of stacking one more layer (a gang's
    # drain plan adds one member at a time: 600 layers passed Python's recursion limit).
    _overlay: tuple[ClusterState, dict[str, Allocation]] | None = field(
        default=None, compare=False, repr=False
    )

    def allocations_on(self, node: str) -> tuple[Allocation, ...]:
        """Live allocations (bound, or reserved and not expired) on `node`."""
        if self._on is not None:
            got = self._by_node.get(node)
            if got is None:
                now = self.now
                got = tuple(a for a in self._on(node) if a.expires_at is None or a.expires_at > now)
                self._by_node[node] = got
            return got
        if not self._by_node and self.allocations:
            index: dict[str, list[Allocation]] = {}
            for alloc in self.allocations.values():
                if alloc.expires_at is not None and alloc.expires_at <= self.now:
                    continue
                index.setdefault(alloc.placement.node, []).append(alloc)
            self._by_node.update({k: tuple(v) for k, v in index.items()})
        return self._by_node.get(node, ())

    def without(self, keys: set[str]) -> ClusterState:
        """This snapshot minus some allocations (e.g. the pod's own reservation), sharing the
        memoised capacity of every node they did not touch (a view: nothing is copied)."""
        gone = [self.allocations[k] for k in keys if k in self.allocations]
        if not gone:
            return self
        touched = {a.placement.node for a in gone}
        drop = frozenset(k for k in keys if k in self.allocations)
        keep = _except(self._capacity, touched)
        parent = self.allocations_on
        return ClusterState(
            self.nodes, _Without(self.allocations, drop), self.gangs, self.now, {}, keep,
            self.seed_for(touched), {},
            lambda n: [a for a in parent(n) if a.uid not in drop] if n in touched else parent(n),
            self.demand,
        )  # fmt: skip

    def with_allocations(self, extra: Mapping[str, Allocation]) -> ClusterState:
        """This snapshot plus some allocations under new keys (planning scratch state), sharing
        the memoised capacity of every node they do not touch."""
        if not extra:
            return self
        touched = {a.placement.node for a in extra.values()}
        keep = _except(self._capacity, touched)
        base, added = self, dict(extra)
        if self._overlay is not None and self._overlay[1].keys().isdisjoint(extra):
            # One layer over the first state: its allocations, then all added in order (the
            # same per-node lists and mapping as a layer per call, which a repeated key would
            # make differ: then a layer is stacked).
            base, added = self._overlay[0], {**self._overlay[1], **extra}
        parent = base.allocations_on
        return ClusterState(
            self.nodes, _With(base.allocations, added), self.gangs, self.now, {}, keep,
            self.seed_for(touched), {},
            lambda n: [*parent(n), *(a for a in added.values() if a.placement.node == n)],
            self.demand, _overlay=(base, added),
        )  # fmt: skip

    def seed_for(self, changed: set[str] | frozenset[str]) -> FleetSeed | None:
        """How a later state whose `changed` nodes differ can update this state's fleet index."""
        built = self._fleet.get("fleet")
        if built is not None:
            return built, frozenset(changed)
        if self._seed is not None:
            return self._seed[0], self._seed[1] | frozenset(changed)
        return None

    def fleet(self) -> FleetIndex:
        """The column view of all nodes' free capacity (memoised; updated from the seed)."""
        idx = self._fleet.get("fleet")
        if idx is not None:
            return idx
        if self._seed is not None:
            base, dirty = self._seed
            caps = [self.capacity(n) for n in dirty if n in self.nodes]
            # Nothing changed: the base index is this state's too (an index never changes).
            idx = base.updated(caps, [n for n in dirty if n not in self.nodes]) if dirty else base
            if int(idx.alive.sum()) != len(self.nodes):  # a change we were not told about
                idx = None
        if idx is None:
            # Views built for the index are not memoised: kept, they are ~25 MB at 5,000 nodes
            # for the life of a quiet cluster's snapshot (benchmarks/bench_memory.py); a reader
            # that needs one builds it again (the same view: it depends on node and allocations).
            # One view at a time (the shape is known from the nodes: a view has a row per GPU).
            memo, nodes = self._capacity, self.nodes
            slots = max((len(node.gpus) for node in nodes.values()), default=1) or 1
            on = self.allocations_on
            views = (memo.get(n) or NodeCapacity.build(nodes[n], on(n)) for n in nodes)
            idx = FleetIndex.build(views, (len(nodes), slots))
        self._fleet["fleet"] = idx
        return idx

    def capacity(self, node: str) -> NodeCapacity:
        """The free-capacity view of `node` (memoised for this snapshot)."""
        cap = self._capacity.get(node)
        if cap is None:
            cap = NodeCapacity.build(self.nodes[node], self.allocations_on(node))
            self._capacity[node] = cap
        return cap


def _except(memo: dict[str, NodeCapacity], touched: set[str]) -> dict[str, NodeCapacity]:
    """A copy of a capacity memo without the touched nodes' entries (a C-level dict copy,
    then a few deletions: ~10x faster than filtering 5,000 entries in Python)."""
    out = dict(memo)
    for n in touched:
        out.pop(n, None)
    return out
