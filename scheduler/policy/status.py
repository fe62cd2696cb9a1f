"""Plugin verdicts, after kube-scheduler's framework `Status`.

UNSCHEDULABLE means "not now" (preemption or time may help: it becomes `FailedNodes`);
UNSCHEDULABLE_AND_UNRESOLVABLE means no amount of preemption helps (wrong GPU model, a profile
the model lacks, an unhealthy GPU): it becomes `FailedAndUnresolvableNodes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Code(IntEnum):
    # Ordered by severity so merging statuses keeps the worst.
    SUCCESS = 0
    UNSCHEDULABLE = 1
    UNSCHEDULABLE_AND_UNRESOLVABLE = 2
    ERROR = 3


@dataclass(frozen=True, slots=True)
class Status:
    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def message(self) -> str:
        """The reasons as one line (what goes into the extender's `FailedNodes` map)."""
        return "; ".join(self.reasons)

    def merge(self, other: Status) -> Status:
        """The worse code with both sets of reasons (failures only)."""
        if other.ok:
            return self
        if self.ok:
            return other
        return Status(max(self.code, other.code), self.reasons + other.reasons)


SUCCESS = Status()


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


def error(*reasons: str) -> Status:
    return Status(Code.ERROR, reasons)
