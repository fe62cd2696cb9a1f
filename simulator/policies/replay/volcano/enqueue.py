"""enqueue action with the overcommit and proportion votes (reference section 5).

Pending jobs are popped one per queue turn; a job without `minResources` is admitted at once,
one with `minResources` only if both tier-2 votes permit; a rejected job waits for the next cycle.
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.cluster import resources as r
from simulator.cluster.resources import Res
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import ALLOCATED, Job, JobPhase, Node
from simulator.policies.replay.volcano.ordering import job_key, queue_key
from simulator.policies.replay.volcano.proportion import QueueAttr, reserved


def _dims_le(req: Res, a: Mapping[str, float], limit: Mapping[str, float]) -> bool:
    """a + req <= limit on the dimensions `req` names."""
    return all(a.get(k, 0) + v <= limit.get(k, 0) + 1e-9 for k, v in req.items())


class Overcommit:
    """overcommit plugin: idle = total * factor - used; inqueue as in GetInqueueResource."""

    def __init__(
        self, cfg: VolcanoConfig, nodes: Mapping[str, Node], jobs: Mapping[str, Job], total: Res
    ) -> None:
        used = r.total(n.used for n in nodes.values())
        self.idle = {k: v * cfg.factor() - used.get(k, 0) for k, v in total.items()}
        self.inqueue: Res = {}
        for job in jobs.values():
            if not job.min_resources:
                continue
            if job.phase is JobPhase.INQUEUE:
                r.add(self.inqueue, job.min_resources)
            elif job.phase is JobPhase.RUNNING and job.count(ALLOCATED) >= job.min_member:
                r.add(self.inqueue, reserved(job.min_resources, job.allocated()))

    def permit(self, job: Job) -> bool:
        assert job.min_resources is not None
        return _dims_le(job.min_resources, self.inqueue, self.idle)

    def enqueued(self, job: Job) -> None:
        if job.min_resources:
            r.add(self.inqueue, job.min_resources)


def _proportion_permits(job: Job, attr: QueueAttr) -> bool:
    """Reject a closed queue; else minReq + allocated + inqueue - elastic <= realCapability."""
    if not attr.queue.open:
        return False
    if not job.min_resources:
        return True
    base = dict(attr.allocated)
    r.add(base, attr.inqueue)
    r.sub(base, attr.elastic)
    return _dims_le(job.min_resources, base, attr.capability)


def run_enqueue(
    cfg: VolcanoConfig,
    nodes: Mapping[str, Node],
    jobs: Mapping[str, Job],
    attrs: Mapping[str, QueueAttr],
    total: Res,
) -> list[str]:
    """Admit Pending jobs to Inqueue; returns the admitted job UIDs in admission order."""
    per_queue: dict[str, list[Job]] = {}
    for job in jobs.values():
        if job.phase is JobPhase.PENDING and job.queue in attrs:
            per_queue.setdefault(job.queue, []).append(job)
    for lst in per_queue.values():
        lst.sort(key=lambda j: job_key(j, total), reverse=True)  # pop() takes the smallest key
    over = Overcommit(cfg, nodes, jobs, total)
    admitted: list[str] = []
    while per_queue:
        qname = min(per_queue, key=lambda n: queue_key(attrs[n]))
        job = per_queue[qname].pop()
        if not per_queue[qname]:
            del per_queue[qname]
        attr = attrs[qname]
        if job.min_resources is None or (over.permit(job) and _proportion_permits(job, attr)):
            job.phase = JobPhase.INQUEUE
            over.enqueued(job)
            if job.min_resources:
                r.add(attr.inqueue, job.min_resources)
            admitted.append(job.uid)
    return admitted
