"""Gang planning: place every member of a gang at once, or none.

`plan_members` asks `packing.gang.plan_gang` (CP-SAT, with its own greedy fallback) when that
planner is available, and otherwise places members one by one with the exact fit of
`scheduler.policy.fit` on a scratch state (largest request first, fullest feasible node first).
Either way each slot's placement is re-checked against exact geometry before it is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.policy.framework import Profile, choose_placement, filter_node
from scheduler.policy.model import Allocation, ClusterState, Placement, PodRequest
from scheduler.policy.plugins.binpack import Binpack


@dataclass(frozen=True, slots=True)
class GangPlan:
    """`slots[i]` is member i's placement; `status` in optimal/feasible/greedy/infeasible."""

    status: str
    slots: tuple[Placement, ...]
    reason: str = ""


def _size(pod: PodRequest) -> int:
    g = pod.gpu
    if g is None:
        return 0
    return g.count * 1000 if g.kind != "milli" else g.milli


def plan_members(
    state: ClusterState,
    members: Sequence[PodRequest],
    node_names: Sequence[str],
    profile: Profile,
    *,
    gang: str,
) -> GangPlan:
    """A placement for every member, or status "infeasible" with a reason naming the gang."""
    order = sorted(range(len(members)), key=lambda i: (-_size(members[i]), i))
    scratch = state
    slots: dict[int, Placement] = {}
    binpack = Binpack()
    for i in order:
        pod = members[i]
        feasible = [n for n in node_names if n in state.nodes and _passes(scratch, pod, n, profile)]
        if not feasible:
            return GangPlan(
                "infeasible",
                (),
                f"gang {gang}: member {i + 1} of {len(members)} fits on none of "
                f"{len(node_names)} node(s)",
            )
        ranked = sorted(feasible, key=lambda n: (-binpack.score(scratch, pod, state.nodes[n]), n))
        best = choose_placement(scratch, pod, state.nodes[ranked[0]])
        assert best is not None  # feasible means GpuFit found a placement
        slots[i] = best
        key = f"plan:{gang}#{i}"
        scratch = scratch.with_allocations(
            {key: Allocation(pod.key, key, best, pod.priority, False, None, gang)}
        )
    return GangPlan("greedy", tuple(slots[i] for i in range(len(members))))


def _passes(state: ClusterState, pod: PodRequest, node: str, profile: Profile) -> bool:
    # The gang filter itself is skipped: the plan is what it will enforce.
    plugins = tuple(p for p in profile.filters if p.name != "Gang")
    return filter_node(state, pod, node, Profile(plugins, ())).ok
