"""The session period a real vc-scheduler had, measured from when its pods were bound.

vc-scheduler opens a session 1 s (`schedule-period`) after the previous one *ended*
(`wait.Until`), so sessions come 1 s plus a session's run time apart; that run time grows with
the cluster, the queue and the box's load (60-120 ms on the 20-job slice, about 150 ms on the
200-job slice at load 7-8). The binds of one session land within tens of milliseconds of each
other, so consecutive bind batches start one period apart when both sessions bound something.
The twin runs the Volcano model with this measured period instead of exactly 1 s.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

BATCH_GAP_S = 0.3  # binds closer than this belong to one session (a period is ~1 s)
NOMINAL_S = 1.0  # the chart's schedule-period
MIN_GAPS = 5  # fewer adjacent-session gaps than this: keep the nominal period


def session_period(bound_wall_s: Iterable[float]) -> float | None:
    """Median spacing, in wall seconds, of consecutive sessions that bound pods; only gaps
    between adjacent sessions count (0.5-1.5 x nominal: a longer gap skipped idle sessions).
    None when fewer than `MIN_GAPS` such gaps were seen."""
    starts: list[float] = []
    last = None
    for t in sorted(bound_wall_s):
        if last is None or t - last > BATCH_GAP_S:
            starts.append(t)
        last = t
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)
            if 0.5 * NOMINAL_S < b - a < 1.5 * NOMINAL_S]  # fmt: skip
    if len(gaps) < MIN_GAPS:
        return None
    return statistics.median(gaps)
