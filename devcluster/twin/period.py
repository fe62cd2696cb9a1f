"""The session period a real vc-scheduler had, measured from when its pods were bound.

vc-scheduler opens a session 1 s (`schedule-period`) after the previous one *ended*
(`wait.Until`), so sessions come 1 s plus a session's run time apart; that run time grows with
the cluster, the queue and the box's load (60-120 ms on the 20-job slice, about 150 ms on the
200-job slice at load 7-8). The binds of one session land within tens of milliseconds of each
other, so consecutive bind batches start one period apart when both sessions bound something.
Until round 8 the twin ran the Volcano model with this measured period instead of exactly 1 s;
it still does where too few gaps were seen to fit `session_timing`.

`session_timing` measures the run time itself: each gap between adjacent binding sessions is
the nominal period plus the earlier session's run, and the run grows with the binds its close
writes (about 15 ms each on the 2-core box, plus the PodGroup status writes that come with
them), so a least-squares line `run = base + per_bind x binds` over those gaps, with the
residuals' spread as noise, is what the model's session chain takes
(`VolcanoConfig.session_run_s` and siblings).

A session that binds nothing runs shorter than that line's base says (round 9: 0.03-0.04 s
against a base of 0.076 s in the 200-job `--v=4` logs; its close writes little), and the model
runs hundreds of them, so `session_timing` also measures the idle run: two binding sessions
`n` periods apart (2 to `MAX_IDLE_SPAN`) had `n - 1` idle sessions between them, and what their
gap holds beyond `n` periods and the first one's run is those idle runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

BATCH_GAP_S = 0.3  # binds closer than this belong to one session (a period is ~1 s)
NOMINAL_S = 1.0  # the chart's schedule-period
MIN_GAPS = 5  # fewer adjacent-session gaps than this: keep the nominal period
MAX_IDLE_SPAN = 8  # longer gaps between binding sessions: too many idle runs to count them


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


@dataclass(frozen=True)
class SessionTiming:
    """vc-scheduler's session timing, wall seconds: sessions open `period_s` after the previous
    one's run of `run_s + per_bind_s x binds` (`idle_run_s` instead for a session that bound
    nothing, when measured), give or take a normal noise of sd `sd_s`."""

    period_s: float
    run_s: float
    per_bind_s: float
    sd_s: float
    idle_run_s: float | None = None


def _batches(bound_wall_s: Iterable[float]) -> list[tuple[float, int]]:
    """(first bind, binds) per session: binds closer than `BATCH_GAP_S` are one session's."""
    out: list[tuple[float, int]] = []
    last = None
    for t in sorted(bound_wall_s):
        if last is None or t - last > BATCH_GAP_S:
            out.append((t, 0))
        out[-1] = (out[-1][0], out[-1][1] + 1)
        last = t
    return out


def session_timing(
    bound_wall_s: Iterable[float], period_s: float = NOMINAL_S
) -> SessionTiming | None:
    """The run-time line over adjacent binding sessions (gaps under 2 periods: with an idle
    session between, a gap is at least two); None when fewer than `MIN_GAPS` gaps were seen.
    A negative slope is taken as none (the base is then the mean run) and a negative base as
    0; `sd_s` is the residuals' standard deviation."""
    batches = _batches(bound_wall_s)
    pts = [(b[1], nb[0] - b[0] - period_s) for b, nb in zip(batches, batches[1:], strict=False)
           if 0.5 * period_s < nb[0] - b[0] < 2 * period_s]  # fmt: skip
    if len(pts) < MIN_GAPS:
        return None
    xs = [float(n) for n, _ in pts]
    ys = [r for _, r in pts]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx > 0 else 0.0
    if slope < 0:
        slope = 0.0
    base = max(my - slope * mx, 0.0)
    resid = [y - base - slope * x for x, y in pts]
    sd = statistics.pstdev(resid)
    return SessionTiming(period_s, base, slope, sd, idle_run(batches, period_s, base, slope))


def idle_run(batches: list[tuple[float, int]], period_s: float, base: float,
             per_bind: float) -> float | None:  # fmt: skip
    """The run of a session that bound nothing: over gaps of 2 to `MAX_IDLE_SPAN` sessions
    between binding sessions (n = the gap less the first session's run, in periods, rounded:
    n - 1 idle runs stay under half a period), what is left of each gap after n periods and
    the first session's run, per idle session between (pooled: the sum over the sum of n - 1),
    never below 0; None when fewer than `MIN_GAPS` such gaps were seen."""
    left = idle = 0.0
    count = 0
    for (t, binds), (nt, _) in zip(batches, batches[1:], strict=False):
        rest = nt - t - (base + per_bind * binds)
        n = round(rest / period_s)
        if 2 <= n <= MAX_IDLE_SPAN:
            left += rest - n * period_s
            idle += n - 1
            count += 1
    if count < MIN_GAPS:
        return None
    return max(left / idle, 0.0)
