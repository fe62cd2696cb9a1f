"""Filter: a dynamic MIG pod may not carve into the last free MIG windows that pods of higher
priority ask for.

With many small low-priority instances (1g notebooks) waiting, every slice that frees is
retaken at once, so a higher-priority 2g or 3g (an aligned window of 2 or 4 memory slices on an
H100) waits until a whole window drains by chance: on the many-small-models day (seeds 0-4)
the inference p99 job wait was 4,915 s with dynamic MIG against 720 s with the static layout,
which never gives a 3g window to a notebook, and 701 s with this filter (benchmarks/RESULTS.md,
"dynamic MIG waits").

The reserve is sized by the pods seen so far (`DemandMix.mig`), as the fill's scarce-model
reserve is (`reserve.py`): for a pod of priority p and each profile Q asked by pods of priority
above p,

    kept(Q) = min(ceil(SHARE_SCALE x instances of Q asked above p / all dynamic MIG instances
                       asked x windows of Q on the cluster's empty MIG GPUs),
                  instances of Q asked above p)

and the pod passes a node unless its placement there (`fit.choose`, the one it would be bound
to) takes a free Q window while fewer than kept(Q) would stay free in the cluster. The second
term matters while few pods have been seen: the first service seen made the share 1 and kept
every window of the cluster from the notebooks behind it (a notebook waited 717-1,383 s on
three of the bundled study's seeds 5-9, against 0 s without the reserve). A window is
a place a new Q instance could go now; a GPU's windows are counted greedily, lowest start first
(`windows`). Pods of the highest priority seen, pods without dynamic MIG, gang members (the
gang planner chose their slots on a snapshot without the demand mix, in the replay and live
alike; refusing a planned slot would strand the gang) and clusters where no higher-priority MIG
demand was seen are never held back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from packing.catalogue import GpuModel
from packing.errors import PackingError
from packing.mig import MigInstance, free_starts
from scheduler.policy.capacity import GpuCapacity, NodeCapacity
from scheduler.policy.fit import choose
from scheduler.policy.fleet_index import NO_GPU
from scheduler.policy.interfaces import CycleState, RowVerdicts
from scheduler.policy.model import ClusterState, Node, Placement, PodRequest
from scheduler.policy.status import SUCCESS, Status, unschedulable

# The reserve's share of the cluster's windows per unit of demand share (1: what the
# higher-priority pods' share of the instances asked would hold if the mix filled the cluster).
SHARE_SCALE = 1.0


# windows() answers by (model, layout, profile): a GPU's layout changes only when a pod
# there binds or leaves, while every snapshot asks again (each value keeps its model alive, so
# no id is reused while its entry exists, as in `packing.mig`).
_WINDOWS: dict[tuple[int, tuple[MigInstance, ...], str], tuple[GpuModel, int]] = {}
_WINDOWS_LIMIT = 65536


def windows(model: GpuModel, layout: Iterable[MigInstance], profile: str) -> int:
    """How many `profile` instances could be added to a GPU holding `layout`, one after another
    at the lowest free start (MIG starts are aligned to the profile's size, so greedy is
    exact for one profile); 0 if the model lacks the profile or the layout is invalid."""
    got = tuple(layout)
    key = (id(model), got, profile)
    hit = _WINDOWS.get(key)
    if hit is None:
        if len(_WINDOWS) >= _WINDOWS_LIMIT:
            _WINDOWS.clear()
        hit = _WINDOWS[key] = (model, _count(model, got, profile))
    return hit[1]


def _count(model: GpuModel, layout: tuple[MigInstance, ...], profile: str) -> int:
    n = 0
    try:
        while True:
            starts = free_starts(model, layout, profile)
            if not starts:
                return n
            layout = (*layout, MigInstance(model.profile(profile).name, starts[0]))
            n += 1
    except PackingError:
        return n


def kept_windows(state: ClusterState, pod: PodRequest) -> dict[str, int]:
    """kept(Q) for each profile Q that pods of higher priority than `pod` asked (module doc);
    empty when the reserve does not apply to this pod."""
    g = pod.gpu
    mix = state.demand
    if g is None or g.kind != "mig" or not g.dynamic or mix is None or not mix.mig:
        return {}
    if pod.gang is not None:  # its plan chose the slots without the reserve (plain snapshot)
        return {}
    asked = sum(mix.mig.values())
    above: dict[str, int] = {}
    for (priority, profile), n in mix.mig.items():
        if priority > pod.priority:
            above[profile] = above.get(profile, 0) + n
    out: dict[str, int] = {}
    for profile, n in sorted(above.items()):
        total = _cluster(state, profile)[1]
        want = min(math.ceil(SHARE_SCALE * n / asked * total - 1e-9), n)
        if want > 0:
            out[profile] = want
    return out


def _gpu_windows(g: GpuCapacity, profile: str) -> tuple[int, int]:
    """(free windows of `profile` now, windows on the empty GPU) for one usable MIG GPU."""
    if g.model is None or not g.gpu.mig_enabled:
        return 0, 0
    return windows(g.model, g.occupied, profile), windows(g.model, (), profile)


def _node_windows(cap: NodeCapacity, profile: str) -> tuple[int, int, int]:
    """(free windows of `profile` on the node, windows on its MIG GPUs when empty, the most
    free windows on one of its GPUs)."""

    def count(c: NodeCapacity) -> tuple[int, int, int]:
        pairs = [_gpu_windows(g, profile) for g in c.usable_gpus]
        most = max((p[0] for p in pairs), default=0)
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs), most

    return cap.derive(("mig-windows", profile), count)


# The last snapshot's cluster totals (one snapshot per pod in the replay and per filter call
# live): (the state, {profile: `_cluster`'s answer}), replaced whole, never mutated once
# published.
_LAST: list[tuple[ClusterState, dict[str, tuple[int, int, int]]]] = []


def _cluster(state: ClusterState, profile: str) -> tuple[int, int, int]:
    """(free windows of `profile` in the cluster now, windows on its MIG GPUs when empty, the
    most free windows on one GPU)."""
    last = _LAST[0] if _LAST else None
    if last is None or last[0] is not state:
        last = (state, {})
        _LAST[:] = [last]
    got = last[1].get(profile)
    if got is None:
        free = total = most = 0
        for name in _mig_nodes(state):
            f, t, m = _node_windows(state.capacity(name), profile)
            free, total, most = free + f, total + t, max(most, m)
        got = last[1][profile] = (free, total, most)
    return got


# The nodes with MIG GPUs, by the snapshot's node mapping (the replay's snapshots share one).
_MIG_NODES: list[tuple[Mapping[str, Node], list[str]]] = []


def _mig_nodes(state: ClusterState) -> list[str]:
    last = _MIG_NODES[0] if _MIG_NODES else None
    if last is None or last[0] is not state.nodes:
        names = [n for n, node in state.nodes.items() if any(g.mig_enabled for g in node.gpus)]
        last = (state.nodes, names)
        _MIG_NODES[:] = [last]
    return last[1]


def _room_for_any(state: ClusterState, pod: PodRequest, kept: Mapping[str, int]) -> bool:
    """Whether every placement of `pod` leaves kept(Q) free for every Q, whatever node and GPU
    it lands on: each of its instances takes at most the free windows of the one GPU it lands
    on, so at most `count` x the most free Q windows any one GPU has."""
    g = pod.gpu
    assert g is not None
    for profile, n in kept.items():
        free, _, most = _cluster(state, profile)
        if free - g.count * most < n:
            return False
    return True


def taken(cap: NodeCapacity, placement: Placement, profile: str) -> int:
    """The free `profile` windows `placement` takes on its node (before minus after)."""
    added: dict[int, list[MigInstance]] = {}
    for grant in placement.gpus:
        if grant.profile is not None and grant.start is not None:
            added.setdefault(grant.index, []).append(MigInstance(grant.profile, grant.start))
    lost = 0
    for g in cap.usable_gpus:
        new = added.get(g.index)
        if new and g.model is not None:
            lost += windows(g.model, g.occupied, profile) - windows(
                g.model, (*g.occupied, *new), profile
            )
    return lost


class MigReserveFilter:
    name = "MigReserve"

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def filter(self, state: ClusterState, pod: PodRequest, node: Node) -> Status:
        kept = kept_windows(state, pod)
        if not kept:
            return SUCCESS
        cap = state.capacity(node.name)
        placement = choose(cap, pod)
        if placement is None:
            return SUCCESS  # GpuFit says why
        return _judge(state, pod, cap, placement, kept)

    def filter_rows(self, cycle: CycleState) -> RowVerdicts | None:
        """Every row passes when the reserve does not apply or no placement could break it
        (`_room_for_any`); otherwise the rows with MIG GPUs go to the per-node path (the
        reserve needs the exact placement on each node) and the others pass."""
        state, pod = cycle.state, cycle.pod
        kept = kept_windows(state, pod)
        if not kept or _room_for_any(state, pod, kept):
            return RowVerdicts.all_pass()
        mig = cycle.index.mig_code.take(cycle.rows, axis=0) != NO_GPU
        return RowVerdicts.all_pass(exact=mig.any(axis=1))


def _judge(
    state: ClusterState,
    pod: PodRequest,
    cap: NodeCapacity,
    placement: Placement,
    kept: Mapping[str, int],
) -> Status:
    for profile, n in kept.items():
        lost = taken(cap, placement, profile)
        free = _cluster(state, profile)[0]
        if lost > 0 and free - lost < n:
            return unschedulable(
                f"would leave {free - lost} free {profile} MIG window(s) in the cluster;"
                f" {n} kept for pods of priority above {pod.priority}"
            )
    return SUCCESS
