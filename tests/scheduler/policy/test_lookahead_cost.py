"""LookAhead's arithmetic (`plugins/lookahead_cost.py`): the vectorised increase against
`packing.fgd.frag_increase` one state at a time, the tabulated moves against the direct ones,
the state memo, the block top-two and the two-step cost against a loop over rows; properties.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.fgd import FragTable, TargetWorkload, TaskShape, frag_increase
from packing.fractional import NO_GPU
from scheduler.policy.fleet_index import distinct
from scheduler.policy.plugins.lookahead_cost import (
    BlockTopTwo,
    MixShapes,
    StateMemo,
    _best_increase_direct,
    best_increase,
    top_two,
    two_step_costs,
)

# -- properties ----------------------------------------------------------------------------

FREE = st.sampled_from([NO_GPU, 0, 100, 250, 300, 500, 700, 750, 1000, 1000])
SHAPES = st.lists(
    st.builds(
        TaskShape,
        st.sampled_from([0, 2000, 4000, 8000]),
        st.sampled_from([0, 250, 300, 500, 700, 1000]),
        st.integers(1, 3),
        st.sampled_from(["", "T4", "V100"]),
    ).map(lambda s: s if s.gpu_milli == 1000 or s.gpu_milli == 0 and s.num_gpu == 0
          else TaskShape(s.cpu_milli, s.gpu_milli, 0 if s.gpu_milli == 0 else 1, s.gpu_models)),
    min_size=1, max_size=5, unique=True,
)  # fmt: skip


def _reference(table: FragTable, shape: TaskShape, free: list[int], cpu: int, model: str) -> float:
    """FGD's own increase (`packing.fgd.frag_increase`) of the policy's placement of `shape`:
    a share on the tightest GPU with enough free milli, n whole GPUs on the first idle ones,
    CPU only on no GPU (any model); +inf where it does not fit (model, CPU or GPUs)."""
    if (shape.num_gpu and not shape.allows(model)) or cpu < shape.cpu_milli:
        return float("inf")
    if shape.num_gpu == 0:
        return frag_increase(table, free, cpu, model, [], 0, shape.cpu_milli)
    if shape.gpu_milli < 1000:
        fits = [i for i, f in enumerate(free) if f >= shape.gpu_milli]
        if not fits:
            return float("inf")
        gpu = min(fits, key=lambda i: (free[i], i))
        return frag_increase(table, free, cpu, model, [gpu], shape.gpu_milli, shape.cpu_milli)
    idle = [i for i, f in enumerate(free) if f == 1000][: shape.num_gpu]
    if len(idle) < shape.num_gpu:
        return float("inf")
    return frag_increase(table, free, cpu, model, idle, 1000, shape.cpu_milli)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(FREE, min_size=4, max_size=4), st.sampled_from(
    [0, 3000, 6000, 16000]), st.sampled_from(["T4", "V100"])), min_size=1, max_size=4),
    SHAPES, st.lists(st.integers(1, 5), min_size=5, max_size=5))  # fmt: skip
def test_best_increase_is_fgds_increase_of_the_policys_placement(states, shapes, counts) -> None:
    """Property: for every node state and typical shape, `best_increase` equals FGD's own
    increase of the placement the policy would make (`_reference`), +inf where none fits."""
    weights = np.array(counts[: len(shapes)], float)
    workload = TargetWorkload(tuple(shapes), tuple((weights / weights.sum()).tolist()))
    models = ("T4", "V100")
    table = FragTable(workload, models)
    free = np.array([s[0] for s in states])
    cpu = np.array([s[1] for s in states])
    model = np.array([models.index(s[2]) for s in states], np.intp)
    got, frag0 = best_increase(table, MixShapes(workload, models), free, cpu, model)
    for k, (f, c, m) in enumerate(states):
        assert frag0[k] == pytest.approx(
            table.node_frag(np.array([f]), np.array([c]), np.array([models.index(m)]))[0]
        )
        for t, shape in enumerate(shapes):
            want = _reference(table, shape, list(f), c, m)
            assert got[k, t] == pytest.approx(want), (f, c, m, shape)


# Mixes one after another (the log republishes them as pods arrive): shapes drawn from a pool
# where one milli recurs with other GPU counts and other mixes' thresholds, so a `Moves` table
# kept across mixes meets the same shape under other thresholds and counts.
MIX_SHAPES = st.lists(
    st.builds(
        TaskShape,
        st.sampled_from([0, 2000, 4000]),
        st.sampled_from([0, 300, 500, 1000, 1000]),
        st.integers(1, 3),
        st.sampled_from(["", "T4"]),
    ).map(lambda s: s if s.gpu_milli in (0, 1000) and (s.gpu_milli or not s.num_gpu)
          else TaskShape(s.cpu_milli, s.gpu_milli, 0 if s.gpu_milli == 0 else 1, s.gpu_models)),
    min_size=1, max_size=6, unique=True,
)  # fmt: skip
STATE_FREE = st.sampled_from([NO_GPU, 0, 100, 299, 300, 301, 500, 700, 999, 1000, 1000, 1000])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(MIX_SHAPES, st.lists(st.integers(1, 9), min_size=6, max_size=6)),
                min_size=1, max_size=4),
       st.lists(st.tuples(st.lists(STATE_FREE, min_size=1, max_size=8), st.sampled_from(
           [0, 1999, 2000, 4000, 6000, 32000]), st.sampled_from(["T4", "V100"])),
           min_size=1, max_size=6),
       st.integers(1, 8))  # fmt: skip
def test_tabulated_increase_is_the_direct_one_bit_for_bit(mixes, states, gpus) -> None:
    """Property: over mixes republished one after another (their `Moves` tables kept across
    mixes by thresholds, milli and GPU count), `best_increase` answers bit for bit what
    `_best_increase_direct` computes from the states alone, for any node states (1-8 GPU
    columns, missing GPUs, free milli on both sides of a threshold, CPU on both sides of a
    shape's CPU, either model)."""
    models = ("T4", "V100")
    width = max(gpus, *(len(f) for f, _, _ in states))
    free = np.array([f + [NO_GPU] * (width - len(f)) for f, _, _ in states], np.int64)
    cpu = np.array([c for _, c, _ in states], np.int64)
    model = np.array([models.index(m) for _, _, m in states], np.intp)
    for shapes, counts in mixes:
        weights = np.array(counts[: len(shapes)], float)
        workload = TargetWorkload(tuple(shapes), tuple((weights / weights.sum()).tolist()))
        table = FragTable(workload, models)
        sh = MixShapes(workload, models)
        got = best_increase(table, sh, free, cpu, model)
        want = _best_increase_direct(table, MixShapes(workload, models), free, cpu, model)
        assert sh.moves(table.milli) is not None  # the tabulated path ran
        assert [g.tobytes() for g in got] == [w.tobytes() for w in want]


def test_tabulated_increase_falls_back_on_free_milli_out_of_range() -> None:
    """A row claiming more than 1000 free milli on a GPU (malformed) is beyond the tables:
    it goes the direct way and gets the same answer; more GPU columns than the table's
    count still fail with `frag_from_counts`'s one clear error."""
    workload = TargetWorkload((TaskShape(0, 500, 1),), (1.0,))
    table = FragTable(workload, ("T4",))
    sh = MixShapes(workload, ("T4",))
    free, cpu, model = np.array([[1200, 300]]), np.array([0]), np.array([0], np.intp)
    got = best_increase(table, sh, free, cpu, model)
    want = _best_increase_direct(table, sh, free, cpu, model)
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]
    with pytest.raises(Exception, match="more than 8 GPUs"):
        best_increase(table, sh, np.full((1, 9), 1000), cpu, model)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=40))
