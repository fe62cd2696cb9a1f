"""Typed getters the shared `Row` lacks: decimal quantities and blank-able numbers."""

from __future__ import annotations

import math

from simulator.traces.csvfile import Row


def number(row: Row, column: str, *, lo: float = 0.0) -> float:
    """A finite decimal >= `lo` (e.g. GiB "120.0"); bad or blank values name file/line/column."""
    value = optional_number(row, column, lo=lo)
    if value is None:
        raise row.fail(column, "missing value")
    return value


def optional_number(row: Row, column: str, *, lo: float = 0.0) -> float | None:
    """Like `number`, but a blank cell is None (the GenAI trace leaves some fields empty)."""
    raw = row.text(column)
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise row.fail(column, f"expected a number, got {raw!r}") from None
    if not math.isfinite(value) or value < lo:
        raise row.fail(column, f"expected a finite number >= {lo:g}, got {raw!r}")
    return value
