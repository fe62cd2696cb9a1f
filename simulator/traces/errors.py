"""One error type for bad trace input, and the report a lenient load returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class TraceError(ValueError):
    """A bad trace file or value; the message names file, line (1-based, header = 1) and column."""

    def __init__(self, path: str, line: int | None, column: str | None, message: str) -> None:
        where = path if line is None else f"{path}:{line}"
        col = f" column {column!r}:" if column else ""
        super().__init__(f"{where}:{col} {message}")
        self.path, self.line, self.column = path, line, column


@dataclass(frozen=True)
class LoadReport(Generic[T]):
    rows: tuple[T, ...]
    skipped: int = 0
    first_errors: tuple[str, ...] = ()  # up to a few messages for the skipped rows


@dataclass
class SkippedRows:
    """What a lenient load keeps of the rows it skips: their number and the first few messages."""

    MAX_KEPT = 5

    count: int = 0
    first: list[str] = field(default_factory=list)

    def add(self, exc: TraceError) -> None:
        self.count += 1
        if len(self.first) < self.MAX_KEPT:
            self.first.append(str(exc))
