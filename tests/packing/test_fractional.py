"""Fractional GPU shares: table-driven fit/choice cases and hypothesis invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.errors import InvalidCountError, InvalidPlacementError, PackingError
from packing.fractional import (
    MILLI_PER_GPU,
    NO_GPU,
    GpuShare,
    allocate,
    best_gpu,
    choose_gpus,
    fits,
    fitting_gpus,
    node_fits,
    release,
)


@pytest.mark.parametrize(
    ("num_gpu", "gpu_milli", "count", "milli", "share", "total"),
    [
        (0, 0, 0, 0, False, 0),  # CPU-only pod
        (1, 470, 1, 470, True, 470),  # a share of one GPU
        (1, 1000, 1, 1000, False, 1000),  # one whole GPU
        (8, 1000, 8, 1000, False, 8000),  # 8 whole GPUs = 8 * 1000
    ],
)
def test_from_alibaba(num_gpu, gpu_milli, count, milli, share, total):
    r = GpuShare.from_alibaba(num_gpu, gpu_milli)
    assert (r.count, r.milli, r.is_share, r.total_milli) == (count, milli, share, total)


@pytest.mark.parametrize(
    ("count", "milli", "error", "needle"),
    [
        (-1, 1000, InvalidCountError, "-1"),
        (1, 1001, PackingError, "1001"),  # more than one GPU
        (2, 500, PackingError, "whole GPUs"),  # multi-GPU shares are not a thing in openb
        (1, 0, PackingError, "both"),
        (0, 300, PackingError, "both"),
    ],
)
def test_bad_requests_name_the_value(count, milli, error, needle):
    with pytest.raises(error, match=needle):
        GpuShare(count, milli)


@pytest.mark.parametrize(
    ("free", "count", "milli", "rule", "expected"),
    [
        ([1000, 300, 600], 1, 500, "best", (2,)),  # 600 is the tightest GPU with >= 500
        ([1000, 300, 600], 1, 500, "worst", (0,)),  # 1000 is the emptiest
        ([1000, 300, 600], 1, 500, "first", (0,)),
        ([1000, 300, 600], 1, 700, "best", (0,)),  # only GPU 0 has >= 700
        ([1000, 300, 600], 1, 1000, "best", (0,)),
        ([1000, 300, 1000, 1000], 2, 1000, "best", (0, 2)),  # ties -> lower indices
        ([1000, 300, 600], 2, 1000, "best", None),  # one whole GPU free, two asked
        ([NO_GPU, 200], 1, 100, "best", (1,)),  # padding never fits
        ([300, 300], 0, 0, "best", ()),  # CPU-only pod takes no GPU
    ],
)
def test_choose_gpus(free, count, milli, rule, expected):
    req = GpuShare(count, milli)
    assert choose_gpus(free, req, rule) == expected
    assert node_fits(free, req) == (expected is not None)


def test_memory_per_gpu_limits_fit():
    req = GpuShare(1, 300, memory_mib=8000)
    # GPU 0 has milli but 4000 MiB free < 8000; GPU 1 has both.
    assert choose_gpus([900, 400], req, "best", free_memory_mib=[4000, 16000]) == (1,)
    assert choose_gpus([900, 400], req, "best", free_memory_mib=[4000, 4000]) is None


def test_allocate_refuses_over_allocation():
    assert allocate([1000, 500], GpuShare(1, 400), [1]) == (1000, 100)  # 500 - 400
    with pytest.raises(InvalidPlacementError, match="GPU 1 has 500"):
        allocate([1000, 500], GpuShare(1, 600), [1])
    with pytest.raises(InvalidPlacementError, match="distinct"):
        allocate([1000, 1000], GpuShare(2, 1000), [0, 0])
    with pytest.raises(InvalidPlacementError, match="exceed"):
        release([900], GpuShare(1, 200), [0])  # 900 + 200 > 1000


def test_bad_free_state_is_rejected():
    with pytest.raises(PackingError, match="1200"):
        node_fits([1200], GpuShare(1, 100))
    with pytest.raises(PackingError, match="unknown GPU selection rule 'middle'"):
        choose_gpus([1000], GpuShare(1, 100), "middle")  # type: ignore[arg-type]


def test_vectorised_matches_table():
    free = np.array([[1000, 300, NO_GPU], [200, 200, 200], [1000, 1000, 0]])
    assert fits(free, GpuShare(1, 250)).tolist() == [True, False, True]
    assert fits(free, GpuShare(2, 1000)).tolist() == [False, False, True]
    assert best_gpu(free, GpuShare(1, 250)).tolist() == [1, -1, 0]  # 300 is tightest on node 0


requests = st.one_of(
    st.builds(GpuShare, st.just(1), st.integers(1, MILLI_PER_GPU)),
    st.builds(GpuShare, st.integers(1, 8), st.just(MILLI_PER_GPU)),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(requests, min_size=1, max_size=60),
    st.integers(1, 8),
    st.sampled_from(["best", "worst", "first"]),
)
def test_a_gpu_never_exceeds_1000_milli(reqs, n_gpus, rule):
    """Whatever we place, every GPU's used milli stays within 0..1000."""
    free: tuple[int, ...] = (MILLI_PER_GPU,) * n_gpus
    placed = []
    for r in reqs:
        gpus = choose_gpus(free, r, rule)
        if gpus is None:
            assert not node_fits(free, r)
            continue
        free = allocate(free, r, gpus)
        placed.append((r, gpus))
        assert all(0 <= f <= MILLI_PER_GPU for f in free)
    used = sum(r.total_milli for r, _ in placed)
    assert sum(MILLI_PER_GPU - f for f in free) == used  # nothing lost, nothing invented
    for r, gpus in placed:
        free = release(free, r, gpus)
    assert free == (MILLI_PER_GPU,) * n_gpus


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(NO_GPU, MILLI_PER_GPU), min_size=8, max_size=8),
        min_size=1,
        max_size=20,
    ),
    requests,
)
def test_vectorised_fit_agrees_with_scalar(rows, req):
    rows = [[f if f >= 0 else NO_GPU for f in row] for row in rows]
    arr = np.array(rows)
    assert fits(arr, req).tolist() == [node_fits(r, req) for r in rows]
    if req.is_share:
        for r, b in zip(rows, best_gpu(arr, req).tolist(), strict=True):
            chosen = choose_gpus(r, req, "best")
            assert (b == -1) == (chosen is None)
            if chosen is not None:
                assert r[b] == r[chosen[0]]  # same tightness (ties may pick the same value)


