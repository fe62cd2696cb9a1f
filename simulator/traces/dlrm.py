"""Alibaba cluster-trace-gpu-v2025 (NSDI '25 "Prism"): GPU-disaggregated DLRM serving instances.

One row per instance: role CN (CPU node, CPU-only) or HN (heterogeneous GPU node, whole GPUs),
its requests (vCPU, GPUs, % of one RNIC, GiB of memory and disk), the per-app density limit
`max_instance_per_node` (-1 = none) and creation/scheduled/deletion seconds from the trace
start. A blank (or NaN) time means before the trace start (creation, scheduled) or after its
end (deletion), per the trace's README.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.traces.csvfile import MAX_CPU_CORES, MAX_DEVICES, MAX_MEMORY_GIB, Row, read_rows
from simulator.traces.errors import LoadReport
from simulator.traces.fields import number

HEADER = (
    "instance_sn", "role", "app_name", "cpu_request", "cpu_limit", "gpu_request", "gpu_limit",
    "rdma_request", "rdma_limit", "memory_request", "memory_limit", "disk_request", "disk_limit",
    "max_instance_per_node", "creation_time", "scheduled_time", "deletion_time",
)  # fmt: skip
ROLES = ("CN", "HN")


@dataclass(frozen=True)
class DlrmInstance:
    name: str
    role: str  # "CN" | "HN"
    app: str
    cpu: int  # vCPU
    gpu: int  # whole GPUs; 0 for CN
    rdma_pct: int  # % of one RNIC's bandwidth (a density constraint in Prism)
    memory_gib: float
    disk_gib: float
    max_per_node: int  # -1 = no limit
    creation_time: float | None = None  # None: created before the trace start
    scheduled_time: float | None = None  # None: scheduled before the trace start
    deletion_time: float | None = None  # None: still alive at the trace end


def _instance(row: Row) -> DlrmInstance:
    name = row.text("instance_sn")
    if not name:
        raise row.fail("instance_sn", "empty instance name")
    role = row.text("role")
    if role not in ROLES:
        raise row.fail("role", f"unknown role {role!r}; expected CN or HN")
    gpu = row.integer("gpu_request", hi=MAX_DEVICES)
    if role == "CN" and gpu != 0:
        raise row.fail("gpu_request", f"a CN (CPU node) instance cannot ask for {gpu} GPUs")
    if role == "HN" and gpu < 1:
        raise row.fail("gpu_request", "an HN (GPU node) instance needs gpu_request >= 1")
    max_per_node = row.integer("max_instance_per_node", lo=-1)
    if max_per_node == 0:
        raise row.fail("max_instance_per_node", "0 would forbid every node; use -1 for no limit")
    created = row.seconds("creation_time", optional=True)
    scheduled = row.seconds("scheduled_time", optional=True)
    deleted = row.seconds("deletion_time", optional=True)
    began = scheduled if scheduled is not None else created
    if deleted is not None and began is not None and deleted < began:
        raise row.fail("deletion_time", f"deleted at {deleted:g} s before it began at {began:g} s")
    return DlrmInstance(
        name=name,
        role=role,
        app=row.text("app_name"),
        cpu=row.integer("cpu_request", lo=1, hi=MAX_CPU_CORES),
        gpu=gpu,
        rdma_pct=row.integer("rdma_request", hi=100),
        memory_gib=number(row, "memory_request", hi=MAX_MEMORY_GIB),
        disk_gib=number(row, "disk_request", hi=MAX_MEMORY_GIB * 1024),
        max_per_node=max_per_node,
        creation_time=created,
        scheduled_time=scheduled,
        deletion_time=deleted,
    )


def load_dlrm_instances(path: str | Path, *, lenient: bool = False) -> LoadReport[DlrmInstance]:
    return read_rows(path, (HEADER,), _instance, lenient=lenient)
