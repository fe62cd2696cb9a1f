"""Reading a CSV with a known header into validated rows, strictly or leniently."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from simulator.traces.errors import LoadReport, SkippedRows, TraceError

T = TypeVar("T")

# Times past this are refused: at 1e17 s a 16 s duration vanishes in the float's rounding (a
# job's JCT read 0), and 1e308 + 1e308 is infinity. 1e12 s (~31,700 years) still resolves
# 0.1 ms; the shipped traces' largest time is 1.3e7 s.
MAX_SECONDS = 1e12
# A request (GenAI `exec_time_seconds`, a schema `request` record) runs at most a day: the
# serving simulator steps its autoscaler through a request's run, so 1e300 s never ended.
MAX_REQUEST_S = 86_400.0
# What one DLRM instance may ask, as for a schema record (simulator.workloads.schema): a
# gpu_request of 99999999999 never ended; memory 1e300 GiB was an OverflowError traceback.
MAX_DEVICES = 4096
MAX_CPU_CORES = 2**53 // 1000
MAX_MEMORY_GIB = (2**31 - 1) / 1024


def read_text(path: str | Path) -> str:
    """A trace file's text: UTF-8, a leading byte-order mark dropped (spreadsheets write one).
    Other bytes are a `TraceError` naming the file and line, not a bare codec message."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"trace file not found: {name}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TraceError(
            name,
            line,
            None,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
        ) from None


class Row:
    """One CSV row; typed getters raise `TraceError` with file, line and column."""

    def __init__(self, path: str, line: int, values: dict[str, str]) -> None:
        self.path, self.line, self.values = path, line, values

    def fail(self, column: str, message: str) -> TraceError:
        return TraceError(self.path, self.line, column, message)

    def text(self, column: str) -> str:
        value = self.values.get(column)
        return "" if value is None else value.strip()

    def integer(self, column: str, *, lo: int = 0, hi: int | None = None) -> int:
        raw = self.text(column)
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(column, f"expected an integer, got {raw!r}") from None
        if not math.isfinite(value) or value != int(value):
            raise self.fail(column, f"expected an integer, got {raw!r}")
        if value < lo or (hi is not None and value > hi):
            bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise self.fail(column, f"value {raw} out of range {bound}")
        return int(value)

    def seconds(self, column: str, *, optional: bool = False) -> float | None:
        raw = self.text(column)
        if raw == "" or raw.lower() == "nan":
            if optional:
                return None
            raise self.fail(column, "missing time value")
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(column, f"expected seconds, got {raw!r}") from None
        if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
            raise self.fail(
                column, f"expected non-negative seconds up to {MAX_SECONDS:g}, got {raw[:40]!r}"
            )
        return value

    def required_seconds(self, column: str) -> float:
        value = self.seconds(column)
        if value is None:  # pragma: no cover - seconds() raises for a missing value
            raise self.fail(column, "missing time value")
        return value


def csv_lines(path: str, reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """`reader`'s rows; a row the csv module refuses (a field past its 131,072-character
    limit) is a `TraceError` naming the file and line, not a `_csv.Error` traceback."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = getattr(reader, "line_num", None)
            raise TraceError(path, line, None, f"unreadable CSV row ({exc})") from None
        yield row


def read_rows(
    path: str | Path,
    headers: Sequence[Sequence[str]],
    parse: Callable[[Row], T],
    *,
    lenient: bool = False,
    unique: tuple[str, Callable[[T], object]] | None = None,
) -> LoadReport[T]:
    """Parse every data row of ``path``; its header must be one of ``headers`` (in order).
    ``unique`` = (column, key of a parsed row) no two rows may share (a replay's job ids): the
    second row is the error, not "duplicate job uids" after a million rows were loaded."""
    name = str(path)
    with io.StringIO(read_text(path), newline="") as handle:
        reader = csv_lines(name, csv.reader(handle))
        header = [h.strip() for h in next(reader, [])]
        if header not in [list(h) for h in headers]:
            expected = " or ".join(",".join(h) for h in headers)
            raise TraceError(
                name, 1, None, f"unexpected header {','.join(header)!r}; expected {expected}"
            )
        rows: list[T] = []
        skipped = SkippedRows()
        seen: dict[object, int] = {}
        for line, values in enumerate(reader, start=2):
            if not values or all(not v.strip() for v in values):
                continue
            try:
                if len(values) != len(header):
                    raise TraceError(
                        name, line, None, f"has {len(values)} fields, header has {len(header)}"
                    )
                row = Row(name, line, dict(zip(header, values, strict=True)))
                parsed = parse(row)
                if unique is not None:
                    key = unique[1](parsed)
                    if key in seen:
                        raise row.fail(
                            unique[0], f"{row.text(unique[0])[:40]!r} repeats line {seen[key]}"
                        )
                    seen[key] = line
                rows.append(parsed)
            except TraceError as exc:
                if not lenient:
                    raise
                skipped.add(exc)
    return LoadReport(tuple(rows), skipped.count, tuple(skipped.first))
