"""Queue, job and task orders of the Helm configuration (reference section 6.2).

Orders are sort keys (smaller = earlier). Volcano's priority queues compare live objects; keys
are taken when an item is pushed, which is when Volcano re-sorts it too.
"""

from __future__ import annotations

from simulator.cluster.resources import Res
from simulator.policies.replay.volcano.objects import Job, Task
from simulator.policies.replay.volcano.proportion import QueueAttr


def dominant_share(job: Job, total: Res) -> float:
    """drf: max_r allocated_r / total_r."""
    alloc = job.allocated()
    return max((v / total[k] for k, v in alloc.items() if total.get(k, 0) > 0), default=0.0)


def queue_key(attr: QueueAttr) -> tuple[int, float, float, str]:
    """proportion: priority descending, share ascending; then creation time, name."""
    return (-attr.queue.priority, attr.share(), attr.queue.creation, attr.queue.name)


def job_key(job: Job, total: Res) -> tuple[int, int, float, float, str]:
    """priority desc -> gang not-ready first -> drf share asc -> creation -> UID."""
    return (
        -job.priority,
        1 if job.ready() else 0,
        dominant_share(job, total),
        job.creation,
        job.uid,
    )


def task_key(task: Task) -> tuple[int, int, float, str]:
    """priority desc -> pod-name index -> creation -> UID (CompareTask)."""
    return (-task.priority, task.name_index(), task.creation, task.uid)


def sorted_tasks(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=task_key)
