"""Volcano's scheduling objects: TaskInfo, JobInfo (PodGroup), QueueInfo, NodeInfo.

Mutable on purpose: Volcano's session mutates them in-cycle (`Statement` ops), and `session.py`
restores in-cycle markers at every cycle open exactly as a fresh cache snapshot would.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from simulator.cluster import resources as r
from simulator.cluster.resources import Res


class TaskStatus(enum.Enum):
    # Members are singletons: identity hashing keeps the hot `status in {...}` tests cheap.
    __hash__ = object.__hash__

    PENDING = "Pending"
    ALLOCATED = "Allocated"  # in-cycle only
    PIPELINED = "Pipelined"  # in-cycle only: waits for releasing resources
    BINDING = "Binding"  # committed, bind in flight; counts as used by the next cycle
    BOUND = "Bound"
    RUNNING = "Running"
    RELEASING = "Releasing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class JobPhase(enum.Enum):
    __hash__ = object.__hash__

    PENDING = "Pending"
    INQUEUE = "Inqueue"
    RUNNING = "Running"
    UNKNOWN = "Unknown"
    COMPLETED = "Completed"


# ReadyTaskNum counts these (gang JobReady).
READY = frozenset(
    {
        TaskStatus.BOUND,
        TaskStatus.BINDING,
        TaskStatus.RUNNING,
        TaskStatus.ALLOCATED,
        TaskStatus.SUCCEEDED,
    }
)
# getPodGroupPhase's "scheduled": Allocated and Binding do not count.
SCHEDULED = frozenset(
    {
        TaskStatus.RUNNING,
        TaskStatus.BOUND,
        TaskStatus.FAILED,
        TaskStatus.SUCCEEDED,
        TaskStatus.RELEASING,
    }
)
# AllocatedStatus: what queue/job `allocated` (proportion, drf, overcommit) count.
ALLOCATED = frozenset(
    {TaskStatus.ALLOCATED, TaskStatus.BINDING, TaskStatus.BOUND, TaskStatus.RUNNING}
)
# Tasks that hold node resources (node.Used).
ON_NODE = frozenset(
    {
        TaskStatus.ALLOCATED,
        TaskStatus.BINDING,
        TaskStatus.BOUND,
        TaskStatus.RUNNING,
        TaskStatus.RELEASING,
    }
)
# ValidTaskNum: tasks that exist and may still run.
VALID = READY | frozenset({TaskStatus.PENDING, TaskStatus.PIPELINED})

_INDEX = re.compile(r"-(\d+)$")


@dataclass
class Task:
    uid: str
    name: str
    job: str
    resreq: Res
    creation: float = 0.0
    priority: int = 1  # volcano default task priority
    role: str = "worker"  # task template; the predicate error cache is per role
    node_selector: dict[str, str] = field(default_factory=dict)
    status: TaskStatus = TaskStatus.PENDING
    node: str | None = None
    owner: Job | None = field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value: object) -> None:
        # Keep the owning job's per-status tally current (Volcano's TaskStatusIndex).
        if name == "status":
            owner = self.__dict__.get("owner")
            if owner is not None:
                owner._moved(self, self.__dict__["status"], value)
        object.__setattr__(self, name, value)

    def name_index(self) -> int:
        """CompareTask's pod-name index suffix `-N` (no suffix sorts first)."""
        m = _INDEX.search(self.name)
        return int(m.group(1)) if m else -1


