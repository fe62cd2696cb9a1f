"""allocate action (pkg/scheduler/actions/allocate/allocate.go; reference section 6)."""

from __future__ import annotations

import heapq
from collections import deque
from functools import partial
from typing import TYPE_CHECKING

from simulator.cluster import resources as r
from simulator.policies.replay.volcano.objects import Job, JobPhase, Node, Task, TaskStatus
from simulator.policies.replay.volcano.ordering import job_key, queue_key, sorted_tasks
from simulator.policies.replay.volcano.scoring import node_score
from simulator.policies.replay.volcano.statement import Statement

if TYPE_CHECKING:
    from simulator.policies.replay.volcano.session import Session


def _predicate(ses: Session, task: Task, node: Node) -> bool:
    """InitResreq <= FutureIdle on each requested dimension, node selector, pod count."""
    if not node.fits_future_idle(task.resreq):  # the usual reason first (cheapest exit)
        return False
    if len(node.tasks) >= ses.cfg.max_pods_per_node:
        return False
    return not task.node_selector or all(
        node.labels.get(k) == v for k, v in task.node_selector.items())


def _best_node(ses: Session, task: Task, candidates: list[Node]) -> Node:
    """Idle gradient first, future-idle only if none; max summed score, random tie-break."""
    grad = [n for n in candidates if n.fits_idle(task.resreq)] or candidates
    if len(grad) == 1:
        return grad[0]
    scores = [node_score(ses.cfg, n, task) for n in grad]
    top = max(scores)
    best = [n for n, s in zip(grad, scores, strict=True) if s == top]
    return best[0] if len(best) == 1 else best[ses.rng.randrange(len(best))]


def _need_continue(job: Job) -> bool:
    """NeedContinueAllocating: with minMember == all tasks the first failure ends the turn."""
    return job.min_member < len(job.tasks)


def allocate_tasks(ses: Session, job: Job) -> Statement | None:
    """allocateResourcesForTasks: place tasks in order, stop at JobReady; all-or-nothing."""
    attr = ses.attrs[job.queue]
    stmt = Statement(attr, ses.on_bind)
    queue = ses.task_queues[job.uid]
    while queue:
        task = queue.popleft()  # each task is tried at most once per cycle
        if r.is_empty(task.resreq):
            continue  # BestEffort: backfill's business
        if not attr.allocatable(task):
            continue
        if (job.uid, task.role) in ses.fit_errors:
            continue  # predicate error cache: a same-role task already failed this cycle
        feasible = ses.sampler.feasible(ses.cfg, ses.node_list, partial(_predicate, ses, task))
        if not feasible:
            ses.fit_errors.add((job.uid, task.role))
            job.unschedulable = True
            if _need_continue(job):
                continue
            break
        node = _best_node(ses, task, feasible)
        if node.fits_idle(task.resreq):
            stmt.allocate(task, node)
        else:
            stmt.pipeline(task, node)
        if job.ready():
            break
    if job.ready():
        return stmt
    if job.pipelined() and stmt.ops:
        return stmt  # neither committed nor discarded: holds resources for this cycle only
    stmt.discard()
    return None


def run_allocate(ses: Session) -> None:
    per_queue: dict[str, list[tuple[tuple[int, int, float, float, str], int, Job]]] = {}
    seq = 0
    for job in ses.jobs.values():
        if job.phase is JobPhase.PENDING or job.queue not in ses.attrs or not job.valid():
            continue
        if not any(
            t.status is TaskStatus.PENDING and not r.is_empty(t.resreq) for t in job.tasks.values()
        ):
            continue
        ses.task_queues[job.uid] = deque(sorted_tasks(job.pending_tasks()))
        heapq.heappush(per_queue.setdefault(job.queue, []), (job_key(job, ses.total), seq, job))
        seq += 1
    queues = [(queue_key(ses.attrs[q]), q) for q in per_queue]
    heapq.heapify(queues)
    while queues:
        _, qname = heapq.heappop(queues)
        attr = ses.attrs[qname]
        if attr.overused():
            continue
        jobs = per_queue[qname]
        if not jobs:
            continue
        _, _, job = heapq.heappop(jobs)
        stmt = allocate_tasks(ses, job)
        if stmt is not None and job.ready():
            stmt.commit()
            if ses.task_queues[job.uid]:
                seq += 1
                heapq.heappush(jobs, (job_key(job, ses.total), seq, job))
        heapq.heappush(queues, (queue_key(attr), qname))
