"""Alibaba GenTD26 (cluster-trace-v2026-GenAI) `lora_request_trace.csv`: Stable-Diffusion
serving requests with base model, LoRA count, steps and execution time. Request-level only:
the trace has no GPU counts or placements (see simulator.workloads.genai for the mapping).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simulator.traces.csvfile import MAX_REQUEST_S, Row, read_rows
from simulator.traces.errors import LoadReport
from simulator.traces.fields import number, optional_number

HEADER = (
    "gmt_create", "predict_type", "predict_status", "exec_time_seconds", "groupId",
    "prompt_length", "negative_prompt_length", "num_images_per_prompt", "num_inference_steps",
    "checkpoint_model_version_id", "num_lora",
)  # fmt: skip
PREDICT_TYPES = ("TXT_2_IMG", "IMG_2_IMG", "INPAINTING")
STATUSES = ("SUCCEED", "FAILED", "PENDING", "PROCESSING")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class LoraRequest:
    created: datetime  # shifted by the trace's anonymisation; only differences matter
    predict_type: str
    status: str
    exec_time_s: float
    group: str
    num_lora: int
    base_model: str = ""  # blank in a few rows
    num_images: int | None = None
    inference_steps: int | None = None
    prompt_length: float | None = None


def _optional_int(row: Row, column: str) -> int | None:
    value = optional_number(row, column)
    if value is not None and value != int(value):
        raise row.fail(column, f"expected a whole number, got {row.text(column)!r}")
    return None if value is None else int(value)


def _request(row: Row) -> LoraRequest:
    raw = row.text("gmt_create")
    try:
        created = datetime.strptime(raw, TIME_FORMAT)
    except ValueError:
        raise row.fail("gmt_create", f"expected 'YYYY-MM-DD HH:MM:SS', got {raw!r}") from None
    kind = row.text("predict_type")
    if kind not in PREDICT_TYPES:
        raise row.fail("predict_type", f"unknown {kind!r}; expected one of {PREDICT_TYPES}")
    status = row.text("predict_status")
    if status not in STATUSES:
        raise row.fail("predict_status", f"unknown {status!r}; expected one of {STATUSES}")
    return LoraRequest(
        created=created,
        predict_type=kind,
        status=status,
        exec_time_s=number(row, "exec_time_seconds", hi=MAX_REQUEST_S),
        group=row.text("groupId"),
        num_lora=row.integer("num_lora"),
        base_model=row.text("checkpoint_model_version_id"),
        num_images=_optional_int(row, "num_images_per_prompt"),
        inference_steps=_optional_int(row, "num_inference_steps"),
        prompt_length=optional_number(row, "prompt_length"),
    )


def load_lora_requests(path: str | Path, *, lenient: bool = False) -> LoadReport[LoraRequest]:
    return read_rows(path, (HEADER,), _request, lenient=lenient)
