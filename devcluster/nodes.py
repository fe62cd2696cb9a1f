"""Node and pod objects for a kubelet-less cluster: GPU capacity, GFD labels, `tessera.io/gpus`.

Nodes are plain API objects (no kubelet): the scheduler only reads them. GPU identity follows
the real H100 in shared/fixtures/nvml (NVML name "NVIDIA H100 80GB HBM3", 81559 MiB).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

H100_NVML_NAME = "NVIDIA H100 80GB HBM3"
H100_MEMORY_MIB = 81559


@dataclass(frozen=True)
class GpuSpec:
    """One GPU on a node: MIG mode, existing instances (profile, start, in_use), health."""

    mig: bool = False
    instances: Sequence[tuple[str, int, bool]] = ()
    xid_recent: Sequence[int] = ()
    ecc_uncorrectable: int = 0
    temperature_c: int = 40
    model: str = H100_NVML_NAME
    memory_mib: int = H100_MEMORY_MIB


@dataclass(frozen=True)
class NodeSpec:
    name: str
    gpus: Sequence[GpuSpec] = field(default_factory=lambda: [GpuSpec()] * 8)
    cpu: str = "64"
    memory: str = "512Gi"
    annotate: bool = True  # write `tessera.io/gpus` (else GFD labels + allocatable only)
    extra_allocatable: Mapping[str, str] = field(default_factory=dict)


def gpu_uuid(node: str, index: int) -> str:
    """A stable, unique, GPU-UUID-shaped id for a simulated GPU."""
    h = hashlib.sha256(f"{node}/{index}".encode()).hexdigest()
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def gpus_annotation(spec: NodeSpec) -> str:
    """The `tessera.io/gpus` value (schema v1, DESIGN.md)."""
    gpus = []
    for i, g in enumerate(spec.gpus):
        gpus.append(
            {
                "index": i,
                "uuid": gpu_uuid(spec.name, i),
                "model": g.model,
                "memory_mib": g.memory_mib,
                "mig": {
                    "enabled": g.mig,
                    "instances": [
                        {"profile": p, "start": s, "in_use": u} for p, s, u in g.instances
                    ],
                },
                "health": {
                    "xid_recent": list(g.xid_recent),
                    "ecc_uncorrectable": g.ecc_uncorrectable,
                    "remap_failure": False,
                    "temperature_c": g.temperature_c,
                },
            }
        )
    # Fresh telemetry: the agent would have just written it.
    updated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"version": 1, "updated": updated, "gpus": gpus}, separators=(",", ":"))


def node_object(spec: NodeSpec) -> dict[str, Any]:
    """A Ready Node with `nvidia.com/gpu` capacity, GFD labels and (optionally) the annotation."""
    n = len(spec.gpus)
    product = spec.gpus[0].model.replace(" ", "-") if n else ""
    labels = {"kubernetes.io/hostname": spec.name, "kubernetes.io/os": "linux"}
    if n:
        labels |= {
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": product,
            "nvidia.com/gpu.count": str(n),
            "nvidia.com/gpu.memory": str(spec.gpus[0].memory_mib),
            "nvidia.com/mig.capable": "true",
        }
    alloc = {"cpu": spec.cpu, "memory": spec.memory, "pods": "110", "nvidia.com/gpu": str(n)}
    alloc |= dict(spec.extra_allocatable)
    meta: dict[str, Any] = {"name": spec.name, "labels": labels}
    if spec.annotate and n:
        meta["annotations"] = {"tessera.io/gpus": gpus_annotation(spec)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta,
        "spec": {},
        "status": {
            "capacity": alloc,
            "allocatable": alloc,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def pod_object(
    name: str,
    resources: Mapping[str, str] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    scheduler_name: str = "default-scheduler",
) -> dict[str, Any]:
    """A bare pod (restartPolicy Never) requesting `resources` as requests == limits."""
    res = dict(resources or {})
    container: dict[str, Any] = {"name": "main", "image": "registry.k8s.io/pause:3.10"}
    if res:
        container["resources"] = {"requests": res, "limits": res}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "schedulerName": scheduler_name,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "containers": [container],
        },
    }
