"""Greedy repartition: keep free instances that demand needs, create the rest where it costs
the fewest changes (destroying only surplus free instances), largest profiles first.
It is the CP-SAT planner's hint and its fallback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packing.catalogue import GpuModel, get_model
from packing.errors import InvalidPlacementError
from packing.fragmentation import mig_frag_table
from packing.gang.types import GpuSlot, NodeSlot
from packing.mig import MigInstance, check_layout


@dataclass(frozen=True)
class GpuRef:
    node: str
    slot: GpuSlot
    model: GpuModel

    @property
    def pinned(self) -> frozenset[MigInstance]:
        return frozenset(i for i, used in self.slot.instances if used)

    @property
    def free(self) -> tuple[MigInstance, ...]:
        return tuple(sorted((i for i, used in self.slot.instances if not used),
                            key=lambda i: (i.start, i.profile)))


def mig_gpus(nodes: Sequence[NodeSlot]) -> list[GpuRef]:
    """Every MIG-enabled GPU, node by node, in index order."""
    return [GpuRef(n.name, g, get_model(g.model)) for n in nodes
            for g in sorted(n.gpus, key=lambda g: g.index) if g.mig_enabled]


def free_count(gpus: Sequence[GpuRef], layouts: Sequence[frozenset[MigInstance]],
               profile: str) -> int:
    """Free instances of `profile` in `layouts` (pinned instances serve pods already)."""
    return sum(sum(1 for i in lay if i.profile == profile and i not in g.pinned)
               for g, lay in zip(gpus, layouts, strict=True))


def greedy_layouts(gpus: Sequence[GpuRef],
                   demand: Mapping[str, int]) -> list[frozenset[MigInstance]]:
    layouts = [frozenset(i for i, _ in g.slot.instances) for g in gpus]
    protected: list[set[MigInstance]] = [set(g.pinned) for g in gpus]
    unmet: dict[str, int] = {}
    for p, want in demand.items():
        have = 0
        for gi, g in enumerate(gpus):  # keep the first `want` free instances of p
            for inst in g.free:
                if inst.profile == p and have < want:
                    protected[gi].add(inst)
                    have += 1
        unmet[p] = want - have

    def size(p: str) -> int:
        return max((g.model.profile(p).memory_slices for g in gpus
                    if p in g.model.profile_names), default=0)

    for p in sorted(unmet, key=lambda p: (-size(p), p)):
        for _ in range(unmet[p]):
            best: tuple[tuple[int, float, int, int], int, frozenset[MigInstance]] | None = None
            for gi, g in enumerate(gpus):
                if p not in g.model.profile_names:
                    continue
                prof = g.model.profile(p)
                table = mig_frag_table(g.model)
                before = check_layout(g.model, layouts[gi])
                for s in prof.placements:
                    blockers = {i for i in layouts[gi]
                                if g.model.profile(i.profile).span(i.start) & prof.span(s)}
                    if blockers & protected[gi]:
                        continue
                    new = (layouts[gi] - blockers) | {MigInstance(p, s)}
                    try:
                        after = check_layout(g.model, new)
                    except InvalidPlacementError:
                        continue
                    key = (len(blockers), float(table[after] - table[before]), gi, s)
                    if best is None or key < best[0]:
                        best = (key, gi, frozenset(new))
            if best is None:
                break
            _, gi, new = best
            layouts[gi] = new
            protected[gi].add(MigInstance(p, best[0][3]))
    return layouts
