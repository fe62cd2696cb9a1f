"""The batch path's weighted sum in three array steps equals adding the scorers' rows one by
one from zero, bit for bit (`framework._weighted_sum`).

The per-node path adds weight x clamped value scorer by scorer in profile order; the batch
path must form the same floats (levels are rounded from them), including a -0.0 first term,
NaN (clamped to 0) and values outside [0, 1].
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.framework import _clamp_rows, _weighted_sum

_value = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [-0.0, 0.0, 1.0, 0.5, 1e-300, -1e-300, 0.1, 0.7]
)
_weight = st.floats(0.0, 5.0) | st.sampled_from([0.0, 0.03, 0.06, 0.3, 1.0])


def _one_by_one(table: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The sum as first written: from zeros, `acc += row` per scorer."""
    weighted = _clamp_rows(table)
    weighted *= weights
    acc = np.zeros(table.shape[1])
    for row in weighted:
        acc += row
    return acc


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
    )
)
def test_weighted_sum_is_the_scorer_by_scorer_sum_bit_for_bit(args) -> None:
    rows, weights, width = args
    table = np.array(rows, np.float64).reshape(len(rows), -1 if rows else width)
    w = np.array(weights, np.float64).reshape(-1, 1)
    kept = table.copy()
    got = _weighted_sum(table, w)
    assert got.tobytes() == _one_by_one(kept, w).tobytes()
    assert table.tobytes() == kept.tobytes()  # the scorers' table is not written


def test_a_negative_zero_first_term_sums_as_from_zero() -> None:
    # 0 + (-0.0 x 1) = +0.0; a sum started at the first term would keep -0.0
    got = _weighted_sum(np.array([[-0.0], [-0.0]]), np.array([[1.0], [1.0]]))
    assert got.tobytes() == np.array([0.0]).tobytes()
