"""Cluster snapshots and pending pods for the extender benchmark matrix.

Inventory sources (every node has 8 GPUs' worth of devices and 96 CPUs):
- `annotation`: the agent's `tessera.io/gpus` annotation on every node: H100s; on every other
  node GPUs 0-1 run MIG with existing instances (a 3g.40gb in use, a 3g.40gb and a 1g.10gb free)
  and GPUs 2-3 run MIG with no instances yet (dynamic MIG room); the rest are whole GPUs.
- `gfd`: GFD labels and allocatable only, what a cluster with the GPU Operator and no Tessera
  agent shows: half the nodes whole A100-80GB (`nvidia.com/gpu: 8`), half `mixed`-strategy MIG
  (`nvidia.com/mig-3g.40gb: 8`, `-1g.10gb: 12`, `-2g.20gb: 6`, no `nvidia.com/gpu`).
- `mixed`: even nodes as `annotation`, odd nodes as `gfd`.

Bound pods (about 4 per node): whole GPUs, a share and a MIG instance where the node has them,
written without `tessera.io/placement` (as another scheduler would leave them), so their GPUs
are charged by count. Request kinds are in `KINDS`; a gang member belongs to a 4-member gang.
"""

from __future__ import annotations

import json
from typing import Any

H100 = "NVIDIA H100 80GB HBM3"
INVENTORIES = ("annotation", "gfd", "mixed")
GFD_MIG = {"nvidia.com/mig-3g.40gb": "8", "nvidia.com/mig-1g.10gb": "12",
           "nvidia.com/mig-2g.20gb": "6"}  # fmt: skip

# kind -> (resource requests, pod labels/annotations extras)
KINDS: dict[str, dict[str, str]] = {
    "whole": {"nvidia.com/gpu": "1"},
    "milli": {"tessera.io/gpu-milli": "300", "tessera.io/gpu-memory-mib": "20000"},
    "static-mig": {"nvidia.com/mig-3g.40gb": "1"},
    "dyn-mig-1": {"tessera.io/mig-3g.40gb": "1"},
    "dyn-mig-3": {"tessera.io/mig-1g.10gb": "3"},
    "gang": {"nvidia.com/gpu": "1"},
    "no-gpu": {},
}
KIND_NOTES = {
    "static-mig": "static MIG: from the annotation's instances or GFD counts, per inventory",
    "dyn-mig-3": "dynamic MIG, three instances in one pod",
    "gang": "member of a 4-member gang (tessera.io/gang), whole GPU each",
}


def _gpu(i: int, mig: str) -> dict[str, Any]:
    inst: list[dict[str, Any]] = []
    if mig == "static":
        inst = [{"profile": "3g.40gb", "start": 4, "in_use": True},
                {"profile": "3g.40gb", "start": 0, "in_use": False}] if i == 0 else [
               {"profile": "1g.10gb", "start": 0, "in_use": False}]  # fmt: skip
    return {"index": i, "uuid": f"GPU-{i:04d}", "model": H100, "memory_mib": 81559,
            "mig": {"enabled": mig != "off", "instances": inst},
            "health": {"xid_recent": [], "ecc_uncorrectable": 0, "remap_failure": False,
                       "temperature_c": 50},
            "load": {"utilization_pct": 30, "memory_used_mib": 1000, "power_w": 200}}  # fmt: skip


def _annotation(i: int) -> str:
    migs = i % 2 == 0
    layout = ["static", "static", "dynamic", "dynamic"] if migs else []
    gpus = [_gpu(g, layout[g] if g < len(layout) else "off") for g in range(8)]
    return json.dumps({"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": gpus})


def source_of(inventory: str, i: int) -> str:
    if inventory == "mixed":
        return "annotation" if i % 2 == 0 else "gfd"
    return inventory


