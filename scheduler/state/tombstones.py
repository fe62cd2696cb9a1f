"""Pods and nodes lately deleted, remembered so that a late watch event cannot bring them back,
and the rule for a MODIFIED event the store must not fold (`stale_modified`)."""

from __future__ import annotations

from scheduler.state.node_changes import revision

MAX_GONE = 16_384  # deleted pod UIDs (and node names) remembered against stale events


class Tombstones:
    """Keys lately deleted, at most `MAX_GONE` (the oldest forgotten first)."""

    def __init__(self) -> None:
        self._keys: dict[str, None] = {}  # insertion-ordered: the oldest first

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def bury(self, key: str) -> None:
        self._keys[key] = None
        if len(self._keys) > MAX_GONE:
            del self._keys[next(iter(self._keys))]

    def revive(self, key: str) -> None:
        """`key` is live again (an ADDED, or any copy the store folds)."""
        self._keys.pop(key, None)

    def clear(self) -> None:
        self._keys.clear()


def stale_modified(gone: Tombstones, key: str, given: object, known: str | int | None) -> bool:
    """A MODIFIED event that must not be folded: for a UID or node deleted since (a late event
    brought a deleted pod back for good, its GPUs held), or older than what the store holds (a
    pod's pending version after its bound one left its GPUs looking free while it ran).
    Versions compare only when both are etcd revisions. ADDED, as a relist sends every object,
    always folds."""
    if key in gone:
        return True
    if not isinstance(given, str) or not revision(given):
        return False
    have = known if isinstance(known, int) else int(known) if known and revision(known) else 0
    return 0 < int(given) < have