class TaskMap(dict[str, Task]):
    """A job's tasks; adding or removing one updates the job's status tally."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        self._job = job

    def __setitem__(self, key: str, task: Task) -> None:
        if key in self:
            self.pop(key)
        super().__setitem__(key, task)
        task.owner = self._job
        self._job._moved(task, None, task.status)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def pop(self, key: str, *default: Task) -> Task:  # type: ignore[override]
        if key not in self and default:
            return default[0]
        task = super().pop(key)
        self._job._moved(task, task.status, None)
        task.owner = None
        return task


@dataclass
class Job:
    uid: str
    queue: str = "default"
    min_member: int = 1
    min_resources: Res | None = None
    priority: int = 0
    creation: float = 0.0
    phase: JobPhase = JobPhase.PENDING
    tasks: TaskMap = field(init=False, repr=False)
    unschedulable: bool = False  # fit errors this cycle (PodGroup condition)
    _tally: dict[TaskStatus, int] = field(default_factory=dict, init=False, repr=False)
    _allocated: Res = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.tasks = TaskMap(self)

    def _moved(self, task: Task, old: TaskStatus | None, new: TaskStatus | None) -> None:
        if old is not None:
            self._tally[old] -= 1
            if old in ALLOCATED:
                r.sub(self._allocated, task.resreq)
        if new is not None:
            self._tally[new] = self._tally.get(new, 0) + 1
            if new in ALLOCATED:
                r.add(self._allocated, task.resreq)

    def count(self, statuses: frozenset[TaskStatus]) -> int:
        n = 0
        for status, k in self._tally.items():
            if k and status in statuses:
                n += k
        return n

    def ready_num(self) -> int:
        return self.count(READY)

    def ready(self) -> bool:
        """gang JobReady: ReadyTaskNum (+ pending BestEffort, never for GPU pods) >= minMember."""
        return self.ready_num() >= self.min_member

    def pipelined(self) -> bool:
        """gang JobPipelined: Pipelined + Ready >= minMember."""
        return self.ready_num() + self._tally.get(TaskStatus.PIPELINED, 0) >= self.min_member

    def valid(self) -> bool:
        """gang JobValid: all minMember pods must exist (and not have failed)."""
        return self.count(VALID) >= self.min_member

    def allocated(self) -> Res:
        """Σ request of tasks in AllocatedStatus (kept incrementally)."""
        return self._allocated

    def has_pending(self) -> bool:
        return self._tally.get(TaskStatus.PENDING, 0) > 0

    def pending_tasks(self) -> list[Task]:
        if not self.has_pending():
            return []
        return [t for t in self.tasks.values() if t.status is TaskStatus.PENDING]


@dataclass
class Queue:
    name: str = "default"
    weight: int = 1
    priority: int = 0
    open: bool = True  # status.state == Open (set by the queue controller)
    capability: Res | None = None
    creation: float = 0.0


@dataclass
class Node:
    name: str
    allocatable: Res
    labels: dict[str, str] = field(default_factory=dict)
    used: Res = field(default_factory=dict)
    releasing: Res = field(default_factory=dict)
    pipelined: Res = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)

    def idle(self, dim: str) -> int:
        return self.allocatable.get(dim, 0) - self.used.get(dim, 0)

    def fits_idle(self, req: Res) -> bool:
        alloc, used = self.allocatable, self.used
        for k, v in req.items():  # noqa: SIM110 - a plain loop: the hottest test here
            if v > 0 and v > alloc.get(k, 0) - used.get(k, 0):
                return False
        return True

    def fits_future_idle(self, req: Res) -> bool:
        """`req` fits FutureIdle = Idle + Releasing - Pipelined on every dimension it names."""
        alloc, used, rel, pipe = self.allocatable, self.used, self.releasing, self.pipelined
        for k, v in req.items():
            if v > 0 and v > alloc.get(k, 0) - used.get(k, 0) + rel.get(k, 0) - pipe.get(k, 0):
                return False
        return True

    def add_task(self, task: Task) -> None:
        """NodeInfo.AddTask: Pipelined only books `pipelined`; Releasing also books `releasing`."""
        self.tasks[task.uid] = task
        if task.status is TaskStatus.PIPELINED:
            r.add(self.pipelined, task.resreq)
            return
        r.add(self.used, task.resreq)
        if task.status is TaskStatus.RELEASING:
            r.add(self.releasing, task.resreq)

    def remove_task(self, task: Task) -> None:
        del self.tasks[task.uid]
        if task.status is TaskStatus.PIPELINED:
            r.sub(self.pipelined, task.resreq)
            return
        r.sub(self.used, task.resreq)
        if task.status is TaskStatus.RELEASING:
            r.sub(self.releasing, task.resreq)
