"""Gang planning: place every member of a gang at once, or none.

`plan_members` asks `packing.gang.plan_gang` (CP-SAT, with its own greedy fallback) when that
planner is available, and otherwise places members one by one with the exact fit of
`scheduler.policy.fit` on a scratch state (largest request first, fullest feasible node first).
Either way each slot's placement is re-checked against exact geometry before it is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from packing.errors import PackingError
from packing.gang.types import GangMember, GpuSlot, NodeSlot
from scheduler.policy.capacity import NodeCapacity, placement_conflicts
from scheduler.policy.framework import (
    Profile,
    batch_scores,
    choose_placement,
    filter_node,
    run_filters,
)
from scheduler.policy.model import (
    MILLI_PER_GPU,
    Allocation,
    ClusterState,
    GpuGrant,
    Node,
    Placement,
    PodRequest,
)
from scheduler.policy.plugins.binpack import Binpack
from scheduler.policy.rules import canonical

MAX_CANDIDATES = 256  # per member shape; the CP-SAT planner prunes further (to 32 by default)
_SOLO: dict[int, tuple[Profile, Profile]] = {}  # profile id -> (profile, it without Gang)
# Where member i lands on a drained node that already keeps the members before it there, per
# (node, i, those members): see `drain_budgets`. The node object kept beside the answer guards
# against a node that changed since.
DrainMemo = dict[tuple[str, int, tuple[int, ...]], tuple[Node, Placement | None]]


@dataclass(frozen=True, slots=True)
class GangPlan:
    """`slots[i]` is member i's placement; `status` in optimal/feasible/greedy/infeasible."""

    status: str
    slots: tuple[Placement, ...]
    reason: str = ""


def _size(pod: PodRequest) -> int:
    g = pod.gpu
    if g is None:
        return 0
    return g.count * 1000 if g.kind != "milli" else g.milli


def plan_members(
    state: ClusterState,
    members: Sequence[PodRequest],
    node_names: Sequence[str],
    profile: Profile,
    *,
    gang: str,
    time_limit_s: float = 1.0,
    seed: int = 0,
) -> GangPlan:
    """A placement for every member, or status "infeasible" with a reason naming the gang.

    CP-SAT first (`packing.gang.plan_gang`, fixed seed, one worker, time limit); its plan is
    re-checked slot by slot against exact geometry. The greedy here is the fallback when the
    planner cannot express the case (static-MIG pools known only by count, mixed static and
    dynamic MIG requests) or its plan does not check out.
    """
    short = _whole_shortfall(state, members, node_names)
    if short:  # proven by counting free whole GPUs: no filter pass, no planner
        return GangPlan("infeasible", (), f"gang {gang}: {short}")
    candidates = _candidates(state, members, node_names, profile)
    if not candidates:
        return GangPlan("infeasible", (), f"gang {gang}: no node can host any of its members")
    solved = _solve(state, members, candidates, time_limit_s, seed)
    if solved is not None and (solved.status == "infeasible" or _verified(state, members, solved)):
        if solved.status == "infeasible":
            return GangPlan("infeasible", (), f"gang {gang}: {solved.reason or 'does not fit'}")
        return solved
    return _greedy(state, members, candidates, profile, gang)


