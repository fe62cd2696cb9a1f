"""Demand in flight at arrivals and the nearest-rank quantile used to size trace clusters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.workloads.model import JobSpec, TaskSpec
from simulator.workloads.sizing import concurrent_at_arrivals, quantile


def _job(i: int, arrival: float, duration: float, cpu: int) -> JobSpec:
    return JobSpec(f"j{i}", arrival, duration, TaskSpec(cpu, 0, None))


def test_hand_computed_levels():
    # j0 [0, 10) 1 cpu; j1 [5, 15) 2; j2 [10, 11) 4 arrives as j0 leaves (departure first);
    # levels at arrivals: 1, 1 + 2 = 3, 2 + 4 = 6.
    jobs = [_job(0, 0, 10, 1), _job(1, 5, 10, 2), _job(2, 10, 1, 4)]
    assert concurrent_at_arrivals(jobs, lambda j: j.task.cpu_milli) == [1, 3, 6]
    # Nearest rank: p50 of [1, 3, 6] is the 2nd value, p99 the 3rd.
    assert (quantile([1, 3, 6], 0.5), quantile([1, 3, 6], 0.99), quantile([], 0.9)) == (3, 6, 0)


JOBS = st.lists(st.tuples(st.integers(0, 100), st.integers(1, 50), st.integers(1, 8)),
                min_size=1, max_size=25)


@given(JOBS)
def test_level_at_each_arrival_matches_brute_force(spec):
    """The level just after an arrival at t is the sum over jobs with arrival <= t < end."""
    jobs = [_job(i, a, d, c) for i, (a, d, c) in enumerate(spec)]
    levels = concurrent_at_arrivals(jobs, lambda j: j.task.cpu_milli)
    assert len(levels) == len(jobs)
    brute = {j.arrival: sum(k.task.cpu_milli for k in jobs
                            if k.arrival <= j.arrival < k.arrival + k.duration) for j in jobs}
    # Levels come in arrival-time order; the last (highest) at each time is the full level.
    per_time: dict[float, float] = {}
    for t, level in zip(sorted(j.arrival for j in jobs), levels, strict=True):
        per_time[t] = max(per_time.get(t, 0), level)
    assert per_time == brute
