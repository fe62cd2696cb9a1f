"""The immutable records a cluster snapshot is made of: nodes, GPUs, pods and placements.

Everything here is a frozen dataclass so a snapshot can be shared between threads and between
the live extender and the simulator without copying. Units follow DESIGN.md: bytes for host
memory, MiB for GPU memory (what NVML reports), milli-GPU for shares, seconds for time.
`scheduler.policy.model` re-exports every name, next to the `ClusterState` built from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, NamedTuple

from scheduler.policy.rules import Qos

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
