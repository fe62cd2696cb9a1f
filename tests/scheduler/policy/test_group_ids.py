"""`group_ids` groups equal ids as `np.unique` does, up to the representative and the order.

One-sentence property: for any int64 ids, `group_ids(ids)` is None exactly when fewer than two
ids are given or no value repeats, and otherwise (first, inverse) where `first` holds one
position per distinct value (ascending positions) and every position i has
`ids[first[inverse[i]]] == ids[i]`; ids outside [0, 2**16) take `distinct`'s path.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.fleet_memo import distinct, group_ids

_VALUES = st.one_of(
    st.integers(0, 7),
    st.integers(0, 70_000),
    st.sampled_from([0, 255, 256, 65_535, 65_536, -1, -65_536, 2**40, -(2**63), 2**63 - 1]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_VALUES, max_size=120))
def test_group_ids_groups_equal_ids(values: list[int]) -> None:
    ids = np.array(values, np.int64)
    got = group_ids(ids)
    unique = np.unique(ids)
    if len(ids) < 2 or len(unique) == len(ids):
        assert got is None
        return
    assert got is not None
    first, inverse = got
    assert len(first) == len(unique)  # one representative per distinct value
    assert sorted(ids[first].tolist()) == unique.tolist()
    if ids.min() >= 0 and ids.max() < 2**16:  # the scratch-table path: position order
        assert first.tolist() == sorted(first.tolist())
    assert inverse.shape == ids.shape
    assert ids[first[inverse]].tolist() == ids.tolist()  # each position's group holds its id


def _numpy_reference_group_ids(
    ids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The numpy steps `group_ids`' kernel replaced (commit c81759e), kept as the reference."""
    n = len(ids)
    if n < 2:
        return None
    top = int(np.maximum.reduce(ids.view(np.uint64)))
    if top > 2**16 - 1:
        return distinct(ids)
    slot = np.empty(top + 1, np.intp)
    at = np.arange(n)
    slot[ids] = at
    first = (slot.take(ids) == at).nonzero()[0]
    m = len(first)
    if m == n:
        return None
    slot[ids.take(first)] = at[:m]
    return first, slot.take(ids)


@settings(max_examples=500, deadline=None)
@given(st.lists(_VALUES, max_size=60), st.data())
def test_group_ids_kernel_equals_numpy_steps(values: list[int], data: st.DataObject) -> None:
    """The kernel gives the very positions and groups of the numpy steps it replaced, for the
    ids themselves and for ids taken at candidate rows (repeats included)."""
    ids = np.array(values, np.int64)
    picks = data.draw(st.lists(st.integers(0, max(len(values) - 1, 0)), max_size=60))
    rows = np.array(picks if values else [], np.intp)
    for got, want in (
        (group_ids(ids), _numpy_reference_group_ids(ids)),
        (group_ids(ids, rows), _numpy_reference_group_ids(ids.take(rows))),
    ):
        if want is None:
            assert got is None
            continue
        assert got is not None
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert got[0].dtype == want[0].dtype and got[1].dtype == want[1].dtype


def test_group_ids_table() -> None:
    # ids 5 3 5 3 9: three groups; candidates 0 and 2 share one, 1 and 3 another
    got = group_ids(np.array([5, 3, 5, 3, 9], np.int64))
    assert got is not None
    first, inverse = got
    ids = np.array([5, 3, 5, 3, 9])
    assert sorted(ids[first].tolist()) == [3, 5, 9]
    assert inverse[0] == inverse[2] and inverse[1] == inverse[3] and len(set(inverse)) == 3
    # 65,536 is past the scratch table (the sort path): cast to 16 bits it would tie with 0
    got = group_ids(np.array([65_536, 0, 0], np.int64))
    assert got is not None and len(got[0]) == 2
    assert group_ids(np.array([4, 2], np.int64)) is None  # no repeat
    assert group_ids(np.array([7], np.int64)) is None
