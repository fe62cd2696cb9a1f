"""The `Fragmentation` scorer's tabulated count moves (`_fgd_increase`) against the direct
formula (`_fgd_increase_direct`).

One-sentence properties: for any fleet of shares and whole GPUs, any demand mix and any pod, the
FGD increase read through the per-(thresholds, milli) move tables equals the one computed from
the rows directly, bit for bit, and so do the fits; and a row's counts record computed alone
(plain integers, the per-bind redo) equals the one computed with every row, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from packing import fgd
from packing.fgd import TaskShape
from packing.fractional import NO_GPU
from scheduler.policy import batch
from scheduler.policy.demand import DemandMix
from scheduler.policy.interfaces import CycleState
from scheduler.policy.model import ClusterState, GpuRequest
from scheduler.policy.plugins import fragmentation
from scheduler.policy.plugins.fragmentation import (
    _fgd_counts,
    _fgd_increase,
    _fgd_increase_direct,
    _pod_moves,
)
from tests.builders import pod
from tests.scheduler.policy.share_fleet import free_fleet, gpu_node

# Free milli per GPU (1000: idle; 0: a whole GPU held; else a share of 1000 - free held), on
# both sides of the mixes' thresholds (250, 300, 500, 700, 1000).
FREE = st.sampled_from([0, 100, 249, 250, 299, 300, 301, 500, 700, 999, 1000, 1000, 1000])
MIX_SHAPES = st.sampled_from([
    TaskShape(2000, 500, 1), TaskShape(4000, 1000, 1), TaskShape(1000, 0, 0),
    TaskShape(8000, 1000, 2), TaskShape(1000, 250, 1), TaskShape(6000, 300, 1, "T4"),
    TaskShape(0, 700, 1, "V100"), TaskShape(16000, 1000, 4),
])  # fmt: skip
REQUESTS = st.sampled_from([
    None, GpuRequest("whole", 1), GpuRequest("whole", 2), GpuRequest("whole", 4),
    GpuRequest("milli", milli=500), GpuRequest("milli", milli=300),
    GpuRequest("milli", milli=250), GpuRequest("milli", milli=333), GpuRequest("milli", milli=1),
])  # fmt: skip


@st.composite
def cases(draw):  # type: ignore[no-untyped-def]
    """(a fleet of T4 / V100 nodes with 1-8 GPUs, shares and whole GPUs held, some CPU held,
    under a demand mix of 1-4 shapes; a pod)."""
    frees, models, cpu = {}, {}, {}
    for i in range(draw(st.integers(1, 6))):
        name = f"n{i}"
        models[name] = draw(st.sampled_from(["T4", "V100"]))
        frees[name] = draw(st.lists(FREE, min_size=1, max_size=8))
        cap = draw(st.sampled_from([8000, 32000]))
        cpu[name] = (cap, draw(st.sampled_from([0, 0, 2000, 7000])))
    nodes, allocs = free_fleet(frees, models, cpu)
    shapes = draw(st.lists(MIX_SHAPES, min_size=1, max_size=4, unique=True))
    counts = draw(st.lists(st.integers(1, 9), min_size=len(shapes), max_size=len(shapes)))
    mix = DemandMix(dict(zip(shapes, counts, strict=True)), 0.0, {}, sum(counts))
    p = pod(gpu=draw(REQUESTS), cpu_milli=draw(st.sampled_from([0, 1000, 4000, 9000])))
    return ClusterState(nodes, allocs, demand=mix), p


def _both(state: ClusterState, p) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:  # type: ignore[no-untyped-def]
    """(tabulated, direct) increase and fits as bytes, for every candidate row as the scorer
    forms them (its placement columns: the tightest share, idle whole GPUs)."""
    cycle = CycleState(state, p, sorted(state.nodes))
    idx = cycle.index
    mix = state.demand
    assert mix is not None
    table = mix.table(tuple(idx.keys), max(8, idx.slots))
    assert table is not None
    base = _fgd_counts(idx, np.arange(len(idx.alive), dtype=np.intp), table)
    g = p.gpu
    if g is None:
        take = np.zeros((len(cycle.rows), idx.slots), bool)
        milli = 0
    else:
        take = batch.placement_columns(cycle)[1]
        milli = 1000 if g.kind == "whole" else g.milli
    # (`idle` as the scorer passes it: whole GPUs take idle GPUs only)
    idle = g is not None and g.kind == "whole"
    fast = _fgd_increase(table, idx, cycle.rows, base, take, milli, p.cpu_milli, idle=idle)
    slow = _fgd_increase_direct(table, idx, cycle.rows, base, take, milli, p.cpu_milli)
    return (fast[0].tobytes(), fast[1].tobytes()), (slow[0].tobytes(), slow[1].tobytes())


def _differs(case) -> bool:  # type: ignore[no-untyped-def]
    fast, slow = _both(*case)
    return fast != slow


@settings(max_examples=300, deadline=None)
@given(cases())
def test_tabulated_increase_is_the_direct_one_bit_for_bit(case) -> None:
    assert not _differs(case)


def _strict_moves(th, milli):  # type: ignore[no-untyped-def]
    """A wrong table: a threshold counts a GPU only strictly above it."""
    v = np.arange(1001, dtype=np.int64)[:, None]
    after = v - milli
    was, now = v > th, after > th
    return (was & ~now).astype(np.int64), np.where(was, v, 0) - np.where(now, after, 0)


@pytest.mark.parametrize("mutation", ["strict threshold", "one GPU only", "idle: one GPU"])
def test_a_wrong_table_fails_the_property(monkeypatch, mutation: str) -> None:
    """Mutation check: hypothesis finds a fleet where a wrong move table answers otherwise
    (\"idle: one GPU\": whole-GPU rows moved by one idle GPU however many the pod takes)."""
    _pod_moves.cache_clear()
    if mutation == "strict threshold":
        monkeypatch.setattr(fragmentation, "count_moves", _strict_moves)
    elif mutation == "idle: one GPU":
        real_moves = fragmentation._idle_moves
        monkeypatch.setattr(
            fragmentation, "_idle_moves", lambda t, m, n: real_moves(t, m, np.minimum(n, 1))
        )
    else:
        real = fragmentation._fgd_increase

        def one_gpu(table, idx, r, base, take, milli, pod_cpu, idle=False):  # type: ignore[no-untyped-def]
            return real(table, idx, r, base, take.cumsum(axis=1) == 1, milli, pod_cpu, idle=idle)

        monkeypatch.setattr(fragmentation, "_fgd_increase", one_gpu)
        monkeypatch.setitem(globals(), "_fgd_increase", one_gpu)
    try:
        once = settings(derandomize=True, database=None, max_examples=2000)
        case = find(cases(), _differs, settings=once)
        assert _differs(case)
    finally:
        _pod_moves.cache_clear()


def test_count_moves_table() -> None:
    """Rows of `count_moves` over thresholds (250, 500, 1000) for a 300-milli share:
    v = 1000 -> after 700: only the 1000 threshold loses the GPU (cnt 0,0,1) and its 1000
    milli; 250 and 500 keep it with 300 less (big 300, 300, 1000).
    v = 500 -> after 200: 250 and 500 lose it (cnt 1,1,0) and its 500 milli each (big 500, 500, 0).
    v = 300 -> after 0: 250 loses it (cnt 1,0,0; big 300,0,0).
    v = 100 (the share cannot take that GPU; the scorer multiplies by 0 GPUs taken): 100 is
    below every threshold, so no move."""
    th = np.array([250, 500, 1000], np.int64)
    cnt, big = fgd.count_moves(th, 300)
    assert cnt.shape == big.shape == (1001, 3)
    assert cnt[1000].tolist() == [0, 0, 1] and big[1000].tolist() == [300, 300, 1000]
    assert cnt[500].tolist() == [1, 1, 0] and big[500].tolist() == [500, 500, 0]
    assert cnt[300].tolist() == [1, 0, 0] and big[300].tolist() == [300, 0, 0]
    assert cnt[100].tolist() == [0, 0, 0] and big[100].tolist() == [0, 0, 0]


def test_free_milli_out_of_range_goes_the_direct_way() -> None:
    """A row claiming more than 1000 free milli on a GPU (malformed) is beyond the table: the
    increase is the direct one, not an IndexError."""
    nodes = {"a": gpu_node("a", 2)}
    mix = DemandMix({TaskShape(2000, 500, 1): 1}, 0.0, {}, 1)
    state = ClusterState(nodes, {}, demand=mix)
    cycle = CycleState(state, pod(gpu=GpuRequest("milli", milli=500)), ["a"])
    idx = cycle.index
    idx.plain_free[idx.rows_of(["a"])[0][0], 0] = 1200  # malformed, written directly
    table = mix.table(tuple(idx.keys), max(8, idx.slots))
    assert table is not None
    base = _fgd_counts(idx, np.arange(len(idx.alive), dtype=np.intp), table)
    take = np.zeros((1, idx.slots), bool)
    take[0, 0] = True
    got = _fgd_increase(table, idx, cycle.rows, base, take, 500, 0)
    want = _fgd_increase_direct(table, idx, cycle.rows, base, take, 500, 0)
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]
    assert NO_GPU == -1  # the padding value `_fgd_increase`'s max starts above (initial 0)


