"""Volcano's real session period from its bind batches (devcluster/twin/period.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devcluster.twin.period import session_period


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
