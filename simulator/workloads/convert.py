"""Converters from the shipped traces to the multimodal schema (simulator.workloads.schema).

What each source lacks is filled in plainly, never guessed per row:
- openb pods: kind `batch`, modality `unspecified` (the trace does not say); whole GPUs or a
  milli share as the pod asks; `gpu_spec` (allowed models) becomes `gpu_model` when it names
  exactly one model. Run time as in the replay (deletion - scheduled, else - creation).
- Tiresias jobs: one `training` record per pod of a gang (the replay's rule: 1-2 GPUs -> one
  pod; more -> two pods with half each); modality `image` for the ImageNet CNNs the trace names
  (alexnet, googlenet, inception*, resnet*, vgg*), else `unspecified`.
- GenAI LoRA requests: kind `request` to the service named by the base model
  (`checkpoint_model_version_id`), modality `image` (text-to-image, image-to-image and
  inpainting all return images), run time = execution time (0 s -> 1 s), the GPU share of
  simulator.workloads.genai.share; PENDING/PROCESSING requests are dropped (never ran).
"""

from __future__ import annotations

from pathlib import Path

from simulator.traces.errors import LoadReport
from simulator.traces.genai import load_lora_requests
from simulator.traces.openb import load_openb_pods
from simulator.traces.tiresias import load_tiresias_jobs
from simulator.workloads.genai import DROPPED_STATUSES, share
from simulator.workloads.schema import TraceRecord

SOURCES = ("openb", "tiresias", "genai")
_IMAGE_CNNS = ("alexnet", "googlenet", "inception", "resnet", "vgg")


def _gpu_text(kind: str, count: int = 1, milli: int = 0) -> str:
    return f"whole:{count}" if kind == "whole" else f"milli:{milli}"


def from_openb(path: str | Path, *, lenient: bool = False) -> LoadReport[TraceRecord]:
    src = load_openb_pods(path, lenient=lenient)
    out = []
    for p in src.rows:
        if p.creation_time is None or p.deletion_time is None:
            raise ValueError(f"{path}: pod {p.name} has no creation/deletion time; the schema "
                             "needs arrival and duration (use the 11-column pod list)")
        began = p.scheduled_time if p.scheduled_time is not None else p.creation_time
        gpu = "" if p.num_gpu == 0 else (
            f"milli:{p.gpu_milli}" if p.gpu_milli < 1000 else f"whole:{p.num_gpu}")
        models = [m for m in p.gpu_spec.split("|") if m]
        out.append(TraceRecord(
            id=p.name, arrival_s=p.creation_time, duration_s=max(p.deletion_time - began, 1.0),
            modality="unspecified", kind="batch", gpu=gpu,
            gpu_model=models[0] if len(models) == 1 else "", cpu_milli=p.cpu_milli,
            memory_mib=p.memory_mib))
    return LoadReport(tuple(out), src.skipped, src.first_errors)


def from_tiresias(path: str | Path, *, lenient: bool = False) -> LoadReport[TraceRecord]:
    src = load_tiresias_jobs(path, lenient=lenient)
    out = []
    for j in src.rows:
        pods, per = (1, j.num_gpu) if j.num_gpu <= 2 else (2, j.num_gpu // 2)
        image = any(j.model_name.lower().startswith(m) for m in _IMAGE_CNNS)
        gang = f"t{j.job_id:03d}"
        for i in range(pods):
            out.append(TraceRecord(
                id=f"{gang}-{i}", arrival_s=j.submit_time, duration_s=j.duration,
                modality="image" if image else "unspecified", kind="training",
                model=j.model_name, gang_id=gang, gang_size=pods,
                gpu=f"whole:{per}", cpu_milli=4000 * per, memory_mib=32 * 1024 * per))
    return LoadReport(tuple(out), src.skipped, src.first_errors)


def from_genai(path: str | Path, *, lenient: bool = False) -> LoadReport[TraceRecord]:
    src = load_lora_requests(path, lenient=lenient)
    if not src.rows:
        return LoadReport((), src.skipped, src.first_errors)
    first = min(r.created for r in src.rows)
    out = []
    for i, r in enumerate(src.rows):
        if r.status in DROPPED_STATUSES:
            continue
        g = share(r.num_images)
        out.append(TraceRecord(
            id=f"req-{i:05d}", arrival_s=(r.created - first).total_seconds(),
            duration_s=max(r.exec_time_s, 1.0), modality="image", kind="request",
            model=r.base_model or "unnamed", gpu=_gpu_text(g.kind, g.count, g.milli),
            gpu_memory_mib=g.memory_mib, cpu_milli=4000, memory_mib=16 * 1024))
    return LoadReport(tuple(out), src.skipped, src.first_errors)


def convert(source: str, path: str | Path, *, lenient: bool = False) -> LoadReport[TraceRecord]:
    if source == "openb":
        return from_openb(path, lenient=lenient)
    if source == "tiresias":
        return from_tiresias(path, lenient=lenient)
    if source == "genai":
        return from_genai(path, lenient=lenient)
    raise ValueError(f"unknown source format {source!r}; known: {', '.join(SOURCES)}")
