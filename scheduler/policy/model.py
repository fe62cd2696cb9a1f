"""The policy core's data model: immutable snapshots of nodes, GPUs, pods and placements.

Everything here is a frozen dataclass so a `ClusterState` can be shared between threads and
between the live extender and the simulator without copying. Units follow DESIGN.md: bytes for
host memory, MiB for GPU memory (what NVML reports), milli-GPU for shares, seconds for time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, NamedTuple

from scheduler.policy.views import With as _With
from scheduler.policy.views import Without as _Without

if TYPE_CHECKING:  # pragma: no cover
    from scheduler.policy.capacity import NodeCapacity
    from scheduler.policy.fleet_index import FleetIndex

# A previous fleet index and the names of nodes changed since it was built.
FleetSeed = tuple["FleetIndex", frozenset[str]]

MILLI_PER_GPU = 1000
# Sentinel GPU index for a grant whose GPU is not known (a pod bound by another scheduler, or a
# node described only by GFD labels): the capacity view charges it to the first GPU that fits.
UNKNOWN_INDEX = -1

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class GpuHealth:
    """Health signals for one GPU; the health plugin (D) turns them into a verdict."""

    xid_recent: tuple[int, ...] = ()  # critical XIDs inside the health window (telemetry filters)
    ecc_uncorrectable: int = 0
    remap_failure: bool = False
    temperature_c: float | None = None
    over_temperature: bool = False  # set by telemetry against the configured limit


@dataclass(frozen=True, slots=True)
class GpuLoad:
    """Live load for one GPU; `observed_at` (epoch seconds) lets plugins judge staleness."""

    utilization_pct: float | None = None
    memory_used_mib: int | None = None
    power_w: float | None = None
    observed_at: float | None = None


class MigSlot(NamedTuple):
    """An existing MIG GPU instance on a GPU: profile name, start memory slice, in use by a pod."""

    profile: str
    start: int
    in_use: bool = False


@dataclass(frozen=True, slots=True)
class Gpu:
    """One physical GPU. `model` is the catalogue key or NVML name (`packing.catalogue.get_model`
    accepts both); `instances` are the MIG instances that already exist on it."""

    index: int
    uuid: str
    model: str
    memory_mib: int
    mig_enabled: bool = False
    instances: tuple[MigSlot, ...] = ()
    health: GpuHealth = field(default_factory=GpuHealth)
    load: GpuLoad | None = None


@dataclass(frozen=True, slots=True)
class Node:
    """A Kubernetes node as the policy sees it.

    `mig_pool` counts static MIG devices per profile when the node is known only from GFD labels
    and allocatable (mixed strategy): we know how many exist, not on which GPU or at which start.
    `source` says where the GPU inventory came from ("annotation", "gfd" or "none").
    """

    name: str
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    gpus: tuple[Gpu, ...] = ()
    cpu_milli: int = 0
    memory_bytes: int = 0
    unschedulable: bool = False
    mig_pool: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "none"
    updated_at: float | None = None


GpuRequestKind = Literal["whole", "mig", "milli"]


@dataclass(frozen=True, slots=True)
class GpuRequest:
    """What a pod asks of GPUs (see README "Scheduler: how pods ask for GPUs").

    - whole: `count` whole GPUs (`nvidia.com/gpu`).
    - mig: `count` instances of `profile`; `dynamic=False` takes existing instances
      (`nvidia.com/mig-<profile>`), `dynamic=True` asks Tessera to place new ones
      (`tessera.io/mig-<profile>`).
    - milli: a share of one GPU, `milli` in 1..999 plus `memory_mib` of its memory
      (`tessera.io/gpu-milli`, `tessera.io/gpu-memory-mib`).
    """

    kind: GpuRequestKind
    count: int = 1
    profile: str | None = None
    dynamic: bool = False
    milli: int = 0
    memory_mib: int = 0


@dataclass(frozen=True, slots=True)
class GangRef:
    """Gang membership: `name` is "namespace/group"; `min_member` pods must start together."""

    name: str
    min_member: int


Qos = Literal["latency", "batch"]


@dataclass(frozen=True, slots=True)
class PodRequest:
    """A pod reduced to what scheduling needs. `allowed_products` is None when unconstrained,
    else the GFD `nvidia.com/gpu.product` values (or catalogue keys) the pod accepts."""

    key: str
    uid: str
    gpu: GpuRequest | None
    cpu_milli: int = 0
    memory_bytes: int = 0
    node_selector: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    allowed_products: frozenset[str] | None = None
    gang: GangRef | None = None
    qos: Qos | None = None
    priority: int = 0
    node_name: str | None = None


@dataclass(frozen=True, slots=True)
class GpuGrant:
    """One GPU (or part of one) given to a pod.

    whole GPU: profile, start and milli all None; MIG: profile (+ start when known);
    fractional: milli (+ memory_mib). `index == UNKNOWN_INDEX` means "some GPU on the node".
    """

    index: int
    uuid: str = ""
    profile: str | None = None
    start: int | None = None
    milli: int | None = None
    memory_mib: int | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a pod runs: the content of the `tessera.io/placement` pod annotation."""

    node: str
    gpus: tuple[GpuGrant, ...]