def _one_differs(case) -> bool:  # type: ignore[no-untyped-def]
    """Whether some row's record computed alone differs from the all-rows batch's."""
    state, _ = case
    idx = state.fleet()
    table = state.demand.table(tuple(idx.keys), max(8, idx.slots))
    every = np.arange(len(idx.alive), dtype=np.intp)
    batch_rows = _fgd_counts(idx, every, table)
    return any(
        _fgd_counts(idx, np.array([r], np.intp), table).tobytes() != batch_rows[r : r + 1].tobytes()
        for r in every.tolist()
    )


@settings(max_examples=300, deadline=None)
@given(cases())
def test_one_rows_counts_are_the_batchs_bit_for_bit(case) -> None:
    assert not _one_differs(case)


def test_one_row_counts_with_a_strict_threshold_fail_the_property(monkeypatch) -> None:
    """Mutation check: a GPU counted only strictly above a threshold in the one-row path."""

    def strict(free, th):  # type: ignore[no-untyped-def]
        return ([sum(1 for x in free if x > t) for t in th],
                [sum(x for x in free if x > t) for t in th])  # fmt: skip

    monkeypatch.setattr(fgd, "row_counts", strict)
    once = settings(derandomize=True, database=None, max_examples=2000)
    case = find(cases(), _one_differs, settings=once)
    assert _one_differs(case)


