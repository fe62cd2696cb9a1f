"""drain_targets: which nodes to keep for a gang that does not fit now (hand-computed)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from scheduler.policy.gang import drain_targets
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    GangRef,
    GpuGrant,
    GpuRequest,
    Placement,
)
from scheduler.policy.registry import default_profile
from tests.builders import h100, node, pod


def _state(busy: dict[str, int], gpus: int = 8) -> ClusterState:
    """One node per key with `gpus` H100s; the first `busy[name]` GPUs each hold one pod."""
    nodes = {n: node(n, *(h100(i, uuid=f"GPU-{n}-{i}") for i in range(gpus))) for n in busy}
    allocs = {
        f"{n}-{i}": Allocation(f"default/{n}-{i}", f"{n}-{i}",
                               Placement(n, (GpuGrant(i, f"GPU-{n}-{i}"),)))
        for n, k in busy.items() for i in range(k)
    }
    return ClusterState(MappingProxyType(nodes), MappingProxyType(allocs))


def _gang(members: int, count: int) -> list:
    ref = GangRef("default/g", members)
    return [pod(f"default/g-{i}", GpuRequest("whole", count=count), gang=ref)
            for i in range(members)]


@pytest.mark.parametrize(("busy", "members", "count", "want"), [
    # 2 x 8 GPUs: the two least busy nodes (b: 2 in use, c: 4), not a (6).
    ({"a": 6, "b": 2, "c": 4}, 2, 8, ("b", "c")),
    # 2 x 4 GPUs fit one drained 8-GPU node: the least busy alone (c: 1 in use).
    ({"a": 6, "b": 2, "c": 1}, 2, 4, ("c",)),
    # Ties (b and c both 3 in use) go by the order given: b first.
    ({"a": 5, "b": 3, "c": 3}, 1, 8, ("b",)),
    # 3 x 8 GPUs on 3 nodes: all of them, least busy first.
    ({"a": 6, "b": 2, "c": 4}, 3, 8, ("b", "c", "a")),
    # A member of 16 GPUs fits no 8-GPU node even drained: nothing is kept.
    ({"a": 0, "b": 0}, 1, 16, ()),
    # 3 x 8 GPUs on 2 nodes: never, even drained.
    ({"a": 0, "b": 0}, 3, 8, ()),
])
def test_drain_targets_pick_the_least_busy_nodes_that_would_host_the_gang(
        busy: dict[str, int], members: int, count: int, want: tuple[str, ...]) -> None:
    state = _state(busy)
    got = drain_targets(state, _gang(members, count), list(busy), default_profile())
    assert got == want
