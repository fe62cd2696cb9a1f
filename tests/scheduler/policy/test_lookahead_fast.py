"""The look-ahead's per-tie shortcuts against their definitions, bit for bit.

`best_increase` reads whether a shape fits a state's GPUs from the state's per-threshold
counts (`Moves.need_at`), and forms the table's flat positions from parts with the CPU column
read per interval of free CPU (`TableCells`); `StateMemo` keeps its answers as rows of one
store, restarted when full; `alike` compares a tie's states in a kernel. Each must answer as the
direct computation does, for any states: negative free CPU (overcommitted nodes), CPU on and
beside every comparison point, missing GPUs, multi-GPU shapes of under 1000 milli per GPU
(no 1000 threshold to read idle GPUs from), mixes of CPU-only shapes (no threshold at all).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import scheduler.policy.plugins.lookahead_cost as lc
from packing.fgd import FragTable, TargetWorkload, TaskShape
from packing.fractional import NO_GPU
from scheduler.policy.demand import DemandMix
from scheduler.policy.interfaces import CycleState
from scheduler.policy.model import ClusterState, GpuRequest
from scheduler.policy.plugins.lookahead import LookAhead
from scheduler.policy.plugins.lookahead_cost import (
    MixShapes,
    StateMemo,
    _best_increase_direct,
    best_increase,
)
from scheduler.policy.plugins.lookahead_kernels import alike
from tests.builders import pod
from tests.scheduler.policy.share_fleet import free_fleet

MODELS = ("T4", "V100")


def _shape(cpu: int, milli: int, gpus: int, model: str) -> TaskShape:
    """A share takes one GPU; a CPU-only shape none; k GPUs of m milli each stay as drawn
    (k x 1000 whole GPUs, or k x m under 1000: the idle GPUs read without a 1000 threshold)."""
    if milli == 0:
        return TaskShape(cpu, 0, 0, model)
    if milli < 1000 and gpus == 1:
        return TaskShape(cpu, milli, 1, model)
    return TaskShape(cpu, milli, gpus, model)


SHAPES = st.lists(
    st.builds(
        _shape,
        st.sampled_from([0, 1000, 2000, 4000]),
        st.sampled_from([0, 0, 300, 500, 1000, 1000]),
        st.integers(1, 3),
        st.sampled_from(["", "T4"]),
    ),
    min_size=1, max_size=6, unique=True,
)  # fmt: skip
FREE = st.sampled_from([NO_GPU, 0, 100, 299, 300, 301, 500, 700, 999, 1000, 1000, 1000])
# Free CPU on and beside each shape's CPU, the CPU grid and the grid plus a shape's CPU
# (0-8,000), and below zero (a node whose pods ask more than it has).
CPU = st.sampled_from([-4001, -2000, -1, 0, 1, 999, 1000, 1999, 2000, 2999, 3000, 3999, 4000,
                       5000, 5999, 6000, 7999, 8000, 8001, 32000])  # fmt: skip
STATES = st.lists(
    st.tuples(st.lists(FREE, min_size=1, max_size=8), CPU, st.sampled_from(MODELS)),
    min_size=1, max_size=6,
)  # fmt: skip


def _mix(shapes: list[TaskShape], counts: list[int]) -> tuple[FragTable, MixShapes]:
    weights = np.array(counts[: len(shapes)], float)
    workload = TargetWorkload(tuple(shapes), tuple((weights / weights.sum()).tolist()))
    return FragTable(workload, MODELS), MixShapes(workload, MODELS)


def _arrays(states: list[tuple[list[int], int, str]], width: int) -> tuple[np.ndarray, ...]:
    free = np.array([f + [NO_GPU] * (width - len(f)) for f, _, _ in states], np.int64)
    cpu = np.array([c for _, c, _ in states], np.int64)
    model = np.array([MODELS.index(m) for _, _, m in states], np.intp)
    return free, cpu, model


@settings(max_examples=300, deadline=None)
@given(SHAPES, st.lists(st.integers(1, 9), min_size=6, max_size=6), STATES, st.integers(1, 8))
def test_best_increase_shortcuts_are_the_direct_increase(shapes, counts, states, gpus) -> None:
    """Property: `best_increase` (fit read from the counts where the thresholds allow it, the
    flat positions and CPU columns formed from `TableCells`) equals `_best_increase_direct`
    byte for byte, increases and fragmentation, for any mix and states."""
    table, sh = _mix(shapes, counts)
    free, cpu, model = _arrays(states, max(gpus, *(len(f) for f, _, _ in states)))
    moves = sh.moves(table.milli)
    assert moves is not None
    event("fit from the counts" if moves.need_at is not None else "idle GPUs counted")
    got = best_increase(table, sh, free, cpu, model)
    want = _best_increase_direct(table, MixShapes(table_workload(table, shapes, counts), MODELS),
                                 free, cpu, model)  # fmt: skip
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]


def table_workload(table: FragTable, shapes: list[TaskShape], counts: list[int]) -> TargetWorkload:
    """The workload `_mix` made `table` from (a fresh `MixShapes` for the reference)."""
    weights = np.array(counts[: len(shapes)], float)
    return TargetWorkload(tuple(shapes), tuple((weights / weights.sum()).tolist()))


@settings(max_examples=200, deadline=None)
@given(SHAPES, st.lists(st.integers(1, 9), min_size=6, max_size=6),
       st.lists(st.integers(-20000, 40000) | CPU, min_size=1, max_size=30))  # fmt: skip
def test_cpu_columns_per_interval_are_searchsorted(shapes, counts, cpus) -> None:
    """Property: for any free CPU (negative included), the interval `TableCells` files it
    under gives the table's CPU column of the state and of each shape's leftover, and whether
    each shape's CPU fits, exactly as `searchsorted` and `>=` on that CPU do."""
    table, sh = _mix(shapes, counts)
    cells = sh.cells(table)
    cpu = np.array(cpus, np.int64)
    at = cells.breaks.searchsorted(cpu, side="right")
    grid = table.cpu_grid
    assert cells.column[at, 0].tolist() == grid.searchsorted(cpu, side="right").tolist()
    left = cpu[:, None] - sh.cpu
    assert cells.column[at, 1:].tolist() == grid.searchsorted(left, side="right").tolist()
    assert cells.cpu_fits[at].tolist() == (cpu[:, None] >= sh.cpu).tolist()


