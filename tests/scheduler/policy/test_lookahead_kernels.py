"""The look-ahead's compiled kernels (`lookahead_kernels`) against the numpy steps or the
direct computation they replace, bit for bit.

`increases` forms every state's and every fitting (state, shape) pair's fragmentation in one
loop; its float sums must be numpy's pairwise ones (`packing.fgd.add_reduce`), over any number of
thresholds (under 8, 8-128, past 128: numpy's three orders), for any states (nearly full
ones, where few pairs fit; missing GPUs; malformed free milli above 1000).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.fgd import FragTable, TargetWorkload, TaskShape
from packing.fractional import NO_GPU
from scheduler.policy.plugins.lookahead_cost import (
    BlockTopTwo,
    MixShapes,
    _best_increase_direct,
    best_increase,
    top_two,
    two_step_costs,
)
from scheduler.policy.plugins.lookahead_kernels import post_keys, row_keys, state_keys

MODELS = ("T4", "V100")


def _normal(s: TaskShape) -> TaskShape:
    """A share or CPU-only shape takes one GPU or none; whole GPUs keep their count."""
    if s.gpu_milli in (0, 1000) and (s.gpu_milli or not s.num_gpu):
        return s
    return TaskShape(s.cpu_milli, s.gpu_milli, 0 if s.gpu_milli == 0 else 1, s.gpu_models)


SHAPE = st.builds(
    TaskShape,
    st.sampled_from([0, 2000, 4000, 8000]),
    st.sampled_from([0, 250, 300, 500, 700, 1000]) | st.integers(1, 1000),
    st.integers(1, 3),
    st.sampled_from(["", "T4", "V100"]),
).map(_normal)
# Mostly nearly full GPUs (few shapes fit), some idle or half free, one malformed value.
FREE = st.sampled_from([NO_GPU, 0, 0, 0, 100, 250, 299, 300, 500, 699, 700, 1000]) | st.integers(
    0, 1000
)
STATE = st.tuples(
    st.lists(FREE, min_size=1, max_size=8),
    st.sampled_from([-1, 0, 1000, 1999, 2000, 4000, 7999, 8000, 32000]),
    st.sampled_from(MODELS),
)


def _batch(states: list[tuple[list[int], int, str]], gpus: int):
    width = max(gpus, *(len(f) for f, _, _ in states))
    free = np.array([f + [NO_GPU] * (width - len(f)) for f, _, _ in states], np.int64)
    cpu = np.array([c for _, c, _ in states], np.int64)
    model = np.array([MODELS.index(m) for _, _, m in states], np.intp)
    return free, cpu, model


@settings(max_examples=300, deadline=None)
@given(st.lists(SHAPE, min_size=1, max_size=24, unique=True),
       st.lists(st.integers(1, 9), min_size=24, max_size=24),
       st.lists(STATE, min_size=0, max_size=40), st.integers(1, 8),
       st.booleans())  # fmt: skip
def test_kernel_increases_are_the_direct_ones_bit_for_bit(
    shapes, counts, states, gpus, malformed
) -> None:
    """Property: over any mix (up to 24 shapes: 0 to ~20 thresholds) and node states,
    `best_increase` (the `increases` kernel, or the direct way for free milli above 1000)
    gives `_best_increase_direct`'s increases and fragmentation byte for byte (+inf where a
    shape does not fit)."""
    weights = np.array(counts[: len(shapes)], float)
    workload = TargetWorkload(tuple(shapes), tuple((weights / weights.sum()).tolist()))
    table = FragTable(workload, MODELS)
    if states:
        free, cpu, model = _batch(states, gpus)
    else:
        free, cpu, model = (
            np.zeros((0, gpus), np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.intp),
        )
    if malformed and len(free):
        free[-1, 0] = 1200
    want = _best_increase_direct(table, MixShapes(workload, MODELS), free, cpu, model)
    got = best_increase(table, MixShapes(workload, MODELS), free, cpu, model)
    assert got[0].tobytes() == want[0].tobytes()
    assert got[1].tobytes() == want[1].tobytes()


def test_many_thresholds_sum_in_numpys_order() -> None:
    """140 shares of distinct milli (140 thresholds: the sum over them is numpy's halving
    order) on states of every free milli: the kernel's answer is the direct one, byte for
    byte."""
    shapes = tuple(TaskShape(1000, m, 1) for m in range(100, 1000, 6))[:140]
    weights = np.arange(1, len(shapes) + 1, dtype=float)
    workload = TargetWorkload(shapes, tuple((weights / weights.sum()).tolist()))
    table = FragTable(workload, MODELS)
    assert len(table.milli) == 140
    rng = np.random.default_rng(3)
    free = rng.integers(0, 1001, (30, 8))
    free[:, 6:] = NO_GPU
    cpu = rng.integers(0, 9000, 30)
    model = rng.integers(0, 2, 30).astype(np.intp)
    sh = MixShapes(workload, MODELS)
    got = best_increase(table, sh, free, cpu, model)
    want = _best_increase_direct(table, MixShapes(workload, MODELS), free, cpu, model)
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]


def test_a_late_fleet_wide_batch_of_full_nodes() -> None:
    """40 nearly full nodes (one T4 each, 100 milli free) and a mix of 500 shares and whole
    GPUs: no pair fits, so every increase is +inf and each state's fragmentation its 100 free
    milli (no share fits in 100: all of it stranded)."""
    workload = TargetWorkload((TaskShape(0, 500, 1), TaskShape(0, 1000, 1)), (0.5, 0.5))
    table = FragTable(workload, ("T4",))
    sh = MixShapes(workload, ("T4",))
    free = np.full((40, 1), 100)
    cpu, model = np.full(40, 8000), np.zeros(40, np.intp)
    inc, frag = best_increase(table, sh, free, cpu, model)
    assert np.isinf(inc).all() and frag.tolist() == [100.0] * 40


def _numpy_reference_top_two(best: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`top_two` as numpy steps (before the kernels): `argmin`, `partition(1)`."""
    low = best.argmin(axis=0)
    if len(best) < 2:
        return best[0].copy(), low, np.full(best.shape[1], np.inf)
    two = best.copy()
    two.partition(1, axis=0)
    return two[0], low, two[1]


