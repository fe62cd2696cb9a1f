"""`ClusterState.with_allocations` called again on its own answer adds to the first state (one
layer, not one per call: a drain plan for a gang of 600 members passed Python's recursion
limit). Adding one allocation at a time must read exactly as adding them all at once."""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given
from hypothesis import strategies as st

from scheduler.policy.model import Allocation, ClusterState, GpuGrant, Placement
from tests.scheduler.policy.share_fleet import gpu_node

NODES = {n: gpu_node(n, 4) for n in ("a", "b", "c")}


def alloc(key: str, node: str, gpu: int, milli: int) -> Allocation:
    return Allocation(f"d/{key}", key, Placement(node, (GpuGrant(gpu, milli=milli),)))


def view(state: ClusterState) -> tuple[object, ...]:
    """What a planner reads: the mapping, each node's list and its free milli per GPU."""
    per_node = {n: [a.uid for a in state.allocations_on(n)] for n in NODES}
    free = {n: [g.free_milli for g in state.capacity(n).gpus] for n in NODES}
    return dict(state.allocations), per_node, free


steps = st.lists(
    st.lists(
        st.tuples(st.sampled_from(sorted(NODES)), st.integers(0, 3), st.integers(1, 200)),
        min_size=0, max_size=3,
    ),
    min_size=1, max_size=12,
)  # fmt: skip


@given(steps=steps, repeat=st.booleans())
def test_one_at_a_time_reads_as_all_at_once(steps: list, repeat: bool) -> None:
    base = ClusterState(MappingProxyType(NODES), MappingProxyType({"x": alloc("x", "a", 0, 100)}))
    layered, flat, n = base, {}, 0
    for batch in steps:
        extra = {}
        for node, gpu, milli in batch:
            # `repeat`: some calls reuse an earlier key (then a layer is stacked, as before)
            key = f"k{n // 2}" if repeat else f"k{n}"
            extra[key] = alloc(key, node, gpu, milli)
            n += 1
        layered = layered.with_allocations(extra)
        flat.update(extra)
        view(layered)  # memoised views of every step are shared down the chain
    if not repeat:
        assert view(layered) == view(base.with_allocations(flat))
    assert dict(layered.allocations) == {**base.allocations, **flat}


def test_a_thousand_single_additions_stay_one_layer_deep() -> None:
    state = ClusterState(MappingProxyType(NODES))
    for i in range(1000):  # each over Python's default recursion limit when stacked
        state = state.with_allocations({f"k{i}": alloc(f"k{i}", "abc"[i % 3], i % 4, 1)})
    assert len(state.allocations_on("a")) == 334 and len(state.allocations) == 1000
