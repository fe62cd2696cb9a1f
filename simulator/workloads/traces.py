"""Shipped traces as replay workloads, through the trace loaders (simulator.traces).

- Tiresias 60-job CSV: no cluster in the trace, so 2 nodes x 8 H100 (16 GPUs, about twice
  the trace's mean demand of 8 GPUs, so gangs contend). A job's GPUs
  become a gang of pods: 1-2 GPUs -> one pod; 4 -> 2 pods x 2; 8 -> 2 pods x 4 (the trace's
  jobs are distributed data-parallel training).
- Alibaba openb pod list with times (11 columns) plus a node list: arrival = creation_time,
  run time = deletion - scheduled (pods that never ran: deletion - creation), on the node
  list's GPU nodes; whole GPUs and milli shares as the trace asks. Undisclosed GPU models keep
  their trace names (no MIG).
- Multimodal schema v1 CSV or JSONL (docs/trace-schema.md): simulator.workloads.from_schema.
- DLRM v2025 instance CSV and GenAI v2026 lora_request_trace CSV: simulator.workloads.dlrm
  and simulator.workloads.genai (each documents its mapping and the cluster it builds).
- `synthetic[:key=value,...]` (every generator parameter by name): simulator.workloads.synthetic.
- `multimodal[:seed=N,...]`: simulator.workloads.multimodal's jobs (docs/workload-generator.md).
"""

from __future__ import annotations

from pathlib import Path

from scheduler.policy.model import GpuRequest
from simulator.traces.openb import OpenbPod, load_openb_nodes, load_openb_pods
from simulator.traces.tiresias import load_tiresias_jobs
from simulator.workloads.dlrm import dlrm
from simulator.workloads.from_schema import workload_from_records
from simulator.workloads.genai import genai
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec, Workload
from simulator.workloads.multimodal import generate as generate_multimodal
from simulator.workloads.multimodal import parse_params
from simulator.workloads.schema import load_records
from simulator.workloads.synthetic import GiB, cluster, from_spec

MiB = 1024**2


def tiresias(path: str | Path) -> Workload:
    jobs = []
    for j in load_tiresias_jobs(path).rows:
        pods, per = _tiresias_pods(j.num_gpu)
        task = TaskSpec(4_000 * per, 32 * GiB * per, GpuRequest("whole", count=per))
        jobs.append(
            JobSpec(f"t{j.job_id:03d}", j.submit_time, j.duration, task, pods, pods, "training")
        )
    return Workload(Path(path).name, cluster(2, 0), tuple(jobs), f"tiresias {Path(path).name}")


