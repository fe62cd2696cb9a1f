"""Replay one workload through one policy on the discrete-event engine (simulator.engine).

Events: ARRIVAL (a job is submitted; DAG stages when their predecessors finished), FINISH (a
job's gang completes its run and leaves), CYCLE (the policy decides: every `period_s` on a
fixed grid for Volcano, at once after each arrival/departure for per-event policies, and when
a policy's optional `wake_at()` asks; a periodic policy's optional `session_at(t)` gives its
first session at or after t instead of the grid, when its sessions take time). A periodic
policy whose last cycle changed nothing pauses its ticks until the next arrival or departure:
an unchanged cache gives the same decisions, so the skipped ticks are no-ops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulator.engine import Engine, Event, EventKind
from simulator.replay.metrics import Recorder
from simulator.replay.protocol import ReplayPolicy, demand_milli
from simulator.workloads.model import JobSpec, Workload, find_cycle


def job_class(job: JobSpec) -> str:
    """The class a job's waits and JCT are reported under (a MIG notebook is "notebook")."""
    return "notebook" if job.kind == "mig" else job.kind


@dataclass(frozen=True)
class ReplayResult:
    policy: str
    workload: str
    seed: int
    events: int
    metrics: dict[str, object]
    series: list[list[float]]
    waits: dict[str, list[float]] = field(default_factory=dict)  # Recorder.wait_samples


class _Run:
    def __init__(
        self, workload: Workload, policy: ReplayPolicy, engine: Engine, samples: int
    ) -> None:
        self.w, self.p, self.e = workload, policy, engine
        self.jobs = {j.uid: j for j in workload.jobs}
        if len(self.jobs) != len(workload.jobs):
            raise ValueError(f"workload {workload.name}: duplicate job uids")
        self.waiting: dict[str, int] = {}
        self.children: dict[str, list[str]] = {}
        for j in workload.jobs:
            for dep in j.after:
                if dep not in self.jobs:
                    raise ValueError(f"job {j.uid}: unknown predecessor {dep!r}")
                self.children.setdefault(dep, []).append(j.uid)
            self.waiting[j.uid] = len(j.after)
        cycle = find_cycle({j.uid: j.after for j in workload.jobs})
        if cycle:  # those jobs would never arrive, and no metric would count them
            raise ValueError(f"workload {workload.name}: jobs wait on each other in a cycle: "
                             + " -> ".join(cycle[:6]) + (" ..." if len(cycle) > 6 else ""))
        cap = sum(n.gpus for n in workload.nodes) * 1000
        self.rec = Recorder(cap)
        self.model = {n.name: n.gpu_model for n in workload.nodes}
        self.held: dict[str, tuple[int, int]] = {}  # task -> (held, demand) milli
        self.next_cycle: float | None = None
        last = max((j.arrival for j in workload.jobs), default=0.0)
        self.sample_every = max(last / max(samples, 1), 1.0)
        self.next_sample = -1.0

    def start(self) -> None:
        self.e.on(EventKind.ARRIVAL, self.on_arrival)
        self.e.on(EventKind.FINISH, self.on_finish)
        self.e.on(EventKind.CYCLE, self.on_cycle)
        for j in self.w.jobs:
            if not j.after:
                self.e.schedule(j.arrival, EventKind.ARRIVAL, j.uid)

    def request_cycle(self, at: float) -> None:
        period = self.p.period_s
        session_at = getattr(self.p, "session_at", None)
        chained = session_at(at) if period is not None and session_at is not None else None
        if chained is not None:
            t = chained
        else:
            t = at if period is None else math.ceil(at / period - 1e-9) * period
        t = max(t, self.e.now)
        if self.next_cycle is not None and self.next_cycle <= t:
            return
        self.next_cycle = t
        self.e.schedule(t, EventKind.CYCLE)

    def on_arrival(self, e: Engine, ev: Event) -> None:
        job = self.jobs[ev.payload]
        self.advance(e.now)
        if self.rec.first_arrival is None:
            self.rec.first_arrival = e.now
        self.rec.submit[job.uid] = e.now
        self.p.submit(job, e.now)
        self.request_cycle(e.now)

    def on_cycle(self, e: Engine, ev: Event) -> None:
        if self.next_cycle != ev.time:
            return  # superseded by an earlier tick
        self.next_cycle = None
        self.advance(e.now)
        starts = self.p.schedule(e.now)
        for s in starts:
            job = self.jobs[s.job]
            key = f"{s.job}/{s.task}"
            demand = demand_milli(job.task, self.model[s.node])
            self.held[key] = (s.held_milli, demand)
            self.rec.bind(s.job, s.held_milli, demand, e.now - self.rec.submit[s.job])
            self.rec.reconfigurations += s.reconfigured
            n = self.rec.started[s.job] = self.rec.started.get(s.job, 0) + 1
            if n >= job.min_member and s.job not in self.rec.job_start:
                self.rec.job_runs(s.job, e.now)
                e.schedule(e.now + job.duration, EventKind.FINISH, s.job)
        period = self.p.period_s
        if period is not None and self.p.has_pending() and getattr(self.p, "progressed", starts):
            self.request_cycle(e.now + period)
        wake = getattr(self.p, "wake_at", None)  # optional: a per-event policy's own retry time
        if wake is not None and (at := wake()) is not None:
            self.request_cycle(at)

    def on_finish(self, e: Engine, ev: Event) -> None:
        job: JobSpec = self.jobs[ev.payload]
        self.advance(e.now)
        for i in range(job.replicas):
            held = self.held.pop(f"{job.uid}/{i}", None)
            if held is not None:
                self.rec.unbind(job.uid, held[0], held[1])
        self.p.finish(job.uid, e.now)
        self.rec.job_end[job.uid] = e.now
        self.rec.last_finish = e.now
        for child in self.children.get(job.uid, ()):
            self.waiting[child] -= 1
            if self.waiting[child] == 0:
                c = self.jobs[child]
                e.schedule(max(e.now, c.arrival), EventKind.ARRIVAL, child)
        self.request_cycle(e.now)

    def advance(self, now: float) -> None:
        """Called before each event changes state: samples see every change of earlier instants."""
        if now > self.next_sample:
            self.rec.sample(now, self.p.usage())
            self.next_sample = now + self.sample_every
        self.rec.advance(now)


def replay(
    workload: Workload,
    policy: ReplayPolicy,
    *,
    seed: int = 0,
    debug: bool = False,
    samples: int = 200,
) -> ReplayResult:
    """Run to the last event; `debug` checks for over-allocation after every event."""
    engine = Engine(np.random.default_rng(seed), debug=debug)
    run = _Run(workload, policy, engine, samples)
    run.start()
    engine.invariant(policy.check)
    engine.run()
    run.rec.sample(engine.now, policy.usage())
    gangs = {j.uid: j.min_member for j in workload.jobs if j.min_member > 1}
    classes = {j.uid: job_class(j) for j in workload.jobs}
    metrics = run.rec.summary(gangs, classes)
    extra = getattr(policy, "extra_metrics", None)  # optional per-policy diagnostics
    if extra is not None:
        metrics.update(extra())
    return ReplayResult(policy.name, workload.name, seed, engine.processed, metrics, run.rec.series,
                        run.rec.wait_samples(classes))
