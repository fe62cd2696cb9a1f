"""Statement: in-cycle Allocate/Pipeline ops; Commit sends Allocate ops to binding, Discard
undoes every op in reverse order (pkg/scheduler/framework/statement.go)."""

from __future__ import annotations

from collections.abc import Callable

from simulator.cluster import resources as r
from simulator.policies.replay.volcano.objects import Node, Task, TaskStatus
from simulator.policies.replay.volcano.proportion import QueueAttr


class Statement:
    def __init__(self, attr: QueueAttr, on_bind: Callable[[Task], None]) -> None:
        self._attr = attr
        self._on_bind = on_bind
        self.ops: list[tuple[TaskStatus, Task, Node]] = []

    def _place(self, task: Task, node: Node, status: TaskStatus) -> None:
        task.status = status
        task.node = node.name
        node.add_task(task)
        # Allocate and Pipeline both fire the AllocateFunc event handlers (proportion, drf).
        r.add(self._attr.allocated, task.resreq)
        self.ops.append((status, task, node))

    def allocate(self, task: Task, node: Node) -> None:
        self._place(task, node, TaskStatus.ALLOCATED)

    def pipeline(self, task: Task, node: Node) -> None:
        self._place(task, node, TaskStatus.PIPELINED)

    def discard(self) -> None:
        for _status, task, node in reversed(self.ops):
            node.remove_task(task)
            r.sub(self._attr.allocated, task.resreq)
            task.status = TaskStatus.PENDING
            task.node = None
        self.ops.clear()

    def commit(self) -> None:
        """Allocate ops -> Binding (cache.AddBindTask); Pipeline ops stay in-cycle markers."""
        for status, task, _node in self.ops:
            if status is TaskStatus.ALLOCATED:
                task.status = TaskStatus.BINDING
                self._on_bind(task)
        self.ops.clear()
