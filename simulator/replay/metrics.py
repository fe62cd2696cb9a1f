"""Replay metrics, recorded through the driver's hooks: time-weighted GPU allocation, idle GPUs
and MIG slices at sample times, per-pod queueing delay, JCT, makespan, gang wait, partial gangs.

All numbers are rounded to fixed decimals so the same seed gives byte-identical JSON.
"""

from __future__ import annotations

import math
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
    last_t: float = 0.0
    demand_area: float = 0.0
    held_area: float = 0.0
    first_arrival: float | None = None
    last_finish: float = 0.0
    submit: dict[str, float] = field(default_factory=dict)
    job_start: dict[str, float] = field(default_factory=dict)
    job_end: dict[str, float] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    reconfigurations: int = 0
    series: list[list[float]] = field(default_factory=list)

    def advance(self, now: float) -> None:
        dt = now - self.last_t
        if dt > 0:
            self.demand_area += dt * self.demand_in_use
            self.held_area += dt * self.held_in_use
            self.last_t = now

    def sample(self, now: float, usage: Usage) -> None:
        pct = 100.0 * self.demand_in_use / self.capacity_milli if self.capacity_milli else 0.0
        self.series.append([_r(now), _r(pct), usage.idle_gpus, usage.free_mig_slices])

    def summary(self, gangs: dict[str, int]) -> dict[str, object]:
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
        return {
            "jobs": len(self.submit),
            "finished": len(self.job_end),
            "unfinished": len(self.submit) - len(self.job_end),
            "allocated_pct_mean": _r(100.0 * self.demand_area / span / cap),
            "held_pct_mean": _r(100.0 * self.held_area / span / cap),
            "idle_gpus_mean": _r(sum(idle) / len(idle)) if idle else 0.0,
            "free_mig_slices_mean": _r(sum(mig) / len(mig)) if mig else 0.0,
            "queue_delay_s": {f"p{q}": _r(percentile(self.delays, q)) for q in (50, 95, 99)},
            "jct_s": {
                "mean": _r(sum(jct) / len(jct)) if jct else 0.0,
                "p50": _r(percentile(jct, 50)),
                "p95": _r(percentile(jct, 95)),
            },
            "makespan_s": _r(self.last_finish - start),
            "gang_wait_s": {
                "mean": _r(sum(gang_wait) / len(gang_wait)) if gang_wait else 0.0,
                "p95": _r(percentile(gang_wait, 95)),
            },
            "partial_gang_deadlocks": partial,
            "mig_reconfigurations": self.reconfigurations,
        }
