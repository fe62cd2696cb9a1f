"""Pure pieces of folding telemetry into a `ClusterState` (the hub caches around them).

Two layers, so a just-placed pod does not force a refold of every GPU: `fold_nodes` applies the
merged telemetry to every GPU (redone only when nodes or telemetry change); `with_recent` then
rebuilds just the nodes that have recent placements. `rebuild_state` carries the memoised
capacity views over for every node whose object and allocations did not change.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from itertools import compress
from operator import is_not, itemgetter

from scheduler.policy.model import Allocation, ClusterState, Gpu, GpuHealth, Node
from scheduler.telemetry.hub.merge import Telemetry

Extra = Callable[[str, int, float], float]  # (node, gpu index, observed_at) -> extra util %


def _hot(h: GpuHealth, hot_c: float) -> GpuHealth:
    """Flag a temperature at or over the configured limit (whoever measured it)."""
    if h.over_temperature or h.temperature_c is None or h.temperature_c < hot_c:
        return h
    return dataclasses.replace(h, over_temperature=True)


def fold_gpu(g: Gpu, t: tuple | None, hot_c: float = math.inf) -> Gpu:
    if t is None:
        health = _hot(g.health, hot_c)
        return g if health is g.health else dataclasses.replace(g, health=health)
    health, load = t
    old = g.health
    if old != GpuHealth():  # never forget a fault the inventory (annotation) already carries
        health = GpuHealth(
            xid_recent=tuple(sorted(set(old.xid_recent) | set(health.xid_recent))),
            ecc_uncorrectable=max(old.ecc_uncorrectable, health.ecc_uncorrectable),
            remap_failure=old.remap_failure or health.remap_failure,
            temperature_c=health.temperature_c
            if health.temperature_c is not None
            else old.temperature_c,
            over_temperature=old.over_temperature or health.over_temperature,
        )
    return dataclasses.replace(g, health=_hot(health, hot_c), load=load or g.load)


def fold_nodes(
    nodes: Mapping[str, Node], tele: Telemetry, hot_c: float = math.inf
) -> Mapping[str, Node]:
    """Every node with its GPUs' telemetry applied and temperatures at or over `hot_c` flagged
    (also those known only from the annotation); the same mapping when nothing applies."""
    out: dict[str, Node] | None = None
    for name, node in nodes.items():
        gpus = tuple(fold_gpu(g, tele.get((name, g.index)), hot_c) for g in node.gpus)
        if gpus != node.gpus:
            out = out if out is not None else dict(nodes)
            out[name] = dataclasses.replace(node, gpus=gpus)
    return nodes if out is None else out


def with_recent(nodes: Mapping[str, Node], names: set[str], extra: Extra) -> Mapping[str, Node]:
    """`nodes` with recent-placement load added on the GPUs of `names` (fresh loads only)."""
    out: dict[str, Node] | None = None
    for name in sorted(names & nodes.keys()):
        node, gpus = nodes[name], []
        for g in node.gpus:
            ld = g.load
            if ld is not None and ld.observed_at is not None and ld.utilization_pct is not None:
                add = extra(name, g.index, ld.observed_at)
                if add:
                    ld = dataclasses.replace(
                        ld, utilization_pct=min(100.0, ld.utilization_pct + add)
                    )
                    g = dataclasses.replace(g, load=ld)
            gpus.append(g)
        if tuple(gpus) != node.gpus:
            out = out if out is not None else dict(nodes)
            out[name] = dataclasses.replace(node, gpus=tuple(gpus))
    return nodes if out is None else out


def _alloc_nodes(old: Mapping[str, Allocation], new: Mapping[str, Allocation]) -> set[str]:
    """Nodes whose allocations differ (by identity) between two snapshots. Runs after every
    bind or reservation over all of the cluster's allocations, so the scan is C loops (key set
    operations, `itemgetter`, `compress`); only the few changed entries reach Python."""
    common = list(old.keys() & new.keys())
    changed = list(old.keys() ^ new.keys())  # added or removed
    if common:
        take = itemgetter(*common)
        before, after = take(old), take(new)
        if len(common) == 1:
            before, after = (before,), (after,)
        changed += compress(common, map(is_not, before, after))
    touched = set()
    for uid in changed:
        a, b = old.get(uid), new.get(uid)
        touched |= {x.placement.node for x in (a, b) if x is not None}
    return touched


def _changed_nodes(old: Mapping[str, Node], new: Mapping[str, Node]) -> set[str]:
    """Names in `new` whose Node object is not `old`'s (C loops, as `_alloc_nodes`)."""
    names = list(new.keys())
    return set(compress(names, map(is_not, map(old.get, names), map(new.__getitem__, names))))


def rebuild_state(
    prev: ClusterState | None, nodes: Mapping[str, Node], state: ClusterState
) -> ClusterState:
    """A snapshot of `nodes` with `state`'s allocations, gangs and instant, reusing `prev`'s
    memoised views where they still hold."""
    # `_on`: the store's per-node allocation source, so `allocations_on` reads one node's
    # pods instead of first indexing every allocation of the cluster (~20k at 5,000 nodes) on
    # each snapshot after a change: ~20 ms per bind or reservation in a pod stream.
    if prev is None:
        return ClusterState(
            nodes=nodes, allocations=state.allocations, gangs=state.gangs, now=state.now,
            _on=state._on,
        )  # fmt: skip
    if nodes is prev.nodes and state.allocations is prev.allocations:
        return ClusterState(
            nodes=nodes,
            allocations=state.allocations,
            gangs=state.gangs,
            now=state.now,
            _by_node=prev._by_node,
            _capacity=prev._capacity,
            _fleet=prev._fleet,
            _on=state._on,
        )
    since = state._since  # the store's own list of changed nodes, when prev is its parent
    if since is not None and since[0] is prev.allocations:
        touched = set(since[1])
    else:
        touched = _alloc_nodes(prev.allocations, state.allocations)
    touched |= _changed_nodes(prev.nodes, nodes)
    keep = dict(prev._capacity)  # a C-level copy, then the few touched nodes out
    for n in touched:
        keep.pop(n, None)
    # (E1, surgical) seed the fleet index from prev's so only touched rows are rebuilt.
    return ClusterState(
        nodes=nodes,
        allocations=state.allocations,
        gangs=state.gangs,
        now=state.now,
        _capacity=keep,
        _seed=prev.seed_for(touched),
        _on=state._on,
    )
