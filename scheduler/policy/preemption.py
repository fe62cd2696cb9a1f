"""GPU-aware victim selection: the fewest, lowest-priority pods whose removal lets `pod` fit.

Pure: works on a `ClusterState`. Used by the extender's preempt verb (and the simulator).
"""

from __future__ import annotations

from collections.abc import Iterable

from scheduler.policy.framework import Profile, filter_node
from scheduler.policy.model import ClusterState, PodRequest
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
        if filter_node(state.without(set(evicted)), pod, node, profile).ok:
            fits = True
            break
    if not fits:
        return None
    for uid in reversed(evicted[:-1]):
        trial = [u for u in evicted if u != uid]
        if filter_node(state.without(set(trial)), pod, node, profile).ok:
            evicted = trial
    return evicted
