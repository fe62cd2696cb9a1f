"""The `Fragmentation` scorer's kernels (`_fgd_increase` / `_fgd_rows`, `_fgd_counts` /
`_count_rows`) against the numpy steps they replaced (`_numpy_reference_...` below).

One-sentence properties: for any fleet of shares and whole GPUs, any demand mix and any pod, the
FGD increase the kernel forms from the rows' count records equals the one numpy forms from the
rows' columns, bit for bit, and so do the fits and the score; and the count records the kernel
forms, for every row or one row alone (the per-bind redo), equal numpy's, bit for bit.
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
from scheduler.policy.plugins.fragmentation import (
    _counts_dtype,
    _fgd_counts,
    _fgd_increase,
    _fgd_rows,
    _logistic,
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


def _numpy_reference_increase(table, idx, r, base, take, milli, pod_cpu):  # type: ignore[no-untyped-def]
    """The increase from the rows' columns with numpy (the scorer's code before its kernel):
    the counts of the free GPUs, then only thresholds between the taken GPUs' value and the
    value after the move, as in `FragTable.frag_after_share`."""
    n = take.sum(axis=1)
    k = n[:, None]
    pf = idx.plain_free.take(r, axis=0).astype(np.int64)
    v = (pf * take).max(axis=1, initial=0)[:, None]
    after = v - milli
    th = table.milli[None, :]
    was, now = v >= th, after >= th
    cnt0, big0 = table.counts(pf)
    cnt = cnt0 - k * (was & ~now)
    big = big0 - k * (np.where(was, v, 0) - np.where(now, after, 0))
    total = np.where(pf == NO_GPU, 0, pf).sum(axis=1) - n * milli
    model = idx.product.take(r).astype(np.intp)
    frag = table.frag_from_counts(total, cnt, big, idx.cpu.take(r) - pod_cpu, model)
    return frag - base["frag"].take(r), n > 0


def _numpy_reference_counts(idx, r, table):  # type: ignore[no-untyped-def]
    """`_fgd_counts` with numpy (the scorer's code before its kernel)."""
    pf = idx.plain_free[r].astype(np.int64)
    cnt, big = table.counts(pf)
    total = np.where(pf == NO_GPU, 0, pf).sum(axis=1)
    m = len(table.milli)
    out = np.zeros(len(r), _counts_dtype(m))
    ints = out["ints"]
    model = idx.product[r].astype(np.intp)
    cpu = idx.cpu[r]
    _, _, g, c = table.tab.shape  # the flat cell of tab[model, t, cnt_t, 0] per threshold t
    cells = cnt * c + np.arange(m) * (g * c) + (model * (m * g * c))[:, None]
    ints[:, :m], ints[:, m : 2 * m] = cells, big
    ints[:, 2 * m], ints[:, 2 * m + 1] = total, cpu
    out["frag"] = table.frag_from_counts(total, cnt, big, cpu, model)
    return out


def _both(state: ClusterState, p, wrong=None):  # type: ignore[no-untyped-def]
    """(kernel, numpy) increase, fits and score as bytes, for every candidate row as the
    scorer forms them (its placement columns: the tightest share, idle whole GPUs).
    `wrong`: a mutation of the kernel's arguments (the mutation checks)."""
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
    n = take.sum(axis=1)
    args = [base["ints"], base["frag"], cycle.rows, idx.plain_free, take, n, table.milli]
    args += [table.flat, table.cpu_grid, milli, p.cpu_milli, idle, 1000.0, g is not None]
    if wrong is not None:
        wrong(args)
    out = np.empty((2, len(cycle.rows)))
    _fgd_rows(*args, out)
    inc, value = out
    want, fits = _numpy_reference_increase(table, idx, cycle.rows, base, take, milli, p.cpu_milli)
    want_value = _logistic(want, 1000.0)
    if g is not None:
        want_value = np.where(fits, want_value, 0.0)
    plain = _fgd_increase(table, idx, cycle.rows, base, take, milli, p.cpu_milli, idle=idle)
    got = (inc.tobytes(), (n > 0).tobytes(), value.tobytes(), plain[0].tobytes())
    return got, (want.tobytes(), fits.tobytes(), want_value.tobytes(), want.tobytes())


def _differs(case, wrong=None) -> bool:  # type: ignore[no-untyped-def]
    fast, slow = _both(*case, wrong=wrong)
    return fast != slow


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_kernels_increase_is_numpys_bit_for_bit(case) -> None:
    assert not _differs(case)


def _strict(args) -> None:  # type: ignore[no-untyped-def]
    args[6] = args[6] + 1  # a GPU leaves a threshold's count only strictly above it


def _one_gpu(args) -> None:  # type: ignore[no-untyped-def]
    args[5] = np.minimum(args[5], 1)  # rows moved by one GPU however many the pod takes


def _gpu_pod_fits_all(args) -> None:  # type: ignore[no-untyped-def]
    args[13] = False  # a GPU pod scored where it takes no GPU


@pytest.mark.parametrize("wrong", [_strict, _one_gpu, _gpu_pod_fits_all])
def test_a_wrong_kernel_input_fails_the_property(wrong) -> None:  # type: ignore[no-untyped-def]
    """Mutation check: hypothesis finds a fleet where the kernel, handed wrong thresholds,
    GPU counts or pod kind, answers otherwise than numpy."""
    once = settings(derandomize=True, database=None, max_examples=2000)
    case = find(cases(), lambda c: _differs(c, wrong), settings=once)
    assert _differs(case, wrong)


def test_free_milli_out_of_range_is_numpys_answer() -> None:
    """A row claiming more than 1000 free milli on a GPU (malformed) gets the increase numpy
    forms from its columns, not an out-of-range read."""
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
    want = _numpy_reference_increase(table, idx, cycle.rows, base, take, 500, 0)
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]
    assert NO_GPU == -1  # the padding value the kernel's max starts above (0)


def _counts_differ(case, shift: int = 0) -> bool:  # type: ignore[no-untyped-def]
    """Whether the kernel's count records (every row, and each row alone) differ from numpy's.
    `shift`: thresholds moved up by that much for the kernel (the mutation check)."""
    state, _ = case
    idx = state.fleet()
    table = state.demand.table(tuple(idx.keys), max(8, idx.slots))
    every = np.arange(len(idx.alive), dtype=np.intp)
    want = _numpy_reference_counts(idx, every, table).tobytes()
    if shift:
        table.milli = table.milli + shift  # (a fresh table per case: `DemandMix.table`)
        try:
            return _fgd_counts(idx, every, table).tobytes() != want
        finally:
            table.milli = table.milli - shift
    one = [_fgd_counts(idx, np.array([r], np.intp), table).tobytes() for r in every.tolist()]
    return _fgd_counts(idx, every, table).tobytes() != want or b"".join(one) != want


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_kernels_counts_are_numpys_bit_for_bit(case) -> None:
    assert not _counts_differ(case)


def test_counts_with_a_strict_threshold_fail_the_property() -> None:
    """Mutation check: a GPU counted only strictly above a threshold."""
    once = settings(derandomize=True, database=None, max_examples=2000)
    case = find(cases(), lambda c: _counts_differ(c, 1), settings=once)
    assert _counts_differ(case, 1)


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