def test_row_counts_table() -> None:
    """`packing.fgd.row_counts` by hand, thresholds (250, 500, 1000):
    free (1000, 500, 300, 0): >= 250: 3 GPUs, 1800 milli; >= 500: 2, 1500; >= 1000: 1, 1000.
    free (0, 0): none anywhere.  free (249, 250): >= 250: 1, 250 (249 is below)."""
    th = [250, 500, 1000]
    assert fgd.row_counts([1000, 500, 300, 0], th) == ([3, 2, 1], [1800, 1500, 1000])
    assert fgd.row_counts([0, 0], th) == ([0, 0, 0], [0, 0, 0])
    assert fgd.row_counts([249, 250], th) == ([1, 0, 0], [250, 0, 0])
    assert fgd.row_counts([], th) == ([0, 0, 0], [0, 0, 0])


def test_one_row_refuses_more_gpus_than_the_table_as_the_batch_does() -> None:
    """The one-row redo keeps `frag_from_counts`'s one clear error: 3 GPUs free at the lowest
    threshold against a table built for 2."""
    nodes = {"a": gpu_node("a", 3)}
    state = ClusterState(nodes, {}, demand=DemandMix({TaskShape(0, 500, 1): 1}, 0.0, {}, 1))
    idx = state.fleet()
    assert state.demand is not None and state.demand.workload is not None
    table = fgd.FragTable(state.demand.workload, tuple(idx.keys), max_gpus=2)
    for rows in (np.array([0], np.intp), np.array([0, 0], np.intp)):
        with pytest.raises(Exception, match="more than 2 GPUs"):
            _fgd_counts(idx, rows, table)
