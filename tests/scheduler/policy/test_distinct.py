"""`distinct` groups ids as `np.unique` does.

One-sentence property: for any int64 ids, `distinct(ids)` is (first position of each distinct
value in order of value, each position's rank among those) exactly as `np.unique(ids,
return_index=True, return_inverse=True)` gives them, or None when no value repeats; ids in
[0, 2**16) take the uint16 radix-sort path, others the int64 sort, and both must agree.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.fleet_memo import distinct

# Small ranges make repeats (the common case); the edges of uint16 and negative or large ids
# take the int64 path.
_VALUES = st.one_of(
    st.integers(0, 7),
    st.integers(0, 70_000),
    st.sampled_from([0, 255, 256, 65_535, 65_536, -1, -65_536, 2**40, -(2**63), 2**63 - 1]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_VALUES, max_size=80))
def test_distinct_is_np_unique(values: list[int]) -> None:
    ids = np.array(values, np.int64)
    got = distinct(ids)
    if len(ids) < 2 or len(np.unique(ids)) == len(ids):
        assert got is None
        return
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    assert got is not None
    assert got[0].tolist() == first.tolist()
    assert got[1].tolist() == inverse.ravel().tolist()


def test_distinct_table() -> None:
    # ids 5 3 5 3 9: values 3, 5, 9 first seen at 1, 0, 4; ranks 1 0 1 0 2
    got = distinct(np.array([5, 3, 5, 3, 9], np.int64))
    assert got is not None
    assert got[0].tolist() == [1, 0, 4] and got[1].tolist() == [1, 0, 1, 0, 2]
    # 65,536 is past uint16 (the int64 path): cast, it would be 0 and tie with id 0
    got = distinct(np.array([65_536, 0, 0], np.int64))
    assert got is not None
    assert got[0].tolist() == [1, 0] and got[1].tolist() == [1, 0, 0]
    assert distinct(np.array([4, 2], np.int64)) is None  # no repeat
