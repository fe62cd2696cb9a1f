"""Builders for the health/load plugin tests: H100 nodes, GPUs with health and load, pods."""

from __future__ import annotations

from types import MappingProxyType

from scheduler.policy.model import (
    Allocation,
    ClusterState,
    Gpu,
    GpuGrant,
    GpuHealth,
    GpuLoad,
    GpuRequest,
    Node,
    Placement,
    PodRequest,
    Qos,
)

H100 = "NVIDIA H100 80GB HBM3"
H100_MIB = 81559  # nvml_snapshot_h100.json: memory.total 85,520,809,984 B / 2**20
NOW = 1_000_000.0


def gpu(
    index: int,
    *,
    health: GpuHealth | None = None,
    util: float | None = None,
    mem_mib: int | None = None,
    age_s: float = 0.0,
    mig: bool = False,
) -> Gpu:
    load = None
    if util is not None or mem_mib is not None:
        load = GpuLoad(utilization_pct=util, memory_used_mib=mem_mib, observed_at=NOW - age_s)
    return Gpu(
        index=index,
        uuid=f"GPU-{index:04d}",
        model=H100,
        memory_mib=H100_MIB,
        mig_enabled=mig,
        health=health or GpuHealth(),
        load=load,
    )


def node(name: str, *gpus: Gpu) -> Node:
    return Node(
        name=name, gpus=tuple(gpus), cpu_milli=64000, memory_bytes=512 << 30, source="annotation"
    )


def state(
    *nodes: Node, allocations: dict[str, Allocation] | None = None, now: float = NOW
) -> ClusterState:
    return ClusterState(
        nodes=MappingProxyType({n.name: n for n in nodes}),
        allocations=MappingProxyType(allocations or {}),
        now=now,
    )


def whole(count: int = 1, qos: Qos | None = None) -> PodRequest:
    return PodRequest(key="ns/p", uid="uid-p", gpu=GpuRequest(kind="whole", count=count), qos=qos)


def share(milli: int, qos: Qos | None = None, mem_mib: int = 1024) -> PodRequest:
    return PodRequest(
        key="ns/s",
        uid="uid-s",
        gpu=GpuRequest(kind="milli", milli=milli, memory_mib=mem_mib),
        qos=qos,
    )


def mig(profile: str = "1g.10gb", qos: Qos | None = None) -> PodRequest:
    return PodRequest(
        key="ns/m", uid="uid-m", gpu=GpuRequest(kind="mig", profile=profile, dynamic=True), qos=qos
    )


def held(uid: str, node_name: str, index: int, milli: int | None = None) -> Allocation:
    grant = GpuGrant(index=index, milli=milli, memory_mib=None if milli is None else 1024)
    return Allocation(pod_key=f"ns/{uid}", uid=uid, placement=Placement(node_name, (grant,)))