def _choose_by_definition(free, request, rule, free_memory_mib=None):
    """`choose_gpus` as first written: the fitting GPUs, sorted by (free milli, index) for
    best, (-free milli, index) for worst, the lowest `count` indices of those."""
    if request.count == 0:
        return ()
    fit = fitting_gpus(free, request, free_memory_mib)
    if len(fit) < request.count:
        return None
    if rule == "best":
        fit = tuple(sorted(fit, key=lambda i: (free[i], i)))
    elif rule == "worst":
        fit = tuple(sorted(fit, key=lambda i: (-free[i], i)))
    return tuple(sorted(fit[: request.count]))


# Few distinct values, so ties in free milli (and in memory) are common.
_free_values = st.sampled_from([NO_GPU, 0, 1, 250, 300, 499, 500, 999, MILLI_PER_GPU])
_memory_values = st.one_of(st.none(), st.sampled_from([0, 1, 4000, 8000, 16000]))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(_free_values, _memory_values), max_size=8),
    st.one_of(
        st.builds(GpuShare, st.just(1), st.sampled_from([1, 250, 300, 500, 999, 1000]),
                  st.sampled_from([0, 1, 4000, 8000])),
        st.builds(GpuShare, st.integers(1, 8), st.just(MILLI_PER_GPU)),
        st.just(GpuShare(0, 0)),
    ),
    st.sampled_from(["best", "worst", "first"]),
    st.booleans(),
)  # fmt: skip
def test_choose_gpus_equals_its_definition(gpus, request, rule, with_memory):
    """The inlined fit and sort pick the same GPUs, in the same order, as the fitting GPUs
    sorted with the index as the explicit tie-break (memory per GPU given or not, None
    entries meaning unknown memory, NO_GPU padding, ties)."""
    free = [f for f, _ in gpus]
    memory = [m for _, m in gpus] if with_memory else None
    got = choose_gpus(free, request, rule, memory)
    assert got == _choose_by_definition(free, request, rule, memory)
    assert got == choose_gpus(tuple(free), request, rule, memory)  # any sequence
    if free:
        assert got == choose_gpus(np.array(free), request, rule, memory)