def _whole_shortfall(
    state: ClusterState, members: Sequence[PodRequest], names: Sequence[str]
) -> str:
    """Why the gang cannot fit on `names`, judged on free whole GPUs alone, or "" (proves
    nothing). A member of k whole GPUs needs k free GPUs without MIG on one node, so a node
    with f of them takes at most f // k such members: the planner's own count
    (`packing.gang.bound.whole_gpu_shortfall`), taken here from the fleet index's columns over
    every named node, before the filters and the planner's inputs are built. Filters only ever
    remove nodes, so a shortfall here is one on the candidates too: the status is the one the
    full path returns."""
    need: dict[int, int] = {}
    for m in members:
        g = m.gpu
        if g is not None and g.kind == "whole" and g.count > 0:
            need[g.count] = need.get(g.count, 0) + 1
    if not need or not state.nodes:
        return ""
    idx = state.fleet()
    rows, known = idx.rows_of(names)
    free = (idx.plain_free[rows[known]] == MILLI_PER_GPU).sum(axis=1)
    for k, n in sorted(need.items()):
        room = int((free // k).sum())
        if room < n:
            return f"{n} member(s) need {k} free whole GPUs each; the nodes have room for {room}"
    total = sum(k * n for k, n in need.items())
    if total > int(free.sum()):
        return f"the gang needs {total} free whole GPUs; {int(free.sum())} are free"
    return ""


def _candidates(
    state: ClusterState, members: Sequence[PodRequest], names: Sequence[str], profile: Profile
) -> list[str]:
    """Nodes that can host at least one member on their own, at most `MAX_CANDIDATES` per
    member shape (the best-scoring ones): the planner's search space stays small at any
    cluster size."""
    solo_profile = _solo(profile)
    known = [n for n in names if n in state.nodes]
    limit = max(MAX_CANDIDATES, 4 * len(members))
    keep: set[str] = set()
    shapes: set[object] = set()
    for m in members:
        shape = (m.gpu, m.allowed_products)
        if shape in shapes:
            continue
        shapes.add(shape)
        solo = replace(m, gang=None)
        passed = run_filters(state, solo, known, solo_profile).passed
        # Rank only when the batch path makes it cheap; else keep the node order.
        scores = batch_scores(state, solo, passed, solo_profile) if len(passed) > limit else None
        if scores is not None:
            ranked = sorted(scores.pairs(), key=lambda x: (-x[1], x[0]))
            passed = [n for n, _ in ranked]
        keep.update(passed[:limit])
    return [n for n in known if n in keep]


def _verified(state: ClusterState, members: Sequence[PodRequest], plan: GangPlan) -> bool:
    # Per node, the exact view with the slots so far charged, while `with_allocation` can
    # chain it (shares and whole GPUs): a slot it charges fits, so no rebuild is needed. The
    # slots so far go into a scratch state only for a slot that it cannot chain.
    views: dict[str, NodeCapacity | None] = {}
    before: dict[str, Allocation] = {}
    for i, (pod, slot) in enumerate(zip(members, plan.slots, strict=True)):
        alloc = Allocation(pod.key, f"plan#{i}", slot, pod.priority, False, None)
        if slot.node not in state.nodes:
            return False
        view = views[slot.node] if slot.node in views else state.capacity(slot.node)
        after = None if view is None else view.with_allocation(alloc)
        views[slot.node] = after
        if after is None and placement_conflicts(
            state.nodes[slot.node], state.with_allocations(before).allocations_on(slot.node), alloc
        ):
            return False
        before[f"plan#{i}"] = alloc
    return True


def _member(pod: PodRequest, key: str) -> GangMember | None:
    g = pod.gpu
    if g is None:
        return None
    models = tuple(sorted({canonical(p) for p in pod.allowed_products or ()}))
    if g.kind == "whole":
        return GangMember(key, whole=g.count, gpu_models=models)
    if g.kind == "mig":
        return GangMember(key, mig_profile=g.profile, mig_count=g.count, gpu_models=models)
    return GangMember(key, milli=g.milli, gpu_memory_mib=g.memory_mib, gpu_models=models)


def _slot_of(cap: NodeCapacity, dynamic: bool) -> NodeSlot:
    """The planner's view of `cap`, made once per capacity view (a gang that waits is planned
    again after every departure, mostly over nodes nothing touched)."""
    return cap.derive(("gang-slot", dynamic), lambda c: _node_slot(c, dynamic))


def _node_slot(cap: NodeCapacity, dynamic: bool) -> NodeSlot:
    gpus = []
    for g in cap.usable_gpus:
        if g.model is None:
            continue
        if g.gpu.mig_enabled:
            free = set(g.free_static)
            insts = tuple((i, i not in free) for i in sorted(g.occupied))
            gpus.append(GpuSlot(g.index, g.model.key, True, insts, dynamic))
        else:
            gpus.append(GpuSlot(g.index, g.model.key, free_milli=g.free_milli,
                                free_memory_mib=g.free_memory_mib))  # fmt: skip
    return NodeSlot(cap.node.name, tuple(gpus))


def _solve(
    state: ClusterState,
    members: Sequence[PodRequest],
    nodes: Sequence[str],
    time_limit_s: float,
    seed: int,
) -> GangPlan | None:
    kinds = {(m.gpu.kind, m.gpu.dynamic) for m in members if m.gpu is not None}
    if len(kinds) != 1 or any(m.gpu is None for m in members):
        return None  # mixed static/dynamic MIG or GPU-less members: greedy handles them
    dynamic = next(iter(kinds))[1]
    if any(state.capacity(n).pool_free for n in nodes):
        return None  # instances known only by count: the planner needs their GPUs
    keys = [f"{m.key}#{i}" for i, m in enumerate(members)]
    from packing.gang.planner import plan_gang  # OR-Tools: only once a gang needs a search

    try:
        gm = [_member(m, k) for m, k in zip(members, keys, strict=True)]
        slots = [_slot_of(state.capacity(n), dynamic) for n in nodes]
        plan = plan_gang([m for m in gm if m is not None], slots, time_limit_s=time_limit_s,
                         seed=seed, workers=1)  # fmt: skip
    except PackingError:
        return None
    if plan.status == "infeasible":
        return GangPlan("infeasible", (), plan.reason)
    uuids = {mp.node: {g.index: g.uuid for g in state.nodes[mp.node].gpus}
             for mp in plan.placements.values()}  # fmt: skip
    out = []
    for k in keys:
        mp = plan.placements[k]
        grants = tuple(
            GpuGrant(
                gr.index,
                uuids[mp.node].get(gr.index, ""),
                profile=gr.profile,
                start=gr.start,
                milli=gr.milli or None,
                memory_mib=(members[keys.index(k)].gpu.memory_mib if gr.milli else None),  # type: ignore[union-attr]
            )
            for gr in mp.grants
        )
        out.append(Placement(mp.node, grants))
    return GangPlan(plan.status, tuple(out))


def _greedy(
    state: ClusterState,
    members: Sequence[PodRequest],
    node_names: Sequence[str],
    profile: Profile,
    gang: str,
) -> GangPlan:
    order = sorted(range(len(members)), key=lambda i: (-_size(members[i]), i))
    scratch = state
    slots: dict[int, Placement] = {}
    binpack = Binpack()
    for i in order:
        pod = members[i]
        feasible = [n for n in node_names if n in state.nodes and _passes(scratch, pod, n, profile)]
        if not feasible:
            return GangPlan(
                "infeasible",
                (),
                f"gang {gang}: member {i + 1} of {len(members)} fits on none of "
                f"{len(node_names)} node(s)",
            )
        ranked = sorted(feasible, key=lambda n: (-binpack.score(scratch, pod, state.nodes[n]), n))
        best = choose_placement(scratch, pod, state.nodes[ranked[0]])
        assert best is not None  # feasible means GpuFit found a placement
        slots[i] = best
        key = f"plan:{gang}#{i}"
        scratch = scratch.with_allocations(
            {key: Allocation(pod.key, key, best, pod.priority, False, None, gang)}
        )
    return GangPlan("greedy", tuple(slots[i] for i in range(len(members))))


def _passes(state: ClusterState, pod: PodRequest, node: str, profile: Profile) -> bool:
    # The gang filter itself is skipped: the plan is what it will enforce.
    return filter_node(state, pod, node, _solo(profile)).ok


def _solo(profile: Profile) -> Profile:
    """`profile` without the Gang filter, made once per profile object (a new Profile would
    redo its batch-method checks on every call)."""
    hit = _SOLO.get(id(profile))
    if hit is None or hit[0] is not profile:
        if len(_SOLO) >= 16:
            _SOLO.clear()
        plugins = tuple(p for p in profile.filters if p.name != "Gang")
        hit = _SOLO[id(profile)] = (profile, Profile(plugins, profile.scorers))
    return hit[1]


def drain_targets(
    state: ClusterState,
    members: Sequence[PodRequest],
    node_names: Sequence[str],
    profile: Profile,
) -> tuple[str, ...]:
    """The nodes of `drain_budgets`, in the order they were chosen."""
    return tuple(drain_budgets(state, members, node_names, profile))


def drain_budgets(
    state: ClusterState,
    members: Sequence[PodRequest],
    node_names: Sequence[str],
    profile: Profile,
    memo: DrainMemo | None = None,
    counts: Callable[[str], tuple[int, int]] | None = None,
) -> dict[str, int]:
    """Nodes to keep for a gang that does not fit now, each with its GPU budget (the GPUs its
    members would take there), chosen so the gang waits for as few busy GPUs to drain as
    possible: members largest first, each onto the node where it adds the fewest GPUs that
    are in use now (no runtime is known, so every busy GPU counts alike); ties go to a node
    already chosen (fewer nodes), then the least busy, then the order given. Empty when no
    set of nodes could host the gang even drained.

    Why: an all-or-nothing gang needs its capacity free at one instant. While smaller pods
    take every GPU that frees up, a gang of whole nodes can wait without bound; keeping the
    freed capacity of these nodes for it bounds that wait (a reservation, as in backfilling).
    Why a budget, not whole nodes: a gang of 2 x 2 GPUs needs 4 GPUs of an 8-GPU node; keeping
    all 8 made single-GPU jobs wait for no gain (the Tiresias trace's p95 job wait,
    benchmarks/RESULTS.md). `within_budget` says which pods may still go there.

    `memo` (optional): the caller's store for these members (one per gang), kept across calls.
    Where a member lands on a drained node reads only that node, the members kept there before
    it and the (pure, clock-free) filters, so a caller asking again for the same gang while
    other nodes fill and drain pays each (node, member, members before it) once.

    `counts` (optional): a node's `free_busy` counts on `state`, from the caller's cache (each
    otherwise builds the node's capacity view: at 1,000 nodes that is most of the call's cost,
    benchmarks/bench_gang_filter.py). It must answer what `free_busy` would.
    """
    empty = ClusterState(state.nodes, MappingProxyType({}), now=state.now)
    solo_profile = _solo(profile)
    known = [n for n in node_names if n in state.nodes]
    rank = {n: i for i, n in enumerate(known)}
    if counts is None:
        counts = lambda n: state.capacity(n).derive("free-busy", free_busy)  # noqa: E731
    by_node = {n: counts(n) for n in known}
    free = {n: c[0] for n, c in by_node.items()}
    busy = {n: c[1] for n, c in by_node.items()}
    # The members kept so far on the drained nodes: charged to `scratch` only when a spot is
    # not in the memo (most are: the scratch state and the pod copy are for the misses).
    scratch = empty
    uncharged: dict[str, Allocation] = {}
    kept: dict[str, set[int]] = {}
    placed: dict[str, tuple[int, ...]] = {}  # members kept on each node so far, in order

    def short(name: str, gpus: set[int]) -> int:  # GPUs kept there that are busy now
        return max(0, len(gpus) - free[name])

    def spot_for(i: int, node: Node) -> Placement | None:
        nonlocal scratch
        key = (node.name, i, placed.get(node.name, ()))
        hit = memo.get(key) if memo is not None else None
        if hit is not None and hit[0] is node:
            return hit[1]
        if uncharged:
            scratch = scratch.with_allocations(uncharged)
            uncharged.clear()
        pod = replace(members[i], gang=None)
        spot = (
            choose_placement(scratch, pod, node)
            if filter_node(scratch, pod, node.name, solo_profile).ok
            else None
        )
        if memo is not None:
            memo[key] = (node, spot)
        return spot

    # Every node by a lower bound of its order for a member whose spot takes at least `least`
    # GPUs, per `least` (a gang's members mostly share it); unique, as the rank is in it.
    ranked: dict[int, list[tuple[tuple[int, bool, int, int], str]]] = {}
    for i in sorted(range(len(members)), key=lambda i: (-_size(members[i]), i)):
        pod = members[i]
        best: tuple[tuple[int, bool, int, int], str, Placement] | None = None
        # Nodes already chosen first, then the others by that bound: the scan stops once no
        # node left can beat the best found, which leaves the choice exactly that of trying
        # every node.
        least = _least_gpus(pod)
        if least not in ranked:
            ranked[least] = sorted(
                ((max(0, least - free[n]), True, busy[n], rank[n]), n) for n in known
            )
        for bound, name in [*(((0, False, busy[n], rank[n]), n) for n in kept),
                            *(bn for bn in ranked[least] if bn[1] not in kept)]:  # fmt: skip
            if best is not None and bound >= best[0] and name not in kept:
                break
            spot = spot_for(i, state.nodes[name])
            if spot is None:
                continue
            had = kept.get(name, set())
            added = short(name, had | {g.index for g in spot.gpus}) - short(name, had)
            order = (added, name not in kept, busy[name], rank[name])
            if best is None or order < best[0]:
                best = (order, name, spot)
        if best is None:
            return {}
        _, name, spot = best
        kept.setdefault(name, set()).update(g.index for g in spot.gpus)
        placed[name] = (*placed.get(name, ()), i)
        key = f"drain#{i}"
        uncharged[key] = Allocation(pod.key, key, spot, pod.priority, False, None)
    return {n: len(g) for n, g in kept.items()}


def free_busy(cap: NodeCapacity) -> tuple[int, int]:
    """(usable GPUs no pod holds any part of, usable GPUs in use)."""
    usable = cap.usable_gpus
    free = sum(1 for g in usable if not g.pods)
    return free, len(usable) - free


def _least_gpus(pod: PodRequest) -> int:
    """The fewest GPUs a placement of `pod` takes: its count of whole GPUs, else one."""
    g = pod.gpu
    if g is None:
        return 0
    return g.count if g.kind == "whole" else 1


def within_budget(state: ClusterState, pod: PodRequest, node: str, budget: int) -> bool:
    """Whether `pod` may go on `node`, whose `budget` GPUs are kept for a waiting gang: only if
    the node's GPUs in use, with the GPUs this pod's placement would newly take, leave
    `budget` of its usable GPUs free to drain (a share of a GPU already in use takes none)."""
    cap = state.capacity(node)
    usable = cap.usable_gpus
    in_use = {g.index for g in usable if g.pods}
    if len(usable) - len(in_use) < budget:
        return False  # nothing new goes there until it drains below the budget
    spot = choose_placement(state, pod, state.nodes[node])
    if spot is None:
        return False
    taken = in_use | {g.index for g in spot.gpus}
    return len(usable) - len(taken) >= budget
