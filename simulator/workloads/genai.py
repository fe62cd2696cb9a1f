"""The GenAI v2026 LoRA request trace (simulator.traces.genai) as a replay workload.

The trace is request-level (no GPU counts or pods), so the mapping is ours, stated here:
- Each request is one serving task ("inference" job) submitted at `gmt_create` (seconds from
  the first request in the file) that holds a GPU share for `exec_time_seconds`, the
  request's measured execution time (0 s becomes 1 s: a job needs a positive run time).
- The share follows the batch a request generates (`num_images_per_prompt`): 1 image (or
  blank) -> 250 milli + 20 GiB of an H100 (an SD/SDXL pipeline with merged LoRAs fits in
  ~10-16 GiB, so four co-locate on 80 GB); 2-4 images -> 500 milli + 40 GiB; more -> one
  whole GPU. Plus 4 vCPU and 16 GiB of host memory per task.
- PENDING and PROCESSING requests never completed, so their exec time is not a run time:
  they are dropped and counted. FAILED requests ran on a GPU and are kept.
- Cluster: nodes of 4 x H100-80GB, 96 vCPU, 768 GiB, enough for the 99th percentile of the
  GPU demand in flight at arrivals (each request running exactly as the trace timed it),
  rounded up to whole nodes, at least one. A capacity planner's question: at that size, how
  long do requests queue in the bursts above p99, and how well does each policy pack the
  mixed shares?
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from scheduler.policy.model import GpuRequest
from simulator.traces.genai import LoraRequest, load_lora_requests
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec, Workload
from simulator.workloads.sizing import concurrent_at_arrivals, quantile

GiB = 1024**3
GPU_MODEL = "H100-80GB"
NODE_GPUS, NODE_CPU_MILLI, NODE_MEMORY = 4, 96_000, 768 * GiB
TASK_CPU_MILLI, TASK_MEMORY = 4_000, 16 * GiB
SIZING_QUANTILE = 0.99
DROPPED_STATUSES = ("PENDING", "PROCESSING")


@dataclass(frozen=True)
class GenaiCounts:
    requests: int
    kept: int
    dropped_unfinished: int  # PENDING / PROCESSING
    zero_exec: int  # kept requests with exec_time 0, run 1 s


def share(images: int | None) -> GpuRequest:
    """The GPU a request holds, by its batch size (module docstring)."""
    n = images or 1
    if n == 1:
        return GpuRequest("milli", milli=250, memory_mib=20 * 1024)
    if n <= 4:
        return GpuRequest("milli", milli=500, memory_mib=40 * 1024)
    return GpuRequest("whole", count=1)


def gpu_milli(job: JobSpec) -> int:
    g = job.task.gpu
    if g is None:
        return 0
    return g.count * 1000 if g.kind == "whole" else g.milli


def jobs_from_requests(rows: tuple[LoraRequest, ...]) -> tuple[tuple[JobSpec, ...], GenaiCounts]:
    if not rows:
        return (), GenaiCounts(0, 0, 0, 0)
    first = min(r.created for r in rows)
    jobs, dropped, zero = [], 0, 0
    for i, r in enumerate(rows):
        if r.status in DROPPED_STATUSES:
            dropped += 1
            continue
        zero += r.exec_time_s <= 0
        task = TaskSpec(TASK_CPU_MILLI, TASK_MEMORY, share(r.num_images))
        arrival = (r.created - first).total_seconds()
        jobs.append(JobSpec(f"req-{i:05d}", arrival, max(r.exec_time_s, 1.0), task,
                            kind="inference"))
    return tuple(jobs), GenaiCounts(len(rows), len(jobs), dropped, zero)


def cluster_for(jobs: tuple[JobSpec, ...]) -> tuple[NodeSpec, ...]:
    gpus = quantile(concurrent_at_arrivals(jobs, gpu_milli), SIZING_QUANTILE) / 1000
    n = max(1, math.ceil(gpus / NODE_GPUS - 1e-9))
    return tuple(NodeSpec(f"sd-{i:03d}", GPU_MODEL, NODE_GPUS, NODE_CPU_MILLI, NODE_MEMORY)
                 for i in range(n))


def genai(path: str | Path) -> Workload:
    jobs, c = jobs_from_requests(load_lora_requests(path).rows)
    source = (f"genai {Path(path).name}: {c.requests} requests, {c.kept} replayed, "
              f"{c.dropped_unfinished} PENDING/PROCESSING dropped, {c.zero_exec} zero-exec (1 s)")
    return Workload(Path(path).name, cluster_for(jobs), jobs, source)
