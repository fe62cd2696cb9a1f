"""Conservative backfill around a kept gang: its reservation and who may use kept GPUs."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.backfill import NEVER, free_busy_besides, may_backfill, reservation_time
from scheduler.policy.model import Allocation, ClusterState, GpuGrant, Placement
from tests.builders import h100, node

# node -> one entry per pod: (GPU index, the pod's end by its declared limit, or None)
Pods = dict[str, list[tuple[int, float | None]]]


def _state(pods: Pods, gpus: int = 8) -> tuple[ClusterState, dict[str, float]]:
    """One 8 x H100 node per key; each listed pod holds a share of one GPU (two pods may share
    one). Returns the state and each pod's end (pods with None declared no limit)."""
    nodes = {n: node(n, *(h100(i, uuid=f"GPU-{n}-{i}") for i in range(gpus))) for n in pods}
    allocs, ends = {}, {}
    for n, held in pods.items():
        for k, (gpu, end) in enumerate(held):
            uid = f"{n}-{k}"
            grant = GpuGrant(gpu, f"GPU-{n}-{gpu}", milli=400, memory_mib=1024)
            allocs[uid] = Allocation(f"default/{uid}", uid, Placement(n, (grant,)))
            if end is not None:
                ends[uid] = end
    return ClusterState(MappingProxyType(nodes), MappingProxyType(allocs)), ends


SIX_BUSY = [(i, 100.0 * (i + 1)) for i in range(6)]  # GPUs 0-5 end at 100..600; 6, 7 free


@pytest.mark.parametrize(("pods", "budgets", "want"), [
    # Budget 4 of a: free-at times 0, 0 (GPUs 6, 7), 100, 200, ... -> the 4th: 200.
    ({"a": SIX_BUSY}, {"a": 4}, 200.0),
    # Budget 2: GPUs 6 and 7 are free now -> now (0).
    ({"a": SIX_BUSY}, {"a": 2}, 0.0),
    # Budget 8: the last GPU frees at 600.
    ({"a": SIX_BUSY}, {"a": 8}, 600.0),
    # A pod without a declared limit on GPU 0: that GPU never frees. Free-at times 0, 0,
    # 200, 300, 400, 500, 600, never: budget 7 -> 600; budget 8 needs GPU 0 -> never.
    ({"a": [(0, None), *SIX_BUSY[1:]]}, {"a": 7}, 600.0),
    ({"a": [(0, None), *SIX_BUSY[1:]]}, {"a": 8}, NEVER),
    # Two pods share GPU 0 (ends 100 and 700): it frees at 700; budget 8 -> 700.
    ({"a": [*SIX_BUSY, (0, 700.0)]}, {"a": 8}, 700.0),
    # Two kept nodes: a (budget 4 -> 200), b (all 8 busy, ends 1000..1700; budget 1 -> 1000):
    # the reservation is the later, 1000.
    ({"a": SIX_BUSY, "b": [(i, 1000.0 + 100 * i) for i in range(8)]}, {"a": 4, "b": 1},
     1000.0),
    # A budget larger than the node's GPUs cannot be met: never.
    ({"a": []}, {"a": 9}, NEVER),
])
def test_reservation_is_when_every_kept_budget_is_free_by_the_declared_limits(
        pods: Pods, budgets: dict[str, int], want: float) -> None:
    state, ends = _state(pods)
    assert reservation_time(state, budgets, ends, 0.0) == want


def test_a_kept_node_the_state_does_not_know_gives_no_reservation() -> None:
    state, ends = _state({"a": SIX_BUSY})
    assert reservation_time(state, {"a": 2, "gone": 1}, ends, 0.0) == NEVER


@pytest.mark.parametrize(("now", "limit", "reserved_at", "want"), [
    (100.0, 50.0, 200.0, True),     # ends at 150 <= 200
    (100.0, 100.0, 200.0, True),    # ends at 200, the reservation itself: still on time
    (100.0, 150.0, 200.0, False),   # ends at 250 > 200: it could delay the gang
    (100.0, None, 200.0, False),    # no declared limit: it may run for ever
    (100.0, 1.0, NEVER, False),     # no known reservation: nothing to backfill before
])
def test_may_backfill_only_a_pod_whose_limit_ends_by_the_reservation(
        now: float, limit: float | None, reserved_at: float, want: bool) -> None:
    assert may_backfill(now, limit, reserved_at) is want


def test_a_gpu_held_only_by_backfilled_pods_counts_free_for_the_keep() -> None:
    # GPUs 0-5 busy; pods a-0 (GPU 0) and a-1 (GPU 1) were backfilled: 4 busy, 4 free.
    state, _ = _state({"a": SIX_BUSY})
    assert free_busy_besides(state.capacity("a"), {"a-0", "a-1"}) == (4, 4)
    assert free_busy_besides(state.capacity("a"), set()) == (2, 6)


@settings(max_examples=200, deadline=None)
@given(
    held=st.lists(st.tuples(st.integers(0, 7), st.one_of(st.none(), st.integers(1, 5_000))),
                  max_size=12),
    budget=st.integers(1, 8),
    now=st.integers(0, 1_000),
    gpu=st.integers(0, 7),
    limit=st.integers(1, 6_000),
)
def test_a_backfilled_pod_never_moves_the_reservation_later(
        held: list[tuple[int, int | None]], budget: int, now: int, gpu: int, limit: int) -> None:
    """Whatever runs on the kept node, a pod admitted by `may_backfill` on any GPU of it
    leaves the kept gang's reservation where it was or earlier."""
    pods = [(g, None if e is None else float(now + e)) for g, e in held]
    state, ends = _state({"a": pods})
    before = reservation_time(state, {"a": budget}, ends, float(now))
    if not may_backfill(float(now), float(limit), before):
        return
    after_state, after_ends = _state({"a": [*pods, (gpu, float(now + limit))]})
    assert reservation_time(after_state, {"a": budget}, after_ends, float(now)) <= before
