"""Which pods belong to which gang, and each gang's PodGroup minMember: the store's gang
bookkeeping (`ClusterStore` calls it under its lock; nothing here locks).

The gang verbs and the keep pass ask for one gang's pods without scanning every pod, so the
store keeps gang -> UIDs in step with the pods it folds (`move`), in the order it first saw
them.
"""

from __future__ import annotations

from collections.abc import Iterable

from scheduler.policy.model import PodRequest


class GangMembers:
    def __init__(self) -> None:
        self._uids: dict[str, dict[str, None]] = {}  # gang name -> UIDs (insertion order)
        # PodGroup "ns/name" -> its minMember (read by `parse_pod` for the pods it folds)
        self.min_members: dict[str, int] = {}

    def clear(self) -> None:
        self._uids.clear()
        self.min_members.clear()

    def uids(self, gang: str) -> Iterable[str]:
        return self._uids.get(gang, ())

    def gangs(self) -> dict[str, list[str]]:
        """Every gang with at least one pod, and its pods' UIDs."""
        return {g: list(uids) for g, uids in self._uids.items()}

    def move(self, uid: str, old: PodRequest | None, new: PodRequest | None) -> None:
        """Pod `uid` was `old` (None: new to the store) and is now `new` (None: gone)."""
        was = old.gang.name if old is not None and old.gang is not None else None
        now = new.gang.name if new is not None and new.gang is not None else None
        if was == now and (now is None or uid in self._uids.get(now, ())):
            return
        if was is not None:
            uids = self._uids.get(was)
            if uids is not None:
                uids.pop(uid, None)
                if not uids:
                    del self._uids[was]
        if now is not None:
            self._uids.setdefault(now, {})[uid] = None
