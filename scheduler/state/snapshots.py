"""`SnapshotCache`: the bound allocations' indexes and the `ClusterState` built from them.

`ClusterStore` folds events; this keeps what a snapshot is made of between events, so that a
snapshot is cheap when little changed:
- bound allocations by pod UID and by node; the per-node dicts are replaced, never mutated, so
  a snapshot handed out earlier may keep reading them;
- the nodes changed since the last snapshot, so the next one reuses every other node's row of
  the fleet index and memoised capacity (`ClusterState.seed_for`);
- the last snapshot and the versions it was made at: asked again with nothing changed and no
  reservation lapsing, it is handed back under the new time.
The caller (the store) holds its lock around every method.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from scheduler.policy.model import Allocation, ClusterState, Node
from scheduler.state.reservations import Ledger


class SnapshotCache:
    def __init__(self) -> None:
        self.bound: dict[str, Allocation] = {}  # pod UID -> its bound allocation
        self.bound_on: dict[str, dict[str, Allocation]] = {}  # node -> UID -> allocation
        self._dirty: set[str] = set()  # nodes changed since the last snapshot
        self._all_dirty = True  # no earlier snapshot to reuse rows from (start, relist)
        self._snap: ClusterState | None = None
        self._snap_version: tuple[int, int] = (-1, -1)

    def clear(self) -> None:
        """A relist: forget every bound allocation; the next snapshot rebuilds every row."""
        self.bound.clear()
        self.bound_on.clear()
        self._all_dirty = True

    def hold(self, uid: str, old: Allocation | None, new: Allocation | None) -> None:
        """Pod `uid`'s bound allocation goes from `old` to `new` (copy-on-write per node)."""
        if old is not None:
            on = {k: v for k, v in self.bound_on.get(old.placement.node, {}).items() if k != uid}
            if on:
                self.bound_on[old.placement.node] = on
            else:
                self.bound_on.pop(old.placement.node, None)
            self.bound.pop(uid, None)
        if new is not None:
            node = new.placement.node
            self.bound_on[node] = {**self.bound_on.get(node, {}), uid: new}
            self.bound[uid] = new

    def mark(self, *allocs: Allocation | None) -> None:
        """The nodes of these allocations changed."""
        self._dirty.update(a.placement.node for a in allocs if a is not None)

    def mark_node(self, name: str) -> None:
        self._dirty.add(name)

    def take(
        self, nodes: Mapping[str, Node], ledger: Ledger, version: int, now: float
    ) -> ClusterState:
        """The state at `now` from `nodes`, the bound allocations and the ledger's live holds
        (expired reservations left out); `version` is the store's change count."""
        versions = (version, ledger.version)
        snap = self._snap
        if snap is not None and self._snap_version == versions:
            expiry = ledger.next_expiry(snap.now)
            if expiry is None or now < expiry:
                return ClusterState(
                    snap.nodes, snap.allocations, snap.gangs, now,
                    snap._by_node, snap._capacity, snap._seed, snap._fleet, snap._on,
                )  # fmt: skip
        live = ledger.live(now)
        allocs = {**live, **self.bound}  # a bound pod's own record wins over its hold
        held_on: dict[str, list[Allocation]] = {}
        for key, alloc in live.items():
            if key not in self.bound:
                held_on.setdefault(alloc.placement.node, []).append(alloc)
        bound_on = dict(self.bound_on)

        def on(node: str) -> list[Allocation]:
            return [*bound_on.get(node, {}).values(), *held_on.get(node, ())]

        dirty = self._dirty | ledger.touched
        seed = since = None
        if snap is not None and not self._all_dirty:
            lo, hi = min(snap.now, now), max(snap.now, now)
            changed = frozenset(dirty | ledger.lapsing_nodes(lo, hi))
            seed = snap.seed_for(changed)
            since = (snap.allocations, changed)  # lets the telemetry overlay skip a diff
        self._dirty, self._all_dirty = set(), False
        ledger.touched.clear()
        snap = ClusterState(
            nodes,
            MappingProxyType(allocs),
            MappingProxyType(ledger.gangs(now)),
            now,
            _seed=seed,
            _on=on,
            _since=since,
        )
        self._snap, self._snap_version = snap, versions
        return snap
