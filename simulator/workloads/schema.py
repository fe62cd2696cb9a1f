"""The multimodal trace schema (v1), one record per line in CSV or JSONL (docs/trace-schema.md).

A record is a unit of work: an inference service, one request to a service, a training or batch
job (a gang when `gang_size` > 1), or a pipeline stage that starts when its `upstream` stages
finish. GPU demand is one compact string so CSV and JSONL carry the same fields:
`whole:N` (N whole GPUs), `mig:<profile>` (one MIG instance, e.g. `mig:1g.10gb`), `milli:M`
(M/1000 of one GPU, with `gpu_memory_mib`), or empty (CPU only).

Every bad value is a `SchemaError` naming file:line:column (1-based; for JSONL the column is
where the field's key starts) and the field; `lenient=True` skips and counts bad records.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from packing.catalogue import get_model
from scheduler import safejson
from scheduler.policy.model import GpuRequest
from simulator.traces.csvfile import MAX_REQUEST_S, MAX_SECONDS, csv_lines, read_text
from simulator.traces.errors import LoadReport, SkippedRows, TraceError
from simulator.workloads.model import find_cycle

MAX_DEPTH = 8

MODALITIES = ("text", "image", "audio", "video", "multimodal", "unspecified")
KINDS = ("service", "request", "training", "batch", "pipeline_stage")
FIELDS = (
    "id", "arrival_s", "duration_s", "modality", "kind", "model", "gang_id", "gang_size",
    "pipeline_id", "upstream", "gpu", "gpu_memory_mib", "gpu_model", "cpu_milli", "memory_mib",
    "priority", "slo_ms",
)  # fmt: skip


class SchemaError(TraceError):
    def __init__(self, path: str, line: int, column: int, field: str, message: str) -> None:
        ValueError.__init__(self, f"{path}:{line}:{column}: field {field!r}: {message}")
        self.path, self.line, self.column = path, line, field


@dataclass(frozen=True)
class TraceRecord:
    id: str
    arrival_s: float
    duration_s: float
    modality: str
    kind: str
    model: str = ""
    gang_id: str = ""
    gang_size: int = 1
    pipeline_id: str = ""
    upstream: tuple[str, ...] = ()
    gpu: str = ""
    gpu_memory_mib: int = 0
    gpu_model: str = ""
    cpu_milli: int = 1000
    memory_mib: int = 4096
    priority: int = 0
    slo_ms: float | None = None

    def gpu_request(self) -> GpuRequest | None:
        return parse_gpu(self.gpu, self.gpu_memory_mib)

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["upstream"] = list(self.upstream)
        return doc


# Bounds shared with the extender's pod reader (scheduler/state/pods.py): a gang of 1e300
# members or `whole:99999999999999999999` stalled the replay for good (round 10).
MAX_DEVICES = 4096  # GPUs one node may hold, so one record may ask for
MAX_GANG_SIZE = 4096
MAX_CPU_MILLI = 2**53
MAX_MEMORY_MIB = 2**31 - 1
MAX_PRIORITY = 2**31 - 1  # a Kubernetes priority is an int32


def parse_gpu(text: str, memory_mib: int = 0) -> GpuRequest | None:
    """`whole:N` | `mig:<profile>` | `milli:M` | '' -> the policy core's GpuRequest."""
    if text == "":
        return None
    kind, _, value = text.partition(":")
    value = value if value.isascii() else ""  # '²' passes isdigit() and fails in int()
    if kind == "whole" and value.isdigit() and len(value) <= 6 and 1 <= int(value) <= MAX_DEVICES:
        return GpuRequest("whole", count=int(value))
    if kind == "milli" and value.isdigit() and 1 <= int(value) <= 999:
        return GpuRequest("milli", milli=int(value), memory_mib=memory_mib)
    if kind == "mig" and value:
        get_model("H100-80GB").profile(value)  # KeyError/ValueError for an unknown profile
        return GpuRequest("mig", profile=value)
    raise ValueError(
        f"expected whole:1..{MAX_DEVICES}, mig:<profile> or milli:1..999, got {text[:40]!r}"
    )


