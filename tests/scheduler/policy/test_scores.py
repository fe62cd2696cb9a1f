"""Score plugins and the framework's folding into integers 0..10."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.framework import MAX_SCORE, Profile, _clamp, _weighted_sum, run_scores
from scheduler.policy.model import Allocation, ClusterState, GpuGrant, GpuRequest, Placement
from scheduler.policy.plugins.binpack import Binpack
from scheduler.policy.plugins.fragmentation import FragmentationScore
from scheduler.policy.registry import build_profile
from tests.builders import h100, node, pod


def _state(*allocs: tuple[str, GpuGrant]) -> ClusterState:
    nodes = {
        "c": node("c", h100(0), h100(1)),
        "m": node("m", h100(0, mig=True, instances=[("3g.40gb", 4, True)])),
        "e": node("e", h100(0, mig=True)),
    }
    held = {
        f"u{i}": Allocation(f"d/u{i}", f"u{i}", Placement(n, (g,)))
        for i, (n, g) in enumerate(allocs)
    }
    return ClusterState(nodes, held)


FRAG_CASES = [
    # (request, node, increase in milli-GPU)
    # GPU 0 has 500 free; a 500 share fills it exactly: nothing stranded -> 0.
    (GpuRequest("milli", milli=500), "c", 0.0),
    # A 300 share on GPU 0 leaves 200 that a 300-shape can never use -> +200.
    (GpuRequest("milli", milli=300), "c", 200.0),
]


@pytest.mark.parametrize(("req", "where", "inc"), FRAG_CASES)
def test_fractional_fragmentation_increase(req, where, inc) -> None:
    s = _state(("c", GpuGrant(0, milli=500)))
    f = FragmentationScore()
    from scheduler.policy.framework import choose_placement

    p = pod(gpu=req)
    got = f.increase(s.capacity(where), p, choose_placement(s, p, s.nodes[where]))
    assert got == pytest.approx(inc)
    assert f.score(s, p, s.nodes[where]) == pytest.approx(1 / (1 + math.exp(inc / 250)))


CPU_CASES = [
    # (CPU the node's other pods hold, increase in milli-GPU) for a 500 share asking 8000 CPU
    # on node "k" (16000 CPU, two idle GPUs), own-shape workload {8000 CPU, 500 milli}.
    # Nothing held: 8000 CPU stay free, GPU 0 (500 left) and GPU 1 (1000) still host the shape
    # -> nothing stranded -> 0.
    (0, 0.0),
    # 4000 held: 12000 - 8000 = 4000 left < 8000, so no further pod of this shape fits:
    # all 1500 free milli are stranded, and before the bind none were -> +1500.
    (4000, 1500.0),
    # 9000 held: 7000 free < 8000 before already (all 2000 stranded), 1500 after -> -500.
    (9000, -500.0),
]


@pytest.mark.parametrize(("held_cpu", "inc"), CPU_CASES)
def test_fragmentation_counts_free_cpu(held_cpu, inc) -> None:
    from scheduler.policy.framework import choose_placement
    from scheduler.policy.model import Node

    k = Node("k", gpus=(h100(0), h100(1)), cpu_milli=16000)
    held = {"o": Allocation("d/o", "o", Placement("k", ()), cpu_milli=held_cpu)}
    s = ClusterState({"k": k}, held)
    assert s.capacity("k").cpu_free == 16000 - held_cpu
    p = pod(gpu=GpuRequest("milli", milli=500), cpu_milli=8000)
    got = FragmentationScore().increase(s.capacity("k"), p, choose_placement(s, p, k))
    assert got == pytest.approx(inc)


def test_mig_fragmentation_prefers_the_half_used_gpu() -> None:
    # 4g.40gb on "m" fills slices 0..3 next to the 3g@4 (a full GPU: nothing left to strand);
    # on empty "e" it leaves 4..7 free, which some profiles of the mix cannot use.
    s = _state()
    p = pod(gpu=GpuRequest("mig", 1, "4g.40gb", dynamic=True))
    f = FragmentationScore()
    assert f.score(s, p, s.nodes["m"]) > f.score(s, p, s.nodes["e"])


def test_binpack_prefers_fuller_node() -> None:
    # "c" with GPU 0 held: after one more whole GPU it is 2/2 = 1.0 full; without: 1/2 = 0.5.
    busy = _state(("c", GpuGrant(0)))
    idle = _state()
    p = pod(gpu=GpuRequest("whole", 1))
    assert Binpack().score(busy, p, busy.nodes["c"]) == pytest.approx(1.0)
    assert Binpack().score(idle, p, idle.nodes["c"]) == pytest.approx(0.5)


class _Const:
    def __init__(self, name: str, value: float) -> None:
        self.name, self.value = name, value

    def score(self, state, pod, node) -> float:
        return self.value


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.floats(-5, 5), st.just(math.nan)), st.floats(0, 10)),
        min_size=1,
        max_size=4,
    )
)
def test_scores_are_integers_in_range(pairs) -> None:
    """Property: whatever plugins return (even NaN or out of range), scores are ints 0..10."""
    prof = Profile((), tuple((_Const(f"s{i}", v), w) for i, (v, w) in enumerate(pairs)))
    out = run_scores(_state(), pod(gpu=GpuRequest("whole", 1)), ["c", "m", "x"], prof)
    assert all(isinstance(v, int) and 0 <= v <= MAX_SCORE for v in out.values())
    assert out["x"] == 0  # unknown node


def test_weighted_mean_arithmetic() -> None:
    # (1.0 * 3 + 0.0 * 1) / (3 + 1) = 0.75 -> round(7.5) = 8 (banker's rounding gives 8).
    prof = Profile((), ((_Const("a", 1.0), 3.0), (_Const("b", 0.0), 1.0)))
    assert run_scores(_state(), pod(gpu=GpuRequest("whole", 1)), ["c"], prof) == {"c": 8}


def test_build_profile_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown score plugin 'Nope'"):
        build_profile(weights={"Nope": 1})
    with pytest.raises(ValueError, match="unknown filter plugin"):
        build_profile(filters=["Nope"])
    with pytest.raises(ValueError, match="must be a number in 0..1e"):
        build_profile(weights={"Binpack": -1})
    # Round 10: infinity (which passed `< 0`) and 1e308 overflowed the weighted sum: every
    # score -2^63, every prioritize a 400.
    for huge in (float("inf"), 1e308):
        with pytest.raises(ValueError, match="must be a number in 0..1e"):
            build_profile(weights={"Binpack": huge})


@pytest.mark.parametrize(
    "value, clamped",
    [
        (0.25, 0.25),  # inside [0, 1]: unchanged
        (-0.5, 0.0),  # below: 0
        (1.75, 1.0),  # above: 1
        (float("nan"), 0.0),  # a row left to the per-node path adds nothing here
        (float("inf"), 1.0),
        (float("-inf"), 0.0),
    ],
)
def test_clamp_rows_matches_the_per_node_clamp(value: float, clamped: float) -> None:
    one = np.ones((1, 1))  # one scorer of weight 1: its sum is its clamped value
    got, left = _weighted_sum(
        np.array([[value, 0.5]]), one, np.zeros(1, bool), np.zeros(2, np.intp)
    )
    assert got.tolist() == [clamped, 0.5]
    assert left == (value != value)  # a NaN value is left to the per-node path
    assert _clamp(value) == clamped  # the per-node clamp agrees
