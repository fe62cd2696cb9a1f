"""Where a waiting gang's keep goes (`scheduler.state.gangs`): the nodes, each with a GPU
budget, that `scheduler.policy.gang.drain_budgets` chooses on the store's snapshot with the
GPUs of gangs about to end taken as free, with every node's free/busy counts cached across
snapshots."""

from __future__ import annotations

from collections.abc import Callable

from scheduler.policy.framework import Profile
from scheduler.policy.gang import drain_budgets, free_busy
from scheduler.policy.model import Allocation, ClusterState, PodRequest
from scheduler.state.store import DONE_PHASES, ClusterStore


class KeepNodes:
    """The nodes to keep for a waiting gang (`choose`), one per coordinator."""

    def __init__(self, store: ClusterStore, profile: Profile) -> None:
        self.store = store
        self.profile = profile
        # node -> (the Node, its allocations, their `free_busy` counts) as last counted: a
        # snapshot builds every node's capacity view afresh, and choosing the keep's nodes
        # (`counts`) needs every node's counts, at each filter after a departure.
        self._free_busy: dict[str, tuple[object, tuple[Allocation, ...], tuple[int, int]]] = {}

    def choose(self, snap: ClusterState, members: list[PodRequest]) -> dict[str, int]:
        """The nodes (with budgets) to keep for `members` on `snap` with draining gangs taken
        as free (`draining`), every node a candidate."""
        drained = self.draining(snap)
        return drain_budgets(drained, members, sorted(snap.nodes), self.profile,
                             counts=self.counts(drained))  # fmt: skip

    def counts(self, state: ClusterState) -> Callable[[str], tuple[int, int]]:
        """A node's `free_busy` counts on `state`, reused while the node and its allocations
        are the same objects as when last counted (the store keeps both across snapshots
        until they change), else counted on `state`'s view. Without it each choice of the
        keep's nodes built every node's view: 100 ms per filter after a departure at 1,000
        nodes (benchmarks/bench_gang_filter.py, RESULTS.md Digital twin round 8)."""
        cache = self._free_busy
        if len(cache) > 2 * len(state.nodes) + 16:
            cache.clear()  # nodes that left

        def count(name: str) -> tuple[int, int]:
            node, allocs = state.nodes[name], state.allocations_on(name)
            hit = cache.get(name)
            if (hit is not None and hit[0] is node and len(hit[1]) == len(allocs)
                    and all(a is b for a, b in zip(hit[1], allocs, strict=True))):  # fmt: skip
                return hit[2]
            got = state.capacity(name).derive("free-busy", free_busy)
            cache[name] = (node, allocs, got)
            return got

        return count

    def draining(self, snap: ClusterState) -> ClusterState:
        """`snap` with the GPUs of bound pods whose gang has lost a member taken as free, for
        choosing the nodes to keep only: a gang's members end together, so the rest of one
        whose first pod has left (deleted, or Succeeded/Failed) drain next. KWOK, and a
        real job's pods, end milliseconds apart; between the two deletions the keep chose the
        node held by a 1,800 s job over the one being freed, and single pods took the freed
        room (benchmarks/RESULTS.md, Digital twin, round 7, (C)). A gang whose pods are not all
        created yet reads the same (fewer pods than its minimum); its bound members' GPUs then
        count as draining until the others arrive."""
        by_gang = self.store.gang_records()
        leaving: set[str] = set()
        for recs in by_gang.values():
            gang = recs[0].request.gang
            assert gang is not None
            live = [
                r.request.uid
                for r in recs
                if r.request.node_name is not None and r.seen.phase not in DONE_PHASES
            ]
            if live and (len(recs) < gang.min_member
                         or any(r.seen.phase in DONE_PHASES for r in recs)):  # fmt: skip
                leaving.update(live)
        return snap.without(leaving) if leaving else snap
