"""The batch filter's all-pass test (`filtering.none_slow_all_known`, one kernel) answers as
the numpy steps it replaced: no candidate row is slow and every candidate is known."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.filtering import none_slow_all_known


def _numpy_reference_fast(slow: np.ndarray, rows: np.ndarray, known: np.ndarray) -> bool:
    """The steps of commit c81759e."""
    return not np.count_nonzero(slow.take(rows)) and np.count_nonzero(known) == len(known)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=12), st.data())
def test_the_fast_path_test_equals_the_numpy_steps(slow_rows: list[bool], data) -> None:
    slow = np.array(slow_rows, bool)
    rows = np.array(data.draw(st.lists(st.integers(0, len(slow) - 1), max_size=15)), np.intp)
    known = np.array(data.draw(st.lists(st.booleans(), max_size=15)), bool)
    assert none_slow_all_known(slow, rows, known) == _numpy_reference_fast(slow, rows, known)
