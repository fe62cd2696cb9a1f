"""Builders for gang-planner tests: nodes, GPUs, members, and an exhaustive reference search."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from packing.catalogue import get_model
from packing.errors import InvalidPlacementError
from packing.gang.cost import CostModel
from packing.gang.state import evaluate_plan
from packing.gang.types import GangMember, GpuSlot, Grant, MemberPlacement, NodeSlot
from packing.mig import MigInstance

H = "H100-80GB"


def mig_gpu(index: int, *instances: tuple[str, int, bool], dynamic: bool = True) -> GpuSlot:
    return GpuSlot(index, H, True, tuple((MigInstance(p, s), u) for p, s, u in instances),
                   dynamic=dynamic)


def plain_gpu(index: int, free_milli: int = 1000) -> GpuSlot:
    return GpuSlot(index, H, free_milli=free_milli)


def node(name: str, *gpus: GpuSlot, cpu: int = 64_000, mem: int = 1 << 40) -> NodeSlot:
    return NodeSlot(name, tuple(gpus), cpu, mem)


def _grant_options(m: GangMember, n: NodeSlot) -> Iterator[tuple[Grant, ...]]:
    """Every grant tuple `m` could get on `n` ignoring other members (the checker filters)."""
    if m.whole:
        yield from itertools.combinations([Grant(g.index, whole=True) for g in n.gpus], m.whole)
    elif m.milli:
        yield from ((Grant(g.index, milli=m.milli),) for g in n.gpus)
    else:
        units: list[Grant] = []
        for g in n.gpus:
            if not g.mig_enabled:
                continue
            prof = get_model(g.model).profile(m.mig_profile or "")
            units += [Grant(g.index, profile=prof.name, start=s) for s in prof.placements]
            units += [Grant(g.index, profile=prof.name, start=i.start, existing=True)
                      for i, used in g.instances if not used and i.profile == prof.name]
        yield from itertools.combinations(units, m.mig_count)


def brute_force(members: Sequence[GangMember], nodes: Sequence[NodeSlot],
                cost: CostModel) -> int | None:
    """Minimum objective over every assignment the exact checker accepts (None: infeasible)."""
    per_member = [[MemberPlacement(n.name, gs) for n in nodes for gs in _grant_options(m, n)]
                  for m in members]
    best: int | None = None
    for combo in itertools.product(*per_member):
        plan = {m.key: mp for m, mp in zip(members, combo, strict=True)}
        try:
            obj = evaluate_plan(members, nodes, plan, cost)
        except InvalidPlacementError:
            continue
        best = obj if best is None else min(best, obj)
    return best
