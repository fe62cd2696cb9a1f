"""Volcano's real session period from its bind batches (devcluster/twin/period.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devcluster.twin.period import SessionTiming, idle_run, session_period, session_timing


@pytest.mark.parametrize(("binds", "want"), [
    # Sessions start at 0, 1.1, 2.2, 3.3, 4.4, 5.5 (two binds each, 20 ms apart): 5 gaps of
    # 1.1 s -> 1.1.
    ([t + d for t in (0.0, 1.1, 2.2, 3.3, 4.4, 5.5) for d in (0.0, 0.02)], 1.1),
    # A 2.2 s gap (an idle session between) is left out: gaps 1.0, 1.2, 2.2 (out), 1.1, 1.0,
    # 1.3 -> median of 1.0, 1.0, 1.1, 1.2, 1.3 = 1.1.
    ([0.0, 1.0, 2.2, 4.4, 5.5, 6.5, 7.8], 1.1),
    # Only 4 adjacent gaps: too few to measure.
    ([0.0, 1.05, 2.1, 3.15, 4.2], None),
])  # fmt: skip
def test_session_period_is_the_median_adjacent_gap(binds: list[float],
                                                   want: float | None) -> None:  # fmt: skip
    got = session_period(binds)
    assert got == (None if want is None else pytest.approx(want))


@settings(max_examples=50, deadline=None)
@given(st.floats(0.9, 1.4), st.integers(6, 40), st.lists(st.floats(0, 0.2), min_size=1,
                                                       max_size=4))  # fmt: skip
def test_a_steady_period_is_recovered(period: float, sessions: int, spread: list[float]) -> None:
    """Sessions exactly `period` apart, each binding a few pods within 200 ms of its start."""
    binds = [k * period + d for k in range(sessions) for d in spread]
    assert session_period(binds) == pytest.approx(period)


def _sessions(opens: list[float], binds: list[int]) -> list[float]:
    """Each session's binds, 10 ms apart from its open."""
    return [t + 0.01 * i for t, n in zip(opens, binds, strict=True) for i in range(n)]


def _chain(binds: list[int], base: float, per_bind: float) -> list[float]:
    """Sessions opening 1 s after the previous one's run of base + per_bind x binds."""
    opens = [0.0]
    for n in binds[:-1]:
        opens.append(opens[-1] + 1.0 + base + per_bind * n)
    return opens


@pytest.mark.parametrize(("binds", "base", "per_bind", "want"), [
    # Runs 0.05 + 0.01 x binds exactly: binds 1, 2, 3, 1, 2, 3 -> gaps 1.06, 1.07, 1.08,
    # 1.06, 1.07 (5 gaps, the last session has none after it): the line comes back, sd 0.
    ([1, 2, 3, 1, 2, 3], 0.05, 0.01, SessionTiming(1.0, 0.05, 0.01, 0.0)),
    # Every session binds 2: no slope to fit (sxx = 0): base = mean run 0.1, slope 0.
    ([2] * 6, 0.1, 0.0, SessionTiming(1.0, 0.1, 0.0, 0.0)),
    # Only 4 gaps: too few.
    ([1, 2, 3, 1, 2], 0.05, 0.01, None),
])  # fmt: skip
def test_session_timing_is_the_run_line_over_adjacent_binding_sessions(binds, base, per_bind,
                                                                       want) -> None:  # fmt: skip
    got = session_timing(_sessions(_chain(binds, base, per_bind), binds))
    if want is None:
        assert got is None
        return
    assert got is not None
    assert (got.period_s, got.run_s, got.per_bind_s) == pytest.approx(
        (want.period_s, want.run_s, want.per_bind_s), abs=1e-9
    )
    assert got.sd_s == pytest.approx(want.sd_s, abs=1e-9)


def test_a_falling_run_line_is_taken_as_flat_and_a_gap_over_two_periods_is_left_out() -> None:
    # Runs fall with binds: 1 bind -> 0.30 s, 3 -> 0.10 s (gaps 1.30, 1.10, 1.30, 1.10, 1.30,
    # then an idle session between: 3.4 s, left out). Slope < 0 -> 0; base = mean run
    # (0.3 x 3 + 0.1 x 2) / 5 = 0.22; residuals 0.08 x 3 and -0.12 x 2 -> sd = sqrt((3 x
    # 0.0064 + 2 x 0.0144) / 5) = sqrt(0.0096) = 0.098.
    opens = [0.0, 1.3, 2.4, 3.7, 4.8, 6.1, 9.5]
    got = session_timing(_sessions(opens, [1, 3, 1, 3, 1, 3, 1]))
    assert got is not None
    assert (got.run_s, got.per_bind_s) == pytest.approx((0.22, 0.0))
    assert got.sd_s == pytest.approx(0.0096**0.5)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 0.3), st.floats(0.0, 0.03),
       st.lists(st.integers(1, 8), min_size=7, max_size=30))  # fmt: skip