@settings(max_examples=150, deadline=None)
@given(SHAPES, st.lists(STATES, min_size=1, max_size=8), st.integers(1, 12))
def test_the_state_memo_answers_as_best_increase_across_restarts(shapes, batches, cap) -> None:
    """Property: batch after batch, `StateMemo` (answers kept as rows of one store, the store
    grown and, past `MAX_MEMO_STATES` states, restarted) answers byte for byte what
    `best_increase` computes afresh; a caller writing into an answer changes no later one."""
    table, sh = _mix(shapes, [1] * len(shapes))
    memo = StateMemo(table, sh)
    memo.held = ({}, memo.held[1][:1].copy())  # one row to start with: the store grows at once
    held = lc.MAX_MEMO_STATES
    lc.MAX_MEMO_STATES = cap
    try:
        largest = 0  # (a restart keeps every state of the call that made it)
        for states in batches:
            largest = max(largest, len(states))
            free, cpu, model = _arrays(states, 8)
            want, want_frag = best_increase(table, sh, free, cpu, model)
            got, frag = memo.increases(free, cpu, model)
            assert got.tobytes() == want.tobytes() and frag.tobytes() == want_frag.tobytes()
            assert len(memo.rows) <= max(cap, largest) and memo.size <= len(memo.held[1])
            got[:] = -1.0  # (the answer is a copy: the store keeps its rows)
            frag[:] = -1.0
    finally:
        lc.MAX_MEMO_STATES = held


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from([NO_GPU, 0, 500, 1000]), min_size=3,
                                   max_size=3), st.sampled_from([-1, 0, 4000]),
                          st.sampled_from([0, 1])), min_size=1, max_size=6))  # fmt: skip
def test_alike_is_numpys_elementwise_equality(states) -> None:
    """Property: `alike` (the kernel, over the index's int16 columns) is numpy's all-equal
    test over the free milli per GPU, the free CPU and the model."""
    pf = np.array([s[0] for s in states], np.int16)
    cpu = np.array([s[1] for s in states], np.int64)
    model = np.array([s[2] for s in states], np.int16)
    want = bool((pf == pf[0]).all() and (cpu == cpu[0]).all() and (model == model[0]).all())
    rows = np.arange(len(states), dtype=np.int64)
    assert alike(pf, cpu, model, rows, rows.astype(np.intp)) is want


def test_idle_gpus_are_counted_without_a_1000_threshold() -> None:
    """Two GPUs of 500 milli each (no shape of 1000 milli, so no 1000 threshold): the shape
    needs 2 idle GPUs; a T4 with GPUs (1000, 1000, 700) fits it, one with (1000, 700, 700)
    does not (+inf), though both have two GPUs at or above the 500 threshold."""
    workload = TargetWorkload((TaskShape(0, 500, 2), TaskShape(0, 300, 1)), (0.5, 0.5))
    table = FragTable(workload, ("T4",))
    sh = MixShapes(workload, ("T4",))
    moves = sh.moves(table.milli)
    assert moves is not None and moves.need_at is None
    free = np.array([[1000, 1000, 700], [1000, 700, 700]], np.int64)
    got, _ = best_increase(table, sh, free, np.array([0, 0]), np.array([0, 0], np.intp))
    assert np.isfinite(got[0, 0]) and np.isinf(got[1, 0])
    assert np.isfinite(got[1, 1])  # the 300 share fits either


