"""The reservations ledger: decisions not yet visible as bound pods, each with a deadline.

kube-scheduler binds asynchronously, so pod B's filter can arrive before pod A's bind; a
reservation makes A's exact GPUs visible to B at once. Keys are pod UIDs, or gang slot keys
(`slot_key`) for gang members planned before their pods were seen. Release is idempotent;
expiry is by time passed in (no clock here), so nothing is held forever.

Not thread-safe on its own: `ClusterStore` calls it under its lock.
"""

from __future__ import annotations

from dataclasses import replace

from scheduler.policy.model import Allocation, GangPlanRecord


class Ledger:
    def __init__(self) -> None:
        self._res: dict[str, Allocation] = {}
        self._gangs: dict[str, GangPlanRecord] = {}
        # Keys whose Binding the apiserver accepted (`mark_bound`), the watch not showing it
        # yet: the pod is bound there, so no later decision may move or shorten the hold.
        self._sent: set[str] = set()
        self.version = 0
        self.touched: set[str] = set()  # nodes whose holds changed (drained by the store)
        # How many times capacity may have come back (`drop_failed_gangs` calls): a plan that
        # failed on a snapshot taken before the last of them is not recorded (it may fit now).
        self.room = 0

    def reserve(self, key: str, alloc: Allocation) -> None:
        """Hold `alloc` under `key` until `alloc.expires_at` (replaces the key's old hold)."""
        if alloc.expires_at is None:
            raise ValueError(f"reservation for {key} needs an expiry time")
        old = self._res.get(key)
        if old is not None:
            self.touched.add(old.placement.node)
        self._sent.discard(key)
        self._res[key] = replace(alloc, bound=False)
        self.touched.add(alloc.placement.node)
        self.version += 1

    def release(self, key: str) -> bool:
        """Drop a hold; True if there was one. Releasing twice is harmless."""
        self._sent.discard(key)
        old = self._res.pop(key, None)
        if old is None:
            return False
        self.touched.add(old.placement.node)
        self.version += 1
        return True

    def get(self, key: str, now: float) -> Allocation | None:
        a = self._res.get(key)
        return a if a is not None and _alive(a.expires_at, now) else None

    def peek(self, key: str) -> Allocation | None:
        """The hold under `key`, expired or not."""
        return self._res.get(key)

    def extend(self, key: str, expires_at: float) -> None:
        a = self._res.get(key)
        if a is not None:
            self._res[key] = replace(a, expires_at=expires_at)
            self.touched.add(a.placement.node)
            self.version += 1

    def mark_bound(self, key: str, expires_at: float) -> None:
        """The apiserver accepted `key`'s Binding: hold its GPUs until `expires_at` (the
        watch shows the pod bound sooner) and refuse to move the hold (`bound_node`)."""
        if key in self._res:
            self.extend(key, expires_at)
            self._sent.add(key)

    def bound_node(self, key: str, now: float) -> str | None:
        """The node `key` was bound to by this extender, while that hold lives (else None)."""
        a = self.get(key, now) if key in self._sent else None
        return a.placement.node if a is not None else None

    def unsent_on(self, node: str) -> list[tuple[str, Allocation]]:
        """Holds on `node` whose Binding was not sent (`mark_bound`), expired or not."""
        return [(k, a) for k, a in self._res.items()
                if a.placement.node == node and k not in self._sent]  # fmt: skip

    def live(self, now: float) -> dict[str, Allocation]:
        return {k: a for k, a in self._res.items() if _alive(a.expires_at, now)}

    def set_gang(self, record: GangPlanRecord) -> None:
        self._gangs[record.name] = record
        self.version += 1

    def drop_gang(self, name: str) -> None:
        rec = self._gangs.pop(name, None)
        if rec is not None:
            for k in [k for k, a in self._res.items() if a.gang == name and k.startswith("gang:")]:
                self.touched.add(self._res.pop(k).placement.node)
            self.version += 1

    def drop_failed_gangs(self) -> list[str]:
        """Forget every failed plan (a record with a reason): capacity came back, so the next
        member re-plans at once instead of reading the cached failure. The gangs dropped.
        Counted in `room` whether or not a record was dropped: a plan under way may fail on
        the state before."""
        self.room += 1
        gone = [n for n, g in self._gangs.items() if g.reason]
        for n in gone:
            del self._gangs[n]
        if gone:
            self.version += 1
        return gone

    def gang(self, name: str, now: float) -> GangPlanRecord | None:
        rec = self._gangs.get(name)
        return rec if rec is not None and _alive(rec.expires_at, now) else None

    def gangs(self, now: float) -> dict[str, GangPlanRecord]:
        return {k: g for k, g in self._gangs.items() if _alive(g.expires_at, now)}

    def next_expiry(self, after: float) -> float | None:
        times = [a.expires_at for a in self._res.values() if a.expires_at is not None]
        times += [g.expires_at for g in self._gangs.values()]
        later = [t for t in times if t > after]
        return min(later) if later else None

    def expire(self, now: float) -> list[str]:
        """Forget everything past its deadline; the keys dropped (for metrics and logs)."""
        gone = [k for k, a in self._res.items() if not _alive(a.expires_at, now)]
        for k in gone:
            self.touched.add(self._res.pop(k).placement.node)
            self._sent.discard(k)
        for name in [n for n, g in self._gangs.items() if not _alive(g.expires_at, now)]:
            del self._gangs[name]
            gone.append(f"gang:{name}")
        if gone:
            self.version += 1
        return gone

    def lapsing_nodes(self, after: float, until: float) -> set[str]:
        """Nodes of holds whose deadline falls in (after, until]: their capacity came back."""
        return {
            a.placement.node
            for a in self._res.values()
            if a.expires_at is not None and after < a.expires_at <= until
        }

    def __len__(self) -> int:
        return len(self._res)


def _alive(expires_at: float | None, now: float) -> bool:
    return expires_at is None or now < expires_at
