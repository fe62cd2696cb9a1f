"""What a replay consumes: a cluster spec and jobs (each a group of identical-shape tasks).

GPU requests use the policy core's `GpuRequest` (whole count | MIG profile | milli share), so
the tessera policy sees exactly what the extender would; counter-based baselines translate it
to device-plugin resources (`simulator.cluster.counters`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scheduler.policy.model import GpuRequest

Kind = str  # "inference" | "training" | "pipeline" | "batch" | "mig"


@dataclass(frozen=True)
class NodeSpec:
    """A node; `mig_layout` (profile, start) instances exist on each of its first `mig_gpus`
    GPUs (static partitions, what the GPU Operator's MIG manager creates)."""

    name: str
    gpu_model: str
    gpus: int
    cpu_milli: int
    memory_bytes: int
    mig_gpus: int = 0
    mig_layout: tuple[tuple[str, int], ...] = ()
    # per-GPU layouts of the first `mig_gpus` GPUs (a planner's answer); () = `mig_layout` on each
    mig_layouts: tuple[tuple[tuple[str, int], ...], ...] = ()

    def __post_init__(self) -> None:
        if self.mig_layouts and len(self.mig_layouts) != self.mig_gpus:
            raise ValueError(
                f"node {self.name}: {len(self.mig_layouts)} per-GPU MIG layouts "
                f"for {self.mig_gpus} MIG GPUs"
            )

    def gpu_layout(self, i: int) -> tuple[tuple[str, int], ...]:
        """The static MIG instances (profile, start) of GPU `i`."""
        if i >= self.mig_gpus:
            return ()
        return self.mig_layouts[i] if self.mig_layouts else self.mig_layout


@dataclass(frozen=True)
class TaskSpec:
    cpu_milli: int
    memory_bytes: int
    gpu: GpuRequest | None


@dataclass(frozen=True)
class JobSpec:
    """`replicas` tasks of one shape; `min_member` of them must start together (a gang when
    > 1). The job runs `duration` seconds from the moment its gang is complete. `after` names
    jobs that must finish first (DAG pipeline stages)."""

    uid: str
    arrival: float
    duration: float
    task: TaskSpec
    replicas: int = 1
    min_member: int = 1
    kind: Kind = "batch"
    priority: int = 0
    after: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.replicas < 1 or not 1 <= self.min_member <= self.replicas:
            raise ValueError(
                f"job {self.uid}: need 1 <= min_member <= replicas, got "
                f"{self.min_member} of {self.replicas}"
            )
        if self.duration <= 0 or self.arrival < 0:
            raise ValueError(f"job {self.uid}: duration must be > 0 and arrival >= 0")


@dataclass(frozen=True)
class Workload:
    name: str
    nodes: tuple[NodeSpec, ...]
    jobs: tuple[JobSpec, ...]
    source: str  # where the data came from (trace file or generator + seed)


def find_cycle(after: Mapping[str, Sequence[str]]) -> list[str]:
    """A cycle of `after` links (each id waits on the ids it lists) as [a, b, ..., a], or []
    when the graph is a DAG; iterative, so a 100,000-stage chain cannot hit the recursion limit."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in after:
        if root in state:
            continue
        path, stack = [root], [iter(after.get(root, ()))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(after.get(nxt, ())))
    return []
