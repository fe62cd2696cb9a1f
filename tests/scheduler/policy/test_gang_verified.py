"""`gang._verified` chains each node's view with `with_allocation` where it can; the verdict is
the one rebuilding the node's view for every slot (`placement_conflicts`) gives.

Property: for any cluster (MIG GPUs, pools, unnamed and overbooked grants) and any plan of
named, unnamed, share, whole and MIG grants, both verdicts agree.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.capacity import placement_conflicts
from scheduler.policy.gang import GangPlan, _verified
from scheduler.policy.model import (
    UNKNOWN_INDEX,
    Allocation,
    ClusterState,
    Gpu,
    GpuGrant,
    GpuRequest,
    Node,
    Placement,
    PodRequest,
)
from tests.scheduler.policy.test_batch import clusters

grants = st.sampled_from([
    GpuGrant(0), GpuGrant(1), GpuGrant(2), GpuGrant(0, milli=300, memory_mib=20000),
    GpuGrant(1, milli=700, memory_mib=0), GpuGrant(5, milli=100, memory_mib=0),
    GpuGrant(UNKNOWN_INDEX, milli=400, memory_mib=0), GpuGrant(0, profile="1g.10gb"),
    GpuGrant(1, profile="3g.40gb", start=4), GpuGrant(0, profile="1g.10gb", start=0),
])  # fmt: skip


def _rebuilt_reference(state: ClusterState, members: list[PodRequest], plan: GangPlan) -> bool:
    scratch = state
    for i, (pod, slot) in enumerate(zip(members, plan.slots, strict=True)):
        alloc = Allocation(pod.key, f"plan#{i}", slot, pod.priority, False, None)
        if slot.node not in state.nodes or placement_conflicts(
            state.nodes[slot.node], scratch.allocations_on(slot.node), alloc
        ):
            return False
        scratch = scratch.with_allocations({f"plan#{i}": alloc})
    return True


@settings(max_examples=300, deadline=None)
@given(clusters(), st.data())
def test_chained_views_give_the_rebuilt_verdict(state: ClusterState, data: st.DataObject) -> None:
    names = sorted(state.nodes) + ["gone"]
    slots = data.draw(st.lists(st.tuples(st.sampled_from(names), st.lists(grants, min_size=1,
                                                                          max_size=2)),
                               min_size=1, max_size=5))  # fmt: skip
    members = [PodRequest(f"g-{i}", f"d/g-{i}", GpuRequest("whole", 1)) for i in range(len(slots))]
    plan = GangPlan("optimal", tuple(Placement(n, tuple(gs)) for n, gs in slots))
    assert _verified(state, members, plan) == _rebuilt_reference(state, members, plan)


def test_a_slot_the_chain_cannot_take_is_checked_against_the_slots_before_it() -> None:
    # MIG grants are not chained: each is checked by a rebuild that holds the earlier slots.
    gpu = Gpu(0, "G0", "NVIDIA-H100-80GB-HBM3", 81559, mig_enabled=True)
    state = ClusterState({"a": Node("a", gpus=(gpu,))}, {})
    members = [PodRequest(f"g-{i}", f"d/g-{i}", GpuRequest("mig", 1, "3g.40gb")) for i in (0, 1)]

    def plan(*starts: int) -> GangPlan:
        return GangPlan("optimal", tuple(
            Placement("a", (GpuGrant(0, profile="3g.40gb", start=s),)) for s in starts
        ))  # fmt: skip

    assert _verified(state, members, plan(0, 4))
    assert not _verified(state, members, plan(4, 4))  # the same instance twice
