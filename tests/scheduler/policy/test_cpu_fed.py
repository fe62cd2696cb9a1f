"""CpuFedLookAhead: the look-ahead's cost plus the change in GPU milli left without CPU; by hand.

The arithmetic of the unfed term is in the tables' comments; the hand case shows a tie the
plain look-ahead leaves to the node order and this plugin decides the other way; the
properties check the unfed measure's one-sentence invariant and the plugin's cost against a
loop over the nodes' capacities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from packing.fgd import TargetWorkload, TaskShape
from scheduler.policy.demand import DemandMix
from scheduler.policy.framework import run_scores
from scheduler.policy.interfaces import CycleState
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    Gpu,
    GpuGrant,
    GpuRequest,
    Node,
    Placement,
    PodRequest,
)
from scheduler.policy.plugins.cpu_fed import (
    CpuFedArgs,
    CpuFedLookAhead,
    cpu_per_milli,
    unfed_milli,
)
from scheduler.policy.plugins.lookahead import LookAhead
from scheduler.policy.registry import DEFAULT_TIE_BREAK, build_profile
from tests.builders import pod

T4 = "T4"
FRAG = {"Fragmentation": 1.0}
WHOLE1 = GpuRequest("whole", 1)
MIX8 = {TaskShape(8000, 1000, 1): 4}  # the pods seen so far: 1 GPU with 8 cores (r = 8)


def _state(nodes: Mapping[str, tuple[tuple[int, ...], int]], mix: dict[TaskShape, int] | None,
           ) -> ClusterState:  # fmt: skip
    """T4 nodes: per node (free milli per GPU (1000 idle, else a share of 1000 - free held),
    free CPU milli)."""
    built, allocs = {}, {}
    for n, (free, cpu) in nodes.items():
        gpus = tuple(Gpu(i, f"{n}-{i}", T4, 16384) for i in range(len(free)))
        built[n] = Node(n, gpus=gpus, cpu_milli=cpu)
        for i, f in enumerate(free):
            if f < 1000:
                grant = GpuGrant(i) if f == 0 else GpuGrant(i, milli=1000 - f)
                allocs[f"{n}{i}"] = Allocation(f"d/{n}{i}", f"{n}{i}", Placement(n, (grant,)))
    demand = None if mix is None else DemandMix(dict(mix), 0.0, {}, sum(mix.values()))
    return ClusterState(built, allocs, demand=demand)


def _costs(plugin: LookAhead | CpuFedLookAhead, cycle: CycleState) -> list[float]:
    got = plugin.tie_costs(cycle)
    assert got is not None
    out: list[float] = got.tolist()
    return out


@pytest.mark.parametrize(
    ("free", "cpu", "per", "want"),
    [
        # 2 idle GPUs, 8 cores, 8 cores per GPU: the CPU feeds one GPU: 2000 - 8000 / 8 = 1000
        (2000, 8000, 8.0, 1000.0),
        # 1 GPU, 16 cores: 1000 - 16000 / 8 = -1000 -> 0 (more CPU than the GPUs need)
        (1000, 16000, 8.0, 0.0),
        # CPU overcommitted (negative free) counts as none: 500 - 0 = 500
        (500, -100, 8.0, 500.0),
        # no free GPU milli: nothing to feed
        (0, 4000, 8.0, 0.0),
        # a 190 residue and 1 core at 4 cores per GPU: 190 - 1000 / 4 = -60 -> 0
        (190, 1000, 4.0, 0.0),
    ],
)
def test_unfed_milli(free: int, cpu: int, per: float, want: float) -> None:
    assert unfed_milli([free], [cpu], per).tolist() == [want]


@pytest.mark.parametrize(
    ("shapes", "want"),
    [
        # one 1-GPU shape with 8 cores: 8000 / 1000 = 8 CPU milli per GPU milli
        ({TaskShape(8000, 1000, 1): 1.0}, 8.0),
        # half 8-core whole GPUs, half 4-core 500 shares: (0.5 x 8000 + 0.5 x 4000) /
        # (0.5 x 1000 + 0.5 x 500) = 6000 / 750 = 8
        ({TaskShape(8000, 1000, 1): 0.5, TaskShape(4000, 500, 1): 0.5}, 8.0),
        # a 2-GPU shape with 16 cores: 16000 / (1000 x 2) = 8; the CPU-only shape is left out
        ({TaskShape(16000, 1000, 2): 0.5, TaskShape(4000, 0, 0): 0.5}, 8.0),
        # GPU shapes asking no CPU, or no GPU shape at all: nothing to feed
        ({TaskShape(0, 500, 1): 1.0}, None),
        ({TaskShape(4000, 0, 0): 1.0}, None),
    ],
)
def test_cpu_per_milli(shapes: dict[TaskShape, float], want: float | None) -> None:
    got = cpu_per_milli(TargetWorkload(tuple(shapes), tuple(shapes.values())))
    assert got == want


def test_the_default_tie_break_is_the_cpu_fed_look_ahead() -> None:
    assert CpuFedLookAhead.name == DEFAULT_TIE_BREAK
    assert isinstance(build_profile().tie_break, CpuFedLookAhead)


def test_a_tie_the_look_ahead_leaves_goes_to_the_node_that_keeps_its_cpu() -> None:
    """A whole GPU with 12 cores; both nodes have 4 idle GPUs, a 20 cores and b 40.
    Mix: 1 GPU with 8 cores (r = 8000 / 1000 = 8).
    FGD: a after 3 GPUs / 8 cores, b after 3 GPUs / 28 cores: the typical pod fits on both:
    increase 0 on each, level 50 each: a tie.
    Look-ahead: the next typical pod on a after: 2 GPUs / 0 cores, it no longer fits: +2000;
    elsewhere its best is b now (4 GPUs, 40 cores -> 3 / 32: 0): min(2000, 0) = 0; cost a = 0.
    b after -> 2 GPUs / 20 cores: 0; cost b = 0. Equal costs: both keep 50, a wins on order.
    Unfed: a now 4000 - 20000 / 8 = 1500, after 3000 - 8000 / 8 = 2000: +500;
    b now 4000 - 40000 / 8 < 0 -> 0, after 3000 - 28000 / 8 < 0 -> 0: +0.
    Costs a 0 + 500 = 500, b 0: a drops to 49, b keeps 50."""
    state = _state({"a": ((1000,) * 4, 20000), "b": ((1000,) * 4, 40000)}, MIX8)
    p = pod(gpu=WHOLE1, cpu_milli=12000)
    cycle = CycleState(state, p, ["a", "b"])
    assert _costs(LookAhead(), cycle) == [0.0, 0.0]
    assert _costs(CpuFedLookAhead(), cycle) == [500.0, 0.0]
    assert _costs(CpuFedLookAhead(CpuFedArgs(0.5)), cycle) == [250.0, 0.0]
    plain = build_profile(weights=FRAG, tie_break=LookAhead.name)
    fed = build_profile(weights=FRAG, tie_break=CpuFedLookAhead.name)
    assert run_scores(state, p, ["a", "b"], plain, rank=True).levels == [50, 50]
    assert run_scores(state, p, ["a", "b"], fed, rank=True).levels == [49, 50]


def test_nothing_to_feed_leaves_the_look_ahead_as_it_is() -> None:
    """Mix shapes that ask no CPU (r undefined), weight 0, or a CPU-only pod (the look-ahead
    decides nothing): the plain look-ahead's answer."""
    nodes: dict[str, tuple[tuple[int, ...], int]] = {
        "a": ((1000,) * 4, 20000),
        "b": ((1000,) * 4, 40000),
    }
    p = pod(gpu=WHOLE1, cpu_milli=12000)
    no_cpu = CycleState(_state(nodes, {TaskShape(0, 1000, 1): 4}), p, ["a", "b"])
    assert _costs(CpuFedLookAhead(), no_cpu) == _costs(LookAhead(), no_cpu)
    cycle = CycleState(_state(nodes, MIX8), p, ["a", "b"])
    assert _costs(CpuFedLookAhead(CpuFedArgs(0.0)), cycle) == [0.0, 0.0]
    cpu_only = CycleState(_state(nodes, MIX8), pod(cpu_milli=4000), ["a", "b"])
    assert CpuFedLookAhead().tie_costs(cpu_only) is None


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "1", True])
def test_bad_weight_is_one_clear_error(bad: object) -> None:
    with pytest.raises(ValueError, match="CpuFedLookAhead weight must be"):
        CpuFedArgs(bad)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    free=st.integers(0, 8000),
    cpu=st.integers(-2000, 128000),
    more=st.integers(0, 64000),
    per=st.floats(0.5, 64.0),
)
def test_unfed_is_within_the_free_milli_and_never_rises_with_cpu(
    free: int, cpu: int, more: int, per: float
) -> None:
    """A node's unfed milli lies in [0, its free milli] and does not rise when it has more CPU."""
    got = unfed_milli([free, free], [cpu, cpu + more], per)
    assert 0.0 <= got[0] <= free
    assert got[1] <= got[0]


