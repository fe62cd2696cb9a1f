"""The placement columns of one row or a few (`batch._chosen`, which a bind recomputes row by
row) are the same from the plain-Python path as from the array path (`_chosen_array`).

One-sentence property: for any free milli and memory per GPU and any whole-GPU or share request,
the one-row answer equals the array answer for that row."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.batch import FEW_ROWS, _chosen, _chosen_array
from scheduler.policy.fleet_index import NO_GPU, FleetIndex
from scheduler.policy.model import GpuRequest
from tests.builders import pod

free = st.sampled_from([NO_GPU, 0, 250, 500, 700, 1000])
requests = st.sampled_from([
    GpuRequest("whole", 1), GpuRequest("whole", 2), GpuRequest("whole", 3),
    GpuRequest("milli", milli=250), GpuRequest("milli", milli=500),
    GpuRequest("milli", milli=300, memory_mib=8000),
])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(free, st.sampled_from([0, 4000, 16000])), min_size=4,
                         max_size=4), min_size=2, max_size=5), requests)  # fmt: skip
def test_one_row_equals_the_array_path(rows, req) -> None:
    idx = FleetIndex.empty(len(rows), 4)
    for i, row in enumerate(rows):
        idx.plain_free[i] = [f for f, _ in row]
        idx.plain_mem[i] = [m if f != NO_GPU else 0 for f, m in row]
    p = pod(gpu=req)
    every = _chosen_array(idx, np.arange(len(rows), dtype=np.intp), req)  # the array path
    for i in range(len(rows)):
        assert np.array_equal(_chosen(idx, np.array([i], np.intp), p), every[i : i + 1])
    few = np.arange(min(len(rows), FEW_ROWS), dtype=np.intp)[::-1].copy()  # any order
    assert np.array_equal(_chosen(idx, few, p), every[few])


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
