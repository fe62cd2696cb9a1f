"""The placement columns (`batch._chosen`, its kernel `_chosen_rows`; every row, or the one a
bind recomputes) are the numpy steps' they replaced (`_numpy_reference_chosen`).

One-sentence property: for any free milli and memory per GPU and any whole-GPU or share request,
the kernel's columns equal numpy's, for every row at once and for each row alone."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy import batch
from scheduler.policy.batch import _chosen
from scheduler.policy.fleet_index import NO_GPU, FleetIndex
from scheduler.policy.interfaces import CycleState
from scheduler.policy.model import MILLI_PER_GPU, ClusterState, GpuRequest
from tests.builders import pod
from tests.scheduler.policy.share_fleet import free_fleet

free = st.sampled_from([NO_GPU, 0, 250, 500, 700, 1000])
requests = st.sampled_from([
    GpuRequest("whole", 1), GpuRequest("whole", 2), GpuRequest("whole", 3),
    GpuRequest("milli", milli=250), GpuRequest("milli", milli=500),
    GpuRequest("milli", milli=300, memory_mib=8000),
])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(free, st.sampled_from([0, 4000, 16000])), min_size=4,
                         max_size=4), min_size=2, max_size=5), requests)  # fmt: skip
def test_the_kernels_columns_are_numpys(rows, req) -> None:
    idx = FleetIndex.empty(len(rows), 4)
    for i, row in enumerate(rows):
        idx.plain_free[i] = [f for f, _ in row]
        idx.plain_mem[i] = [m if f != NO_GPU else 0 for f, m in row]
    p = pod(gpu=req)
    every = _numpy_reference_chosen(idx, np.arange(len(rows), dtype=np.intp), req)
    assert np.array_equal(_chosen(idx, np.arange(len(rows), dtype=np.intp), p), every)
    for i in range(len(rows)):
        assert np.array_equal(_chosen(idx, np.array([i], np.intp), p), every[i : i + 1])
    some = np.arange(len(rows), dtype=np.intp)[::-1].copy()  # any order
    assert np.array_equal(_chosen(idx, some, p), every[some])


def _numpy_reference_chosen(idx, r, g):  # type: ignore[no-untyped-def]
    """`batch._chosen` with numpy (the code before its kernel)."""
    pf = idx.plain_free[r]
    if g.kind == "whole":
        idle = np.asarray(pf == MILLI_PER_GPU)
        take = idle & (np.cumsum(idle, axis=1) <= g.count)
        return take & (idle.sum(axis=1) >= g.count)[:, None]
    fit = np.asarray((pf >= g.milli) & (idx.plain_mem[r] >= g.memory_mib))
    key = np.where(fit, pf, MILLI_PER_GPU + 1)
    best = np.argmin(key, axis=1)
    out = np.zeros(pf.shape, bool)
    out[np.arange(len(r)), best] = True
    return out & fit.any(axis=1)[:, None]


def test_placement_columns_and_counts_of_a_cycle() -> None:
    """Two nodes of 4 GPUs, the first with two idle: a 2-GPU pod takes GPUs 2 and 3 there
    (count 2), nothing on the second (one idle GPU; count 0)."""
    nodes, allocs = free_fleet({"a": [0, 500, 1000, 1000], "b": [1000, 0, 0, 0]}, {}, {})
    cycle = CycleState(ClusterState(nodes, allocs), pod(gpu=GpuRequest("whole", 2)), ["a", "b"])
    _, mine = batch.placement_columns(cycle)
    assert mine.tolist() == [[False, False, True, True], [False] * 4]
    assert batch.taken_counts(cycle).tolist() == [2, 0]


def test_a_share_takes_the_tightest_gpu_lowest_index_on_ties() -> None:
    # Free (700, 500, 500, 1000): a 400 share fits all four; the least free is 500, on GPUs 1
    # and 2: GPU 1 (lowest index). A whole GPU takes GPU 3, the only idle one.
    idx = FleetIndex.empty(1, 4)
    idx.plain_free[0] = [700, 500, 500, 1000]
    idx.plain_mem[0] = [8000] * 4
    one = np.array([0], np.intp)
    assert _chosen(idx, one, pod(gpu=GpuRequest("milli", milli=400)))[0].tolist() == [
        False, True, False, False,
    ]  # fmt: skip
    assert _chosen(idx, one, pod(gpu=GpuRequest("whole", 1)))[0].tolist() == [
        False, False, False, True,
    ]  # fmt: skip
    assert not _chosen(idx, one, pod(gpu=GpuRequest("whole", 2))).any()  # one idle GPU only
