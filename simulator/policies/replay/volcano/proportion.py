"""proportion plugin: per-queue `deserved` (weight water-filling), share, Overused, Allocatable.

Simplification (documented): no queue `guarantee` and no hierarchical queues, so
`realCapability = min(total, spec.capability)`. Inqueue and elastic resources as in the source
(`OnSessionOpen`): an Inqueue job, and a Running one with at least minMember tasks allocated,
holds `max(0, minResources - allocated)` per resource (`GetInqueueResource`); every job's
`max(0, allocated - minResources)` is elastic (`GetElasticResources`), which the enqueue vote
subtracts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from simulator.cluster import resources as r
from simulator.cluster.resources import Res
from simulator.policies.replay.volcano.objects import ALLOCATED, Job, JobPhase, Queue, Task

_EPS = 1e-9


@dataclass
class QueueAttr:
    queue: Queue
    allocated: Res = field(default_factory=dict)
    request: Res = field(default_factory=dict)
    inqueue: Res = field(default_factory=dict)
    elastic: Res = field(default_factory=dict)
    deserved: dict[str, float] = field(default_factory=dict)
    capability: Res = field(default_factory=dict)

    def share(self) -> float:
        """max_r allocated_r / deserved_r; 1 when deserved is 0 but something is allocated."""
        s = 0.0
        for k, a in self.allocated.items():
            if a <= 0:
                continue
            d = self.deserved.get(k, 0.0)
            s = max(s, 1.0 if d <= 0 else a / d)
        return s

    def overused(self) -> bool:
        """deserved <= allocated on every dimension (proportion `Overused`)."""
        dims = set(self.deserved) | set(self.allocated)
        return all(self.deserved.get(k, 0.0) <= self.allocated.get(k, 0) + _EPS for k in dims)

    def allocatable(self, task: Task) -> bool:
        """Queue open and allocated + req <= deserved on the request's dimensions."""
        if not self.queue.open:
            return False
        return all(
            self.allocated.get(k, 0) + v <= self.deserved.get(k, 0.0) + _EPS
            for k, v in task.resreq.items()
            if v > 0
        )


def build(queues: Mapping[str, Queue], jobs: Iterable[Job], total: Res) -> dict[str, QueueAttr]:
    attrs = {name: QueueAttr(q) for name, q in queues.items()}
    for a in attrs.values():
        cap = dict(total)
        if a.queue.capability:
            for k, v in a.queue.capability.items():
                cap[k] = min(cap.get(k, 0), v)
        a.capability = cap
    for job in jobs:
        qa = attrs.get(job.queue)
        if qa is None:
            continue
        r.add(qa.allocated, job.allocated())
        r.add(qa.request, job.allocated())
        for t in job.pending_tasks():
            r.add(qa.request, t.resreq)
        alloc = job.allocated()
        if job.min_resources and (
            job.phase is JobPhase.INQUEUE
            or (job.phase is JobPhase.RUNNING and job.count(ALLOCATED) >= job.min_member)
        ):
            r.add(qa.inqueue, reserved(job.min_resources, alloc))
        r.add(qa.elastic, exceeded(alloc, job.min_resources or {}))
    _water_fill(attrs, total)
    return attrs


def exceeded(a: Res, b: Res) -> Res:
    """ExceededPart(a, b): what `a` holds beyond `b`, per resource (positive parts only).
    With (allocated, minResources): the elastic allocation beyond a job's minimum."""
    return {k: v - b.get(k, 0) for k, v in a.items() if v > b.get(k, 0)}


def reserved(min_resources: Res, allocated: Res) -> Res:
    """GetInqueueResource: what is left of `minResources` after `allocated`, per resource."""
    return exceeded(min_resources, allocated)


def _water_fill(attrs: dict[str, QueueAttr], total: Res) -> None:
    """Split `total` by weight, capping each queue at its request and capability, until stable."""
    remaining = {k: float(v) for k, v in total.items()}
    unmet = {n for n, a in attrs.items() if a.queue.weight > 0}
    while unmet and any(v > _EPS for v in remaining.values()):
        wsum = sum(attrs[n].queue.weight for n in unmet)
        grown = {k: 0.0 for k in remaining}
        for n in sorted(unmet):
            a = attrs[n]
            for k, rem in remaining.items():
                old = a.deserved.get(k, 0.0)
                want = old + rem * a.queue.weight / wsum
                new = min(want, float(a.request.get(k, 0)), float(a.capability.get(k, 0)))
                new = max(new, old)
                a.deserved[k] = new
                grown[k] += new - old
            if all(
                a.deserved.get(k, 0.0) + _EPS >= min(a.request.get(k, 0), a.capability.get(k, 0))
                for k in remaining
            ):
                unmet.discard(n)
        if all(g <= _EPS for g in grown.values()):
            break
        for k in remaining:
            remaining[k] -= grown[k]
