"""VolcanoPolicy: the Volcano model behind the replay protocol.

Each pod group is what Volcano's controllers create: minMember = the job's gang size and
minResources = minMember x the pod's request (a vcjob's PodGroup), one `default` queue.
Binding completes right after the cycle that committed it (bind latency is not modelled), so a
task starts at its cycle's time; the PodGroup phase still lags one cycle (checklist 13).

Sessions open on the fixed grid k x `schedule_period_s` unless the configuration gives a
session run time (`VolcanoConfig.session_runs`): then, as vc-scheduler's `wait.Until(runOnce,
period)` does, each session opens one period after the previous one ended, and a session's
run is `session_run_s + session_run_per_bind_s x binds` (`session_idle_run_s` instead, when
set, for a session that bound nothing) plus a seeded normal draw (its own stream, so the
tie-breaks' draws are the same with or without it). Sessions that change nothing still run
(an idle session's run has no binds) and move the next one later.
"""

from __future__ import annotations

import math
import random
from collections import deque

from simulator.cluster.counters import (
    counter_overuse,
    counter_usage,
    held_milli,
    node_counters,
    request_counters,
)
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import Job, Node, Task, TaskStatus
from simulator.policies.replay.volcano.session import VolcanoScheduler
from simulator.replay.protocol import Start, Usage
from simulator.workloads.model import JobSpec, NodeSpec


class VolcanoPolicy:
    name = "volcano"

    def __init__(
        self, nodes: tuple[NodeSpec, ...], rng: random.Random, cfg: VolcanoConfig | None = None
    ) -> None:
        self.cfg = cfg or VolcanoConfig()
        self.period_s: float | None = self.cfg.schedule_period_s
        self.sched = VolcanoScheduler(self.cfg, rng)
        for spec in nodes:
            self.sched.add_node(Node(spec.name, node_counters(spec)))
        self.progressed = False  # did the last cycle change anything (else ticks may pause)
        # The session chain: when the next session opens if every session runs (idle ones
        # too); its run-time draws come from a stream of their own, derived from `rng`'s state
        # without drawing from it.
        self.next_open = 0.0
        self.timing = random.Random(f"session-run/{rng.getstate()[1]}")
        # Open-to-open spacing of the sessions, in order (the last 100,000: the chain is walked
        # session by session, idle ones too, so a long trace at a 1 s period has many).
        self.gaps: deque[float] = deque(maxlen=100_000)

    def session_run(self, binds: int) -> float:
        """One session's run time (trace seconds) when it sent `binds` tasks to binding."""
        c = self.cfg
        if binds == 0 and c.session_idle_run_s is not None:
            run = c.session_idle_run_s
        else:
            run = c.session_run_s + c.session_run_per_bind_s * binds
        if c.session_run_sd_s > 0:
            run += self.timing.gauss(0.0, c.session_run_sd_s)
        return max(run, 0.0)

    def session_at(self, at: float) -> float | None:
        """When the first session at or after `at` opens; None: on the fixed grid (no session
        run time configured). Sessions before `at` ran and changed nothing (the driver skips
        them), each moving the chain on by the period plus an idle session's run."""
        if not self.cfg.session_runs():
            return None
        while self.next_open < at - 1e-9:
            self._advance(self.next_open, 0)
        return self.next_open

    def _advance(self, opened: float, binds: int) -> None:
        gap = self.cfg.schedule_period_s + self.session_run(binds)
        self.gaps.append(gap)
        self.next_open = opened + gap

    def submit(self, job: JobSpec, now: float) -> None:
        req = request_counters(job.task)
        res = self.cfg.timestamp_resolution_s
        created = math.floor(now / res) * res if res > 0 else now
        priority = job.priority if self.cfg.priority_classes else 0
        j = Job(
            job.uid,
            min_member=job.min_member,
            priority=priority,
            creation=created,
            min_resources={k: v * job.min_member for k, v in req.items()},
        )
        for i in range(job.replicas):
            t = Task(
                f"{job.uid}/{i}",
                f"{job.uid}-{i}",
                job.uid,
                dict(req),
                creation=created,
                priority=priority,
            )
            j.tasks[t.uid] = t
        self.sched.add_job(j)

    def finish(self, job_uid: str, now: float) -> None:
        job = self.sched.jobs[job_uid]
        for t in job.tasks.values():
            if t.status in (TaskStatus.RUNNING, TaskStatus.BOUND, TaskStatus.BINDING):
                self.sched.finish_task(t.uid)
        self.sched.remove_job(job_uid)

    def schedule(self, now: float) -> list[Start]:
        phases = {uid: j.phase for uid, j in self.sched.jobs.items()}
        res = self.sched.run_cycle()
        started = self.sched.complete_binds()
        if self.cfg.session_runs():
            self._advance(now, len(res.committed))
        self.progressed = bool(res.admitted or res.committed) or any(
            j.phase is not phases.get(uid) for uid, j in self.sched.jobs.items()
        )
        out = []
        for t in started:
            idx = int(t.uid.rsplit("/", 1)[1])
            out.append(Start(t.job, idx, t.node or "", held_milli(t.resreq)))
        return out

    def has_pending(self) -> bool:
        return any(j.has_pending() for j in self.sched.jobs.values())

    def usage(self) -> Usage:
        return counter_usage(self.sched.nodes.values())

    def check(self) -> str | None:
        return counter_overuse(self.sched.nodes.values())