_frees = st.lists(st.sampled_from([0, 190, 350, 530, 1000]), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None)
@given(
    nodes=st.lists(st.tuples(_frees, st.integers(0, 64)), min_size=2, max_size=4),
    share=st.sampled_from([0, 160, 470, 810]),
    cores=st.integers(0, 16),
)
def test_cost_is_the_look_ahead_plus_the_unfed_change(
    nodes: list[tuple[list[int], int]], share: int, cores: int
) -> None:
    """Per candidate, the plugin's cost is the look-ahead's plus (unfed after - unfed now),
    the unfed milli computed from the node's capacity and the GPU `fit` places the pod on."""
    mix = {TaskShape(8000, 1000, 1): 5, TaskShape(4000, 810, 1): 3, TaskShape(2000, 470, 1): 2}
    state = _state({f"n{i}": (tuple(f), c * 1000) for i, (f, c) in enumerate(nodes)}, mix)
    gpu = WHOLE1 if share == 0 else GpuRequest("milli", 1, milli=share)
    p: PodRequest = pod(gpu=gpu, cpu_milli=cores * 1000)
    names = sorted(state.nodes)
    cycle = CycleState(state, p, names)
    look = LookAhead().tie_costs(cycle)
    fed = CpuFedLookAhead().tie_costs(cycle)
    if look is None:
        assert fed is None
        event("the look-ahead leaves the tie")
        return
    event("the look-ahead decides")
    assert fed is not None
    workload = state.demand.workload if state.demand else None
    assert workload is not None
    r = cpu_per_milli(workload)
    assert r is not None
    milli = 1000 if share == 0 else share
    for i, n in enumerate(names):
        cap = state.capacity(n)
        free = [g.free_milli for g in cap.usable_gpus]
        fits = [j for j, f in enumerate(free) if f >= milli]
        after = list(free)
        if fits:  # the tightest GPU that fits (as `fit.choose`), the lowest column on ties
            j = min(fits, key=lambda k: (free[k], k))
            after[j] -= milli
        now_u = max(0.0, sum(free) - max(cap.cpu_free, 0) / r)
        after_u = max(0.0, sum(after) - max(cap.cpu_free - p.cpu_milli, 0) / r)
        assert np.isclose(fed[i], look[i] + (after_u - now_u))