def test_distinct_is_numpys_unique(ids) -> None:
    """Property: `distinct` gives `np.unique`'s first positions and inverse (None when
    nothing repeats)."""
    a = np.array(ids, np.int64)
    got = distinct(a)
    if len(set(ids)) == len(ids):
        assert got is None
        return
    _, first, inverse = np.unique(a, return_index=True, return_inverse=True)
    assert got is not None
    assert got[0].tolist() == first.tolist() and got[1].tolist() == inverse.tolist()


# Free CPU on both sides of each shape's CPU (0-8000) and of the CPU grid plus a shape's CPU.
MEMO_CPU = st.sampled_from([0, 1999, 2000, 3999, 4000, 5999, 6000, 7999, 8000, 9999, 10000,
                            11999, 12000, 15999, 16000, 32000])  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(st.lists(st.sampled_from([NO_GPU, 0, 300, 700, 1000]),
    min_size=2, max_size=2), MEMO_CPU, st.sampled_from(["T4", "V100"])), min_size=1,
    max_size=6), min_size=1, max_size=6), SHAPES)  # fmt: skip
def test_the_state_memo_answers_as_best_increase_does(batches, shapes) -> None:
    """Property: batch after batch of node states (few GPU states, many free CPU values, so
    most states repeat one seen before in GPUs and model but not in CPU), `StateMemo` answers
    exactly (bit for bit) what `best_increase` computes on that batch afresh."""
    workload = TargetWorkload(tuple(shapes), tuple([1 / len(shapes)] * len(shapes)))
    models = ("T4", "V100")
    table = FragTable(workload, models)
    sh = MixShapes(workload, models)
    memo = StateMemo(table, sh)
    for states in batches:
        free = np.array([s[0] for s in states], np.int64)
        cpu = np.array([s[1] for s in states], np.int64)
        model = np.array([models.index(s[2]) for s in states], np.intp)
        want, want_frag = best_increase(table, sh, free, cpu, model)
        got, frag = memo.increases(free, cpu, model)
        assert got.tobytes() == want.tobytes() and frag.tobytes() == want_frag.tobytes()


