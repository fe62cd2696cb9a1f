"""The drain keep: nodes kept for the first waiting gang until it starts, and the order gangs
wait in (`GangCoordinator`'s base; who gets the keep and when: `gangs.py`, its module
docstring)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from scheduler.policy.model import PodRequest
from scheduler.state.store import ClusterStore

log = logging.getLogger("tessera.gangs")

LAST = 1 << 62  # the first-seen order of a gang none of whose pods the store holds yet

Rank = tuple[int, int]  # (-priority, first-seen order of the earliest member): lower first


@dataclass(frozen=True, slots=True)
class DrainKeep:
    """Nodes kept for a waiting gang until it starts (or `expires_at`, renewed per retry):
    node -> GPUs of it kept (its budget)."""

    gang: str
    nodes: Mapping[str, int]
    priority: int
    expires_at: float
    members: frozenset[str]  # UIDs of its waiting pods: the keep ends when all are deleted
    rank: Rank  # its place in the order gangs wait in (module docstring)


class GangKeep:
    store: ClusterStore  # set by `GangCoordinator`
    keep: DrainKeep | None  # guarded by the store lock

    def kept_from(self, pod: PodRequest, now: float) -> DrainKeep | None:
        """The nodes `pod` may not take because a waiting gang keeps them (None: none are).

        A gang's own members and pods of higher priority are never kept out. A keep whose gang
        has no pod left (deleted) or that was not renewed in time is dropped here.
        """
        with self.store.lock:
            keep = self._live_keep(now)
            if keep is None:
                return None
        if (pod.gang is not None and pod.gang.name == keep.gang) or pod.priority > keep.priority:
            return None
        return keep

    def _live_keep(self, now: float) -> DrainKeep | None:
        """The keep, dropped first when it lapsed unrenewed or its gang has no pod left
        (caller holds the store lock)."""
        keep = self.keep
        if keep is not None and (
            keep.expires_at <= now or not any(self.store.pod(u) for u in keep.members)
        ):
            self._set_keep(None, "lapsed or its pods gone")
            return None
        return keep

    def _set_keep(self, keep: DrainKeep | None, why: str = "dropped") -> None:
        """Replace the keep (caller holds the store lock). When a node leaves the kept set (the
        keep ends, moves or shrinks), every failed plan is dropped: a gang that ranks after
        the keeper planned without the kept nodes, and its failure would otherwise stand
        `FAILED_RETRY_S` after the nodes came back (benchmarks/RESULTS.md, Digital twin,
        round 7)."""
        old, self.keep = self.keep, keep
        if old is not None and (keep is None or not set(old.nodes) <= set(keep.nodes)):
            self.store.ledger.drop_failed_gangs()
        if keep is None:
            if old is not None:
                log.info("keep for gang %s ends (%s)", old.gang, why)
        elif old is None or old.gang != keep.gang or old.nodes != keep.nodes:
            nodes = ",".join(f"{n}:{b}" for n, b in sorted(keep.nodes.items()))
            log.info("keep for gang %s: %s (%s)", keep.gang, nodes, why)

    def _rank(self, gang: str, priority: int) -> Rank:
        """Where `gang` (with `priority`) waits: (-priority, first-seen order of its earliest
        pod in the store); lower goes first."""
        first = self.store.gang_first_seen(gang)
        return (-priority, LAST if first is None else first)
