"""What a policy offers the replay driver (one class per policy in simulator/policies/replay/,
registered in its registry.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from packing.catalogue import get_model
from simulator.workloads.model import JobSpec, TaskSpec

MILLI = 1000


@dataclass(frozen=True)
class Start:
    """Task `task` of job `job` started on `node`, holding `held_milli` of GPU capacity."""

    job: str
    task: int
    node: str
    held_milli: int
    reconfigured: int = 0  # MIG instances created for it (dynamic MIG)


@dataclass(frozen=True)
class Usage:
    idle_gpus: int  # GPUs (MIG off) with nothing on them
    free_mig_slices: int  # unallocated MIG memory slices


class ReplayPolicy(Protocol):
    name: str
    period_s: float | None  # None: decide on every arrival/departure (kube-scheduler style)

    def submit(self, job: JobSpec, now: float) -> None: ...

    def finish(self, job_uid: str, now: float) -> None: ...

    def schedule(self, now: float) -> list[Start]: ...

    def has_pending(self) -> bool: ...

    def usage(self) -> Usage: ...

    def check(self) -> str | None: ...


def demand_milli(task: TaskSpec, gpu_model: str = "H100-80GB") -> int:
    """GPU work a task asks for, in milli-GPU: whole = 1000 each, share = its milli, MIG =
    memory slices / the model's slices (a 3g.40gb on an H100 = 4/8 = 500)."""
    g = task.gpu
    if g is None:
        return 0
    if g.kind == "whole":
        return g.count * MILLI
    if g.kind == "milli":
        return g.milli * g.count
    m = get_model(gpu_model)
    return g.count * m.profile(g.profile or "").memory_slices * MILLI // m.memory_slices
