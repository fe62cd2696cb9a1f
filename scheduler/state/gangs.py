"""Gang coordination: plan a whole gang at its first member's filter, hold every slot, steer.

A plan's slots are held in the ledger under `slot_key(gang, i)` until a member binds to a slot
on that node (the hold then moves to the member's UID). A gang that cannot be placed gets a
short-lived failed record, so every node fails with a reason naming the gang, and planning is
retried once it lapses (`FAILED_RETRY_S`: member retries in between do not re-plan, so a
retry storm costs one plan per gang per window) or as soon as capacity may have come back: the
store drops every failed record when a pod holding GPUs leaves or a node change may add room
(`scheduler.state.store`). Without that, kube-scheduler's retry 1 ms after the deletion that
freed a gang's room, decided before this watch had the deletion, left the gang failed for the
whole window (benchmarks/RESULTS.md, Digital twin, round 4). Everything expires: capacity is
never held forever.

The first gang that cannot be placed (priority, then the order gangs failed) also gets nodes
kept for it: `scheduler.policy.gang.drain_budgets`, the nodes (with a GPU budget on each) where
it waits for the fewest busy GPUs to drain, recomputed at each retry so the set follows
whichever nodes drain first. Until it starts, pods of its priority or lower go there only
within the budget (`scheduler.policy.gang.within_budget`) and other gangs do not plan there;
higher-priority pods are not kept out. This is the decision the replay simulator's tessera
policy makes (`simulator.policies.replay.tessera`); without it a gang of whole nodes waited
while smaller pods took every GPU that freed up (benchmarks/RESULTS.md, the bundled study).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from scheduler.policy.capacity import placement_conflicts
from scheduler.policy.framework import Profile
from scheduler.policy.gang import drain_budgets, plan_members
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    GangPlanRecord,
    Placement,
    PodRequest,
    slot_key,
)
from scheduler.state.store import ClusterStore

FAILED_RETRY_S = 5.0  # how long a failed plan stands, unless capacity comes back first


@dataclass(frozen=True, slots=True)
class DrainKeep:
    """Nodes kept for a waiting gang until it starts (or `expires_at`, renewed per retry):
    node -> GPUs of it kept (its budget)."""

    gang: str
    nodes: Mapping[str, int]
    priority: int
    expires_at: float
    members: frozenset[str]  # UIDs of its waiting pods: the keep ends when all are deleted


class GangCoordinator:
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

    def kept_from(self, pod: PodRequest, now: float) -> DrainKeep | None:
        """The nodes `pod` may not take because a waiting gang keeps them (None: none are).

        A gang's own members and pods of higher priority are never kept out. A keep whose gang
        has no pod left (deleted) or that was not renewed in time is dropped here.
        """
        with self.store.lock:
            keep = self.keep
            if keep is None:
                return None
            if keep.expires_at <= now or not any(self.store.pod(u) for u in keep.members):
                self.keep = None
                return None
        if (pod.gang is not None and pod.gang.name == keep.gang) or pod.priority > keep.priority:
            return None
        return keep

    def ensure_plan(self, pod: PodRequest, now: float) -> str | None:
        """Plan `pod`'s gang if no live plan exists: "planned", "steered", "failed" or None
        (None: the gang already has its minimum bound, so members schedule one by one).

        The solver runs outside the store lock (other pods keep being served); its plan is
        then re-checked slot by slot against the state of that moment before it is held.
        """
        assert pod.gang is not None
        name = pod.gang.name
        for _ in range(3):  # the cluster may move while we plan: re-plan a couple of times
            with self.store.lock:
                rec = self.store.ledger.gang(name, now)
                if rec is not None:
                    return "failed" if rec.reason else "steered"
                members = self._members(pod)
                if not members:
                    return None
                self.store.ledger.drop_gang(name)
                snap = self.store.snapshot(now)
            if self.telemetry is not None:  # (D) the same live health/load as filter views
                snap = self.telemetry(snap)
            keep = self.kept_from(pod, now)
            names = [n for n in sorted(snap.nodes) if keep is None or n not in keep.nodes]
            plan = plan_members(snap, members, names, self.profile, gang=name)
            kept = self._drain_targets(snap, members, pod, now) if plan.status == "infeasible" \
                else None  # fmt: skip
            with self.store.lock:
                if self.store.ledger.gang(name, now) is not None:
                    continue  # another member planned meanwhile: use that plan
                if plan.status == "infeasible":
                    reason = plan.reason
                    if kept:
                        uids = frozenset(m.uid for m in members)
                        self.keep = DrainKeep(name, kept, pod.priority, now + self.ttl_s, uids)
                        reason += f"; nodes kept for it while they drain: {', '.join(sorted(kept))}"
                    elif self.keep is not None and self.keep.gang == name:
                        self.keep = None  # not even drained nodes would host it now
                    self.store.ledger.set_gang(
                        GangPlanRecord(name, (), now + FAILED_RETRY_S, reason=reason)
                    )
                    return "failed"
                if self._hold(name, plan.slots, members, pod.priority, now, plan.status):
                    if self.keep is not None and self.keep.gang == name:
                        self.keep = None  # it starts: its nodes are everyone's again
                    return "planned"
        return "failed"

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
        for rec in self.store.pods():
            pod = rec.request
            if pod.gang is None:
                continue
            name = pod.gang.name
            if pod.node_name is not None:
                bound[name] = bound.get(name, 0) + 1
            elif name not in first or pod.key < first[name].key:
                first[name] = pod
        planned = []
        for name, pod in sorted(first.items()):
            assert pod.gang is not None
            partly = 0 < bound.get(name, 0) < pod.gang.min_member
            if partly and self.ensure_plan(pod, now) == "planned":
                planned.append(name)
        return planned

    def _drain_targets(
        self, snap: ClusterState, members: list[PodRequest], pod: PodRequest, now: float
    ) -> dict[str, int] | None:
        """Nodes to keep for this gang, when it is the one to keep them for: no live keep, the
        keep is its own (recomputed: follow whichever nodes drain first), or it outranks the
        keeper. None when another gang keeps nodes or none would host it even drained."""
        assert pod.gang is not None
        with self.store.lock:
            keep = self.keep
            if keep is not None and keep.expires_at <= now:
                keep = None
        if keep is not None and keep.gang != pod.gang.name and pod.priority <= keep.priority:
            return None
        return drain_budgets(snap, members, sorted(snap.nodes), self.profile) or None

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
    ) -> bool:
        """Hold every slot if each still fits exactly now; False (nothing held) otherwise."""
        expires = now + self.ttl_s
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

    def free_slot_keys(self, snap: ClusterState, pod: PodRequest) -> list[str]:
        """Holds of the gang's unclaimed slots (this member may take any of them)."""
        if pod.gang is None:
            return []
        rec = snap.gangs.get(pod.gang.name)
        if rec is None or pod.uid in rec.members:
            return []
        return [slot_key(rec.name, i) for i in rec.open_slots(pod.gpu)]

    def _slot_index(
        self, pod: PodRequest, node: str, now: float
    ) -> tuple[GangPlanRecord, int] | None:
        if pod.gang is None:
            return None
        rec = self.store.ledger.gang(pod.gang.name, now)
        if rec is None or rec.reason:
            return None
        mine = rec.members.get(pod.uid)
        if mine is not None:
            return (rec, mine) if rec.slots[mine].node == node else None
        for i in rec.open_slots(pod.gpu):
            if rec.slots[i].node == node:
                return rec, i
        return None

    def slot_for(self, pod: PodRequest, node: str, now: float) -> Placement | None:
        found = self._slot_index(pod, node, now)
        return None if found is None else found[0].slots[found[1]]

    def claim(self, pod: PodRequest, node: str, now: float) -> None:
        """Move a slot's hold to the member (caller holds the store lock and reserves it): the
        plan's slot on `node`, else, for a member bound off its plan, one open slot of its
        request (`_off_plan_slot`)."""
        found = self._slot_index(pod, node, now) or self._off_plan_slot(pod, now)
        if found is None:
            return
        rec, i = found
        self.store.ledger.release(slot_key(rec.name, i))
        members = {**rec.members, pod.uid: i}
        self.store.ledger.set_gang(replace(rec, members=MappingProxyType(members)))

    def _off_plan_slot(self, pod: PodRequest, now: float) -> tuple[GangPlanRecord, int] | None:
        """The slot a member placed where its plan has no open slot for it gives up: the first
        open slot of its request (the member's own reservation holds its GPUs now). Else that
        slot stays held for a member who will never come, until the plan lapses (`ttl_s`, 120 s
        by default).

        How it happens (measured, benchmarks/RESULTS.md Digital twin round 5): kube-scheduler
        filters member B while member A's bind is in flight, so both see the plan's two open
        slots on nodes a and b; A binds to b, then B, whose filter passed b, binds to b too
        (room enough). The slot on a stayed held: 4 of a's GPUs for 2,400 trace s at speedup
        20, and pods that fit a waited for it."""
        if pod.gang is None:
            return None
        rec = self.store.ledger.gang(pod.gang.name, now)
        if rec is None or rec.reason or pod.uid in rec.members:
            return None
        free = rec.open_slots(pod.gpu)
        return (rec, free[0]) if free else None
