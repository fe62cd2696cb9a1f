"""All-or-nothing gang placement: `plan_gang` (CP-SAT with a greedy fallback) and its types.

`planner` builds, solves and interprets the CP-SAT model; `greedy` is the fallback and the hint;
`bound` a lower bound that can prove the greedy plan optimal; `cost` the fragmentation objective;
`state` the fleet as the planner sees it; `decode` solver values back into placements; `types`
the request and plan records.
"""

from packing.gang.planner import plan_gang
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

__all__ = ["GangMember", "GangPlan", "GpuSlot", "Grant", "MemberPlacement", "NodeSlot",
           "Objective", "Status", "plan_gang"]
