"""GPU-aware victim selection: the fewest, lowest-priority pods whose removal lets `pod` fit.

Pure: works on a `ClusterState`. Used by the extender's preempt verb (and the simulator).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from scheduler.policy.framework import Profile, filter_node
from scheduler.policy.model import ClusterState, MigSlot, PodRequest
from scheduler.policy.status import Code


def minimal_victims(
    state: ClusterState,
    pod: PodRequest,
    node: str,
    candidates: Iterable[str],
    profile: Profile,
) -> list[str] | None:
    """UIDs (a subset of `candidates`, all on `node` with lower priority) to evict so `pod`
    passes every filter on `node`; None when no subset helps (or the node is unresolvable).

    Greedy: evict candidates lowest priority first (then largest GPU holding, then UID) until
    the pod fits, then put back any whose eviction turned out unnecessary (reverse order).
    """
    if node not in state.nodes:
        return None
    first = filter_node(state, pod, node, profile)
    if first.ok:
        return []
    if first.code is not Code.UNSCHEDULABLE:
        return None  # unresolvable or error: no eviction can help
    on_node = {a.uid: a for a in state.allocations_on(node) if a.bound}
    pool = [
        on_node[u]
        for u in dict.fromkeys(candidates)
        if u in on_node and on_node[u].priority < pod.priority
    ]
    pool.sort(key=lambda a: (a.priority, -len(a.placement.gpus), a.uid))
    evicted: list[str] = []
    fits = False
    for alloc in pool:
        evicted.append(alloc.uid)
        if filter_node(_after_eviction(state, node, evicted), pod, node, profile).ok:
            fits = True
            break
    if not fits:
        return None
    for uid in reversed(evicted[:-1]):
        trial = [u for u in evicted if u != uid]
        if filter_node(_after_eviction(state, node, trial), pod, node, profile).ok:
            evicted = trial
    return evicted


def _after_eviction(state: ClusterState, node: str, uids: list[str]) -> ClusterState:
    """`state` without the victims' allocations, and with the existing MIG instances they held
    reported free (the agent would report them idle once the victims are gone)."""
    gone = [state.allocations[u] for u in uids if u in state.allocations]
    freed = {
        (g.index, g.profile, g.start)
        for a in gone
        for g in a.placement.gpus
        if g.profile is not None and g.start is not None
    }
    rest = state.without(set(uids))
    if not freed:
        return rest
    n = state.nodes[node]
    gpus = tuple(
        replace(
            gpu,
            instances=tuple(
                MigSlot(
                    i.profile, i.start, i.in_use and (gpu.index, i.profile, i.start) not in freed
                )
                for i in gpu.instances
            ),
        )
        for gpu in n.gpus
    )
    nodes = {**state.nodes, node: replace(n, gpus=gpus)}
    return ClusterState(nodes, rest.allocations, rest.gangs, rest.now)
