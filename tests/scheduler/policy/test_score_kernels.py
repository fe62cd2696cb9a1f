"""The small scorers' kernels equal the numpy steps they replaced (`_numpy_reference_...`),
bit for bit: Binpack's fullness, CpuFed's clipped value, GpuLoad's no-telemetry exit,
and Consolidate's idle rows.

One-sentence property each: for any rows of the index columns a kernel reads (NaN, inf and
-0.0 included where the column can hold them), the kernel's array is numpy's, byte for byte."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scheduler.policy.plugins import binpack, consolidate, cpu_fed_score, load

ROWS = 6
rows = hnp.arrays(np.intp, st.integers(0, 10), elements=st.integers(0, ROWS - 1))
used = hnp.arrays(np.float64, ROWS, elements=st.floats(0.0, 8.0) | st.just(-0.0))
usable = hnp.arrays(np.int16, ROWS, elements=st.integers(0, 8))
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _numpy_reference_fullness(used_sum, n_usable, r, counts, per):  # type: ignore[no-untyped-def]
    n = n_usable[r].astype(np.float64)
    after = used_sum[r] if counts is None else used_sum[r] + counts * per
    return np.where(n > 0, after / np.maximum(n, 1), 0.0)


@settings(max_examples=200, deadline=None)
@given(used, usable, rows, st.data(), st.sampled_from([0.1, 0.25, 1 / 3, 0.81, 1.0]))
def test_binpack_fullness_is_numpys(used_sum, n_usable, r, data, per) -> None:  # type: ignore[no-untyped-def]
    counts = data.draw(hnp.arrays(np.int64, len(r), elements=st.integers(0, 8)))
    got = np.empty(len(r))
    binpack._fullness(used_sum, n_usable, r, counts, per, True, got)
    assert _same(got, _numpy_reference_fullness(used_sum, n_usable, r, counts, per))
    binpack._fullness(used_sum, n_usable, r, binpack._NO_COUNTS, 0.0, False, got)
    assert _same(got, _numpy_reference_fullness(used_sum, n_usable, r, None, 0.0))


def _numpy_reference_values(change, taken):  # type: ignore[no-untyped-def]
    out = np.array(change, np.float64)
    out /= cpu_fed_score.SPAN_MILLI
    np.subtract(0.5, out, out=out)
    np.maximum(0.0, out, out=out)
    np.minimum(out, 1.0, out=out)
    return out if taken is None else np.where(taken > 0, out, 0.0)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 12), elements=ANY_FLOAT | st.floats(-3000, 3000)),
       st.data())  # fmt: skip
def test_cpu_fed_values_are_numpys(change, data) -> None:  # type: ignore[no-untyped-def]
    taken = data.draw(hnp.arrays(np.int64, len(change), elements=st.integers(0, 3)))
    got = np.empty(len(change))
    cpu_fed_score._values(change, taken, True, got)
    assert _same(got, _numpy_reference_values(change, taken))
    assert _same(cpu_fed_score.value(change), _numpy_reference_values(change, None))


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, (ROWS, 3), elements=st.just(np.nan) | st.floats(0, 1e9)), rows)
def test_load_neutral_exit_is_numpys(load_at, r) -> None:  # type: ignore[no-untyped-def]
    at = load_at.take(r, axis=0)
    none_read = not np.count_nonzero(at == at)
    got = np.zeros(len(r))
    assert load._neutral_unless_read(load_at, r, got) == none_read
    if none_read:
        assert _same(got, np.full(len(r), load.NEUTRAL))


@settings(max_examples=200, deadline=None)
@given(used, usable, rows)
def test_consolidate_busy_is_numpys(used_sum, n_usable, r) -> None:  # type: ignore[no-untyped-def]
    idle = (n_usable[r] > 0) & (used_sum[r] == 0.0)
    got = np.empty(len(r))
    consolidate._busy(n_usable, used_sum, r, got)
    assert _same(got, np.where(idle, 0.0, 1.0))
