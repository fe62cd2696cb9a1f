"""Peak and percentile concurrent demand of a job list (sizing a cluster for a trace that
ships none): a sweep over arrival (+) and arrival + duration (-) events per resource."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from simulator.workloads.model import JobSpec


def concurrent_at_arrivals(
    jobs: Sequence[JobSpec], amount: Callable[[JobSpec], float]
) -> list[float]:
    """Demand in flight just after each arrival (jobs start on arrival, no queueing), with
    departures at the same instant applied first."""
    events = sorted(
        [(j.arrival, 1, amount(j) * j.replicas) for j in jobs]
        + [(j.arrival + j.duration, 0, -amount(j) * j.replicas) for j in jobs]
    )  # kind 0 (departure) sorts before 1 (arrival) at equal times
    level, out = 0.0, []
    for _, kind, delta in events:
        level += delta
        if kind == 1:
            out.append(level)
    return out


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile (q in 0..1]; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]
