"""All-or-nothing gang placement: `plan_gang` (CP-SAT with a greedy fallback) and its types.

`planner` runs greedy and the bound, then `search`, which builds, solves and interprets the
CP-SAT model; `greedy` is the fallback and the hint; `bound` a lower bound that can prove the
greedy plan optimal; `cost` the fragmentation objective; `state` the fleet as the planner sees
it; `decode` solver values back into placements; `types` the request and plan records.

`plan_gang` is imported on first use (PEP 562), and its CP-SAT search (`search`) only when a
gang's greedy plan does not meet the lower bound: the search pulls in OR-Tools (and through it
pandas), about 60 MB of a process's memory that a process which never searches (`tessera serve`
until such a gang arrives, a replay whose gangs all meet the bound) need not carry.
"""

from typing import TYPE_CHECKING, Any

from packing.gang.types import (
    GangMember,
    GangPlan,
    GpuSlot,
    Grant,
    MemberPlacement,
    NodeSlot,
    Objective,
    Status,
)

if TYPE_CHECKING:
    from packing.gang.planner import plan_gang


def __getattr__(name: str) -> Any:
    if name == "plan_gang":
        from packing.gang.planner import plan_gang

        return plan_gang
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GangMember",
    "GangPlan",
    "GpuSlot",
    "Grant",
    "MemberPlacement",
    "NodeSlot",
    "Objective",
    "Status",
    "plan_gang",
]