def test_an_exact_run_line_is_recovered(base: float, per_bind: float, binds: list[int]) -> None:
    """Sessions whose runs lie on one line (binds within 80 ms of the open, under the 0.3 s
    batch gap) give that line back, with no residual."""
    got = session_timing(_sessions(_chain(binds, base, per_bind), binds))
    assert got is not None
    if len(set(binds[:-1])) > 1:
        assert (got.run_s, got.per_bind_s) == pytest.approx((base, per_bind), abs=1e-6)
    assert got.sd_s == pytest.approx(0.0, abs=1e-6)


def _chain_with_idle(binds: list[int], base: float, per_bind: float, idle: float) -> list[float]:
    """Sessions opening 1 s after the previous one's run: base + per_bind x binds for a
    binding session, `idle` for one that bound nothing (0 binds)."""
    opens = [0.0]
    for n in binds[:-1]:
        opens.append(opens[-1] + 1.0 + (base + per_bind * n if n else idle))
    return opens


@pytest.mark.parametrize(("binds", "want"), [
    # Runs 0.05 + 0.01 x binds, idle sessions 0.02: each 0 is an idle session. The gaps
    # between binding sessions: 1 -> 2 adjacent (1.06), 2 -> 1 over one idle (2 + 0.07 + 0.02 =
    # 2.09: n = round(2.09 - 0.07) = 2, left 2.09 - 0.07 - 2 = 0.02 over 1 idle), 1 -> 3 over
    # two idle (3 + 0.06 + 0.04 = 3.10: 0.04 over 2), and so on: every idle run is 0.02.
    ([1, 2, 0, 1, 0, 0, 3, 0, 2, 0, 0, 0, 1, 2, 0, 3, 1, 2, 3, 1, 2], 0.02),
    # Only 4 gaps over idle sessions: too few to measure.
    ([1, 2, 0, 1, 0, 0, 3, 0, 2, 0, 0, 0, 1, 2, 3, 1, 2, 3], None),
])  # fmt: skip
def test_session_timing_measures_the_idle_run_over_gaps_with_idle_sessions(binds, want) -> None:
    opens = _chain_with_idle(binds, 0.05, 0.01, 0.02)
    got = session_timing(_sessions(opens, binds))
    assert got is not None
    assert (got.run_s, got.per_bind_s) == pytest.approx((0.05, 0.01), abs=1e-9)
    assert got.idle_run_s == (None if want is None else pytest.approx(want, abs=1e-9))


def test_a_gap_over_more_than_eight_sessions_is_not_counted_and_the_idle_run_is_never_negative(
) -> None:  # fmt: skip
    # Batches (first bind, binds); base 0.05, no slope. Five gaps of n = 2 sessions each 1.95 s
    # long (n = round(1.95 - 0.05) = 2): left 1.95 - 0.05 - 2 = -0.1 each -> -0.1 per idle
    # session, taken as 0; a gap of 9.5 s (n = round(9.45) = 9 > 8) is left out.
    starts = [0.0, 1.95, 3.9, 5.85, 7.8, 9.75, 19.25]
    batches = [(t, 1) for t in starts]
    assert idle_run(batches, 1.0, 0.05, 0.0) == 0.0
    # The same five gaps at 2.15 s: 2.15 - 2 - 0.05 = 0.1 per idle session.
    batches = [(t * 2.15 / 1.95, 1) for t in starts[:-1]]
    assert idle_run(batches, 1.0, 0.05, 0.0) == pytest.approx(0.1)


@settings(max_examples=40, deadline=None)
@given(base=st.floats(0.0, 0.15), per_bind=st.floats(0.0, 0.03), idle=st.floats(0.0, 0.06),
       binds=st.lists(st.integers(0, 5), min_size=12, max_size=60))  # fmt: skip
def test_an_exact_chain_with_idle_sessions_gives_its_idle_run_back(base, per_bind, idle,
                                                                   binds) -> None:  # fmt: skip
    """Sessions with no noise: whenever enough gaps span idle sessions, the idle run comes back
    exactly (each gap's sessions are counted right: 7 idle runs stay under half a period)."""
    binds = [1, 1, *binds, 1]
    opens = _chain_with_idle(binds, base, per_bind, idle)
    got = session_timing(_sessions(opens, binds))
    if got is None or got.idle_run_s is None:
        return
    assert got.idle_run_s == pytest.approx(idle, abs=1e-6)
