"""A faithful model of Volcano's scheduler (Helm configuration) for the simulator's baseline.

Its own job/task/queue abstraction mirrors Volcano's `JobInfo`/`TaskInfo`/`QueueInfo`/`NodeInfo`;
see shared/reference/volcano-model.md (section 13 is the behaviour checklist the tests follow).
"""

from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import Job, JobPhase, Node, Queue, Task, TaskStatus
from simulator.policies.replay.volcano.session import CycleResult, VolcanoScheduler

__all__ = [
    "CycleResult",
    "Job",
    "JobPhase",
    "Node",
    "Queue",
    "Task",
    "TaskStatus",
    "VolcanoConfig",
    "VolcanoScheduler",
]
