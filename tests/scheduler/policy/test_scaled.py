"""`framework._scaled` (one kernel) turns weighted sums into the same 0..10 integers and 0..100
levels as the numpy steps it replaced, element for element, rounding halves to even, with and
without a spread of per-state sums to candidates."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.framework import _scaled

_HALVES = [0.0, 0.05, 0.15, 0.25, 0.35, 0.45, 0.005, 0.015, 0.025, 0.125, 0.5, 1.0]


def _numpy_reference_scaled(sums: np.ndarray, total: float, spread: np.ndarray | None):
    """The numpy steps the kernel replaced (commit c81759e): (ints, levels)."""
    both = np.multiply.outer(np.array([10.0, 100.0]), np.asarray(sums, dtype=np.float64))
    both /= total
    out = np.rint(both, out=both).astype(np.int64)
    if spread is not None:
        out = out.take(spread, axis=1)
    return out[0], out[1]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0) | st.sampled_from(_HALVES), max_size=20),
    st.sampled_from([1.0, 1.3, 2.0, 3.0, 0.7]) | st.floats(0.01, 10.0),
    st.data(),
)
def test_scaled_equals_the_numpy_steps(values: list[float], weight: float, data) -> None:
    sums = np.array(values, np.float64) * weight  # a weighted sum lies in [0, total]
    spread = None
    if values and data.draw(st.booleans()):
        picks = st.lists(st.integers(0, len(values) - 1), max_size=25)
        spread = np.array(data.draw(picks), np.intp)
    n = len(values) if spread is None else len(spread)
    names = [f"n{i}" for i in range(n)]
    got = _scaled(names, sums, weight, spread)
    want_ints, want_levels = _numpy_reference_scaled(sums, weight, spread)
    assert got.level_array is not None
    assert np.array_equal(got.level_array, want_levels) and got.level_array.dtype == np.int64
    assert got.ints == want_ints.tolist() and got.levels == want_levels.tolist()


def test_halves_round_to_even_as_numpy_does() -> None:
    # 0.25 x 10 = 2.5 -> 2, 0.35 x 10 = 3.5 -> 4; 0.125 x 100 = 12.5 -> 12, 0.005 x 100 = 0.5 -> 0
    got = _scaled(["a", "b", "c", "d"], [0.25, 0.35, 0.125, 0.005], 1.0)
    assert got.ints == [2, 4, 1, 0]
    assert got.levels == [25, 35, 12, 0]
    assert _scaled(["a"], [0.5], 0.0).ints == [0]  # no weight: every node 0
