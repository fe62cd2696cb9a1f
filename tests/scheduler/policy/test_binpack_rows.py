"""Binpack's per-row value (`binpack._after`, which a bind recomputes for one row) is the same
from the one-row plain-Python path as from the array path, bit for bit.

One-sentence property: for any used fractions, usable-GPU counts, taken columns and share size,
each row alone gives the array path's value for that row."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.plugins import binpack

rows = st.lists(
    st.tuples(st.floats(0.0, 8.0, allow_nan=False), st.integers(0, 4),
              st.lists(st.booleans(), min_size=4, max_size=4)),
    min_size=2, max_size=6,
)  # fmt: skip


def _differs(data, per: float) -> bool:  # type: ignore[no-untyped-def]
    idx = FleetIndex.empty(len(data), 4)
    for i, (used, n, _) in enumerate(data):
        idx.used_sum[i], idx.n_usable[i] = used, n
    take = np.array([t for _, _, t in data], bool)
    every = np.arange(len(data), dtype=np.intp)
    want = np.where(idx.n_usable > 0, (idx.used_sum + take.sum(axis=1) * per)
                    / np.maximum(idx.n_usable.astype(np.float64), 1), 0.0)  # fmt: skip
    assert binpack._after(idx, every, take, per).tobytes() == want.tobytes()  # the array path
    return any(
        binpack._after(idx, np.array([i], np.intp), take[i : i + 1], per).tobytes()
        != want[i : i + 1].tobytes()
        for i in range(len(data))
    )


@settings(max_examples=300, deadline=None)
@given(rows, st.sampled_from([0.1, 0.25, 0.3, 1 / 3, 0.5, 0.81, 1.0]))
def test_one_row_equals_the_array_path(data, per) -> None:
    assert not _differs(data, per)


def test_one_row_by_hand() -> None:
    """used 1.5 over 3 usable GPUs, a 0.25 share on one column: (1.5 + 0.25) / 3; no usable
    GPU: 0."""
    idx = FleetIndex.empty(2, 4)
    idx.used_sum[:] = [1.5, 2.0]
    idx.n_usable[:] = [3, 0]
    take = np.array([[False, True, False, False]])
    assert binpack._after(idx, np.array([0], np.intp), take, 0.25).tolist() == [1.75 / 3]
    assert binpack._after(idx, np.array([1], np.intp), take, 0.25).tolist() == [0.0]