class _Fields:
    """Typed reads of one raw record; `col(name)` says where a field sits on its line."""

    def __init__(self, path: str, line: int, raw: dict[str, Any], cols: dict[str, int]) -> None:
        self.path, self.line, self.raw, self.cols = path, line, raw, cols

    def fail(self, name: str, message: str) -> SchemaError:
        return SchemaError(self.path, self.line, self.cols.get(name, 1), name, message)

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.raw.get(name)
        value = "" if value is None else str(value).strip()
        if required and value == "":
            raise self.fail(name, "missing value")
        return value

    def number(self, name: str, *, lo: float = 0.0, default: float | None = None,
               positive: bool = False, hi: float = math.inf) -> float:
        raw = self.text(name)
        if raw == "":
            if default is None:
                raise self.fail(name, "missing value")
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(name, f"expected a number, got {raw!r}") from None
        if not math.isfinite(value) or not lo <= value <= hi or (positive and value <= 0):
            bound = "> 0" if positive else f">= {lo:g}"
            bound += "" if hi == math.inf else f" and <= {hi:g}"
            raise self.fail(name, f"expected a finite number {bound}, got {raw[:40]!r}")
        return value

    def integer(self, name: str, *, lo: int = 0, default: int, hi: int | None = None) -> int:
        top = math.inf if hi is None else float(hi)
        value = self.number(name, lo=lo, default=float(default), hi=top)
        if value != int(value):
            raise self.fail(name, f"expected a whole number, got {self.text(name)!r}")
        return int(value)

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        value = self.text(name, required=True)
        if value not in options:
            raise self.fail(name, f"unknown {value!r}; expected one of {', '.join(options)}")
        return value


def _record(f: _Fields) -> TraceRecord:
    unknown = sorted(set(f.raw) - set(FIELDS))
    if unknown:
        raise f.fail(unknown[0], f"unknown field; fields are {', '.join(FIELDS)}")
    upstream_raw = f.raw.get("upstream")
    if isinstance(upstream_raw, list):
        upstream = tuple(str(u) for u in upstream_raw)
    else:
        upstream = tuple(u for u in f.text("upstream").split(";") if u)
    gpu, memory = f.text("gpu"), f.integer("gpu_memory_mib", default=0, hi=MAX_MEMORY_MIB)
    try:
        parse_gpu(gpu, memory)
    except (KeyError, ValueError) as exc:
        raise f.fail("gpu", str(exc).strip("'\"")) from None
    slo = f.number("slo_ms", default=-1.0, lo=-1.0)
    rec = TraceRecord(
        id=f.text("id", required=True),
        arrival_s=f.number("arrival_s", hi=MAX_SECONDS),
        duration_s=f.number("duration_s", positive=True, hi=MAX_SECONDS),
        modality=f.choice("modality", MODALITIES),
        kind=f.choice("kind", KINDS),
        model=f.text("model"),
        gang_id=f.text("gang_id"),
        gang_size=f.integer("gang_size", lo=1, default=1, hi=MAX_GANG_SIZE),
        pipeline_id=f.text("pipeline_id"),
        upstream=upstream,
        gpu=gpu,
        gpu_memory_mib=memory,
        gpu_model=f.text("gpu_model"),
        cpu_milli=f.integer("cpu_milli", default=1000, hi=MAX_CPU_MILLI),
        memory_mib=f.integer("memory_mib", default=4096, hi=MAX_MEMORY_MIB),
        priority=f.integer("priority", lo=-(10**9), default=0, hi=MAX_PRIORITY),
        slo_ms=None if slo < 0 else slo,
    )
    if rec.kind == "request" and not rec.model:
        raise f.fail("model", "a request names the model (service) it is sent to")
    if rec.kind == "request" and rec.duration_s > MAX_REQUEST_S:
        raise f.fail("duration_s", f"a request runs at most {MAX_REQUEST_S:g} s, got "
                     f"{rec.duration_s:g}")
    if rec.upstream and rec.kind != "pipeline_stage":
        raise f.fail("upstream", "only a pipeline_stage has upstream stages")
    return rec


def _check_links(path: str, recs: list[tuple[int, TraceRecord]]) -> None:
    """Upstream ids must exist and form no cycle; a gang's records agree on its size."""
    gang_of = {r.id: r.gang_id for _, r in recs}
    sizes: dict[str, int] = {}
    for line, r in recs:
        for up in r.upstream:
            if up not in gang_of:
                raise SchemaError(path, line, 1, "upstream", f"unknown stage id {up!r}")
            if up == r.id:  # was dropped silently: the stage ran at once
                raise SchemaError(path, line, 1, "upstream", f"stage {up!r} waits on itself")
            if r.gang_id and gang_of[up] == r.gang_id:  # one job: dropped silently as well
                raise SchemaError(path, line, 1, "upstream", f"stage {r.id!r} of gang "
                                  f"{r.gang_id!r} waits on its own gang (upstream {up!r})")
        if r.gang_id and sizes.setdefault(r.gang_id, r.gang_size) != r.gang_size:
            raise SchemaError(path, line, 1, "gang_size",
                              f"gang {r.gang_id!r} was declared with size {sizes[r.gang_id]}")
    cycle = find_cycle({r.id: r.upstream for _, r in recs})
    if cycle:  # its stages never arrived, and the replay counted them nowhere
        line_of = {r.id: line for line, r in recs}
        shown = " -> ".join(cycle[:6]) + (" ..." if len(cycle) > 6 else "")
        raise SchemaError(path, line_of[cycle[0]], 1, "upstream", f"upstream cycle {shown}")


