"""Test builders for Kubernetes Node/Pod dicts and policy model objects (E1).

Dicts are shaped exactly as the apiserver / kube-scheduler send them, so tests exercise the real
parsers. Defaults: an H100-80GB (8 memory slices, 7 compute slices), 81559 MiB as NVML reports.
"""

from __future__ import annotations

import json
from typing import Any

from scheduler.policy.model import Gpu, GpuRequest, MigSlot, Node, PodRequest

H100 = "NVIDIA H100 80GB HBM3"
H100_MIB = 81559


def gpu_json(
    index: int,
    *,
    model: str = H100,
    memory_mib: int = H100_MIB,
    mig: bool = False,
    instances: list[tuple[str, int, bool]] | None = None,
    ecc: int = 0,
    remap: bool = False,
) -> dict[str, Any]:
    return {
        "index": index,
        "uuid": f"GPU-{index:04d}",
        "model": model,
        "memory_mib": memory_mib,
        "mig": {
            "enabled": mig,
            "instances": [
                {"profile": p, "start": s, "in_use": u} for p, s, u in (instances or [])
            ],
        },
        "health": {"xid_recent": [], "ecc_uncorrectable": ecc, "remap_failure": remap,
                   "temperature_c": 50},
        "load": {"utilization_pct": 10, "memory_used_mib": 0, "power_w": 100},
    }  # fmt: skip


def node_json(
    name: str,
    gpus: list[dict[str, Any]] | None = None,
    *,
    labels: dict[str, str] | None = None,
    allocatable: dict[str, str] | None = None,
    annotate: bool = True,
) -> dict[str, Any]:
    """A Node; with `annotate` the GPUs go into `tessera.io/gpus`, else only labels/allocatable."""
    annotations = {}
    if annotate and gpus is not None:
        doc = {"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": gpus}
        annotations["tessera.io/gpus"] = json.dumps(doc)
    alloc = {"cpu": "64", "memory": "512Gi", **(allocatable or {})}
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations},
        "spec": {},
        "status": {"allocatable": alloc, "capacity": alloc},
    }


def pod_json(
    name: str,
    requests: dict[str, Any] | None = None,
    *,
    namespace: str = "default",
    uid: str | None = None,
    node: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    node_selector: dict[str, str] | None = None,
    affinity: dict[str, Any] | None = None,
    priority: int | None = None,
    phase: str = "Pending",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "image": "x", "resources": {"requests": requests or {},
                                                                     "limits": requests or {}}}]
    }  # fmt: skip
    if node is not None:
        spec["nodeName"] = node
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    if affinity is not None:
        spec["affinity"] = affinity
    if priority is not None:
        spec["priority"] = priority
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{namespace}-{name}",
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": spec,
        "status": {"phase": phase},
    }


def gang_member_json(
    name: str, requests: dict[str, Any], group: str, min_member: int, **kw: Any
) -> dict[str, Any]:
    """A pod of gang `group` (the coscheduling pod-group label) with Tessera's min-member
    annotation; `kw` as `pod_json`."""
    return pod_json(name, requests, labels={"scheduling.x-k8s.io/pod-group": group},
                    annotations={"tessera.io/gang-min-member": str(min_member)}, **kw)  # fmt: skip


def event(obj: dict[str, Any], kind: str = "ADDED") -> dict[str, Any]:
    return {"type": kind, "object": obj}


def h100(index: int = 0, *, mig: bool = False, instances=(), uuid: str | None = None) -> Gpu:
    return Gpu(
        index,
        uuid or f"GPU-{index:04d}",
        H100,
        H100_MIB,
        mig,
        tuple(MigSlot(*i) for i in instances),
    )


def node(name: str, *gpus: Gpu) -> Node:
    return Node(name, gpus=tuple(gpus))


def pod(key: str = "default/p", gpu: GpuRequest | None = None, **kw: Any) -> PodRequest:
    return PodRequest(key, kw.pop("uid", f"uid-{key}"), gpu, **kw)