@pytest.mark.parametrize(
    ("shapes", "has_counts"),
    [
        ((TaskShape(0, 1000, 2), TaskShape(0, 300, 1)), True),  # whole GPUs: the 1000 threshold
        ((TaskShape(0, 300, 1), TaskShape(1000, 0, 0)), True),  # shares and CPU only
        ((TaskShape(1000, 0, 0),), False),  # CPU only: no threshold at all
        ((TaskShape(0, 500, 2),), False),  # 2 x 500: no 1000 threshold
    ],
)
def test_which_shapes_read_fit_from_the_counts(shapes, has_counts) -> None:
    """`Moves.need_at` exists exactly when every GPU shape's fit can be read from the counts."""
    workload = TargetWorkload(shapes, tuple([1 / len(shapes)] * len(shapes)))
    table = FragTable(workload, ("T4",))
    moves = MixShapes(workload, ("T4",)).moves(table.milli)
    assert moves is not None
    assert (moves.need_at is not None) is has_counts


def test_a_node_gone_since_hosts_nothing_in_the_redone_row() -> None:
    """The per-row increases are redone for the rows changed since (here one: a node gone, a
    dead row): the gone node must host nothing there (+inf), so the tie costs of the nodes
    left equal those of a fresh index of the same nodes; it held the lowest increase of the
    idle-GPU shapes (its two idle GPUs), which a kept row would go on offering."""
    frees = {"a": (1000, 500), "b": (300, 700), "c": (500, 500), "gone": (1000, 1000)}
    nodes, allocs = free_fleet(frees)
    mix = {TaskShape(0, 500, 1): 3, TaskShape(0, 300, 1): 2, TaskShape(0, 1000, 2): 1}
    demand = DemandMix(dict(mix), 0.0, {}, sum(mix.values()))
    share = pod(gpu=GpuRequest("milli", 1, milli=200))
    first = ClusterState(nodes, allocs, demand=demand)
    assert LookAhead().tie_costs(CycleState(first, share, sorted(nodes))) is not None
    rest = {n: v for n, v in nodes.items() if n != "gone"}
    kept = {k: a for k, a in allocs.items() if a.placement.node != "gone"}
    later = ClusterState(rest, kept, demand=demand, _seed=first.seed_for({"gone"}))
    assert len(later.fleet().alive) == 4  # the same index, the gone row dead
    got = LookAhead().tie_costs(CycleState(later, share, sorted(rest)))
    fresh = ClusterState(rest, kept, demand=demand)
    want = LookAhead().tie_costs(CycleState(fresh, share, sorted(rest)))
    assert got is not None and want is not None
    assert got.tobytes() == want.tobytes()


@settings(max_examples=100, deadline=None)
@given(SHAPES, st.lists(STATES, min_size=2, max_size=8), st.integers(1, 8))
def test_a_published_store_never_changes_under_its_keys(shapes, batches, cap) -> None:
    """Property: whatever later calls add, grow or restart, each (keys, store) pair `StateMemo`
    has published still maps every key it held to the same row: a reader on another thread
    that took the pair before reads what it was given (the extender serves verbs on several
    threads, all reading one mix's memo)."""
    table, sh = _mix(shapes, [1] * len(shapes))
    memo = StateMemo(table, sh)
    memo.held = ({}, memo.held[1][:2].copy())  # two rows to start with: growth comes early
    held = lc.MAX_MEMO_STATES
    lc.MAX_MEMO_STATES = cap
    seen: list[tuple[dict[bytes, int], np.ndarray, dict[bytes, bytes]]] = []
    try:
        for states in batches:
            memo.increases(*_arrays(states, 8))
            index, store = memo.held
            seen.append((index, store, {k: store[r].tobytes() for k, r in index.items()}))
        for index, store, rows in seen:
            assert {k: store[index[k]].tobytes() for k in rows} == rows
    finally:
        lc.MAX_MEMO_STATES = held


def test_threads_sharing_a_state_memo_get_best_increases_answers() -> None:
    """Four threads asking one `StateMemo` (a small store, restarts every few states) for
    overlapping batches each get `best_increase`'s answer, byte for byte."""
    import threading

    rng = np.random.default_rng(7)
    shapes = [TaskShape(1000, 300, 1), TaskShape(2000, 1000, 2), TaskShape(0, 500, 1)]
    table, sh = _mix(shapes, [3, 1, 2])
    memo = StateMemo(table, sh)
    memo.held = ({}, memo.held[1][:1].copy())
    free = rng.choice([NO_GPU, 0, 300, 500, 700, 1000], size=(400, 4)).astype(np.int64)
    cpu = rng.choice([-1000, 0, 1000, 2000, 3000, 8000], size=400).astype(np.int64)
    model = rng.integers(0, 2, 400).astype(np.intp)
    want, want_frag = best_increase(table, sh, free, cpu, model)
    bad: list[int] = []
    held = lc.MAX_MEMO_STATES
    lc.MAX_MEMO_STATES = 40

    def ask(seed: int) -> None:
        pick = np.random.default_rng(seed)
        for _ in range(60):
            at = pick.integers(0, 400, pick.integers(1, 12))
            got, frag = memo.increases(free[at], cpu[at], model[at])
            if got.tobytes() != want[at].tobytes() or frag.tobytes() != want_frag[at].tobytes():
                bad.append(seed)

    try:
        threads = [threading.Thread(target=ask, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        lc.MAX_MEMO_STATES = held
    assert not bad
