"""The tie-break's level steps (`framework._top_positions`, `_drop_costlier`, one kernel each)
answer as the numpy steps they replaced: the positions at the top level, then one level off
each tied node that costs more than the cheapest, costs rounded to 6 decimals (NaN: none)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.framework import _drop_costlier, _top_positions

_cost = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e-7, 4e-7, 5e-7, 6e-7, 0.1234565, 0.1234575, 1.0, 1.0000004, 2.5]
)


def _numpy_reference_tie(levels: np.ndarray, costs: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The steps of commit c81759e: (tied positions, levels after the drop)."""
    lv = levels.copy()
    tied = (lv == np.maximum.reduce(lv)).nonzero()[0]
    rounded = np.asarray(costs[: len(tied)]).round(6)
    lv[tied[rounded > np.minimum.reduce(rounded)]] -= 1
    return tied, lv


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(95, 100), min_size=1, max_size=20),
       st.lists(_cost, min_size=20, max_size=20))  # fmt: skip
def test_top_and_drop_equal_the_numpy_steps(levels: list[int], costs: list[float]) -> None:
    lv = np.array(levels, np.int64)
    want_tied, want_lv = _numpy_reference_tie(lv, costs)
    tied = _top_positions(lv)
    assert tied.tolist() == want_tied.tolist()
    _drop_costlier(lv, tied, np.array(costs[: len(tied)], np.float64))
    assert lv.tolist() == want_lv.tolist()


def test_a_tie_break_with_the_wrong_number_of_costs_is_named() -> None:
    import dataclasses

    import pytest

    from scheduler.policy.framework import run_scores
    from scheduler.policy.model import ClusterState
    from scheduler.policy.registry import build_profile
    from tests.builders import pod
    from tests.scheduler.policy.share_fleet import gpu_node

    class StandInOneCostTieBreak:
        name = "StandInOneCost"

        def tie_costs(self, cycle: object) -> np.ndarray:
            return np.zeros(1)  # one cost, whatever the number of tied nodes

    nodes = {n.name: n for n in (gpu_node("a", 2), gpu_node("b", 2))}  # alike: a tie
    profile = dataclasses.replace(build_profile(), tie_break=StandInOneCostTieBreak())
    with pytest.raises(ValueError, match=r"StandInOneCost: \(1,\) tie costs for 2 tied nodes"):
        run_scores(ClusterState(nodes, {}), pod(), ["a", "b"], profile, rank=True)
