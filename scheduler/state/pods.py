"""Pod JSON (as kube-scheduler or the apiserver sends it) -> `PodRequest` and its placement.

The resource names and gang keys are documented in the README ("how pods ask for GPUs").
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, cast

from packing.errors import echo
from scheduler.policy.model import GangRef, GpuRequest, PodRequest, Qos
from scheduler.state.errors import PodParseError
from scheduler.state.quantity import to_int, to_milli

WHOLE = "nvidia.com/gpu"
STATIC_MIG = "nvidia.com/mig-"
DYNAMIC_MIG = "tessera.io/mig-"
MILLI = "tessera.io/gpu-milli"
MEMORY = "tessera.io/gpu-memory-mib"
PRODUCT = "nvidia.com/gpu.product"
GANG_KEYS = (
    ("label", "scheduling.x-k8s.io/pod-group"),
    ("annotation", "scheduling.k8s.io/group-name"),
    ("label", "tessera.io/gang"),
    ("annotation", "tessera.io/gang"),
)
MIN_MEMBER = "tessera.io/gang-min-member"
QOS = "tessera.io/qos"
GPU_KEYS = (WHOLE, MILLI, MEMORY)
MAX_MEMORY_MIB = 2**31 - 1  # far beyond any GPU (2 PiB)
# GPUs (or MIG devices) one node may hold, and so one pod may ask for. Real nodes have a few
# dozen; the policy's fleet index counts them in 16-bit columns, and a GFD node claiming
# 2,000,000 GPUs took 47 s to index and then overflowed every filter of every pod.
MAX_DEVICES = 4096
MAX_GANG_MEMBERS = 4096  # a gang asking more waits for ever either way
MAX_NAME = 253  # a Kubernetes object name (DNS subdomain)


def _dict(value: object, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PodParseError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PodParseError(f"{what} must be a list, got {type(value).__name__}")
    return value


def pod_key(pod: Mapping[str, Any]) -> str:
    meta = _dict(pod.get("metadata"), "pod metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise PodParseError("pod metadata.name is missing")
    ns = meta.get("namespace") or "default"
    return f"{ns}/{name}"


def _container_requests(c: Mapping[str, Any], where: str) -> dict[str, str]:
    res = _dict(c.get("resources"), f"{where}.resources")
    limits = _dict(res.get("limits"), f"{where}.resources.limits")
    requests = _dict(res.get("requests"), f"{where}.resources.requests")
    # Extended resources may be given as limits only (Kubernetes copies them to requests).
    return {**limits, **requests}


def effective_requests(spec: Mapping[str, Any]) -> dict[str, int]:
    """Relevant resources: sum over containers, max with each init container (K8s semantics).

    Values are integers in their natural unit: cpu in milli, memory in bytes, GPU resources as
    counts / milli / MiB.
    """
    total: dict[str, int] = {}
    for i, c in enumerate(_list(spec.get("containers"), "spec.containers")):
        for k, v in _container_requests(_dict(c, "container"), f"containers[{i}]").items():
            if _relevant(k):
                total[k] = total.get(k, 0) + _value(k, v, f"containers[{i}] {k}")
    for i, c in enumerate(_list(spec.get("initContainers"), "spec.initContainers")):
        for k, v in _container_requests(_dict(c, "container"), f"initContainers[{i}]").items():
            if _relevant(k):
                total[k] = max(total.get(k, 0), _value(k, v, f"initContainers[{i}] {k}"))
    return total


def _relevant(key: str) -> bool:
    return key in ("cpu", "memory", *GPU_KEYS) or key.startswith((STATIC_MIG, DYNAMIC_MIG))


def _value(key: str, value: object, what: str) -> int:
    try:
        return to_milli(value, what) if key == "cpu" else to_int(value, what)
    except ValueError as exc:
        raise PodParseError(str(exc)) from None


def canonical_profile(name: str) -> str:
    """Device-plugin resource suffix -> MIG profile name ("1g.10gb.me" -> "1g.10gb+me")."""
    return name[: -len(".me")] + "+me" if name.endswith(".me") else name


def gpu_request(
    req: Mapping[str, int], key: str, problems: list[str] | None = None
) -> GpuRequest | None:
    """The pod's one GPU request. `problems` given (a pod already bound, whose GPUs must be
    charged whatever it says): what would be refused is noted there instead, and the request
    read as the most the pod can hold (whole GPUs over MIG over a share)."""

    def refuse(why: str) -> None:
        if problems is None:
            raise PodParseError(why)
        problems.append(why)

    kinds = [
        k
        for k in req
        if req[k] > 0
        and (k in (WHOLE, MILLI) or k.startswith("nvidia.com/mig-") or k.startswith(DYNAMIC_MIG))
    ]
    if req.get(MEMORY, 0) > 0 and MILLI not in kinds:
        refuse(f"pod {key}: {MEMORY} needs {MILLI} as well")
    if not kinds:
        return None
    if len(kinds) > 1:
        refuse(
            f"pod {key} asks for more than one kind of GPU ({', '.join(sorted(kinds))}); "
            "use one GPU resource per pod"
        )
        kinds.sort(key=lambda k: (k != WHOLE, k == MILLI, k.startswith(DYNAMIC_MIG), k))
    k = kinds[0]
    n = req[k]
    if k != MILLI and n > MAX_DEVICES:  # fits no node; a MIG fit would try it instance by one
        raise PodParseError(f"pod {key}: {k} is {n}, at most {MAX_DEVICES} on one node")
    if k == WHOLE:
        return GpuRequest("whole", count=n)
    if k == MILLI:
        if n > 1000:
            refuse(f"pod {key}: {MILLI} is {n}, at most 1000 (one GPU); use {WHOLE} for more")
            return GpuRequest("whole", count=-(-n // 1000))
        if n == 1000:
            return GpuRequest("whole", count=1)
        memory = req.get(MEMORY, 0)
        if memory > MAX_MEMORY_MIB:  # the policy's columns hold MiB in 32 bits
            raise PodParseError(f"pod {key}: {MEMORY} is {memory}, at most {MAX_MEMORY_MIB}")
        return GpuRequest("milli", milli=n, memory_mib=memory)
    dynamic = k.startswith(DYNAMIC_MIG)
    profile = canonical_profile(k.removeprefix(DYNAMIC_MIG if dynamic else STATIC_MIG))
    if not profile:
        raise PodParseError(f"pod {key}: {k} names no MIG profile (e.g. {k}1g.10gb)")
    return GpuRequest("mig", count=n, profile=profile, dynamic=dynamic)


def allowed_products(spec: Mapping[str, Any]) -> frozenset[str] | None:
    """GPU products the pod accepts (nodeSelector and required node affinity), None if any."""
    allowed: set[str] | None = None
    sel = _dict(spec.get("nodeSelector"), "spec.nodeSelector")
    if isinstance(sel.get(PRODUCT), str):
        allowed = {sel[PRODUCT]}
    affinity = _dict(
        _dict(spec.get("affinity"), "spec.affinity").get("nodeAffinity"), "nodeAffinity"
    )
    required = _dict(
        affinity.get("requiredDuringSchedulingIgnoredDuringExecution"), "required node affinity"
    )
    terms = _list(required.get("nodeSelectorTerms"), "nodeSelectorTerms")
    if terms:
        union: set[str] = set()
        for term in terms:
            values = _term_products(_dict(term, "nodeSelectorTerm"))
            if values is None:  # an unconstrained term: any product may satisfy the OR
                union = set()
                break
            union |= values
        else:
            allowed = union if allowed is None else allowed & union
    return None if allowed is None else frozenset(allowed)


def _term_products(term: Mapping[str, Any]) -> set[str] | None:
    found: set[str] | None = None
    for expr in _list(term.get("matchExpressions"), "matchExpressions"):
        expr = _dict(expr, "matchExpression")
        if expr.get("key") == PRODUCT and expr.get("operator") == "In":
            values = {str(v) for v in _list(expr.get("values"), "values")}
            found = values if found is None else found & values
    return found


def gang_of(
    meta: Mapping[str, Any],
    ns: str,
    min_members: Mapping[str, int],
    problems: list[str] | None = None,
) -> GangRef | None:
    labels = _dict(meta.get("labels"), "labels")
    annotations = _dict(meta.get("annotations"), "annotations")
    for where, k in GANG_KEYS:
        name = (labels if where == "label" else annotations).get(k)
        if isinstance(name, str) and len(name) > MAX_NAME:
            # A PodGroup's name is a DNS subdomain (253); a longer one (an annotation of
            # 100 KB) would be copied into every reply that names the gang.
            why = f"{k} is {len(name)} characters, at most {MAX_NAME}"
            if problems is None:
                raise PodParseError(why)
            problems.append(why)
            return None
        if isinstance(name, str) and name:
            full = f"{ns}/{name}"
            raw = annotations.get(MIN_MEMBER, labels.get(MIN_MEMBER))
            if full in min_members:
                n = min_members[full]
            elif raw is not None:
                try:
                    n = to_int(raw, MIN_MEMBER)
                except ValueError as exc:
                    if problems is None:
                        raise PodParseError(str(exc)) from None
                    problems.append(str(exc))
                    n = 1
            else:
                n = 1
            return GangRef(full, bounded_min_member(n))
    return None


def bounded_min_member(n: int) -> int:
    """At least 1; at most MAX_GANG_MEMBERS (a planner fills the missing members with copies
    of one pod: a minMember of 10^18 was a MemoryError in every filter)."""
    return min(max(n, 1), MAX_GANG_MEMBERS)


def parse_pod(
    pod: Mapping[str, Any],
    min_members: Mapping[str, int] | None = None,
    problems: list[str] | None = None,
) -> PodRequest:
    """A Pod dict -> `PodRequest`; `PodParseError` with a one-line reason when it is malformed.

    `min_members` maps "ns/group" to a PodGroup's minMember where PodGroups are known.
    `problems` given: a bound pod is read as far as it can be (its GPUs must be charged even
    when Tessera would refuse to schedule it); what is wrong is appended there, and only a pod
    whose name or resources cannot be read at all raises.
    """
    if not isinstance(pod, Mapping):
        raise PodParseError(f"pod must be an object, got {type(pod).__name__}")
    key = pod_key(pod)
    meta = _dict(pod.get("metadata"), "metadata")
    spec = _dict(pod.get("spec"), "spec")
    ns = key.split("/", 1)[0]
    req = effective_requests(spec)
    gpu = gpu_request(req, key, problems)
    soft: list[str] = []  # refusals a bound pod's record overrides with a default
    annotations = _dict(meta.get("annotations"), "annotations")
    qos = annotations.get(QOS)
    if qos not in (None, "latency", "batch"):
        soft.append(f"pod {key}: {QOS} must be 'latency' or 'batch', got {echo(qos, 40)}")
        qos = None
    priority = spec.get("priority") or 0
    if not isinstance(priority, int) or isinstance(priority, bool) or abs(priority) >= 2**31:
        soft.append(f"pod {key}: spec.priority must be a 32-bit integer, got {echo(priority, 40)}")
        priority = 0
    if soft and problems is None:
        raise PodParseError(soft[0])
    if problems is not None:
        problems += soft
    node_name = spec.get("nodeName")
    if not isinstance(node_name, str) or not node_name:
        node_name = None
    elif type(node_name) is str:  # one shared string for every pod on a node
        node_name = sys.intern(node_name)
    uid = meta.get("uid")
    selector = {str(k): str(v) for k, v in _dict(spec.get("nodeSelector"), "nodeSelector").items()}
    return PodRequest(
        key=key,
        uid=uid if isinstance(uid, str) and uid else key,
        gpu=gpu,
        cpu_milli=req.get("cpu", 0),
        memory_bytes=req.get("memory", 0),
        # Empty: the shared default mapping, not a dict per pod (tens of thousands are kept).
        **({"node_selector": selector} if selector else {}),
        allowed_products=allowed_products(spec),
        gang=gang_of(meta, ns, min_members or {}, problems),
        qos=cast(Qos | None, qos),
        priority=priority,
        node_name=node_name,
    )


def pod_phase(pod: Mapping[str, Any]) -> str:
    status = pod.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return phase if isinstance(phase, str) else ""
