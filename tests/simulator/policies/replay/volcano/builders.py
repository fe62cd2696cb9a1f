"""Builders for Volcano-model tests: nodes, gangs and queues in Volcano's units."""

from __future__ import annotations

import random

from simulator.cluster.resources import CPU, GPU, MEMORY, MILLI, Res
from simulator.policies.replay.volcano import Job, Node, Task, VolcanoConfig, VolcanoScheduler

GiB = 1024**3


def node(name: str, gpus: int = 8, cpu_milli: int = 96_000, mem_gib: int = 384,
         extra: Res | None = None) -> Node:
    alloc: Res = {CPU: cpu_milli, MEMORY: mem_gib * GiB, GPU: gpus * MILLI}
    alloc.update(extra or {})
    return Node(name, alloc)


def req(gpus: int = 1, cpu_milli: int = 4_000, mem_gib: int = 16, extra: Res | None = None) -> Res:
    out: Res = {CPU: cpu_milli, MEMORY: mem_gib * GiB}
    if gpus:
        out[GPU] = gpus * MILLI
    out.update(extra or {})
    return out


def job(uid: str, replicas: int, min_member: int | None = None, resreq: Res | None = None,
        creation: float = 0.0, priority: int = 0, queue: str = "default",
        min_resources: Res | None = None) -> Job:
    j = Job(uid, queue=queue, min_member=replicas if min_member is None else min_member,
            min_resources=min_resources, priority=priority, creation=creation)
    for i in range(replicas):
        t = Task(f"{uid}-{i}", f"{uid}-{i}", uid, dict(resreq or req()), creation=creation)
        j.tasks[t.uid] = t
    return j


def scheduler(*nodes: Node, cfg: VolcanoConfig | None = None, seed: int = 0) -> VolcanoScheduler:
    s = VolcanoScheduler(cfg, random.Random(seed))
    for n in nodes:
        s.add_node(n)
    return s


def committed_names(result: object) -> list[str]:
    return [t.name for t in result.committed]  # type: ignore[attr-defined]
