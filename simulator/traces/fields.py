"""Typed getters the shared `Row` lacks: decimal quantities and blank-able numbers."""

from __future__ import annotations

import math

from simulator.traces.csvfile import Row


def number(row: Row, column: str, *, lo: float = 0.0, hi: float = math.inf) -> float:
    """A finite decimal in lo..hi (e.g. GiB "120.0"); bad or blank values name file/line/column."""
    value = optional_number(row, column, lo=lo, hi=hi)
    if value is None:
        raise row.fail(column, "missing value")
    return value


def optional_number(
    row: Row, column: str, *, lo: float = 0.0, hi: float = math.inf
) -> float | None:
    """Like `number`, but a blank cell is None (the GenAI trace leaves some fields empty)."""
    raw = row.text(column)
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise row.fail(column, f"expected a number, got {raw!r}") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        top = "" if hi == math.inf else f" and <= {hi:g}"
        raise row.fail(column, f"expected a finite number >= {lo:g}{top}, got {raw[:40]!r}")
    return value
