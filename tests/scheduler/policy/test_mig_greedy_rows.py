"""`mig_greedy._plan_rows` answers each row from a memo keyed by the row's own columns; the
answers are `plan_dynamic`'s over the same rows (a changed row has new columns: a new key).

Property: for any fleet (MIG GPUs of any layout, pools, plain GPUs), any dynamic MIG request
and any order of rows, asked twice, the memoised plans equal `plan_dynamic`'s field by field.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.mig_greedy import _plan_rows, plan_dynamic
from scheduler.policy.model import ClusterState
from tests.scheduler.policy.test_batch import clusters

asks = st.sampled_from([("1g.10gb", 1), ("1g.10gb", 3), ("2g.20gb", 2), ("3g.40gb", 1),
                        ("7g.80gb", 1), ("1g.5gb", 1)])  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(clusters(), asks, st.randoms(use_true_random=False))
def test_memoised_rows_equal_plan_dynamic(state: ClusterState, ask, rnd) -> None:  # type: ignore[no-untyped-def]
    idx = state.fleet()
    rows = np.arange(len(idx.alive), dtype=np.intp)
    rnd.shuffle(rows)
    profile, count = ask
    want = plan_dynamic(idx, rows, profile, count)
    for _ in range(2):  # computed, then read back
        got = _plan_rows(idx, rows, profile, count)
        for field in ("fits", "supports", "share", "inc"):
            assert np.array_equal(got[field], want[field]), field
