"""CpuFedScore: the unfed-milli change as a score; by hand, and batch == per node with a mix.

Uses `test_cpu_fed`'s builder (T4 nodes with free milli per GPU and free CPU) and its mix of
1-GPU pods with 8 cores (r = 8 CPU milli per GPU milli).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.fgd import TaskShape
from scheduler.policy.framework import score_breakdown
from scheduler.policy.interfaces import CycleState
from scheduler.policy.model import GpuRequest
from scheduler.policy.plugins.cpu_fed_score import CpuFedScore, value
from scheduler.policy.registry import build_profile
from tests.builders import pod
from tests.scheduler.policy.test_cpu_fed import MIX8, WHOLE1, _state

ONLY = build_profile(weights={"CpuFed": 1.0})


@pytest.mark.parametrize(
    ("change", "want"),
    [
        (0.0, 0.5),  # as fed as before: the middle
        (500.0, 0.25),  # 0.5 - 500 / 2000
        (-1000.0, 1.0),  # 0.5 + 1000 / 2000 = 1.0
        (1500.0, 0.0),  # 0.5 - 0.75 < 0 -> 0
    ],
)
def test_value(change: float, want: float) -> None:
    assert value(np.array([change])).tolist() == [want]


@pytest.mark.parametrize(
    ("nodes", "cores", "want"),
    [
        # A whole GPU with 12 cores, r = 8 (test_cpu_fed's hand case): a (4 GPUs, 20 cores)
        # unfed 1500 -> 2000: d = +500: 0.5 - 0.25 = 0.25; b (4 GPUs, 40 cores) 0 -> 0: 0.5.
        ({"a": ((1000,) * 4, 20000), "b": ((1000,) * 4, 40000)}, 12000, {"a": 0.25, "b": 0.5}),
        # 4 cores: a 1500 -> 3000 - 16000 / 8 = 1000: d = -500: 0.75; b stays 0: 0.5.
        ({"a": ((1000,) * 4, 20000), "b": ((1000,) * 4, 40000)}, 4000, {"a": 0.75, "b": 0.5}),
        # c has no idle GPU (one 300 share free): the pod does not fit: 0.
        ({"c": ((300,), 40000)}, 4000, {"c": 0.0}),
    ],
)
def test_hand_cases(nodes, cores, want) -> None:
    state = _state(nodes, MIX8)
    p = pod(gpu=WHOLE1, cpu_milli=cores)
    got = {n: score_breakdown(state, p, n, ONLY)["CpuFed"] for n in sorted(nodes)}
    assert got == pytest.approx(want)
    rows = CpuFedScore().score_rows(CycleState(state, p, sorted(nodes)))
    assert rows is not None
    assert rows.tolist() == pytest.approx([want[n] for n in sorted(nodes)])


def _rows(state, p, names) -> list[float]:
    got = CpuFedScore().score_rows(CycleState(state, p, names))
    assert got is not None
    out: list[float] = got.tolist()
    return out


def test_constant_without_a_judged_pod_or_mix() -> None:
    """CPU-only pods, and snapshots without a mix, score 1 everywhere."""
    nodes = {"a": ((1000,) * 4, 20000), "b": ((1000,) * 4, 40000)}
    with_mix, without = _state(nodes, MIX8), _state(nodes, None)
    assert _rows(with_mix, pod(cpu_milli=4000), ["a", "b"]) == [1.0, 1.0]
    assert _rows(without, pod(gpu=WHOLE1, cpu_milli=4000), ["a", "b"]) == [1.0, 1.0]


_frees = st.lists(st.sampled_from([0, 190, 350, 530, 1000]), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    nodes=st.lists(st.tuples(_frees, st.integers(0, 64)), min_size=1, max_size=4),
    share=st.sampled_from([0, 160, 470, 810]),
    cores=st.integers(0, 16),
)
def test_batch_rows_equal_the_per_node_score(nodes, share, cores) -> None:
    """Property: with a mix, every node's batch value equals its per-node `score`."""
    mix = {TaskShape(8000, 1000, 1): 5, TaskShape(4000, 810, 1): 3, TaskShape(2000, 470, 1): 2}
    state = _state({f"n{i}": (tuple(f), c * 1000) for i, (f, c) in enumerate(nodes)}, mix)
    gpu = WHOLE1 if share == 0 else GpuRequest("milli", 1, milli=share)
    p = pod(gpu=gpu, cpu_milli=cores * 1000)
    names = sorted(state.nodes)
    rows = CpuFedScore().score_rows(CycleState(state, p, names))
    assert rows is not None
    for i, n in enumerate(names):
        assert rows[i] == pytest.approx(score_breakdown(state, p, n, ONLY)["CpuFed"], abs=1e-9)
