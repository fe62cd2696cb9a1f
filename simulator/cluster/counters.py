"""The device plugin's view (what Volcano and kube-scheduler see): plain counters.

`nvidia.com/gpu` counts non-MIG GPUs, each `nvidia.com/mig-<profile>` the static instances of
that profile; 1 device = 1000 milli. A fractional (milli) request has no counter in the plain
device plugin, so it takes one whole `nvidia.com/gpu` (stated in the README).
"""

from __future__ import annotations

from collections.abc import Iterable

from packing.catalogue import get_model
from simulator.cluster.resources import CPU, GPU, MEMORY, MILLI, Res, mig_resource
from simulator.policies.replay.volcano.objects import Node
from simulator.replay.protocol import Usage
from simulator.workloads.model import NodeSpec, TaskSpec

MIG_PREFIX = "nvidia.com/mig-"


def node_counters(spec: NodeSpec) -> Res:
    out: Res = {
        CPU: spec.cpu_milli,
        MEMORY: spec.memory_bytes,
        GPU: (spec.gpus - spec.mig_gpus) * MILLI,
    }
    for i in range(spec.mig_gpus):
        for profile, _start in spec.gpu_layout(i):
            key = mig_resource(profile)
            out[key] = out.get(key, 0) + MILLI
    return out


def request_counters(task: TaskSpec) -> Res:
    out: Res = {CPU: task.cpu_milli, MEMORY: task.memory_bytes}
    g = task.gpu
    if g is None:
        return out
    if g.kind == "mig":
        out[mig_resource(g.profile or "")] = g.count * MILLI
    elif g.kind == "milli":
        out[GPU] = MILLI  # no sharing in the plain device plugin: a whole card
    else:
        out[GPU] = g.count * MILLI
    return out


def mig_slices(resource: str, gpu_model: str = "H100-80GB") -> int:
    """Memory slices of the profile behind `nvidia.com/mig-<profile>`."""
    return get_model(gpu_model).profile(resource.removeprefix(MIG_PREFIX)).memory_slices


def held_milli(req: Res) -> int:
    """GPU capacity a counter request ties up: cards x 1000, MIG slices / 8 x 1000."""
    mig = sum(v * mig_slices(k) // 8 for k, v in req.items() if k.startswith(MIG_PREFIX))
    return req.get(GPU, 0) + mig


def counter_usage(nodes: Iterable[Node]) -> Usage:
    idle = free = 0
    for n in nodes:
        idle += n.idle(GPU) // MILLI
        free += sum(
            n.idle(k) // MILLI * mig_slices(k) for k in n.allocatable if k.startswith(MIG_PREFIX)
        )
    return Usage(idle, free)


def counter_overuse(nodes: Iterable[Node]) -> str | None:
    for n in nodes:
        for k, v in n.used.items():
            if v > n.allocatable.get(k, 0):
                return f"node {n.name}: {k} used {v} > allocatable {n.allocatable.get(k, 0)}"
    return None
