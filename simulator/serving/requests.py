"""Requests for the serving simulation, from schema records (kind `request`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from simulator.workloads.convert import from_genai
from simulator.workloads.schema import TraceRecord, load_records


@dataclass(frozen=True)
class Request:
    arrival_s: float
    exec_s: float
    model: str
    modality: str
    slo_wait_s: float | None  # from the record's slo_ms; None: the run's default
    gpu: str = ""  # the replica shape this model needs (schema form); "": the run's default
    gpu_memory_mib: int = 0


def from_records(records: tuple[TraceRecord, ...]) -> list[Request]:
    out = [Request(r.arrival_s, r.duration_s, r.model, r.modality,
                   None if r.slo_ms is None else r.slo_ms / 1000, r.gpu, r.gpu_memory_mib)
           for r in records if r.kind == "request"]
    return sorted(out, key=lambda q: (q.arrival_s, q.model))


def load_requests(path: str | Path, *, lenient: bool = False) -> list[Request]:
    """A GenAI lora_request_trace CSV (by header), a schema v1 CSV/JSONL, or
    `multimodal[:seed=N,...]` (the generated day's requests)."""
    if str(path).partition(":")[0] == "multimodal":  # a file multimodal_day.csv is a file
        from simulator.workloads.multimodal import generate, parse_params

        return from_records(tuple(generate(parse_params(str(path).partition(":")[2]))))
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"trace file not found: {path}")
    with p.open(encoding="utf-8") as fh:
        genai = fh.readline().startswith("gmt_create,predict_type")
    report = from_genai(p, lenient=lenient) if genai else load_records(p, lenient=lenient)
    reqs = from_records(report.rows)
    if not reqs:
        raise ValueError(f"{path}: no request records (kind=request) to serve")
    return reqs


def window(reqs: list[Request], start_s: float, hours: float) -> list[Request]:
    """Requests arriving in [start, start + hours), times shifted to start at 0."""
    end = start_s + hours * 3600
    return [replace(q, arrival_s=q.arrival_s - start_s)
            for q in reqs if start_s <= q.arrival_s < end]


def with_shape(reqs: list[Request], gpu: str | None) -> list[Request]:
    """Every model's replicas ask `gpu` (schema form), whatever the records say; None: as
    the records say (a record without one gets the run's `replica_gpu`)."""
    if gpu is None:
        return reqs
    return [replace(q, gpu=gpu, gpu_memory_mib=0) for q in reqs]
