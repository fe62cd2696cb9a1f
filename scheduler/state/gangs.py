"""Gang coordination: plan a whole gang at its first member's filter, hold every slot, steer.

A plan's slots are held in the ledger under `slot_key(gang, i)` until a member binds to a slot on
that node (the hold then moves to the member's UID). A gang that cannot be placed gets a short-
lived failed record, so every node fails with a reason naming the gang, and planning is retried
once it lapses (`FAILED_RETRY_S`: member retries in between do not re-plan, so a retry storm costs
one plan per gang per window) or as soon as capacity may have come back: the store drops every
failed record when a pod holding GPUs leaves or a node change may add room
(`scheduler.state.store`). Without that, kube-scheduler's retry 1 ms after the deletion that freed
a gang's room, decided before this watch had the deletion, left the gang failed for the whole
window (benchmarks/RESULTS.md, Digital twin, round 4). The same holds for room that comes back
while a plan is being made (the solver runs outside the store lock): a plan made on a snapshot
taken before the store's last such drop (`Ledger.room`) is made again on the newer state (a failure
is never recorded from it), gangs waiting before it first. And a gang that ranks after the keeper
(below) plans without the kept nodes, so when a node leaves the kept set (the keeper starts, the
keep ends or moves) every failed record is dropped too (`_set_keep`; benchmarks/RESULTS.md, Digital
twin, round 7). Everything expires: capacity is never held forever.

The first waiting gang that cannot be placed also gets nodes kept for it:
`scheduler.policy.gang.drain_budgets`, the nodes (with a GPU budget on each) where it waits for
the fewest busy GPUs to drain. Gangs wait in one order: priority (higher first), then the order
the store first saw the gang's earliest member (`ClusterStore.first_seen`). Two paths give it:

- `recover` (every few seconds, `cli.serve`): among the first `KEEP_EXAMINED` waiting gangs in
  that order (no member bound, a member pending, no live plan), the first whose plan is
  infeasible now and that `drain_budgets` can host on drained nodes gets the keep, taking it
  from any later gang; the keeper's keep is renewed and its nodes recomputed each pass, so the
  set follows whichever nodes drain first. A gang that fits now is passed over (kube-scheduler
  places it; the pass holds nothing for it), and so, for `NO_ROOM_RETRY_S`, is a gang no
  drained set would host; a keeper that fits now keeps its nodes, unrenewed, until it starts.
  The pass drops a keep whose gang has a member bound or none pending. This pass
  needs no member to reach the extender: kube-scheduler's own NodeResourcesFit rejects a gang
  of 8-GPU members on every node while the GPUs are busy, so such a gang never reaches
  `filter`, and a keep given only there went to later, smaller gangs (benchmarks/RESULTS.md,
  Digital twin, rounds 6 and 6b).
- `ensure_plan` (a member's filter): a gang that fails to plan takes the keep when no live keep
  exists, the keep is its own, or it ranks before the keeper; a gang ranking after the keeper
  plans outside the kept nodes.

Room that makes a waiting gang fit often comes back outside its kept nodes, and kube-
scheduler's queue may try a later pod first (a later gang, a single pod). So before a pod is
decided, `earlier_first` plans the gangs that wait before it (the keeper and the first
`KEEP_EXAMINED` of the last `recover` pass, each without a live plan or a failure that still
stands): one that fits now starts first, and the pod is decided on what is left
(benchmarks/RESULTS.md, Digital twin, round 7). It costs a plan per such gang only when its
failure has been dropped (room came back) or lapsed. The first of them that does not fit and
may take the keep (the keeper itself, or any when none is held) gets its nodes chosen there,
on that state: so the keep follows the drain at the first filter after a departure, and passes
to the first waiting gang when its keeper starts, not 2 s later at the pass (one capacity pass
per such filter; benchmarks/RESULTS.md, Digital twin, round 8).

Until the keeper starts, pods of its priority or lower go on its nodes only within the budget
(`scheduler.policy.gang.within_budget`); higher-priority pods are not kept out. The keep ends
when its gang gets a plan (it starts), when all its pods are deleted, when no drained set would
host it, or when it lapses (`ttl_s`) unrenewed. The replay simulator's tessera policy keeps
nodes for the first waiting gang in arrival order (`simulator.policies.replay.tessera`); the
live order differs from it in that the extender sees a gang only once the watch delivers its
pods, only the first `KEEP_EXAMINED` waiting gangs are planned per pass, and a later gang that
fails at its filter while no keep is held takes it when no gang ranked before it is among
those (or its failure still stands). Without a keep a
gang of whole nodes waited while smaller pods took every GPU that freed up
(benchmarks/RESULTS.md, the bundled study).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from scheduler.policy.capacity import placement_conflicts
from scheduler.policy.framework import Profile
from scheduler.policy.gang import plan_members
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    GangPlanRecord,
    Placement,
    PodRequest,
    slot_key,
)
from scheduler.state.drain_nodes import KeepNodes
from scheduler.state.gang_keep import LAST, DrainKeep, GangKeep, Rank
from scheduler.state.gang_slots import GangSlots
from scheduler.state.store import DONE_PHASES, ClusterStore

log = logging.getLogger("tessera.gangs")

FAILED_RETRY_S = 5.0  # how long a failed plan stands, unless capacity comes back first
# Waiting gangs `recover` plans per pass for the keep. Each plan may run CP-SAT up to its time
# limit (1 s) and the pass comes every EXPIRE_EVERY_S (2 s): planning every waiting gang would
# fall behind under a long queue. Only the first infeasible gang takes the keep, gangs that fit
# now start and leave the front, so a few suffice; gangs no drained set could host are skipped
# for NO_ROOM_RETRY_S so they do not hold the front.
KEEP_EXAMINED = 4
NO_ROOM_RETRY_S = 30.0


class GangCoordinator(GangSlots, GangKeep):
    def __init__(
        self,
        store: ClusterStore,
        profile: Profile,
        ttl_s: float,
        telemetry: Callable[[ClusterState], ClusterState] | None = None,
    ) -> None:
        self.store = store
        self.profile = profile
        self.ttl_s = ttl_s
        self.telemetry = telemetry  # (D) live health/load, as the Extender's views get it
        self.keep: DrainKeep | None = None  # guarded by the store lock
        self._no_room: dict[str, float] = {}  # gang -> until when `recover` passes it over
        # The waiting gangs by rank at the last `recover` pass (`earlier_first` reads them).
        self._queue: list[tuple[Rank, str]] = []
        self.keep_nodes = KeepNodes(store, profile)  # where a waiting gang's keep goes

    def ensure_plan(
        self,
        pod: PodRequest,
        now: float,
        choose_keep: bool = True,
        ttl_s: float | None = None,
        first: bool = True,
    ) -> str | None:
        """Plan `pod`'s gang if no live plan exists: "planned", "steered", "failed" or None
        (None: the gang already has its minimum bound, so members schedule one by one).
        `choose_keep` False (`earlier_first`, on other pods' filters): a failed plan is
        recorded without choosing nodes to keep for the gang, a capacity pass over every node;
        the 2 s `recover` pass chooses them (the gang's own filter too, once no failure
        stands). `ttl_s`: how long a plan made now holds its slots (default `self.ttl_s`;
        the extender passes less for a member the watch has not delivered). `first` False
        (`earlier_first`'s own calls): the gangs waiting before this one are not planned
        first again here (that loop visits them in order itself); see `earlier_first`.

        The solver runs outside the store lock (other pods keep being served); its plan is
        then re-checked slot by slot against the state of that moment before it is held.
        """
        assert pod.gang is not None
        name = pod.gang.name
        for attempt in range(3):  # the cluster may move while we plan: re-plan a few times
            with self.store.lock:
                self._live_keep(now)  # a keep that ended drops the failures it caused
                rec = self.store.ledger.gang(name, now)
            if rec is None and first:  # (again after room came back mid-plan: they may fit)
                self.earlier_first(pod, now)  # gangs waiting before it that fit now plan first
            with self.store.lock:
                rec = self.store.ledger.gang(name, now)
                if rec is not None and self._planned_without(rec, pod):
                    rec = None  # planned before this member arrived, unlike it: plan again
                if rec is not None:
                    return "failed" if rec.reason else "steered"
                members = self._members(pod)
                if not members:
                    return None
                self.store.ledger.drop_gang(name)
                snap = self.store.snapshot(now)
                room = self.store.ledger.room
            if self.telemetry is not None:  # (D) the same live health/load as filter views
                snap = self.telemetry(snap)
            keep = self.kept_from(pod, now)
            if keep is not None and self._rank(name, pod.priority) < keep.rank:
                keep = None  # it waits before the keeper: not kept out
            names = [n for n in sorted(snap.nodes) if keep is None or n not in keep.nodes]
            plan = plan_members(snap, members, names, self.profile, gang=name)
            kept = self._drain_targets(snap, members, pod, now) \
                if choose_keep and plan.status == "infeasible" else None  # fmt: skip
            with self.store.lock:
                if self.store.ledger.gang(name, now) is not None:
                    continue  # another member planned meanwhile: use that plan
                if self.store.ledger.room != room and (attempt < 2 or plan.status == "infeasible"):
                    continue  # room came back while it planned (a departure, a keep ended)
                if plan.status == "infeasible":
                    reason = plan.reason
                    if kept:
                        uids = frozenset(m.uid for m in members)
                        rank = self._rank(name, pod.priority)
                        self._set_keep(DrainKeep(name, kept, pod.priority, now + self.ttl_s,
                                                 uids, rank), "filter")  # fmt: skip
                        reason += f"; nodes kept for it while they drain: {', '.join(sorted(kept))}"
                    elif choose_keep and self.keep is not None and self.keep.gang == name:
                        self._set_keep(None, "no drained set hosts it")
                    self.store.ledger.set_gang(
                        GangPlanRecord(name, (), now + FAILED_RETRY_S, reason=reason)
                    )
                    return "failed"
                ttl = self.ttl_s if ttl_s is None else ttl_s
                if self._hold(name, plan.slots, members, pod.priority, now, plan.status, ttl):
                    if self.keep is not None and self.keep.gang == name:
                        self._set_keep(None, "it starts")  # its nodes are everyone's again
                    return "planned"
        return "failed"

    def plan_or_fail(
        self,
        pod: PodRequest,
        now: float,
        choose_keep: bool = True,
        ttl_s: float | None = None,
        first: bool = True,
    ) -> str | None:
        """`ensure_plan`, with anything the planners raise recorded as the gang's failed plan
        (a one-line reason, standing `FAILED_RETRY_S` or until room comes back, as any
        failure) instead of raised. One pending pod of a gang with minMember 600 made the
        drain planner raise RecursionError out of the `recover` pass and out of every GPU
        pod's filter while that gang waited first."""
        try:
            return self.ensure_plan(pod, now, choose_keep, ttl_s, first)
        except Exception as exc:  # noqa: BLE001 -- one gang must not fail every other pod
            assert pod.gang is not None
            self._failed(pod.gang.name, now, exc)
            return "failed"

    def _failed(self, gang: str, now: float, exc: BaseException) -> None:
        why = " ".join(f"planning gang {gang} failed: {type(exc).__name__}: {exc}".split())
        log.warning("%s", why[:300])
        with self.store.lock:
            rec = GangPlanRecord(gang, (), now + FAILED_RETRY_S, reason=why[:300])
            self.store.ledger.set_gang(rec)

    def _planned_without(self, rec: GangPlanRecord, pod: PodRequest) -> bool:
        """`rec` is a live plan made before watched member `pod` arrived, for members unlike
        it (the missing ones are planned as copies of the member that asked first), no slot
        claimed yet (caller locks). A 1-GPU member planned its 8-GPU peer as a 1-GPU copy,
        and the peer then failed "no free slot left" for the plan's whole 120 s."""
        return (
            not rec.reason
            and not rec.members
            and not rec.open_slots(pod.gpu)
            and self.store.pod(pod.uid) is not None
        )

    def recover(self, now: float) -> list[str]:
        """Plan every gang left partly bound (some members bound, fewer than its minimum, some
        waiting) that has no live plan; returns the gangs it planned.

        A restarted extender lost the plan that held the missing members' GPUs (it was killed
        between two members' binds), and a plan may lapse while a member backs off: a later
        pod could then take those GPUs and leave the gang part-run for good, since nothing
        unbinds its members. Called before the service reports ready and then periodically.
        """
        first: dict[str, PodRequest] = {}  # gang -> its first waiting member (by key)
        bound: dict[str, int] = {}
        order: dict[str, int] = {}  # gang -> first-seen order of its earliest pod
        pending: set[str] = set()  # gangs with a pod waiting in the Pending phase
        for rec in self.store.pods():
            pod = rec.request
            if pod.gang is None:
                continue
            name = pod.gang.name
            order[name] = min(order.get(name, LAST), rec.order)
            if pod.node_name is not None:
                bound[name] = bound.get(name, 0) + 1
                continue
            if name not in first or pod.key < first[name].key:
                first[name] = pod
            if rec.seen.phase not in DONE_PHASES:
                pending.add(name)
        planned = []
        for name, pod in sorted(first.items()):
            assert pod.gang is not None
            partly = 0 < bound.get(name, 0) < pod.gang.min_member
            if partly and self.plan_or_fail(pod, now) == "planned":
                planned.append(name)
        waiting = {n: first[n] for n in pending if n not in bound}
        self._queue = sorted(((-p.priority, order[n]), n) for n, p in waiting.items())
        self._keep_first_waiting(waiting, {n: (-p.priority, order[n]) for n, p in waiting.items()},
                                 now)  # fmt: skip
        return planned

    def earlier_first(self, pod: PodRequest, now: float) -> None:
        """Before `pod` is decided, plan the waiting gangs that rank before it (priority, then
        first seen; the keeper and the first `KEEP_EXAMINED` of the last `recover` pass) and
        that have no live record (a plan, or a failure that still stands): each that fits now
        starts, so `pod` is decided on what is left; each that does not records its failure
        without choosing nodes to keep (left to the 2 s `recover` pass: choosing them here
        cost every GPU pod's filter a capacity pass over every node per waiting gang after
        each departure, `benchmarks/bench_gang_filter.py`). Without this a later pod that
        kube-scheduler's queue happened to try first took the room an earlier gang fitted in
        (benchmarks/RESULTS.md, Digital twin, round 7).

        The keeper is the exception, and so is the gang that would take the keep (none is
        held, or it waits before the keeper; not one the pass found no drained set for): when
        its failure was dropped (room came back, the keep ended, or it lapsed) its nodes are
        chosen here, on the state `pod` is decided on, so the keep follows the drain at the
        first filter after a departure and passes to the first waiting gang when its keeper
        starts, not at the next pass. One capacity pass per such filter: the first candidate
        that does not fit takes the keep, and every later one ranks after it. Chosen only at
        the pass, the keep stayed on busy nodes while a departure emptied another, and went
        to whichever later gang reached its own filter first when the keeper started; pods
        ranked after the first waiting gang took that room within milliseconds of wall time
        (benchmarks/RESULTS.md, Digital twin, round 8: the 200-job slice's 4 x 8-GPU gangs,
        2-3 pp of useful allocation).

        The candidates' ranks are the last pass's, `pod`'s is live: a gang whose pods were
        replaced since ranks later now than in the queue, so two such gangs each ranked after
        the other's queued rank, and planning either first (with its own gangs-before-it
        first) recursed until a RecursionError out of every filter. The loop plans each
        candidate with `first=False`: those ranked before it come earlier in this loop."""
        if pod.gang is not None:
            mine = self._rank(pod.gang.name, pod.priority)
        else:
            seen = self.store.first_seen(pod.uid)
            mine = (-pod.priority, LAST if seen is None else seen)
        with self.store.lock:
            keep = self._live_keep(now)
        cands = sorted({*self._queue[:KEEP_EXAMINED], *([(keep.rank, keep.gang)] if keep else [])})
        for rank, gang in cands:
            if rank >= mine:
                return
            if pod.gang is not None and gang == pod.gang.name:
                continue
            with self.store.lock:
                if self.store.ledger.gang(gang, now) is not None:
                    continue  # it has a plan, or its failure stands (no room came back since)
                peers = self.store.gang_pods(gang)
                cur = self._live_keep(now)  # (an earlier candidate may have taken it)
            if any(p.node_name is not None for p in peers):
                continue  # started (or partly bound: `recover` re-plans it)
            waiting = [p for p in peers if p.node_name is None]
            if waiting:  # the keeper's nodes follow the drain; see the docstring
                choose = (cur is None or cur.gang == gang or rank < cur.rank) \
                    and gang not in self._no_room  # fmt: skip
                first = min(waiting, key=lambda p: p.key)
                self.plan_or_fail(first, now, choose_keep=choose, first=False)

    def _keep_first_waiting(
        self, waiting: dict[str, PodRequest], ranks: dict[str, Rank], now: float
    ) -> None:
        """Give the keep to the first waiting gang (by `ranks`) that does not fit now and that
        drained nodes would host, renewing it when it is the keeper's; see the module
        docstring. `waiting`: gang -> a waiting member (no member bound, one pending)."""
        with self.store.lock:
            if self.keep is not None and self.keep.gang not in waiting:
                self._set_keep(None, "no pod waits")  # it started, or none of its pods waits
            self._no_room = {g: t for g, t in self._no_room.items() if g in waiting and t > now}
        examined = 0
        for name in sorted(waiting, key=lambda g: (ranks[g], g)):
            if examined >= KEEP_EXAMINED:
                return
            pod, rank = waiting[name], ranks[name]
            with self.store.lock:
                keep = self.keep
                if keep is not None and keep.expires_at <= now:
                    keep = None
                    self._set_keep(None, "lapsed")
                if keep is not None and keep.gang != name and keep.rank < rank:
                    return  # an earlier gang keeps nodes: no later one may take them
                rec = self.store.ledger.gang(name, now)
                if (rec is not None and not rec.reason) or name in self._no_room:
                    continue  # a live plan steers it / no drained set hosts it (for a while)
                members = self._members(pod)
                snap = self.store.snapshot(now)
            if not members:
                continue
            if self.telemetry is not None:  # (D) the same live health/load as ensure_plan
                snap = self.telemetry(snap)
            examined += 1
            names = sorted(snap.nodes)
            mine = keep is not None and keep.gang == name
            try:
                plan = plan_members(snap, members, names, self.profile, gang=name)
                kept = self.keep_nodes.choose(snap, members) if plan.status == "infeasible" else {}
            except Exception as exc:  # noqa: BLE001 -- as `plan_or_fail`: pass it over a while
                self._failed(name, now, exc)
                self._no_room[name] = now + NO_ROOM_RETRY_S
                continue
            if plan.status != "infeasible":
                if mine:
                    return  # it fits now: it keeps its nodes (unrenewed) until it starts
                continue  # kube-scheduler places it
            with self.store.lock:
                cur = self.keep
                if cur is not None and cur.gang != name and cur.expires_at > now \
                        and cur.rank < rank:  # fmt: skip
                    return  # an earlier gang took the keep meanwhile (at its filter)
                if not kept:
                    self._no_room[name] = now + NO_ROOM_RETRY_S
                    if cur is not None and cur.gang == name:
                        self._set_keep(None, "no drained set hosts it")
                    continue
                uids = frozenset(m.uid for m in members)
                self._set_keep(DrainKeep(name, kept, pod.priority, now + self.ttl_s, uids, rank),
                               "pass")  # fmt: skip
            return

    def _drain_targets(
        self, snap: ClusterState, members: list[PodRequest], pod: PodRequest, now: float
    ) -> dict[str, int] | None:
        """Nodes to keep for this gang, when it is the one to keep them for: no live keep, the
        keep is its own (recomputed: follow whichever nodes drain first), or it ranks before
        the keeper. None when an earlier gang keeps nodes or none would host it even drained."""
        assert pod.gang is not None
        with self.store.lock:
            keep = self.keep
            if keep is not None and keep.expires_at <= now:
                keep = None
        other = keep is not None and keep.gang != pod.gang.name
        if other and keep is not None and self._rank(pod.gang.name, pod.priority) >= keep.rank:
            return None  # it waits after the keeper
        return self.keep_nodes.choose(snap, members) or None

    def _members(self, pod: PodRequest) -> list[PodRequest]:
        """Who to plan for: waiting members up to the minimum still missing (caller locks)."""
        assert pod.gang is not None
        peers = self.store.gang_pods(pod.gang.name)
        bound = sum(1 for p in peers if p.node_name is not None)
        need = pod.gang.min_member - bound
        if need <= 0:
            return []
        waiting = sorted((p for p in peers if p.node_name is None), key=lambda p: p.key)
        if all(p.uid != pod.uid for p in waiting):
            waiting.append(pod)
        # Members not yet seen are assumed to ask what this one asks (homogeneous gangs).
        return [*waiting, *([pod] * max(0, need - len(waiting)))]

    def _hold(
        self,
        name: str,
        slots: tuple[Placement, ...],
        members: list[PodRequest],
        priority: int,
        now: float,
        status: str,
        ttl_s: float,
    ) -> bool:
        """Hold every slot for `ttl_s` if each still fits exactly now; False (nothing held)
        otherwise."""
        expires = now + ttl_s
        snap = self.store.snapshot(now)
        holds = {}
        for i, slot in enumerate(slots):
            key = slot_key(name, i)
            hold = Allocation(f"{name}#{i}", key, slot, priority, False, expires, name)
            node = snap.nodes.get(slot.node)
            if node is None or placement_conflicts(node, snap.allocations_on(slot.node), hold):
                return False
            snap = snap.with_allocations({hold.uid: hold})
            holds[hold.uid] = hold
        for key, hold in holds.items():
            self.store.ledger.reserve(key, hold)
        requests = tuple(m.gpu for m in members)
        self.store.ledger.set_gang(
            GangPlanRecord(name, slots, expires, status=status, requests=requests)
        )
        return True
