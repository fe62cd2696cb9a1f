"""Replay metrics, recorded through the driver's hooks: time-weighted GPU allocation, idle GPUs
and MIG slices at sample times, per-pod queueing delay, JCT, makespan, gang wait, partial gangs.

Allocation a capacity planner can trust is split three ways (time-weighted, % of GPU capacity):
- useful: the GPU work asked for by pods whose job is running (its min_member pods started);
- held while waiting: everything bound to a job that has not reached min_member (a half-placed
  gang's members hold GPUs and do no work);
- held by rounding: what a running pod ties up beyond its ask (a whole card given to a share).
useful + both held parts = held_pct_mean (everything bound). Waits are per job (submission, or
for a DAG stage its release, to the moment min_member pods run) and per pod; both, with JCT, are
also given per job class.

All numbers are rounded to fixed decimals so the same seed gives byte-identical JSON.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field

from simulator.replay.protocol import Usage


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (deterministic, no interpolation); 0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    k = max(0, math.ceil(q / 100 * len(s)) - 1)
    return s[k]


def _r(x: float) -> float:
    return round(x, 3)


@dataclass
class Recorder:
    capacity_milli: int
    demand_in_use: int = 0
    held_in_use: int = 0
    useful_in_use: int = 0  # demand of pods whose job runs
    useful_held_in_use: int = 0  # what those pods hold (>= their demand)
    last_t: float = 0.0
    demand_area: float = 0.0
    held_area: float = 0.0
    useful_area: float = 0.0
    useful_held_area: float = 0.0
    first_arrival: float | None = None
    last_finish: float = 0.0
    submit: dict[str, float] = field(default_factory=dict)
    job_start: dict[str, float] = field(default_factory=dict)
    job_end: dict[str, float] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    pod_delays: dict[str, list[float]] = field(default_factory=dict)  # by job
    waiting: dict[str, list[int]] = field(default_factory=dict)  # job -> [held, demand] bound
    reconfigurations: int = 0
    series: list[list[float]] = field(default_factory=list)

    def advance(self, now: float) -> None:
        dt = now - self.last_t
        if dt > 0:
            self.demand_area += dt * self.demand_in_use
            self.held_area += dt * self.held_in_use
            self.useful_area += dt * self.useful_in_use
            self.useful_held_area += dt * self.useful_held_in_use
            self.last_t = now

    def bind(self, job: str, held: int, demand: int, delay: float) -> None:
        """A pod of `job` starts holding `held` milli for `demand` milli of work."""
        self.held_in_use += held
        self.demand_in_use += demand
        self.delays.append(delay)
        self.pod_delays.setdefault(job, []).append(delay)
        if job in self.job_start:
            self.useful_in_use += demand
            self.useful_held_in_use += held
        else:
            w = self.waiting.setdefault(job, [0, 0])
            w[0] += held
            w[1] += demand

    def job_runs(self, job: str, now: float) -> None:
        """`job` reached min_member: what its pods hold becomes useful from now on."""
        self.job_start[job] = now
        held, demand = self.waiting.pop(job, (0, 0))
        self.useful_in_use += demand
        self.useful_held_in_use += held

    def unbind(self, job: str, held: int, demand: int) -> None:
        self.held_in_use -= held
        self.demand_in_use -= demand
        if job in self.job_start:
            self.useful_in_use -= demand
            self.useful_held_in_use -= held
        else:  # pragma: no cover - the driver releases only jobs that ran
            w = self.waiting[job]
            w[0] -= held
            w[1] -= demand

    def sample(self, now: float, usage: Usage) -> None:
        pct = 100.0 * self.demand_in_use / self.capacity_milli if self.capacity_milli else 0.0
        self.series.append([_r(now), _r(pct), usage.idle_gpus, usage.free_mig_slices])

    def summary(
        self, gangs: dict[str, int], classes: dict[str, str] | None = None
    ) -> dict[str, object]:
        start = self.first_arrival or 0.0
        span = max(self.last_t - start, 1e-9)
        jct = [self.job_end[j] - self.submit[j] for j in self.job_end]
        gang_wait = [self.job_start[j] - self.submit[j] for j in gangs if j in self.job_start]
        partial = sum(
            1
            for j, m in gangs.items()
            if 0 < self.started.get(j, 0) < m and j not in self.job_start
        )
        idle = [s[2] for s in self.series]
        mig = [s[3] for s in self.series]
        cap = self.capacity_milli or 1

        def pct(area: float) -> float:
            return _r(100.0 * area / span / cap)

        return {
            "jobs": len(self.submit),
            "finished": len(self.job_end),
            "unfinished": len(self.submit) - len(self.job_end),
            "allocated_pct_mean": _r(100.0 * self.demand_area / span / cap),
            "held_pct_mean": _r(100.0 * self.held_area / span / cap),
            "useful_pct_mean": pct(self.useful_area),
            "held_waiting_pct_mean": pct(self.held_area - self.useful_held_area),
            "held_rounding_pct_mean": pct(self.useful_held_area - self.useful_area),
            "job_wait_s": _spread(self._job_waits(self.job_start)),
            "idle_gpus_mean": _r(sum(idle) / len(idle)) if idle else 0.0,
            "free_mig_slices_mean": _r(sum(mig) / len(mig)) if mig else 0.0,
            "queue_delay_s": {f"p{q}": _r(percentile(self.delays, q)) for q in (50, 95, 99)},
            "jct_s": {
                "mean": _r(sum(jct) / len(jct)) if jct else 0.0,
                "p50": _r(percentile(jct, 50)),
                "p95": _r(percentile(jct, 95)),
            },
            # no job finished: 0, not "last finish (never) - first arrival" (was negative)
            "makespan_s": _r(self.last_finish - start) if self.job_end else 0.0,
            "gang_wait_s": {
                "mean": _r(sum(gang_wait) / len(gang_wait)) if gang_wait else 0.0,
                "p95": _r(percentile(gang_wait, 95)),
            },
            "partial_gang_deadlocks": partial,
            "mig_reconfigurations": self.reconfigurations,
            "by_class": self._by_class(classes or {}),
        }

    def wait_samples(self, classes: dict[str, str]) -> dict[str, list[float]]:
        """Every wait, sorted, for CDF charts: "pods" (each pod's delay) and "jobs/<class>"
        (each started job's wait; the report's per-class CDFs)."""
        out = {"pods": sorted(_r(d) for d in self.delays)}
        for job, t in self.job_start.items():
            out.setdefault(f"jobs/{classes.get(job, 'other')}", []).append(_r(t - self.submit[job]))
        return {k: sorted(v) for k, v in sorted(out.items())}

    def _job_waits(self, jobs: Collection[str]) -> list[float]:
        return [self.job_start[j] - self.submit[j] for j in jobs if j in self.job_start]

    def _by_class(self, classes: dict[str, str]) -> dict[str, object]:
        """Per job class: jobs submitted, started, job waits, pod waits and JCT."""
        members: dict[str, set[str]] = {}
        for job in self.submit:
            members.setdefault(classes.get(job, "other"), set()).add(job)
        out: dict[str, object] = {}
        for name, jobs in sorted(members.items()):
            jct = [self.job_end[j] - self.submit[j] for j in jobs if j in self.job_end]
            pods = [d for j in jobs for d in self.pod_delays.get(j, ())]
            out[name] = {
                "jobs": len(jobs),
                "started": sum(1 for j in jobs if j in self.job_start),
                "job_wait_s": _spread(self._job_waits(jobs)),
                "pod_wait_s": _spread(pods),
                "jct_s": _spread(jct),
            }
        return out


def _spread(values: list[float]) -> dict[str, float]:
    """Mean and nearest-rank p50/p95/p99 (all 0 for no values)."""
    return {
        "mean": _r(sum(values) / len(values)) if values else 0.0,
        **{f"p{q}": _r(percentile(values, q)) for q in (50, 95, 99)},
    }
