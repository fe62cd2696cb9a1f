"""The Tiresias simulator's job list (``job_id,num_gpu,submit_time,iterations,model_name,
duration,interval``; times in seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.traces.csvfile import Row, read_rows
from simulator.traces.errors import LoadReport

MAX_GPUS = 8192  # 99999999999 was accepted and the job silently never placed

HEADER = ("job_id", "num_gpu", "submit_time", "iterations", "model_name", "duration", "interval")


@dataclass(frozen=True)
class TiresiasJob:
    job_id: int
    num_gpu: int
    submit_time: float
    iterations: int
    model_name: str
    duration: float
    interval: float


def _job(row: Row) -> TiresiasJob:
    num_gpu = row.integer("num_gpu", lo=1, hi=MAX_GPUS)
    duration = row.required_seconds("duration")
    if duration <= 0:
        raise row.fail("duration", f"a job must run for a positive time, got {duration}")
    submit = row.required_seconds("submit_time")
    interval = row.required_seconds("interval")
    return TiresiasJob(
        job_id=row.integer("job_id"),
        num_gpu=num_gpu,
        submit_time=submit,
        iterations=row.integer("iterations"),
        model_name=row.text("model_name"),
        duration=duration,
        interval=interval,
    )


def load_tiresias_jobs(path: str | Path, *, lenient: bool = False) -> LoadReport[TiresiasJob]:
    """Job ids are unique (each becomes the replay job `t<id>`)."""
    return read_rows(path, (HEADER,), _job, lenient=lenient, unique=("job_id", _job_id))


def _job_id(job: TiresiasJob) -> int:
    return job.job_id
