"""What the store keeps of one pod (`PodRecord`, `PodSeen`), and the allocation a bound pod holds,
read from its placement annotation (checked against its node: `forged`) or derived from its
requests (`ClusterStore`'s folding; the rules in `scheduler.state.store`'s docstring)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scheduler.policy.capacity import placement_conflicts
from scheduler.policy.model import UNKNOWN_INDEX, Allocation, GpuGrant, Node, Placement, PodRequest
from scheduler.state import placement as placement_codec
from scheduler.state.errors import StateError
from scheduler.state.pods import pod_phase

DONE_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True, slots=True)
class PodRecord:
    """What the store keeps of one pod: the parsed request, the two fields `allocation_of`
    reads of its object (`seen`), its allocation. Keeping whole objects cost about 2.5 KB a pod
    (50 MB of 20,000 pods), a {"status": ...} dict of the two about 370 bytes
    (benchmarks/bench_memory.py)."""

    request: PodRequest
    seen: PodSeen
    allocation: Allocation | None
    # Why Tessera would not have scheduled the pod as it reads (a bad `tessera.io/qos`...),
    # and why its placement annotation was refused (it is then charged by its requests).
    spec_problem: str = ""
    placement_problem: str = ""
    order: int = 0  # when the store first saw this UID (`ClusterStore.first_seen`)

    @property
    def problem(self) -> str:
        """Both problems on one line, for logs and messages ("" when there is none)."""
        return "; ".join(p for p in (self.spec_problem, self.placement_problem) if p)

    def problems(self) -> dict[str, str]:
        """The problems by kind, only those present (for /explain)."""
        out = {"spec": self.spec_problem, "placement": self.placement_problem}
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True, slots=True)
class PodSeen:
    """A pod object's phase and its placement annotation's text (None when absent), and its
    `metadata.resourceVersion` as an integer (0: absent or not an etcd revision)."""

    phase: str
    placement: str | None
    version: int = 0


def derived_grants(pod: PodRequest) -> tuple[GpuGrant, ...]:
    """Grants implied by the requests of a pod bound without a placement annotation."""
    g = pod.gpu
    if g is None:
        return ()
    if g.kind == "milli":
        return (GpuGrant(UNKNOWN_INDEX, milli=g.milli, memory_mib=g.memory_mib),)
    return tuple(GpuGrant(UNKNOWN_INDEX, profile=g.profile) for _ in range(g.count))


def forged(p: Placement, node: Node | None) -> str:
    """Why `p` cannot be a placement Tessera made on `node` ("" when it could be). Unknown node:
    nothing to check against yet (checked again when the node arrives)."""
    if node is None:
        return ""
    by_index = {g.index: g for g in node.gpus}
    whole: set[int] = set()
    for g in p.gpus:
        if g.index == UNKNOWN_INDEX:
            continue
        gpu = by_index.get(g.index)
        if gpu is None:
            return f"placement names GPU {g.index}, node {node.name} has {len(node.gpus)} GPUs"
        if g.uuid and gpu.uuid and g.uuid != gpu.uuid:
            return f"placement names GPU {g.index} with UUID {g.uuid[:40]!r}, not the node's"
        if g.profile is None and g.milli is None:
            if g.index in whole:
                return f"placement names whole GPU {g.index} twice"
            whole.add(g.index)
    return ""


def unlike_request(p: Placement, pod: PodRequest) -> str:
    """Why `p` cannot be what Tessera gave `pod` ("" when it could be): the grants must be the
    GPU request's kind and count (a share at least the requested milli), so an annotation
    naming one GPU for an eight-GPU pod cannot leave seven GPUs looking free."""
    g, n = pod.gpu, len(p.gpus)
    if g is None:
        return "placement names GPUs but the pod requests none" if n else ""
    if g.kind == "milli":
        ok = n == 1 and p.gpus[0].profile is None and (p.gpus[0].milli or 1000) >= g.milli
        return "" if ok else f"placement does not hold the pod's {g.milli} milli-GPU share"
    want = g.profile if g.kind == "mig" else None
    if n != g.count or any(x.profile != want or x.milli is not None for x in p.gpus):
        what = f"{g.count} x {g.profile}" if g.kind == "mig" else f"{g.count} whole GPU(s)"
        return f"placement names {n} grant(s), the pod requests {what}"
    return ""


def seen(obj: Mapping[str, Any]) -> PodSeen:
    """What `allocation_of` reads of a pod object. The phase is interned: a handful of values
    shared by every pod instead of a string each."""
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    text = annotations.get(placement_codec.ANNOTATION) if isinstance(annotations, Mapping) else None
    return PodSeen(sys.intern(pod_phase(obj)), text, version_of(meta))


def version_of(meta: object) -> int:
    """`metadata.resourceVersion` as an integer; 0 when absent or not an etcd revision (ASCII
    digits, at most 19)."""
    rv = meta.get("resourceVersion") if isinstance(meta, Mapping) else None
    ok = isinstance(rv, str) and rv.isascii() and rv.isdigit() and len(rv) <= 19
    return int(rv) if ok else 0  # type: ignore[arg-type]


def allocation_of(
    pod: PodRequest, raw: Mapping[str, Any] | PodSeen, node: Node | None = None
) -> tuple[Allocation | None, str]:
    """A running/bound pod's allocation (None if it holds nothing), and any problem reading it.
    A problem with a present annotation means it was rejected: the pod is charged by requests.
    `raw`: the pod object, or what `seen` kept of it."""
    got = raw if isinstance(raw, PodSeen) else seen(raw)
    if got.phase in DONE_PHASES:
        return None, ""
    text = got.placement
    problem = ""
    if text is not None and pod.node_name is None:
        # Tessera writes the annotation in the Binding, which sets `spec.nodeName` in the same
        # update: a pending pod carrying one wrote it itself. Charged, one pod that never
        # schedules held every GPU it named for as long as it waited.
        return None, "placement annotation on a pod not bound to a node: ignored"
    if text is not None:
        try:
            p = placement_codec.decode(text)
            if p.node == pod.node_name:
                problem = forged(p, node) or unlike_request(p, pod)
                if not problem:
                    cpu = pod.cpu_milli
                    return Allocation(pod.key, pod.uid, p, pod.priority, True, cpu_milli=cpu), ""
            else:
                problem = f"placement names node {p.node[:60]!r} but the pod is on {pod.node_name}"
        except StateError as exc:
            problem = str(exc)
    if pod.node_name is None or pod.gpu is None:
        return None, problem
    grants = derived_grants(pod)
    alloc = Allocation(
        pod.key, pod.uid, Placement(pod.node_name, grants), pod.priority, cpu_milli=pod.cpu_milli
    )
    return alloc, problem


def is_derived(alloc: Allocation) -> bool:
    """Charged by requests (a GPU index unknown), not by a placement Tessera made."""
    return any(g.index == UNKNOWN_INDEX for g in alloc.placement.gpus)


def claims_taken(node: Node, others: list[Allocation], alloc: Allocation) -> str:
    """Why `alloc`'s exact GPUs cannot be its own ("" when they can): another bound pod's
    placement (`others`, on `node`) already holds them (a forged or stale annotation). The
    first pod folded keeps them; both are charged, so no GPU is counted once for two pods."""
    mine = {g.index for g in alloc.placement.gpus}
    if all(g.index not in mine and g.index != UNKNOWN_INDEX
           for a in others for g in a.placement.gpus):  # fmt: skip
        return ""  # other GPUs only (the common case): no capacity walk needed
    conflicts = placement_conflicts(node, others, alloc)
    if not conflicts:
        return ""
    return f"placement claims GPUs already held on node {node.name} ({conflicts[0][:80]})"
