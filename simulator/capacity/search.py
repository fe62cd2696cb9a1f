"""Smallest node count meeting the objectives: double until met, then bisect.

The search assumes more nodes never make the objectives fail (true of the wait quantiles in
practice, not proven for every policy; each probe is a full simulated run and every run is kept
and reported, so a non-monotone answer is visible in the runs table)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    nodes: int
    met: bool
    detail: dict[str, float]  # measured quantiles, attainment, GPU-hours


def smallest(probe: Callable[[int], Probe], max_nodes: int) -> tuple[int | None, list[Probe]]:
    """(smallest n in 1..max_nodes with probe(n).met, every probe in order); None if unmet."""
    if max_nodes < 1:
        raise ValueError(f"--max-nodes must be >= 1, got {max_nodes}")
    runs: dict[int, Probe] = {}

    def at(n: int) -> Probe:
        if n not in runs:
            runs[n] = probe(n)
        return runs[n]

    bad, good = 0, 1
    while not at(good).met:
        if good >= max_nodes:
            return None, list(runs.values())
        bad, good = good, min(good * 2, max_nodes)
    while good - bad > 1:
        mid = (bad + good) // 2
        if at(mid).met:
            good = mid
        else:
            bad = mid
    return good, list(runs.values())
