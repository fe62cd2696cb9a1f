"""The Volcano scheduler loop: `runOnce` = open -> enqueue -> allocate -> (backfill) -> close.

`VolcanoScheduler` is the cache (persistent jobs, nodes, queues); `Session` is one cycle's `ssn`.
backfill only places BestEffort tasks (empty request); GPU pods never are, so it is not modelled.
preempt and reclaim are in neither default configuration and are never run.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from simulator.cluster import resources as r
from simulator.cluster.resources import Res
from simulator.policies.replay.volcano.allocate import run_allocate
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.enqueue import run_enqueue
from simulator.policies.replay.volcano.objects import (
    SCHEDULED,
    Job,
    JobPhase,
    Node,
    Queue,
    Task,
    TaskStatus,
)
from simulator.policies.replay.volcano.proportion import QueueAttr, build
from simulator.policies.replay.volcano.sampling import NodeSampler

_IN_CYCLE = frozenset({TaskStatus.ALLOCATED, TaskStatus.PIPELINED})


@dataclass
class Session:
    cfg: VolcanoConfig
    node_list: list[Node]
    jobs: dict[str, Job]
    attrs: dict[str, QueueAttr]
    total: Res
    rng: random.Random
    sampler: NodeSampler
    bound: list[Task] = field(default_factory=list)
    fit_errors: set[tuple[str, str]] = field(default_factory=set)
    task_queues: dict[str, deque[Task]] = field(default_factory=dict)

    def on_bind(self, task: Task) -> None:
        self.bound.append(task)


@dataclass(frozen=True)
class CycleResult:
    admitted: tuple[str, ...]  # job UIDs Pending -> Inqueue this cycle
    committed: tuple[Task, ...]  # tasks sent to binding this cycle (bind completes after it)


class VolcanoScheduler:
    def __init__(self, cfg: VolcanoConfig | None = None, rng: random.Random | None = None) -> None:
        self.cfg = cfg or VolcanoConfig()
        self.rng = rng or random.Random(0)
        self.nodes: dict[str, Node] = {}
        self.queues: dict[str, Queue] = {"default": Queue("default")}
        self.jobs: dict[str, Job] = {}
        self.tasks: dict[str, Task] = {}
        self.sampler = NodeSampler()
        self._binding: list[Task] = []

    # --- cache updates (informer events) ---
    def add_node(self, node: Node) -> None:
        self.nodes[node.name] = node

    def add_queue(self, queue: Queue) -> None:
        self.queues[queue.name] = queue

    def add_job(self, job: Job) -> None:
        self.jobs[job.uid] = job
        for t in job.tasks.values():
            self.tasks[t.uid] = t

    def add_task(self, task: Task) -> None:
        self.jobs[task.job].tasks[task.uid] = task
        self.tasks[task.uid] = task

    def release_task(self, uid: str) -> None:
        """Graceful deletion started: resources become Releasing (FutureIdle, not Idle)."""
        t = self.tasks[uid]
        node = self.nodes[t.node] if t.node else None
        if node:
            node.remove_task(t)
        t.status = TaskStatus.RELEASING
        if node:
            node.add_task(t)

    def finish_task(self, uid: str, succeeded: bool = True) -> None:
        t = self.tasks[uid]
        if t.node and t.uid in self.nodes[t.node].tasks:
            self.nodes[t.node].remove_task(t)
        t.status = TaskStatus.SUCCEEDED if succeeded else TaskStatus.FAILED

    def complete_binds(self) -> list[Task]:
        """The async binder finishes: Binding -> Running (pods start)."""
        done = [t for t in self._binding if t.status is TaskStatus.BINDING]
        for t in done:
            t.status = TaskStatus.RUNNING
        self._binding = []
        return done

    # --- one cycle ---
    def run_cycle(self) -> CycleResult:
        self._open()
        total = r.total(n.allocatable for n in self.nodes.values())
        ses = Session(
            self.cfg,
            list(self.nodes.values()),
            self.jobs,
            build(self.queues, self.jobs.values(), total),
            total,
            self.rng,
            self.sampler,
        )
        admitted = run_enqueue(self.cfg, self.nodes, self.jobs, ses.attrs, total)
        run_allocate(ses)
        self._close()
        self._binding.extend(ses.bound)
        return CycleResult(tuple(admitted), tuple(ses.bound))

    def _open(self) -> None:
        """A fresh snapshot has no record of last cycle's Allocated/Pipelined markers."""
        for job in self.jobs.values():
            job.unschedulable = False
            if not job.count(_IN_CYCLE):
                continue
            for t in job.tasks.values():
                if t.status in (TaskStatus.ALLOCATED, TaskStatus.PIPELINED):
                    if t.node:
                        self.nodes[t.node].remove_task(t)
                    t.status = TaskStatus.PENDING
                    t.node = None

    def _close(self) -> None:
        """getPodGroupPhase: Allocated/Binding are not 'scheduled', so Running lags a cycle."""
        for job in self.jobs.values():
            scheduled = job.count(SCHEDULED)
            running = job.count(frozenset({TaskStatus.RUNNING}))
            if running and job.unschedulable and job.phase is not JobPhase.PENDING:
                job.phase = JobPhase.UNKNOWN
            elif scheduled >= job.min_member:
                done = job.count(frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED}))
                job.phase = JobPhase.COMPLETED if done == len(job.tasks) else JobPhase.RUNNING
            elif job.phase is not JobPhase.INQUEUE:
                job.phase = JobPhase.PENDING

    def remove_job(self, uid: str) -> None:
        job = self.jobs.pop(uid)
        for t in job.tasks.values():
            if t.node and t.uid in self.nodes[t.node].tasks:
                self.nodes[t.node].remove_task(t)
            self.tasks.pop(t.uid, None)