def _numpy_reference_merge(values: np.ndarray, block: int) -> tuple[np.ndarray, ...]:
    """`BlockTopTwo.get` as numpy steps: each block's `top_two`, then the merge."""
    parts = [_numpy_reference_top_two(values[j : j + block]) for j in range(0, len(values), block)]
    first = np.array([p[0] for p in parts])
    low = np.array([p[1] + j * block for j, p in enumerate(parts)])
    second = np.array([p[2] for p in parts])
    at = first.argmin(axis=0)
    cols = np.arange(values.shape[1])
    masked = first.copy()
    masked[at, cols] = np.inf
    return (
        first[at, cols],
        low[at, cols],
        np.minimum(np.minimum.reduce(masked, axis=0), second[at, cols]),
    )


ODD = st.sampled_from([0.0, 1.0, 2.0, 3.0, np.inf, -np.inf, np.nan, -1.5])


def _same(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and np.array_equal(g, w, equal_nan=True)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40), st.integers(1, 4), st.integers(1, 9), st.data())
def test_block_kernels_are_numpys_top_two(n, t, block, data) -> None:
    """Property: over any values (ties, +-inf and NaN included), one block of every row is
    `top_two`'s numpy steps, and blocks of any size merged are the numpy merge of the numpy
    blocks (`BlockTopTwo.get`), including on a strided view (a record's field)."""
    cells = data.draw(st.lists(ODD, min_size=n * t, max_size=n * t))
    values = np.array(cells).reshape(n, t)
    _same(top_two(values), _numpy_reference_top_two(values))

    class Blocks(BlockTopTwo):
        BLOCK = block

    record = np.zeros((n, t + 1))
    record[:, :t] = values
    for view in (values, record[:, :t]):
        _same(Blocks(view).get(), _numpy_reference_merge(values, block))


def _numpy_reference_two_step(sh, rows, frag_now, best, inv, after, frag_after, top):
    """`two_step_costs` as numpy steps (before the kernel): per state, then the rows that
    hold a lowest redone."""
    with np.errstate(invalid="ignore"):  # (inf - inf: NaN, as the kernel gives)
        inc = frag_after[inv] - frag_now
    first_best, low, second = top
    both = np.minimum(after, first_best)
    step = np.where(np.isinf(both), sh.lost, both).take(inv, axis=0)
    mark = np.zeros(len(best), bool)
    mark[low] = True
    hold = mark.take(rows).nonzero()[0]
    if len(hold):
        r = rows.take(hold)
        other = np.where(low == r[:, None], second, first_best)
        both = np.minimum(after.take(inv.take(hold), axis=0), other)
        step[hold] = np.where(np.isinf(both), sh.lost, both)
    return inc + step @ sh.weight


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12), st.integers(1, 5), st.data())
def test_two_step_kernel_is_the_numpy_steps(n, t, data) -> None:
    """Property: `two_step_costs` (the kernel, then numpy's product) equals its numpy steps
    bit for bit, for any increases (ties, +-inf, NaN), rows and states after the pod, with
    the states a strided view as `_best` hands them."""
    _check_two_step(n, t, data, unique=True)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 5), st.data())