def test_the_state_memo_tells_free_cpu_across_a_shapes_threshold() -> None:
    """A 700 share needing 4,000 CPU, on one idle T4: with 4,000 free it fits (the increase
    is finite), with 3,999 it does not (+inf); the same GPU state must not share an answer.
    With 8,000 and 9,000 free (both past every threshold: grid {4000}, + 4000 = 8000) the
    answer is the same entry."""
    shape = TaskShape(4000, 700, 1)
    workload = TargetWorkload((shape,), (1.0,))
    table = FragTable(workload, ("T4",))
    memo = StateMemo(table, MixShapes(workload, ("T4",)))
    free, model = np.array([[1000]]), np.array([0], np.intp)
    assert np.isfinite(memo.increases(free, np.array([4000]), model)[0][0, 0])
    assert np.isinf(memo.increases(free, np.array([3999]), model)[0][0, 0])
    memo.increases(free, np.array([8000]), model)
    n = len(memo.rows)
    memo.increases(free, np.array([9000]), model)
    assert len(memo.rows) == n == 3


class _SmallBlocks(BlockTopTwo):
    BLOCK = 3  # many blocks on a few rows: an edit often hits a block's or the fleet's lowest


VALUES = st.sampled_from([0.0, 1.0, 2.0, 3.0, 5.0, np.inf])


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 14), st.integers(1, 3),
       st.lists(st.lists(st.tuples(st.integers(0, 13), VALUES), min_size=1, max_size=3),
                max_size=6), st.data())  # fmt: skip
def test_block_top_two_follows_rows_rewritten_in_place(n, t, edits, data) -> None:
    """Property: rows of a (n, t) array rewritten in place (few values: ties and +inf are
    common), each batch then told to `BlockTopTwo.changed`, and `get` equals `top_two` of the
    whole array afresh: the lowest, its first row, the lowest of the other rows."""
    cells = data.draw(st.lists(VALUES, min_size=n * t, max_size=n * t))
    values = np.array(cells).reshape(n, t)
    # `top_two` itself: the lowest, its first row, and the lowest once that cell is masked.
    masked = values.copy()
    low = np.argmin(values, axis=0)
    masked[low, np.arange(t)] = np.inf
    want = [values.min(axis=0), low, masked.min(axis=0)]
    assert [g.tobytes() for g in top_two(values)] == [w.tobytes() for w in want]
    top = _SmallBlocks(values)
    assert [g.tolist() for g in top.get()] == [w.tolist() for w in top_two(values)]
    for batch in edits:
        rows = [r % n for r, _ in batch]
        for r, v in batch:
            values[r % n] = v
        top.changed(np.array(rows, np.intp))
        assert [g.tolist() for g in top.get()] == [w.tolist() for w in top_two(values)]


def _two_step_row_by_row(sh, rows, frag_now, best, inv, after, frag_after):
    """`two_step_costs` as it was first written: every (row, shape) cell formed on its own."""
    inc = frag_after[inv] - frag_now
    after = after[inv]
    first_best, low, second = top_two(best)
    other = np.where(low[None, :] == rows[:, None], second[None, :], first_best[None, :])
    both = np.minimum(after, other)
    step = np.where(np.isinf(both), sh.lost[None, :], both)
    return inc + step @ sh.weight


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 12), st.integers(1, 4), st.data())
def test_two_step_costs_per_state_are_the_row_by_row_ones(n, t, data) -> None:
    """Property: costs formed per distinct state after the pod, with the rows that hold a
    shape's lowest redone, equal bit for bit the costs formed row by row (few values: ties
    and +inf, so rows often hold a lowest or share it)."""
    cells = data.draw(st.lists(VALUES, min_size=n * t, max_size=n * t))
    best = np.array(cells).reshape(n, t)
    rows = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n,
                                       unique=True)), np.intp)  # fmt: skip
    states = data.draw(st.integers(1, len(rows)))
    inv = np.array(data.draw(st.lists(st.integers(0, states - 1), min_size=len(rows),
                                      max_size=len(rows))), np.intp)  # fmt: skip
    after = np.array(data.draw(st.lists(VALUES, min_size=states * t, max_size=states * t)))
    after = after.reshape(states, t)
    frag_after = np.array(data.draw(st.lists(st.floats(0, 4000), min_size=states,
                                             max_size=states)))  # fmt: skip
    frag_now = np.array(data.draw(st.lists(st.floats(0, 4000), min_size=len(rows),
                                           max_size=len(rows))))  # fmt: skip
    shapes = tuple(TaskShape(0, 250 * (i + 1), 1) for i in range(t))
    weights = np.array(data.draw(st.lists(st.floats(0.01, 1), min_size=t, max_size=t)))
    sh = MixShapes(TargetWorkload(shapes, tuple((weights / weights.sum()).tolist())), ("T4",))
    want = _two_step_row_by_row(sh, rows, frag_now, best, inv, after, frag_after)
    got = two_step_costs(sh, rows, frag_now, best, inv, after, frag_after)
    assert got.tobytes() == want.tobytes()
