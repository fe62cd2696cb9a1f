"""Filter: a gang member may only go where its gang's plan put a free slot.

The plan itself is made (and its slots reserved) before filtering, by `scheduler.policy.gang`;
this plugin only steers members to it. A gang with no feasible plan fails every node with a
reason naming the gang.
"""

from __future__ import annotations

import numpy as np

from scheduler.policy.interfaces import CycleState, RowVerdicts
from scheduler.policy.model import ClusterState, GangPlanRecord, Node, PodRequest
from scheduler.policy.status import SUCCESS, Code, Status, unschedulable


class GangFilter:
    name = "Gang"

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def filter(self, state: ClusterState, pod: PodRequest, node: Node) -> Status:
        if pod.gang is None:
            return SUCCESS
        plan = state.gangs.get(pod.gang.name)
        if plan is None:
            return SUCCESS  # no plan yet: the caller plans on the first member's filter
        if plan.reason:
            return unschedulable(f"gang {plan.name} cannot be placed: {plan.reason}")
        mine = plan.members.get(pod.uid)
        if mine is not None:
            want = plan.slots[mine].node
            if want == node.name:
                return SUCCESS
            return unschedulable(f"gang {plan.name} planned this member on node {want}")
        free_nodes = {plan.slots[i].node for i in plan.open_slots(pod.gpu)}
        if node.name in free_nodes:
            return SUCCESS
        if not free_nodes:
            return unschedulable(f"gang {plan.name} has no free slot left")
        return unschedulable(
            f"gang {plan.name} planned its free slots on {', '.join(sorted(free_nodes))}"
        )

    def filter_rows(self, cycle: CycleState) -> RowVerdicts | None:
        """Off-plan nodes fail with the reason the per-node method gives one of them (the
        reason names the gang and its planned nodes, the same for every off-plan node)."""
        pod, state, names = cycle.pod, cycle.state, cycle.names
        plan = state.gangs.get(pod.gang.name) if pod.gang is not None else None
        if plan is None:
            return RowVerdicts.all_pass()
        allowed = _plan_nodes(plan, pod)
        off = np.fromiter((n not in allowed for n in names), bool, len(names))
        probe = next((n for n, o in zip(names, off, strict=True) if o and n in state.nodes), None)
        if probe is None:
            return RowVerdicts.all_pass()
        why = self.filter(state, pod, state.nodes[probe]).message
        code = np.where(off, Code.UNSCHEDULABLE, Code.SUCCESS).astype(np.int8)
        return RowVerdicts(code, {Code.UNSCHEDULABLE: why})


def _plan_nodes(plan: GangPlanRecord, pod: PodRequest) -> set[str]:
    """Nodes `GangFilter.filter` lets this member onto."""
    if plan.reason:
        return set()
    mine = plan.members.get(pod.uid)
    if mine is not None:
        return {plan.slots[mine].node}
    return {plan.slots[i].node for i in plan.open_slots(pod.gpu)}