def _csv_records(path: str, text: str) -> Iterator[_Fields | SchemaError]:
    reader = csv_lines(path, csv.reader(io.StringIO(text)))
    header = [h.strip() for h in next(reader, [])]
    for i, name in enumerate(header):
        if name not in FIELDS:
            raise SchemaError(path, 1, i + 1, name,
                              f"unknown column; fields are {', '.join(FIELDS)}")
    for need in ("id", "arrival_s", "duration_s", "modality", "kind"):
        if need not in header:
            raise SchemaError(path, 1, 1, need, "required column missing from the header")
    cols = {name: i + 1 for i, name in enumerate(header)}
    for line, values in enumerate(reader, start=2):
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield SchemaError(path, line, min(len(values), len(header)) + 1, "(row)",
                              f"has {len(values)} fields, header has {len(header)}")
            continue
        yield _Fields(path, line, dict(zip(header, values, strict=True)), cols)


def _jsonl_records(path: str, text: str) -> Iterator[_Fields | SchemaError]:
    # "\n" alone ends a line: splitlines() also split inside strings at U+2028, U+0085, \x1c...
    for line, raw_line in enumerate(text.split("\n"), start=1):
        if not raw_line.strip():
            continue
        try:  # json.loads of a deep line was a RecursionError traceback; orjson stops at 1,024
            doc = orjson.loads(raw_line)
        except orjson.JSONDecodeError as exc:
            yield SchemaError(path, line, exc.colno, "(json)", exc.msg)
            continue
        if safejson.walk_depth(doc, MAX_DEPTH) > MAX_DEPTH:  # a record is flat (upstream: a list)
            yield SchemaError(path, line, 1, "(json)", f"nested deeper than {MAX_DEPTH} levels")
            continue
        if not isinstance(doc, dict):
            yield SchemaError(path, line, 1, "(json)", "expected one JSON object per line")
            continue
        cols = {k: max(raw_line.find(f'"{k}"'), 0) + 1 for k in doc}
        yield _Fields(path, line, doc, cols)


def load_records(path: str | Path, *, lenient: bool = False) -> LoadReport[TraceRecord]:
    """CSV (by header) or JSONL (`.jsonl`/`.ndjson`) records; links checked after the rows."""
    name = str(path)
    text = read_text(path)
    jsonl = Path(path).suffix in (".jsonl", ".ndjson")
    items = _jsonl_records(name, text) if jsonl else _csv_records(name, text)
    good: list[tuple[int, TraceRecord]] = []
    skipped = SkippedRows()
    seen: set[str] = set()
    for item in items:
        try:
            if isinstance(item, SchemaError):
                raise item
            rec = _record(item)
            if rec.id in seen:
                raise item.fail("id", f"duplicate id {rec.id!r}")
            seen.add(rec.id)
            good.append((item.line, rec))
        except SchemaError as exc:
            if not lenient:
                raise
            skipped.add(exc)
    _check_links(name, good)
    return LoadReport(tuple(r for _, r in good), skipped.count, tuple(skipped.first))


def to_jsonl(records: list[TraceRecord] | tuple[TraceRecord, ...]) -> str:
    return "".join(json.dumps(r.as_dict(), sort_keys=False, separators=(",", ":")) + "\n"
                   for r in records)


def to_csv(records: list[TraceRecord] | tuple[TraceRecord, ...]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    for r in records:
        d = r.as_dict()
        d["upstream"] = ";".join(r.upstream)
        d["slo_ms"] = "" if r.slo_ms is None else r.slo_ms
        w.writerow([d[k] for k in FIELDS])
    return buf.getvalue()


def write_records(path: str | Path, records: list[TraceRecord] | tuple[TraceRecord, ...]) -> None:
    """JSONL for `.jsonl`/`.ndjson`, else CSV."""
    p = Path(path)
    text = to_jsonl(records) if p.suffix in (".jsonl", ".ndjson") else to_csv(records)
    try:  # `afile/x.csv` was a NotADirectoryError traceback
        p.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"--out {p}: cannot write ({exc.strerror})") from None
