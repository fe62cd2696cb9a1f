"""MIG repartitioning: `plan_repartition` (CP-SAT, greedy hint and fallback) turns pending demand
into per-GPU target layouts and a mig-parted config; `greedy` and `types` are its parts.

`plan_repartition` is imported on first use (PEP 562), so importing this package (the CLI
does, for every command) does not load OR-Tools.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from packing.repartition.planner import plan_repartition


def __getattr__(name: str) -> Any:
    if name == "plan_repartition":
        from packing.repartition.planner import plan_repartition

        return plan_repartition
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["plan_repartition"]
