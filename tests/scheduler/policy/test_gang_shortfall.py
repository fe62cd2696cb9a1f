"""The gang planner's free-whole-GPU count taken before the filters (`_whole_shortfall`):
it answers "infeasible" only where the full path (filters, CP-SAT, greedy) finds no plan, and
with it `plan_members` returns the same status and slots as without it."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scheduler.policy.gang as gang
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    GangRef,
    GpuGrant,
    GpuRequest,
    Placement,
    PodRequest,
)
from scheduler.policy.registry import default_profile
from tests.builders import h100, node, pod


def _state(busy: list[list[bool]]) -> ClusterState:
    """Node i has len(busy[i]) H100s; GPU j holds one pod where busy[i][j]."""
    nodes = {f"n{i}": node(f"n{i}", *(h100(j, uuid=f"GPU-n{i}-{j}") for j in range(len(b))))
             for i, b in enumerate(busy)}
    allocs = {
        f"n{i}-{j}": Allocation(f"default/n{i}-{j}", f"n{i}-{j}",
                                Placement(f"n{i}", (GpuGrant(j, f"GPU-n{i}-{j}"),)))
        for i, b in enumerate(busy) for j, used in enumerate(b) if used
    }
    return ClusterState(MappingProxyType(nodes), MappingProxyType(allocs))


def _gang(counts: list[int]) -> list[PodRequest]:
    ref = GangRef("default/g", len(counts))
    return [pod(f"default/g-{i}", GpuRequest("whole", count=c), gang=ref)
            for i, c in enumerate(counts)]


@pytest.mark.parametrize(("busy", "counts", "short"), [
    # 2 nodes x 4 GPUs, 2 busy on each: 2 + 2 free. 2 x 2 fit (one per node): no shortfall.
    ([[True, True, False, False], [False, True, False, True]], [2, 2], False),
    # Same nodes, 1 x 3: no node has 3 free (2 // 3 = 0 on each).
    ([[True, True, False, False], [False, True, False, True]], [3], True),
    # 3 x 2 on 2 + 2 free: room for 2 members of 2 only (2 // 2 + 2 // 2).
    ([[True, True, False, False], [False, True, False, True]], [2, 2, 2], True),
    # 1 x 4 + 2 x 1 on one idle 4-GPU node and one with 1 free: room per size holds
    # (4 // 4 = 1; 4 + 1 = 5 singles) but 6 GPUs wanted of 5 free.
    ([[False] * 4, [True, True, True, False]], [4, 1, 1], True),
    # ... and with 2 free on the second node: 6 of 6.
    ([[False] * 4, [True, True, False, False]], [4, 1, 1], False),
])
def test_counts_free_whole_gpus_per_node(busy: list[list[bool]], counts: list[int],
                                         short: bool) -> None:
    state = _state(busy)
    assert bool(gang._whole_shortfall(state, _gang(counts), sorted(state.nodes))) == short


def test_a_gang_without_whole_gpu_members_is_never_judged() -> None:
    state = _state([[True] * 4])
    members = [pod("default/s", GpuRequest("milli", milli=500, memory_mib=1000))]
    assert gang._whole_shortfall(state, members, ["n0"]) == ""


@settings(max_examples=60, deadline=None)
@given(
    busy=st.lists(st.lists(st.booleans(), min_size=1, max_size=4), min_size=1, max_size=3),
    counts=st.lists(st.integers(1, 4), min_size=1, max_size=4),
)
def test_the_shortcut_changes_no_plan(busy: list[list[bool]], counts: list[int]) -> None:
    state = _state(busy)
    members = _gang(counts)
    names = sorted(state.nodes)
    profile = default_profile()
    fast = gang.plan_members(state, members, names, profile, gang="default/g")
    short = gang._whole_shortfall(state, members, names)
    original = gang._whole_shortfall
    try:
        gang._whole_shortfall = lambda s, m, n: ""  # type: ignore[assignment]
        full = gang.plan_members(_state(busy), members, names, profile, gang="default/g")
    finally:
        gang._whole_shortfall = original  # type: ignore[assignment]
    if short:  # necessary, never sufficient: a shortfall means no plan exists
        assert full.status == "infeasible"
    assert (fast.status, fast.slots) == (full.status, full.slots)
