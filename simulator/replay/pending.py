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

    def batch(self) -> list[tuple[int, float, str, int]]:
        """Pods to try now, in order; the caller re-adds the ones that did not fit."""
        if self.freed:
            items = self._heap + self._new
            self._heap = []
            self.freed = False
        else:
            items = self._new
        self._new = []
        items.sort()
        return [it for it in items if it[2] in self.jobs]

    def keep(self, item: tuple[int, float, str, int]) -> None:
        heapq.heappush(self._heap, item)

    def __len__(self) -> int:
        return len(self._heap) + len(self._new)