@dataclass(frozen=True, slots=True)
class Allocation:
    """A placement held by a pod: bound (from the apiserver) or reserved (decided, not yet bound).

    `expires_at` is None for bound pods; reservations lapse at that time (epoch seconds).
    """

    pod_key: str
    uid: str
    placement: Placement
    priority: int = 0
    bound: bool = True
    expires_at: float | None = None
    gang: str | None = None
    cpu_milli: int = 0  # the pod's CPU request (0 when unknown): free CPU for fragmentation


@dataclass(frozen=True, slots=True)
class GangPlanRecord:
    """A planned gang: each member slot's placement, and the pod UIDs already matched to slots.

    Slot `i` is held in `ClusterState.allocations` under `slot_key(name, i)` until its member
    binds. A non-empty `reason` records a gang that could not be placed (every node fails).
    """

    name: str
    slots: tuple[Placement, ...]
    expires_at: float
    members: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    reason: str = ""
    status: str = ""
    # What each slot was planned for; a member only takes a slot planned for its own request.
    requests: tuple[GpuRequest | None, ...] = ()

    def open_slots(self, request: GpuRequest | None) -> list[int]:
        """Unclaimed slots planned for `request` (any slot when the plan did not record it)."""
        taken = set(self.members.values())
        return [
            i
            for i in range(len(self.slots))
            if i not in taken and (not self.requests or self.requests[i] == request)
        ]


def slot_key(gang: str, i: int) -> str:
    """Allocation key of a gang slot not yet claimed by a bound pod."""
    return f"gang:{gang}#{i}"


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
        keep = {n: c for n, c in self._capacity.items() if n not in touched}
        parent = self.allocations_on
        return ClusterState(
            self.nodes, _Without(self.allocations, drop), self.gangs, self.now, {}, keep,
            self.seed_for(touched), {},
            lambda n: [a for a in parent(n) if a.uid not in drop] if n in touched else parent(n),
        )  # fmt: skip

    def with_allocations(self, extra: Mapping[str, Allocation]) -> ClusterState:
        """This snapshot plus some allocations under new keys (planning scratch state), sharing
        the memoised capacity of every node they do not touch."""
        if not extra:
            return self
        touched = {a.placement.node for a in extra.values()}
        keep = {n: c for n, c in self._capacity.items() if n not in touched}
        parent = self.allocations_on
        added = dict(extra)
        return ClusterState(
            self.nodes, _With(self.allocations, added), self.gangs, self.now, {}, keep,
            self.seed_for(touched), {},
            lambda n: [*parent(n), *(a for a in added.values() if a.placement.node == n)],
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
        from scheduler.policy.fleet_index import FleetIndex

        if self._seed is not None:
            base, dirty = self._seed
            caps = [self.capacity(n) for n in dirty if n in self.nodes]
            idx = base.updated(caps, [n for n in dirty if n not in self.nodes])
            if int(idx.alive.sum()) != len(self.nodes):  # a change we were not told about
                idx = None
        if idx is None:
            idx = FleetIndex.build(self.capacity(n) for n in self.nodes)
        self._fleet["fleet"] = idx
        return idx

    def capacity(self, node: str) -> NodeCapacity:
        """The free-capacity view of `node` (memoised for this snapshot)."""
        cap = self._capacity.get(node)
        if cap is None:
            from scheduler.policy.capacity import NodeCapacity

            cap = NodeCapacity.build(self.nodes[node], self.allocations_on(node))
            self._capacity[node] = cap
        return cap