def _tiresias_pods(gpus: int) -> tuple[int, int]:
    """(pods, GPUs each) of a Tiresias job: up to 2 GPUs one pod; an even count above that 2
    pods of half each (two servers, as the Tiresias traces' multi-GPU jobs run); an odd one
    a pod per GPU (3 was replayed as 2 x 1, one GPU lost, and a refusal would reject a whole
    trace for one job)."""
    if gpus <= 2:
        return 1, gpus
    return (2, gpus // 2) if gpus % 2 == 0 else (gpus, 1)


def openb_gpu(pod: OpenbPod) -> GpuRequest | None:
    """An openb pod's GPU ask: a milli share below one GPU, else whole GPUs, None when CPU-only."""
    if pod.num_gpu == 0:
        return None
    if pod.gpu_milli < 1000:
        return GpuRequest("milli", milli=pod.gpu_milli)
    return GpuRequest("whole", count=pod.num_gpu)


def openb(pods_path: str | Path, nodes_path: str | Path, limit: int | None = None) -> Workload:
    jobs = []
    for p in load_openb_pods(pods_path, unique=True).rows[:limit]:
        if p.creation_time is None or p.deletion_time is None:
            raise ValueError(
                f"{pods_path}: pod {p.name} has no creation/deletion time; "
                "time-based replay needs the 11-column pod list"
            )
        began = p.scheduled_time if p.scheduled_time is not None else p.creation_time
        run = max(p.deletion_time - began, 1.0)
        task = TaskSpec(p.cpu_milli, p.memory_mib * MiB, openb_gpu(p))
        jobs.append(JobSpec(p.name, p.creation_time, run, task, kind="batch"))
    nodes = tuple(
        NodeSpec(n.name, n.model, n.num_gpu, n.cpu_milli, n.memory_mib * MiB)
        for n in load_openb_nodes(nodes_path, unique=True).rows
        if n.num_gpu > 0
    )
    return Workload(Path(pods_path).name, nodes, tuple(jobs), f"openb {Path(pods_path).name}")


def synthetic_spec(spec: str) -> Workload:
    """`synthetic` or `synthetic:seed=1,jobs=400,...` (every generator parameter by name;
    simulator.workloads.synthetic.parse_spec)."""
    return from_spec(spec)


def multimodal_jobs(spec: str) -> Workload:
    """`multimodal[:seed=N,...]`: the generated day's jobs (training gangs, pipelines,
    ensembles); its requests are served by `simulate serve`, not replayed as jobs."""
    params = parse_params(spec.partition(":")[2])
    records = tuple(r for r in generate_multimodal(params) if r.kind != "request")
    if not records:
        raise ValueError(
            f"{spec}: the day has no jobs to replay (training_jobs, pipelines and "
            "ensembles are 0; its requests are served by `simulate serve`)"
        )
    return workload_from_records(records, f"multimodal-day-seed{params.seed}")


SPECS = ("synthetic", "multimodal")


def spec_name(trace: str) -> str | None:
    """ "synthetic" or "multimodal" when `trace` is a generator spec (that word, alone or before
    ':'); a file such as `synthetic_week.csv` or `multimodal-day.csv` is a file (it was taken
    for a spec: refused, or silently replaced by the generated day)."""
    head = trace.partition(":")[0]
    return head if head in SPECS else None


FORMATS = ("auto", "tiresias", "openb", "dlrm", "dlrm-gpu", "genai", "schema")
_HEADERS = (
    ("job_id,num_gpu,submit_time", "tiresias"),
    ("name,cpu_milli,memory_mib,num_gpu,gpu_milli", "openb"),
    ("instance_sn,role,app_name", "dlrm"),
    ("gmt_create,predict_type", "genai"),
    ("id,arrival_s,duration_s", "schema"),
)


def load(trace: str, nodes: str | None = None, fmt: str = "auto") -> Workload:
    """A workload from `--trace`: `synthetic[:...]` or a trace CSV, its format named by `fmt`
    or detected by its header ("dlrm-gpu" is the DLRM trace's GPU pool alone)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown trace format {fmt!r}; known: {', '.join(FORMATS)}")
    spec = spec_name(trace)
    if spec is not None:
        return synthetic_spec(trace) if spec == "synthetic" else multimodal_jobs(trace)
    workload = _load_file(trace, nodes, fmt)
    if not workload.jobs:  # a table of zeros measured nothing
        raise ValueError(f"{trace}: no jobs to replay")
    return workload


def _load_file(trace: str, nodes: str | None, fmt: str) -> Workload:
    path = Path(trace)
    if not path.is_file():
        raise FileNotFoundError(f"trace file not found: {trace}")
    if fmt == "auto" and path.suffix in (".jsonl", ".ndjson"):
        fmt = "schema"
    if fmt == "auto":
        with path.open(encoding="utf-8-sig", errors="replace") as fh:  # the loader names bad bytes
            header = fh.readline(4096).strip()
        fmt = next((f for prefix, f in _HEADERS if header.startswith(prefix)), "")
        if not fmt:
            raise ValueError(
                f"{trace}: unknown trace format (header {header[:60]!r}); expected a "
                "Tiresias job CSV, an openb pod CSV, a DLRM v2025 instance CSV, a GenAI v2026 "
                "lora_request_trace CSV, a schema v1 CSV/JSONL (docs/trace-schema.md) or "
                "'synthetic[:seed=N,...]'"
            )
    if fmt == "tiresias":
        return tiresias(path)
    if fmt == "openb":
        node_file = Path(nodes) if nodes else path.with_name("openb_node_list_gpu_node.csv")
        return openb(path, node_file)
    if fmt == "genai":
        return genai(path)
    if fmt == "schema":
        return workload_from_records(load_records(path).rows, path.name)
    return dlrm(path, gpu_pool_only=fmt == "dlrm-gpu")