def test_two_step_kernel_gives_each_copy_of_a_row_its_terms(n, t, data) -> None:
    """Property: the same with a row listed more than once (the kernel redoes the terms of
    every position of a row that holds a shape's lowest, not only its last)."""
    _check_two_step(n, t, data, unique=False)


def _check_two_step(n: int, t: int, data: st.DataObject, *, unique: bool) -> None:
    best = np.array(data.draw(st.lists(ODD, min_size=n * t, max_size=n * t))).reshape(n, t)
    rows = np.array(
        data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2 * n, unique=unique)),
        np.intp,
    )
    states = data.draw(st.integers(1, len(rows)))
    inv = np.array(
        data.draw(st.lists(st.integers(0, states - 1), min_size=len(rows), max_size=len(rows))),
        np.intp,
    )
    store = np.array(data.draw(st.lists(ODD, min_size=states * (t + 1), max_size=states * (t + 1))))
    store = store.reshape(states, t + 1)
    after, frag_after = store[:, :-1], store[:, -1]
    frag_now = np.array(data.draw(st.lists(ODD, min_size=len(rows), max_size=len(rows))))
    shapes = tuple(TaskShape(0, 250 * (i + 1), 1) for i in range(t))
    weights = np.array(data.draw(st.lists(st.floats(0.01, 1), min_size=t, max_size=t)))
    sh = MixShapes(TargetWorkload(shapes, tuple((weights / weights.sum()).tolist())), ("T4",))
    top = _numpy_reference_top_two(best)
    want = _numpy_reference_two_step(sh, rows, frag_now, best, inv, after, frag_after, top)
    got = two_step_costs(sh, rows, frag_now, best, inv, after, frag_after, top)
    assert np.array_equal(got, want, equal_nan=True)


def _numpy_reference_keys(free, cpu, model, breaks):
    """A state key as the numpy steps `StateMemo` formed it with: free milli per GPU, the
    CPU's interval (`searchsorted`), the model, as one int64 row."""
    bucket = breaks.searchsorted(np.asarray(cpu, np.int64), side="right")
    return np.concatenate(
        [np.asarray(free, np.int64), bucket[:, None], np.asarray(model, np.int64)[:, None]], axis=1
    )


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 8), st.integers(1, 6), st.data())
def test_key_kernels_are_the_numpy_steps(gpus, n, data) -> None:
    """Property: the keys of given states (`state_keys`), of fleet index rows followed by
    other keys (`row_keys`) and of tied rows after a pod (`post_keys`: the columns it takes
    lose its milli, its CPU off the free CPU) equal the numpy steps they replace, for any
    free milli (NO_GPU padding), free CPU on and beside the interval bounds (negative too)
    and model codes."""
    free = np.array(
        data.draw(st.lists(st.lists(st.sampled_from([-1, 0, 99, 500, 1000]), min_size=gpus,
                                    max_size=gpus), min_size=n, max_size=n)), np.int16
    )  # fmt: skip
    breaks = np.unique(np.array(data.draw(st.lists(st.integers(-10, 9000), max_size=6)), np.int64))
    near = [-20000, 0, 1, *breaks.tolist(), *(breaks - 1).tolist(), *(breaks + 1).tolist()]
    cpu = np.array(data.draw(st.lists(st.sampled_from(near), min_size=n, max_size=n)), np.int64)
    model = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), np.int16)
    want = _numpy_reference_keys(free, cpu, model, breaks)
    got = state_keys(free.astype(np.int64), cpu, model.astype(np.int64), breaks)
    assert got.tobytes() == want.tobytes()
    rows = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=5)), np.int64)
    extra = want[: data.draw(st.integers(0, n))]
    got = row_keys(free, cpu, model, rows, breaks, extra)
    assert got.tobytes() == np.concatenate([want[rows], extra]).tobytes()
    if len(rows):
        first = np.array(data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1)), np.intp)
        cells = len(rows) * gpus
        take = np.array(data.draw(st.lists(st.booleans(), min_size=cells, max_size=cells)))
        take = take.reshape(len(rows), gpus)
        milli, pod_cpu = data.draw(st.sampled_from([250, 1000])), data.draw(st.sampled_from(near))
        r = rows.take(first)
        pf = free.take(r, axis=0).astype(np.int64)
        post = np.where(take.take(first, axis=0), pf - milli, pf)
        want = _numpy_reference_keys(post, cpu.take(r) - pod_cpu, model.take(r), breaks)
        got = post_keys(free, cpu, model, rows, first, take, milli, pod_cpu, breaks)
        assert got.tobytes() == want.tobytes()