def node(inventory: str, i: int) -> dict[str, Any]:
    name = f"gpu-node-{i:05d}"
    labels = {"kubernetes.io/hostname": name}
    meta: dict[str, Any] = {"name": name, "resourceVersion": str(1000 + i), "labels": labels,
                            "annotations": {}}  # fmt: skip
    alloc: dict[str, str] = {"cpu": "96", "memory": "1Ti", "pods": "110"}
    if source_of(inventory, i) == "annotation":
        labels["nvidia.com/gpu.product"] = "NVIDIA-H100-80GB-HBM3"
        meta["annotations"]["tessera.io/gpus"] = _annotation(i)
        alloc["nvidia.com/gpu"] = "8"
    else:
        labels["nvidia.com/gpu.product"] = "NVIDIA-A100-SXM4-80GB"
        labels["nvidia.com/gpu.memory"] = "81920"
        labels["nvidia.com/mig.strategy"] = "mixed"
        whole = (i // 2) % 2 == 0 if inventory == "mixed" else i % 2 == 0
        if whole:
            alloc["nvidia.com/gpu"] = "8"
            labels["nvidia.com/gpu.count"] = "8"
        else:
            alloc.update(GFD_MIG)
    return {"kind": "Node", "apiVersion": "v1", "metadata": meta,
            "spec": {"podCIDR": "10.0.0.0/24"},
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.37.2"}}}  # fmt: skip


def pod(
    name: str, requests: dict[str, str], node_name: str | None = None, *,
    labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    req = {**requests, "cpu": "4", "memory": "32Gi"}
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "registry/train:1",
                                            "resources": {"requests": req, "limits": req}}],
                            "priority": 0}  # fmt: skip
    if node_name:
        spec["nodeName"] = node_name
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"u-{name}",
                            "labels": labels or {}, "annotations": annotations or {}}  # fmt: skip
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec,
            "status": {"phase": "Running" if node_name else "Pending"}}  # fmt: skip


def bound_pods(nd: dict[str, Any]) -> list[dict[str, Any]]:
    """About four running pods on the node, of the kinds its inventory offers."""
    name = nd["metadata"]["name"]
    alloc = nd["status"]["allocatable"]
    reqs: list[dict[str, str]] = []
    if "nvidia.com/gpu" in alloc:
        reqs += [{"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "2"},
                 {"tessera.io/gpu-milli": "500", "tessera.io/gpu-memory-mib": "30000"}]  # fmt: skip
    if "tessera.io/gpus" in nd["metadata"]["annotations"] and int(name[-5:]) % 2 == 0:
        reqs.append({"nvidia.com/mig-3g.40gb": "1"})  # the in-use instance's owner
    if "nvidia.com/mig-1g.10gb" in alloc:
        reqs += [{"nvidia.com/mig-1g.10gb": "1"}, {"nvidia.com/mig-3g.40gb": "1"},
                 {"nvidia.com/mig-2g.20gb": "1"}, {"nvidia.com/mig-1g.10gb": "2"}]  # fmt: skip
    while len(reqs) < 4:
        reqs.append({})  # a CPU-only pod
    return [pod(f"{name}-b{k}", r, name) for k, r in enumerate(reqs)]


def snapshot(inventory: str, n: int) -> tuple[dict[str, Any], list[str]]:
    nodes = [node(inventory, i) for i in range(n)]
    pods = [p for nd in nodes for p in bound_pods(nd)]
    names = [nd["metadata"]["name"] for nd in nodes]
    return {"apiVersion": "v1", "kind": "List", "items": nodes + pods}, names


def pending(kind: str) -> dict[str, Any]:
    if kind == "gang":
        return pod("pending-gang-0", KINDS[kind], labels={"tessera.io/gang": "bench"},
                   annotations={"tessera.io/gang-min-member": "4"})  # fmt: skip
    return pod(f"pending-{kind}", KINDS[kind])


def victims(pods: list[dict[str, Any]], names: list[str], k: int = 50) -> dict[str, Any]:
    """Preempt's input: `k` candidate nodes, each with its running GPU pods as victims."""
    on: dict[str, list[str]] = {}
    for p in pods:
        node_name = p["spec"].get("nodeName")
        if node_name:
            on.setdefault(node_name, []).append(p["metadata"]["uid"])
    return {nm: {"Pods": [{"UID": u} for u in on.get(nm, [])], "NumPDBViolations": 0}
            for nm in names[:k]}  # fmt: skip
