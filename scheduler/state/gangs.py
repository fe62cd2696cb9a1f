"""Gang coordination: plan a whole gang at its first member's filter, hold every slot, steer.

A plan's slots are held in the ledger under `slot_key(gang, i)` until a member binds to a slot
on that node (the hold then moves to the member's UID). A gang that cannot be placed gets a
short-lived failed record, so every node fails with a reason naming the gang, and planning is
retried once it lapses. Everything expires: capacity is never held forever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType

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
from scheduler.state.store import ClusterStore

FAILED_RETRY_S = 5.0  # how long a failed plan stands before the next member retries


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
            plan = plan_members(snap, members, sorted(snap.nodes), self.profile, gang=name)
            with self.store.lock:
                if self.store.ledger.gang(name, now) is not None:
                    continue  # another member planned meanwhile: use that plan
                if plan.status == "infeasible":
                    self.store.ledger.set_gang(
                        GangPlanRecord(name, (), now + FAILED_RETRY_S, reason=plan.reason)
                    )
                    return "failed"
                if self._hold(name, plan.slots, members, pod.priority, now, plan.status):
                    return "planned"
        return "failed"

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
        """Move a slot's hold to the member (caller holds the store lock and reserves it)."""
        found = self._slot_index(pod, node, now)
        if found is None:
            return
        rec, i = found
        self.store.ledger.release(slot_key(rec.name, i))
        members = {**rec.members, pod.uid: i}
        self.store.ledger.set_gang(replace(rec, members=MappingProxyType(members)))
