"""Results of the repartition planner, and their mig-parted `version: v1` form (plain dicts)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packing.gang.types import Status
from packing.mig import MigInstance


@dataclass(frozen=True)
class GpuTarget:
    index: int
    model: str
    layout: tuple[MigInstance, ...]  # every instance the GPU should hold afterwards
    pinned: tuple[MigInstance, ...]  # in use: never touched
    created: tuple[MigInstance, ...] = ()
    destroyed: tuple[MigInstance, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.created or self.destroyed)


@dataclass(frozen=True)
class NodeTarget:
    name: str
    gpus: tuple[GpuTarget, ...]

    @property
    def config_name(self) -> str:
        return f"tessera-{self.name}"


@dataclass(frozen=True)
class RepartitionPlan:
    status: Status
    nodes: tuple[NodeTarget, ...] = ()
    served: Mapping[str, int] = field(default_factory=dict)  # free instances for demand
    unmet: Mapping[str, int] = field(default_factory=dict)
    changes: int = 0  # instances created + destroyed
    reason: str = ""


def mig_devices(layout: tuple[MigInstance, ...]) -> dict[str, int]:
    return dict(sorted(Counter(i.profile for i in layout).items()))


def mig_parted_config(plan: RepartitionPlan) -> dict[str, Any]:
    """One mig-parted v1 document: a config `tessera-<node>` per node, GPUs with equal counts
    grouped into one entry.  mig-parted places instances itself (counts, not starts); the exact
    starts are in the plan for an agent that creates instances with explicit placements."""
    configs: dict[str, list[dict[str, Any]]] = {}
    for node in plan.nodes:
        groups: dict[tuple[tuple[str, int], ...], list[int]] = {}
        for g in node.gpus:
            groups.setdefault(tuple(mig_devices(g.layout).items()), []).append(g.index)
        configs[node.config_name] = [
            {"devices": sorted(idx), "mig-enabled": True, "mig-devices": dict(devs)}
            for devs, idx in sorted(groups.items(), key=lambda kv: min(kv[1]))
        ]
    return {"version": "v1", "mig-configs": configs}


def plan_json(plan: RepartitionPlan) -> dict[str, Any]:
    """The plan as JSON-ready data (what `tessera plan repartition` prints)."""

    def inst(xs: tuple[MigInstance, ...]) -> list[dict[str, Any]]:
        return [{"profile": i.profile, "start": i.start} for i in xs]

    return {
        "status": plan.status, "reason": plan.reason, "changes": plan.changes,
        "served": dict(plan.served), "unmet": dict(plan.unmet),
        "nodes": [{"node": n.name, "config": n.config_name, "gpus": [
            {"index": g.index, "model": g.model, "changed": g.changed, "layout": inst(g.layout),
             "pinned": inst(g.pinned), "created": inst(g.created),
             "destroyed": inst(g.destroyed)} for g in n.gpus]} for n in plan.nodes],
        "mig_parted": mig_parted_config(plan),
    }
