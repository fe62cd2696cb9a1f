"""Tune-down: a trace that already asks for more than inflate x capacity loses uniformly random
pods until it fits the limit, and the run goes on (the published ``tuneDownPods``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.fgd_fill.run import run_fgd_fill
from simulator.fgd_fill.workload import fill_arrivals, tune_down
from tests.simulator.fgd_fill.builders import node, pod

SHAPES = st.tuples(st.sampled_from([0, 1, 2, 4, 8]), st.sampled_from([100, 470, 810, 1000]))


def _trace(shapes: list[tuple[int, int]]):
    return [pod(f"p{i:03d}", num_gpu=n, milli=m if n == 1 else 1000) for i, (n, m) in
            enumerate(shapes)]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(SHAPES, min_size=1, max_size=40), st.integers(0, 20_000), st.integers(0, 2**32))
def test_tune_down_never_exceeds_the_limit(shapes, limit, seed):
    trace = _trace(shapes)
    kept = tune_down(trace, limit, np.random.default_rng(seed))
    total = sum(p.total_gpu_milli for p in kept)
    assert total <= limit or total == sum(p.total_gpu_milli for p in trace) <= limit
    assert total <= max(limit, 0)
    # Only removals, order kept: the survivors are a subsequence of the trace.
    it = iter(trace)
    assert all(any(p is q for q in it) for p in kept)


@settings(max_examples=40, deadline=None)
@given(st.lists(SHAPES, min_size=1, max_size=40), st.integers(0, 2**32))
def test_an_oversized_trace_arrives_tuned_down_and_shuffled(shapes, seed):
    trace = _trace(shapes)
    capacity = 4000  # trace totals run to 40 x 8000: often far above 1.3 x 4000
    if sum(p.total_gpu_milli for p in trace) <= 1.3 * capacity:
        return  # tune-up territory (tested in test_run.py)
    arr = fill_arrivals(trace, capacity, 1.3, np.random.default_rng(seed))
    assert sum(p.total_gpu_milli for p in arr) <= 1.3 * capacity
    assert len({p.name for p in arr}) == len(arr)  # no draws with replacement after tune-down
    assert {p.name for p in arr} < {p.name for p in trace}


def test_tune_down_removes_until_at_most_the_limit_then_stops():
    # Four 1000-milli pods, limit 2500: removing one leaves 3000 > 2500, two leave 2000 <= 2500,
    # so exactly two go, whatever the seed.
    trace = [pod(f"p{i}") for i in range(4)]
    for seed in range(5):
        assert len(tune_down(trace, 2500, np.random.default_rng(seed))) == 2


def test_a_trace_above_the_limit_runs_instead_of_failing():
    # One 1-GPU node (1000 milli); two whole-GPU pods ask 2000 > 1.3 x 1000 = 1300: one pod is
    # removed (1000 <= 1300), the other is placed; 100 % arrived, 100 % allocated.
    r = run_fgd_fill([node("n", gpus=1)], [pod("a"), pod("b")], "fgd", 0, debug=True)
    assert r.pods_arrived == 1 and r.pods_failed == 0
    assert r.unallocated_gpu_pct_at_100 == 0.0
