"""Debug-mode check that no GPU is over-allocated, written independently of the policy code:
per-GPU arithmetic plus `packing.mig.place` for MIG geometry (which raises on an overlap)."""

from __future__ import annotations

from packing.catalogue import get_model
from packing.errors import PackingError
from packing.mig import MigInstance, place
from scheduler.policy.model import MILLI_PER_GPU, GpuGrant
from simulator.cluster.state import SimCluster


def over_allocation(cluster: SimCluster) -> str | None:
    """None when every node and GPU holds at most its capacity; else what is wrong."""
    grants: dict[tuple[str, int], list[tuple[str, GpuGrant]]] = {}
    for uid, a in cluster.allocations.items():
        for g in a.placement.gpus:
            grants.setdefault((a.placement.node, g.index), []).append((uid, g))
    for name, node in cluster.nodes.items():
        if cluster.cpu_used[name] > node.cpu_milli or cluster.mem_used[name] > node.memory_bytes:
            return f"node {name}: CPU or memory over-allocated"
    for (name, index), held in grants.items():
        gpu = cluster.nodes[name].gpus[index]
        if gpu.mig_enabled:
            problem = _mig_problem(gpu.model, [s for s in gpu.instances], held)
        else:
            problem = _share_problem(held)
        if problem:
            return f"node {name} GPU {index}: {problem}"
    return None


def _share_problem(held: list[tuple[str, GpuGrant]]) -> str | None:
    if any(g.profile is not None for _, g in held):
        return "a MIG grant on a GPU with MIG off"
    whole = [uid for uid, g in held if g.milli is None]
    if whole and len(held) > 1:
        return f"whole GPU of {whole[0]} shared with {len(held) - 1} other pod(s)"
    milli = sum(MILLI_PER_GPU if g.milli is None else g.milli for _, g in held)
    return f"{milli} milli > {MILLI_PER_GPU}" if milli > MILLI_PER_GPU else None


def _mig_problem(model_key: str, existing: list, held: list[tuple[str, GpuGrant]]) -> str | None:
    model = get_model(model_key)
    seen: set[MigInstance] = set()
    static = {MigInstance(s.profile, s.start) for s in existing}
    layout: tuple[MigInstance, ...] = tuple(static)
    for uid, g in held:
        if g.profile is None or g.start is None:
            return f"{uid}: non-MIG grant on a MIG GPU"
        inst = MigInstance(g.profile, g.start)
        if inst in seen:
            return f"{uid}: instance {g.profile}@{g.start} given twice"
        seen.add(inst)
        if inst in static:
            continue
        try:
            layout = place(model, layout, g.profile, g.start)
        except PackingError as exc:
            return f"{uid}: {exc}"
    return None
