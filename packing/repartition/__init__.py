"""MIG repartitioning: `plan_repartition` (CP-SAT, greedy hint and fallback) turns pending demand
into per-GPU target layouts and a mig-parted config; `greedy` and `types` are its parts."""

from packing.repartition.planner import plan_repartition

__all__ = ["plan_repartition"]
