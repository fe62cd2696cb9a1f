"""Exact GPU fit on one node: choose the concrete GPUs, MIG instances/starts or milli shares.

`choose` returns a `Placement` or None; `check` explains a None with a `Status` whose code says
whether preemption could ever help (UNSCHEDULABLE) or not (UNSCHEDULABLE_AND_UNRESOLVABLE: the
node simply lacks the hardware). Geometry comes from `packing`; nothing is re-implemented here.
"""

from __future__ import annotations

from packing.errors import PackingError
from packing.fractional import choose_gpus, share_of
from packing.mig import MigInstance, fit_multiset, occupancy
from scheduler.policy.capacity import GpuCapacity, NodeCapacity
from scheduler.policy.records import (
    MILLI_PER_GPU,
    UNKNOWN_INDEX,
    GpuGrant,
    GpuRequest,
    Placement,
    PodRequest,
)
from scheduler.policy.status import SUCCESS, Status, unresolvable, unschedulable


def choose(cap: NodeCapacity, pod: PodRequest) -> Placement | None:
    req = pod.gpu
    if req is None:
        return Placement(cap.node.name, ())
    if req.kind == "mig":
        grants = _choose_dynamic(cap, req) if req.dynamic else _choose_static(cap, req)
    else:
        grants = _choose_shares(cap, req)
    return None if grants is None else Placement(cap.node.name, grants)


def check(cap: NodeCapacity, pod: PodRequest) -> Status:
    """SUCCESS when `choose` finds a placement, else the reason (and whether it is permanent)."""
    if choose(cap, pod) is not None:
        return SUCCESS
    req = pod.gpu
    assert req is not None
    if not cap.node.gpus and not cap.node.mig_pool:
        return unresolvable("node has no GPUs")
    faulted = sum(1 for g in cap.gpus if g.faulted)
    note = f" ({faulted} GPU(s) with hard faults excluded)" if faulted else ""
    if req.kind == "mig" and not req.dynamic:
        total = _static_total(cap, req.profile or "")
        free = cap.free_static(req.profile or "")
        if total < req.count:
            return unresolvable(
                f"node has {total} {req.profile} MIG instance(s), pod needs {req.count}{note}"
            )
        return unschedulable(f"{free} of {total} {req.profile} MIG instance(s) free{note}")
    if req.kind == "mig":
        able = [g for g in cap.usable_gpus if g.gpu.mig_enabled and _supports(g, req.profile)]
        if not able:
            return unresolvable(
                f"no MIG-enabled GPU here supports profile {req.profile}"
                f" (models: {_models(cap)}){note}"
            )
        return unschedulable(
            f"no free placement for {req.count} x {req.profile} on {len(able)} MIG GPU(s)"
        )
    plain = [g for g in cap.usable_gpus if not g.gpu.mig_enabled]
    if req.kind == "whole":
        if len(plain) < req.count:
            return unresolvable(
                f"node has {len(plain)} usable GPU(s) without MIG, pod needs {req.count}{note}"
            )
        return unschedulable(f"{cap.free_whole()} of {len(plain)} GPU(s) free, need {req.count}")
    if not any(g.gpu.memory_mib >= req.memory_mib for g in plain):
        return unresolvable(
            f"no GPU without MIG has {req.memory_mib} MiB of memory{note}"
            if plain
            else f"node has no usable GPU without MIG{note}"
        )
    best = max((g.free_milli for g in plain), default=0)
    return unschedulable(
        f"no GPU has {req.milli} milli and {req.memory_mib} MiB free (most free: {best} milli)"
    )


def _choose_shares(cap: NodeCapacity, req: GpuRequest) -> tuple[GpuGrant, ...] | None:
    """Whole GPUs and milli shares through `packing.fractional` (best fit: tightest GPU)."""
    whole = req.kind == "whole"
    try:
        share = share_of(req.count, MILLI_PER_GPU if whole else req.milli, req.memory_mib)
    except PackingError:
        return None
    gpus = cap.gpus
    free = [-1 if g.faulted or g.gpu.mig_enabled else g.free_milli for g in gpus]
    mem = [g.free_memory_mib for g in gpus]
    picked = choose_gpus(free, share, "best", mem)
    if picked is None:
        return None
    # (lists, not generators, and each GPU's `gpu.index`, not the `index` property: this runs
    # per placed pod)
    if whole:
        return tuple([GpuGrant(gpus[i].gpu.index, gpus[i].gpu.uuid) for i in picked])
    milli, mem_mib = req.milli, req.memory_mib
    return tuple(
        [
            GpuGrant(gpus[i].gpu.index, gpus[i].gpu.uuid, milli=milli, memory_mib=mem_mib)
            for i in picked
        ]
    )


def _choose_static(cap: NodeCapacity, req: GpuRequest) -> tuple[GpuGrant, ...] | None:
    """Existing free instances, lowest GPU index and start first; then GFD-only pool devices."""
    out: list[GpuGrant] = []
    for g in cap.usable_gpus:
        for inst in sorted(g.free_static, key=lambda i: i.start):
            if len(out) < req.count and _same_profile(g, inst.profile, req.profile):
                out.append(GpuGrant(g.index, g.gpu.uuid, profile=inst.profile, start=inst.start))
    pool = cap.pool_free.get(req.profile or "", 0)
    out.extend(GpuGrant(UNKNOWN_INDEX, profile=req.profile) for _ in range(min(pool, req.count)))
    return tuple(out[: req.count]) if len(out) >= req.count else None


def _choose_dynamic(cap: NodeCapacity, req: GpuRequest) -> tuple[GpuGrant, ...] | None:
    """New instances, one at a time, on the fullest MIG GPU that still fits (binpack); the start
    is the one `packing.mig.fit_multiset` picks to keep the most later options open."""
    able = [g for g in cap.usable_gpus if g.gpu.mig_enabled and _supports(g, req.profile)]
    added: dict[int, list[MigInstance]] = {g.index: [] for g in able}
    out: list[GpuGrant] = []
    for _ in range(req.count):
        best: tuple[int, int, GpuCapacity, MigInstance] | None = None
        for g in able:
            layout = (*g.occupied, *added[g.index])
            try:
                new = fit_multiset(g.model, layout, {req.profile or "": 1})  # type: ignore[arg-type]
                used = bin(occupancy(g.model, layout)).count("1")  # type: ignore[arg-type]
            except PackingError:
                continue  # inconsistent reported layout: never place on it
            if new:
                key = (-used, g.index)
                if best is None or key < best[:2]:
                    best = (key[0], key[1], g, new[0])
        if best is None:
            return None
        g, inst = best[2], best[3]
        added[g.index].append(inst)
        out.append(GpuGrant(g.index, g.gpu.uuid, profile=inst.profile, start=inst.start))
    return tuple(out)


def _supports(g: GpuCapacity, profile: str | None) -> bool:
    if g.model is None or profile is None:
        return False
    try:
        g.model.profile(profile)
    except PackingError:
        return False
    return True


def _same_profile(g: GpuCapacity, have: str, want: str | None) -> bool:
    if want is None:
        return False
    if have == want:
        return True
    if g.model is None:
        return False
    try:
        return g.model.profile(have).name == g.model.profile(want).name
    except PackingError:
        return False


def _static_total(cap: NodeCapacity, profile: str) -> int:
    own = sum(
        1 for g in cap.usable_gpus for s in g.gpu.instances if _same_profile(g, s.profile, profile)
    )
    return own + cap.node.mig_pool.get(profile, 0)


def _models(cap: NodeCapacity) -> str:
    return ", ".join(sorted({g.gpu.model for g in cap.gpus})) or "none"
