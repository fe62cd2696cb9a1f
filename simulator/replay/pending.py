"""Pending-pod queue shared by the per-event policies (kube-default, tessera): priority then
arrival order; a pass retries old pods only after capacity was freed (state only fills up
between departures, so a pod that failed cannot fit before one)."""

from __future__ import annotations

import heapq

from simulator.workloads.model import JobSpec


class PendingPods:
    def __init__(self) -> None:
        self.jobs: dict[str, JobSpec] = {}
        self._heap: list[tuple[int, float, str, int]] = []
        self._new: list[tuple[int, float, str, int]] = []
        self.freed = True

    def add(self, job: JobSpec, now: float) -> None:
        self.jobs[job.uid] = job
        for i in range(job.replicas):
            self._new.append((-job.priority, now, job.uid, i))

    def drop_job(self, uid: str) -> None:
        self.jobs.pop(uid, None)
        self.freed = True

    def batch(self) -> list[tuple[tuple[int, float, str, int], bool]]:
        """Pods to try now, in order, each with `fresh` (never tried: may go to any node; an
        old pod fits at most where capacity was freed since). The caller re-adds misfits."""
        items = [(it, True) for it in self._new]
        if self.freed:
            items += [(it, False) for it in self._heap]
            self._heap = []
            self.freed = False
        self._new = []
        items.sort()
        return [(it, fresh) for it, fresh in items if it[2] in self.jobs]

    def keep(self, item: tuple[int, float, str, int]) -> None:
        heapq.heappush(self._heap, item)

    def __len__(self) -> int:
        return len(self._heap) + len(self._new)
