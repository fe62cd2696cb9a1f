"""Gang coordination: plan a whole gang at its first member's filter, hold every slot, steer.

A plan's slots are held in the ledger under `slot_key(gang, i)` until a member binds to a slot
on that node (the hold then moves to the member's UID). A gang that cannot be placed gets a
short-lived failed record, so every node fails with a reason naming the gang, and planning is
retried once it lapses. Everything expires: capacity is never held forever.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

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
        (None: the gang already has its minimum bound, so members schedule one by one)."""
        assert pod.gang is not None
        name = pod.gang.name
        with self.store.lock:
            rec = self.store.ledger.gang(name, now)
            if rec is not None:
                return "failed" if rec.reason else "steered"
            peers = self.store.gang_pods(name)
            bound = sum(1 for p in peers if p.node_name is not None)
            need = pod.gang.min_member - bound
            if need <= 0:
                return None
            waiting = sorted((p for p in peers if p.node_name is None), key=lambda p: p.key)
            if all(p.uid != pod.uid for p in waiting):
                waiting.append(pod)
            # Members not yet seen are assumed to ask what this one asks (homogeneous gangs).
            members = [*waiting, *([pod] * max(0, need - len(waiting)))]
            self.store.ledger.drop_gang(name)
            snap = self.store.snapshot(now)
            if self.telemetry is not None:
                snap = self.telemetry(snap)
            plan = plan_members(snap, members, sorted(snap.nodes), self.profile, gang=name)
            if plan.status == "infeasible":
                self.store.ledger.set_gang(
                    GangPlanRecord(name, (), now + FAILED_RETRY_S, reason=plan.reason)
                )
                return "failed"
            expires = now + self.ttl_s
            for i, slot in enumerate(plan.slots):
                hold = Allocation(
                    f"{name}#{i}", slot_key(name, i), slot, pod.priority, False, expires, name
                )
                self.store.ledger.reserve(slot_key(name, i), hold)
            self.store.ledger.set_gang(
                GangPlanRecord(name, plan.slots, expires, status=plan.status)
            )
            return "planned"

    def free_slot_keys(self, snap: ClusterState, pod: PodRequest) -> list[str]:
        """Holds of the gang's unclaimed slots (this member may take any of them)."""
        if pod.gang is None:
            return []
        rec = snap.gangs.get(pod.gang.name)
        if rec is None or pod.uid in rec.members:
            return []
        taken = set(rec.members.values())
        return [slot_key(rec.name, i) for i in range(len(rec.slots)) if i not in taken]

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
        taken = set(rec.members.values())
        for i, slot in enumerate(rec.slots):
            if i not in taken and slot.node == node:
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
        self.store.ledger.set_gang(
            GangPlanRecord(
                rec.name,
                rec.slots,
                rec.expires_at,
                MappingProxyType(members),
                rec.reason,
                rec.status,
            )
        )
