"""Events and their deterministic order: (time, kind, sequence number)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class EventKind(IntEnum):
    """Kinds in tie-break order at equal times: capacity is released and changed before new
    work arrives, and a scheduling cycle sees everything that happened at its instant."""

    FINISH = 0  # a pod or job leaves and frees its resources
    HEALTH = 1  # a node or GPU changes health
    REPARTITION = 2  # a MIG layout change lands
    ARRIVAL = 3  # a pod or job is submitted
    CYCLE = 4  # a scheduling cycle (periodic, e.g. Volcano's 1 s; or per arrival)


@dataclass(frozen=True, order=True)
class Event:
    time: float
    kind: EventKind
    seq: int
    payload: Any = field(default=None, compare=False)
