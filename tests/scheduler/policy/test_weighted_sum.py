"""The batch path's weighted sum (one kernel, `framework._weighted_sum`) equals adding the
scorers' rows one by one from zero with numpy, bit for bit, and says exactly when a row is left
to the per-node path.

The per-node path adds weight x clamped value scorer by scorer in profile order; the batch
path must form the same floats (levels are rounded from them), including a -0.0 first term,
NaN (clamped to 0, and the row left to the per-node path) and values outside [0, 1].
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.framework import _weighted_sum

_value = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [-0.0, 0.0, 1.0, 0.5, 1e-300, -1e-300, 0.1, 0.7]
)
_weight = st.floats(0.0, 5.0) | st.sampled_from([0.0, 0.03, 0.06, 0.3, 1.0])


def _numpy_reference_weighted_sum(
    table: np.ndarray, weights: np.ndarray, slow: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, bool]:
    """The numpy steps the kernel replaced (commit c81759e): clamp (`fmax`, `minimum`),
    weigh, sum from zeros row by row; a row left when slow or holding a NaN."""
    weighted = np.minimum(np.fmax(table, 0.0), 1.0)
    weighted *= weights
    acc = np.zeros(table.shape[1])
    for row in weighted:
        acc += row
    left = bool(np.count_nonzero(slow.take(rows)) or np.count_nonzero(np.isnan(table)))
    return acc, left


@settings(max_examples=500, deadline=None)
@given(
    st.integers(0, 8).flatmap(
        lambda k: st.tuples(
            st.integers(0, 12).flatmap(
                lambda s: st.lists(
                    st.lists(_value, min_size=s, max_size=s), min_size=k, max_size=k
                )  # fmt: skip
            ),
            st.lists(_weight, min_size=k, max_size=k),
            st.integers(0, 12),
        )
    ),
    st.data(),
)
def test_weighted_sum_is_the_scorer_by_scorer_sum_bit_for_bit(args, data) -> None:
    rows, weights, width = args
    table = np.array(rows, np.float64).reshape(len(rows), -1 if rows else width)
    w = np.array(weights, np.float64).reshape(-1, 1)
    slow = np.array(data.draw(st.lists(st.booleans(), min_size=1, max_size=6)), bool)
    at = data.draw(st.lists(st.integers(0, len(slow) - 1), min_size=table.shape[1],
                            max_size=table.shape[1]))  # fmt: skip
    at_rows = np.array(at, np.intp)
    kept = table.copy()
    got, left = _weighted_sum(table, w, slow, at_rows)
    want, want_left = _numpy_reference_weighted_sum(kept, w, slow, at_rows)
    assert got.tobytes() == want.tobytes()
    assert left is want_left
    assert table.tobytes() == kept.tobytes()  # the scorers' table is not written


def test_a_negative_zero_first_term_sums_as_from_zero() -> None:
    # 0 + (-0.0 x 1) = +0.0; a sum started at the first term would keep -0.0
    got, left = _weighted_sum(
        np.array([[-0.0], [-0.0]]), np.array([[1.0], [1.0]]), np.zeros(1, bool),
        np.zeros(1, np.intp),
    )  # fmt: skip
    assert got.tobytes() == np.array([0.0]).tobytes() and not left
