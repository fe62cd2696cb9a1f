"""The look-ahead's batch paths that skip work, against the direct computation bit for bit.

`best_increase` forms only the (state, shape) pairs that fit when a batch has many states and
few pairs fit (a fleet-wide batch late in a fill); the answer must not depend on which path ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import scheduler.policy.plugins.lookahead_cost as lc
from packing.fgd import FragTable, TargetWorkload, TaskShape
from packing.fractional import NO_GPU
from scheduler.policy.plugins.lookahead_cost import (
    MixShapes,
    _best_increase_direct,
    best_increase,
)

MODELS = ("T4", "V100")

# Shapes of one mix: shares (one GPU), whole GPUs (1-3), CPU only; any or one model.


def _normal(s: TaskShape) -> TaskShape:
    """A share or CPU-only shape takes one GPU or none; whole GPUs keep their count."""
    if s.gpu_milli in (0, 1000) and (s.gpu_milli or not s.num_gpu):
        return s
    return TaskShape(s.cpu_milli, s.gpu_milli, 0 if s.gpu_milli == 0 else 1, s.gpu_models)


SHAPE = st.builds(
    TaskShape,
    st.sampled_from([0, 2000, 4000, 8000]),
    st.sampled_from([0, 250, 300, 500, 700, 1000]),
    st.integers(1, 3),
    st.sampled_from(["", "T4", "V100"]),
).map(_normal)
# Mostly nearly full GPUs (few shapes fit: the sparse case), some idle or half free.
FREE = st.sampled_from([NO_GPU, 0, 0, 0, 100, 250, 299, 300, 500, 699, 700, 1000])
STATE = st.tuples(
    st.lists(FREE, min_size=1, max_size=8),
    st.sampled_from([0, 1000, 1999, 2000, 4000, 7999, 8000, 32000]),
    st.sampled_from(MODELS),
)


@contextmanager
def _sparse(min_states: int, share: int) -> Iterator[None]:
    """`best_increase` with other dispatch settings (module globals, restored after)."""
    held = lc.SPARSE_MIN_STATES, lc.SPARSE_SHARE
    lc.SPARSE_MIN_STATES, lc.SPARSE_SHARE = min_states, share
    try:
        yield
    finally:
        lc.SPARSE_MIN_STATES, lc.SPARSE_SHARE = held


@contextmanager
def _counted() -> Iterator[list[int]]:
    """One entry per `_fitting_pairs` call while open."""
    calls: list[int] = []
    real = lc._fitting_pairs

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*a, **k)

    lc._fitting_pairs = spy
    try:
        yield calls
    finally:
        lc._fitting_pairs = real


def _batch(states: list[tuple[list[int], int, str]], gpus: int):  # type: ignore[no-untyped-def]
    width = max(gpus, *(len(f) for f, _, _ in states))
    free = np.array([f + [NO_GPU] * (width - len(f)) for f, _, _ in states], np.int64)
    cpu = np.array([c for _, c, _ in states], np.int64)
    model = np.array([MODELS.index(m) for _, _, m in states], np.intp)
    return free, cpu, model


@settings(max_examples=300, deadline=None)
@given(st.lists(SHAPE, min_size=1, max_size=8, unique=True),
       st.lists(st.integers(1, 9), min_size=8, max_size=8),
       st.lists(STATE, min_size=1, max_size=40), st.integers(1, 8))  # fmt: skip
def test_fitting_pairs_only_is_the_dense_answer_bit_for_bit(shapes, counts, states, gpus) -> None:
    """Property: over any mix and node states, `best_increase` forming the fitting pairs only
    (forced: every batch), the dense path (forced: never), the default dispatch and
    `_best_increase_direct` give the same increases and fragmentation, byte for byte (+inf
    where a shape does not fit)."""
    weights = np.array(counts[: len(shapes)], float)
    workload = TargetWorkload(tuple(shapes), tuple((weights / weights.sum()).tolist()))
    table = FragTable(workload, MODELS)
    free, cpu, model = _batch(states, gpus)
    want = _best_increase_direct(table, MixShapes(workload, MODELS), free, cpu, model)
    answers = []
    # (share 0: every batch qualifies; a minimum of 2**30 states: none does)
    for min_states, share in ((1, 0), (1 << 30, 1), (lc.SPARSE_MIN_STATES, lc.SPARSE_SHARE)):
        with _sparse(min_states, share), _counted() as calls:
            answers.append(best_increase(table, MixShapes(workload, MODELS), free, cpu, model))
        if share == 0:  # forced: it ran whenever the mix has a GPU shape (thresholds)
            assert calls == ([1] if len(table.milli) else [])
    for got in answers:
        assert got[0].tobytes() == want[0].tobytes()
        assert got[1].tobytes() == want[1].tobytes()


def test_a_late_fleet_wide_batch_goes_the_sparse_way() -> None:
    """40 nearly full nodes (one T4 each, 100 milli free) and a mix of 500 shares and whole
    GPUs: no pair fits (0 <= 40 x 2 / 2), so the sparse path answers: every increase +inf,
    each state's fragmentation its 100 free milli (no share fits in 100: all of it
    stranded)."""
    workload = TargetWorkload((TaskShape(0, 500, 1), TaskShape(0, 1000, 1)), (0.5, 0.5))
    table = FragTable(workload, ("T4",))
    sh = MixShapes(workload, ("T4",))
    free = np.full((40, 1), 100)
    cpu, model = np.full(40, 8000), np.zeros(40, np.intp)
    with _counted() as calls:
        inc, frag = best_increase(table, sh, free, cpu, model)
    assert calls == [1]
    assert np.isinf(inc).all() and frag.tolist() == [100.0] * 40
