"""`NodeScores` made from arrays: its lists are made on first read, the same as given lists."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.results import NodeScores


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 100)), max_size=30),
       st.booleans(), st.data())  # fmt: skip
def test_lists_from_arrays_are_the_given_lists(pairs, read_first, data) -> None:
    """Property: scores built from arrays read as the ones built from lists (ints, levels,
    the mapping, pairs); a `level_array` assigned after (`_break_tie`: one level dropped)
    shows in `levels` even when the old list was read before."""
    names = [f"n{i}" for i in range(len(pairs))]
    ints = [a for a, _ in pairs]
    levels = [b for _, b in pairs]
    lazy = NodeScores(names, level_array=np.array(levels, np.int64),
                      int_array=np.array(ints, np.int64))  # fmt: skip
    plain = NodeScores(names, ints, levels, np.array(levels, np.int64))
    assert lazy.ints == plain.ints == ints and lazy.levels == plain.levels == levels
    assert all(type(x) is int for x in [*lazy.ints, *(lazy.levels or [])])
    assert lazy == plain and dict(lazy) == dict(zip(names, ints, strict=True))
    assert lazy.pairs() == plain.pairs() and repr(lazy) == repr(plain)
    if not pairs:
        return
    if read_first:
        assert lazy.levels == levels
    i = data.draw(st.integers(0, len(pairs) - 1))
    lv = lazy.level_array
    assert lv is not None
    lv[i] -= 1
    lazy.level_array = lv
    want = list(levels)
    want[i] -= 1
    assert lazy.levels == want


def test_scores_need_ints() -> None:
    """Neither the list nor the array of the 0..10 integers: one clear error."""
    with pytest.raises(ValueError, match="needs ints"):
        NodeScores(["a"])
