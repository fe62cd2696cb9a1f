"""`ClusterStore`: folds list/watch events into an immutable `ClusterState`, thread-safely.

Allocations come from two places, both keyed by pod UID:
- bound pods (from the apiserver): their `tessera.io/placement` annotation, or, when a pod was
  bound by someone else, grants derived from its requests (GPU unknown, charged first-fit);
- the reservations ledger (`scheduler.state.reservations`): decisions not yet seen bound.
A bound pod's entry always supersedes its reservation. Everything is rebuilt from pods alone.

A placement annotation is checked against its node before it is trusted (issue 11, forged
placements): a GPU index the node does not have, a UUID that is not that GPU's, or a malformed
document (milli over 1000, too deep...) is rejected, counted in `rejected_annotations`, and the
pod is charged by its requests instead. Pods are re-checked when their node's GPU inventory
changes, so a pod folded before its node is checked once the node arrives.

A failed gang plan (`scheduler.state.gangs`) is cached for a few seconds so member retries do
not re-plan in a storm; the store drops every failed plan as soon as capacity may have come back:
a pod that held GPUs leaves (deleted, Succeeded or Failed, or a reservation released by its
deletion), a node arrives or changes in a way that may add room (`node_changes`), or a relist.

Each pod record carries the order the store first saw its UID (`first_seen`; kept for a known
UID across relists): waiting gangs are ranked by it (`scheduler.state.gangs`).

Nodes carried in a request (full-Nodes mode) are folded only through `fold_request_node`, and only
when they are newer (by `resourceVersion`) than what the watch gave, or, in a store no Node
watch feeds (`serve --snapshot`), new.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from scheduler.policy.model import (
    Allocation,
    ClusterState,
    GangRef,
    Node,
    PodRequest,
)
from scheduler.state.errors import PodParseError, StateError
from scheduler.state.gang_members import GangMembers
from scheduler.state.node_changes import inventory, may_add_room, name_of, newer
from scheduler.state.nodes import parse_node
from scheduler.state.pod_records import (
    DONE_PHASES,
    PodRecord,
    PodSeen,
    allocation_of,
    claims_taken,
    forged,
    is_derived,
    seen,
)
from scheduler.state.pods import bounded_min_member, parse_pod, pod_key
from scheduler.state.reservations import Ledger
from scheduler.state.snapshots import SnapshotCache
from scheduler.state.tombstones import Tombstones, stale_modified

POD_GROUP_KINDS = ("PodGroup",)


class ClusterStore:
    """Thread-safe cluster cache. `apply(event)` takes watch events; `snapshot(now)` is cheap
    when nothing changed (the previous snapshot and its memoised capacity are reused)."""

    def __init__(self, *, nodes_watched: bool = False) -> None:
        self._lock = threading.RLock()
        # A Node watch feeds this store (`serve` on a cluster): a request cannot add a node.
        self.nodes_watched = nodes_watched
        self._nodes: dict[str, Node] = {}
        self._node_versions: dict[str, str] = {}  # name -> metadata.resourceVersion (watch)
        # The watch's copy of a node a full-Nodes request replaced with a newer one, and its
        # problem: put back when a later request is no newer than the watch (`fold_request_node`).
        self._overlaid: dict[str, tuple[Node, str]] = {}
        self.rejected_annotations = 0  # placements refused at rebuild (tessera_rejected_...)
        self._node_problems: dict[str, str] = {}
        self._pods: dict[str, PodRecord] = {}  # by UID
        self._keys: dict[str, str] = {}  # "ns/name" -> UID
        self._pods_on: dict[str, set[str]] = {}  # spec.nodeName -> UIDs (for re-checks)
        self._gangs = GangMembers()
        self._order = 0  # the last first-seen number given (`first_seen`)
        self._relisted: dict[str, int] = {}  # during a relist: UID -> its number before it
        # Pod UIDs and node names lately deleted: a MODIFIED for one of them is a stale
        # event, not a resurrection (`stale_modified`).
        self._gone_pods = Tombstones()
        self._gone_nodes = Tombstones()
        self.ledger = Ledger()
        self.skipped: list[str] = []  # objects the last `replace` left out, and why
        self._version = 0
        # Bound allocations, the nodes changed since the last snapshot, and that snapshot.
        self._snaps = SnapshotCache()
        self._nodes_view: Mapping[str, Node] | None = None  # the nodes mapping last handed out
        # Called (under the lock) with each pod the watch delivers for the first time: the
        # extender's demand mix counts the pods the apiserver vouches for, not request bodies.
        self.new_pod_listeners: list[Callable[[PodRequest], None]] = []

    # ---- events --------------------------------------------------------------------------
    def apply(self, event: Mapping[str, Any]) -> None:
        """One watch event: {"type": ADDED|MODIFIED|DELETED, "object": {... "kind": ...}}."""
        kind_type = event.get("type")
        obj = event.get("object")
        if kind_type not in ("ADDED", "MODIFIED", "DELETED") or not isinstance(obj, Mapping):
            raise StateError(f"watch event must have a type and an object, got {kind_type!r}")
        kind = obj.get("kind")
        deleted = kind_type == "DELETED"
        modified = kind_type == "MODIFIED"
        if kind == "Node":
            self.upsert_node(obj, modified=modified) if not deleted else self.delete_node(obj)
        elif kind == "Pod":
            self.upsert_pod(obj, modified=modified) if not deleted else self.delete_pod(obj)
        elif kind in POD_GROUP_KINDS:
            self.upsert_podgroup(obj, deleted)
        else:
            raise StateError(f"unsupported object kind {kind!r} (Node, Pod or PodGroup)")

    def replace(self, objects: Iterable[Mapping[str, Any]], ordered: bool = False) -> None:
        """A relist: the store becomes exactly these objects (reservations are kept). An object
        that cannot be read (a pending pod Tessera would refuse, a Node without a name...) is
        left out and named in `skipped`, one line each, as the watch skips it: one bad object
        in a snapshot file refused the whole file (`serve --snapshot`, `explain`).

        PodGroups are folded before the pods that read their minMember. `ordered=True`: the
        caller gives every PodGroup before any pod, so each object is folded as it comes and
        none is held past its turn (`scheduler.kube.compact.one_by_one` feeds it so)."""
        with self._lock:
            # A pod the store knew keeps its first-seen number across the relist.
            self._relisted = {uid: rec.order for uid, rec in self._pods.items()}
            self._nodes.clear()
            self._node_versions.clear()
            self._overlaid.clear()
            self._nodes_view = None
            self._snaps.clear()
            self._node_problems.clear()
            self._pods.clear()
            self._pods_on.clear()
            self._keys.clear()
            self._gangs.clear()
            self._gone_pods.clear()
            self._gone_nodes.clear()
            self.ledger.drop_failed_gangs()  # the cluster may differ: failed plans re-plan
            self.skipped = []
            try:
                if ordered:
                    for o in objects:
                        self._add(o)
                else:
                    objs = list(objects)
                    for o in objs:  # PodGroups first: pods read their minMember
                        if o.get("kind") in POD_GROUP_KINDS:
                            self._add(o)
                    for o in objs:
                        if o.get("kind") not in POD_GROUP_KINDS:
                            self._add(o)
            finally:
                self._relisted = {}
            self._touch()

    def _add(self, obj: Mapping[str, Any]) -> None:
        try:
            if obj.get("kind") in POD_GROUP_KINDS:
                self.upsert_podgroup(obj, False)
            else:
                self.apply({"type": "ADDED", "object": obj})
        except StateError as exc:  # one bad object must not refuse the whole list
            self.skipped.append(f"{obj.get('kind')} {name_of(obj)}: {exc}")

    def upsert_node(
        self, obj: Mapping[str, Any], *, from_request: bool = False, modified: bool = False
    ) -> None:
        """Fold a Node from the watch (or a snapshot), or, `from_request`, one a full-Nodes
        request carried (`fold_request_node`): that one keeps the watch's copy aside and does
        not move the watch's resourceVersion. `modified`: a MODIFIED event, skipped when
        stale (`stale_modified`)."""
        node, problem = parse_node(obj)
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        with self._lock:
            known = self._node_versions.get(node.name)
            if (
                modified
                and not from_request
                and stale_modified(self._gone_nodes, node.name, rv, known)
            ):
                return
            if not from_request:
                self._gone_nodes.revive(node.name)  # (a request never vouches for a node)
                if isinstance(rv, str) and rv:
                    self._node_versions[node.name] = rv
                self._overlaid.pop(node.name, None)
            elif node.name in self._node_versions and node.name not in self._overlaid:
                watched = self._nodes.get(node.name)
                if watched is not None:
                    self._overlaid[node.name] = (watched, self._node_problems.get(node.name, ""))
            self._put_node(node, problem)

    def _put_node(self, node: Node, problem: str) -> None:
        with self._lock:
            old = self._nodes.get(node.name)
            if old == node:
                self._node_problems[node.name] = problem
                return  # unchanged (e.g. a full-Nodes request repeating what we know)
            self._nodes[node.name] = node
            self._nodes_view = None
            self._node_problems[node.name] = problem
            self._snaps.mark_node(node.name)
            if old is None or inventory(old) != inventory(node):
                self._recheck_pods_on(node.name)
                self._release_lost_holds(node)
            if may_add_room(old, node):
                self.ledger.drop_failed_gangs()
            self._touch()

    def fold_request_node(self, obj: Mapping[str, Any]) -> bool:
        """Fold a Node carried in a full-Nodes request only when the watch holds an older
        `resourceVersion` (both integers, as etcd revisions are), or, in a store no Node watch
        feeds, the cache lacks it; True
        when folded. A request whose copy is not newer than the watch's puts the watch's copy
        back if an earlier request had replaced it: a forged 'newer' Node (resourceVersion
        999999999) held until the watch's next event for that node, and every correct
        request meanwhile was answered from it."""
        meta = obj.get("metadata") if isinstance(obj, Mapping) else None
        if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
            return False
        name = meta["name"]
        with self._lock:
            known = self._node_versions.get(name)
            if self.nodes_watched and known is None:  # a forged name, or a deleted node: it
                return False  # stayed for good, 20,000 a request, and gangs planned onto it
            if name in self._nodes and not newer(meta.get("resourceVersion"), known):
                watched = self._overlaid.pop(name, None)
                if watched is not None:
                    self._put_node(*watched)
                return False
            self.upsert_node(obj, from_request=True)
            return True

    def _unindex(self, node: str | None, uid: str) -> None:
        on = self._pods_on.get(node or "")
        if on is not None:
            on.discard(uid)
            if not on:
                del self._pods_on[node or ""]

    def _recheck_pods_on(self, node: str) -> None:
        """Re-read the placement of every pod on `node` (its GPUs changed or just arrived)."""
        for uid in list(self._pods_on.get(node, ())):
            rec = self._pods[uid]
            self._fold_pod(rec.request, rec.seen, rec.spec_problem)

    def _release_lost_holds(self, node: Node) -> None:
        """Drop the holds on `node` that name GPUs it no longer has (or has under another
        UUID): decisions made before its inventory changed. Bound as they were, 8 one-GPU pods
        went to a node left with 4 GPUs; kept, they were charged to whatever GPU was free and
        stood in every later decision's way. Their pods' binds decide again; a hold whose
        Binding was sent stays (the pod is bound there: charged as the watch will show it)."""
        for key, alloc in self.ledger.unsent_on(node.name):
            if forged(alloc.placement, node):
                self.ledger.release(key)

    def delete_node(self, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata")
        name = str(meta.get("name") if isinstance(meta, Mapping) else None)
        with self._lock:
            if name in self._nodes:
                self._gone_nodes.bury(name)
            self._nodes.pop(name, None)
            self._node_versions.pop(name, None)
            self._overlaid.pop(name, None)
            self._nodes_view = None
            self._node_problems.pop(name, None)
            self._snaps.mark_node(name)
            self._touch()

    def upsert_pod(self, obj: Mapping[str, Any], *, modified: bool = False) -> None:
        """Fold one pod. A pod Tessera would refuse (two GPU kinds, a bad `tessera.io/qos`...)
        raises `PodParseError` while it is pending, but once bound (or known) it is folded
        all the same, read as far as it can be: it holds GPUs whatever it says, and dropping it
        would leave them free for the next pod. `modified`: a MODIFIED event, skipped when
        stale (`stale_modified`)."""
        try:
            pod, problem = parse_pod(obj, self._gangs.min_members), ""
        except PodParseError:
            spec = obj.get("spec") if isinstance(obj, Mapping) else None
            bound = isinstance(spec, Mapping) and isinstance(spec.get("nodeName"), str)
            meta = obj.get("metadata") if isinstance(obj, Mapping) else None
            uid = meta.get("uid") if isinstance(meta, Mapping) else None
            if not bound and not (isinstance(uid, str) and uid in self._pods):
                raise
            problems: list[str] = []
            pod = parse_pod(obj, self._gangs.min_members, problems)  # raises if unreadable at all
            problem = "; ".join(problems)
        got = seen(obj)
        with self._lock:
            if modified:
                old = self._pods.get(pod.uid)
                rv = obj["metadata"].get("resourceVersion")  # (parse_pod read the metadata)
                known = old.seen.version if old else None
                if stale_modified(self._gone_pods, pod.uid, rv, known):
                    return
            self._gone_pods.revive(pod.uid)
            self._fold_pod(pod, got, problem)

    def _fold_pod(self, pod: PodRequest, obj: PodSeen, spec_problem: str = "") -> None:
        """Fold one parsed pod (the caller holds the lock). `spec_problem`: why Tessera would
        not have scheduled it (`upsert_pod`), kept in the record beside any placement problem."""
        prev = self._keys.get(pod.key)
        if prev is not None and prev != pod.uid and prev in self._pods:
            # The same name with a new UID: the old pod is gone (deleted and created again
            # while the watch was away, so no DELETED came); its GPUs must not stay held.
            self._drop_pod(prev)
        node = self._nodes.get(pod.node_name) if pod.node_name else None
        alloc, problem = allocation_of(pod, obj, node)
        if alloc is not None and not problem and not is_derived(alloc) and node is not None:
            others = self._snaps.bound_on.get(node.name, {})
            problem = claims_taken(node, [a for u, a in others.items() if u != alloc.uid], alloc)
            if problem:  # another pod's placement holds those GPUs: charged by requests
                alloc, _ = allocation_of(pod, PodSeen(obj.phase, None), node)
        old = self._pods.get(pod.uid)
        if (
            old is not None
            and old.request.key != pod.key
            and self._keys.get(old.request.key) == pod.uid
        ):
            # The UID under another name (a snapshot naming it twice, in two namespaces): the
            # old name must not keep answering for it (bind, explain, a DELETED by name).
            del self._keys[old.request.key]
        if problem and (old is None or old.placement_problem != problem):
            self.rejected_annotations += 1  # counted once per distinct rejection
        held = self.ledger.peek(pod.uid)
        # Bound, annotation not yet seen: our own decision knows the exact GPUs.
        if (
            alloc is not None
            and held is not None
            and is_derived(alloc)
            and held.placement.node == alloc.placement.node
        ):
            alloc = Allocation(
                pod.key, pod.uid, held.placement, pod.priority, True, cpu_milli=pod.cpu_milli
            )
        self._snaps.mark(old.allocation if old is not None else None, alloc)
        if old is not None and old.request.node_name != pod.node_name:
            self._unindex(old.request.node_name, pod.uid)
        if pod.node_name:
            self._pods_on.setdefault(pod.node_name, set()).add(pod.uid)
        if old is not None:
            order = old.order
        else:
            order = self._relisted.get(pod.uid, 0)
            if not order:
                self._order += 1
                order = self._order
        self._pods[pod.uid] = PodRecord(pod, obj, alloc, spec_problem, problem, order)
        self._gangs.move(pod.uid, old.request if old is not None else None, pod)
        self._snaps.hold(pod.uid, old.allocation if old is not None else None, alloc)
        self._keys[pod.key] = pod.uid
        if old is None:
            for listener in self.new_pod_listeners:
                listener(pod)
        if alloc is not None or obj.phase in DONE_PHASES:
            self.ledger.release(pod.uid)  # the apiserver now speaks for this pod
        if old is not None and old.allocation is not None and alloc is None:
            self.ledger.drop_failed_gangs()  # it left (Succeeded/Failed): its room is free
        self._touch()

    def delete_pod(self, obj: Mapping[str, Any]) -> None:
        """Forget a pod by its UID, or by its name when the object carries none (a DELETED
        without a UID was looked up by name as a UID and left the pod, and its GPUs, held)."""
        meta = obj.get("metadata")
        if not isinstance(meta, Mapping):
            raise StateError("pod metadata must be an object")
        uid = meta.get("uid")
        if not isinstance(uid, str) or not uid:
            key = pod_key(obj)
            with self._lock:
                uid = self._keys.get(key, key)
        self._drop_pod(uid)

    def _drop_pod(self, uid: str) -> None:
        """Forget pod `uid` and free what it held."""
        with self._lock:
            rec = self._pods.pop(uid, None)
            if rec is not None:
                self._gone_pods.bury(uid)
                if self._keys.get(rec.request.key) == uid:
                    self._keys.pop(rec.request.key, None)
                self._gangs.move(uid, rec.request, None)
                self._unindex(rec.request.node_name, uid)
                self._snaps.mark(rec.allocation, None)
                self._snaps.hold(uid, rec.allocation, None)
            held = self.ledger.release(uid)
            if held or (rec is not None and rec.allocation is not None):
                self.ledger.drop_failed_gangs()  # its room is free: failed plans may fit now
            self._touch()

    def upsert_podgroup(self, obj: Mapping[str, Any], deleted: bool) -> None:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        if not isinstance(meta, Mapping) or not isinstance(spec, Mapping):
            raise StateError("PodGroup metadata and spec must be objects")
        key = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
        n = spec.get("minMember")
        with self._lock:
            if deleted or not isinstance(n, int) or isinstance(n, bool):
                self._gangs.min_members.pop(key, None)
            else:
                self._gangs.min_members[key] = n
                self._regang_min(key, bounded_min_member(n))
            self._touch()

    def _regang_min(self, gang: str, n: int) -> None:
        """Give gang `gang`'s folded pods the PodGroup's minMember `n` (caller locks). A
        PodGroup created or changed after its pods left them with the minimum of the moment
        (1, or their annotation) while filters read the PodGroup's: `recover` took a 4-member
        gang with one bound as complete and never held the others' GPUs again. A plan made
        for the old minimum is dropped (the next member's filter plans again). A PodGroup
        deleted leaves its pods' last minimum (their own annotation is not kept)."""
        changed = False
        for uid in self._gangs.uids(gang):
            rec = self._pods[uid]
            if rec.request.gang is not None and rec.request.gang.min_member != n:
                gang_ref = GangRef(gang, n)
                self._pods[uid] = replace(rec, request=replace(rec.request, gang=gang_ref))
                changed = True
        if changed:
            self.ledger.drop_gang(gang)

    @property
    def lock(self) -> threading.RLock:
        """Held by the extender around check-then-reserve, so two decisions never interleave."""
        return self._lock

    def _touch(self) -> None:
        self._version += 1

    # ---- reads ---------------------------------------------------------------------------
    def snapshot(self, now: float) -> ClusterState:
        """The current state at time `now` (expired reservations are left out)."""
        with self._lock:
            if self._nodes_view is None:
                self._nodes_view = MappingProxyType(dict(self._nodes))
            return self._snaps.take(self._nodes_view, self.ledger, self._version, now)

    def pod(self, key_or_uid: str) -> PodRecord | None:
        with self._lock:
            uid = self._keys.get(key_or_uid, key_or_uid)
            return self._pods.get(uid)

    def pods(self) -> list[PodRecord]:
        with self._lock:
            return list(self._pods.values())

    def first_seen(self, uid: str) -> int | None:
        """When the store first saw pod `uid`: 1 for the first UID, then one more per new
        UID, kept for a known UID across relists (None: not in the store). The order gangs
        wait in (`scheduler.state.gangs`)."""
        with self._lock:
            rec = self._pods.get(uid)
            return None if rec is None else rec.order

    def gang_pods(self, gang: str) -> list[PodRequest]:
        with self._lock:
            return [r.request for r in self._gang_records(gang)]

    def gang_records(self) -> dict[str, list[PodRecord]]:
        """Every gang's pod records, by the gang index (no scan of every pod)."""
        with self._lock:
            return {g: [self._pods[u] for u in us] for g, us in self._gangs.gangs().items()}

    def gang_first_seen(self, gang: str) -> int | None:
        """The first-seen order of `gang`'s earliest pod in the store (None: it holds none)."""
        with self._lock:
            return min((r.order for r in self._gang_records(gang)), default=None)

    def _gang_records(self, gang: str) -> list[PodRecord]:
        return [self._pods[uid] for uid in self._gangs.uids(gang)]

    def has_node(self, name: str) -> bool:
        return name in self._nodes  # one dict lookup: atomic, no lock needed

    def node_problem(self, name: str) -> str:
        with self._lock:
            return self._node_problems.get(name, "")

    def min_members(self) -> dict[str, int]:
        with self._lock:
            return dict(self._gangs.min_members)

    def min_member(self, gang: str) -> int | None:
        with self._lock:
            return self._gangs.min_members.get(gang)
