"""All-or-nothing gang placement: greedy first, CP-SAT (`packing.gang.search`) when needed.

Members with equal shapes are interchangeable, so the model counts members per (shape, node)
instead of naming them: its size depends on shapes x candidate GPUs, not on the gang size.
Candidate nodes are pruned first (the greedy plan's nodes plus the best-scoring others), the
greedy plan is the solver's hint and an upper bound, so CP-SAT is never worse than greedy.
A greedy plan that meets the lower bound is returned without a search, so OR-Tools is imported
only by the first gang that needs one (a replay whose every gang meets the bound never loads it:
~0.3 CPU s and ~60 MB of a process).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from packing.errors import PackingError
from packing.gang.bound import lower_bound, whole_gpu_shortfall
from packing.gang.cost import CostModel
from packing.gang.greedy import greedy, models_for
from packing.gang.state import FleetState, evaluate_plan
from packing.gang.types import GangMember, GangPlan, NodeSlot, Objective

__all__ = ["plan_gang"]


def plan_gang(
    members: Sequence[GangMember],
    nodes: Sequence[NodeSlot],
    *,
    objective: Objective = "fragmentation",
    time_limit_s: float = 1.0,
    seed: int = 0,
    workers: int = 1,
    max_nodes: int | None = None,
    mig_mix: Mapping[str, Mapping[str, float]] | None = None,
    share_mix: Mapping[int, float] | None = None,
) -> GangPlan:
    """Place every member or none. Status: optimal | feasible | greedy | infeasible."""
    if not members:
        raise PackingError("a gang needs at least one member")
    keys = [m.key for m in members]
    if len(set(keys)) != len(keys):
        raise PackingError(f"gang member keys must be unique: {keys}")
    if not time_limit_s > 0 or workers < 1:
        raise PackingError(
            f"time_limit_s must be > 0 and workers >= 1, got {time_limit_s!r}, {workers!r}"
        )
    for m in members:
        if m.mig_profile is not None and not models_for(m):
            raise PackingError(
                f"gang member {m.key}: no allowed GPU model has MIG profile {m.mig_profile!r}"
            )
    cost = CostModel(members, objective, mig_mix, share_mix)
    st = FleetState(nodes, cost)
    short = whole_gpu_shortfall(st, members)
    if short:  # proven infeasible by counting: no greedy run, no model built
        return GangPlan("infeasible", reason=short, nodes_considered=len(st.nodes))
    g_plan = greedy(st.copy(), members)
    g_obj = None if g_plan is None else evaluate_plan(members, nodes, g_plan, cost)
    if g_plan is not None and g_obj is not None and g_obj <= lower_bound(st, members):
        return GangPlan(
            "optimal",
            g_plan,
            g_obj,
            "greedy plan meets the lower bound",  # no search
            len(st.nodes),
        )
    from packing.gang.search import search  # OR-Tools loads with the first search

    return search(
        st,
        members,
        nodes,
        cost,
        g_plan,
        g_obj,
        time_limit_s=time_limit_s,
        seed=seed,
        workers=workers,
        max_nodes=max_nodes,
    )
