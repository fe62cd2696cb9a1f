"""A gang plan's slots in the ledger: which hold a member may take, and moving a slot's hold to
the member that binds there (`GangCoordinator`'s base; the plans themselves: `gangs.py`)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from scheduler.policy.model import ClusterState, GangPlanRecord, Placement, PodRequest, slot_key
from scheduler.state.store import ClusterStore


class GangSlots:
    store: ClusterStore  # set by `GangCoordinator`

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
