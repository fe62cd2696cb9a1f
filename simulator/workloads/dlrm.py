"""The DLRM v2025 trace (simulator.traces.dlrm) as a replay workload.

- Every instance is one latency-sensitive, long-running serving pod ("inference" job): HN
  instances ask for `gpu_request` whole GPUs, CN instances for CPU and memory only.
- Times (blank = outside the trace, per its README): arrival = creation_time, or 0 for
  instances that existed before the trace started; the pod runs from scheduled_time (else
  creation_time, else 0) to deletion_time, or to the trace end (the latest time in the file)
  for instances still alive then. Zero-length instances (deleted the second they were
  scheduled) run 1 s, since a replay job needs a positive run time. All three are counted.
- Cluster (the trace ships none): GPU nodes of 8 GPUs, 128 vCPU, 1 TiB (two of the common HN
  shape 8 vCPU + 40 GiB per GPU fit with room for the 12 vCPU / 120 GiB ones) and CPU nodes of
  192 vCPU, 1.5 TiB (the largest CN request is 192 vCPU, 1,000 GiB). Each pool is sized to the
  trace's own peak concurrent demand when every instance runs where the trace says, rounded up
  to whole nodes: the services fit in aggregate, so what queues is the policy's packing.
  The GPU model is not disclosed; H100-80GB stands in (whole GPUs only, no MIG).
- Not modelled: `max_instance_per_node` (per-app anti-affinity) and the RDMA density limit,
  which the replay's task model cannot express. The task model has no node selector or taint
  either, so in the default form a CN pod may land on a GPU node (a cluster without a GPU
  taint) and strand its GPUs; `gpu_pool_only` (`--format dlrm-gpu`) replays the HN instances
  on the GPU pool alone, which is what a GPU taint makes of the two disjoint pools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from scheduler.policy.model import GpuRequest
from simulator.traces.dlrm import DlrmInstance, load_dlrm_instances
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec, Workload
from simulator.workloads.sizing import concurrent_at_arrivals

GiB = 1024**3
GPU_MODEL = "H100-80GB"
GPU_NODE = (8, 128_000, 1024 * GiB)  # GPUs, cpu milli, memory bytes
CPU_NODE = (0, 192_000, 1536 * GiB)


@dataclass(frozen=True)
class DlrmCounts:
    instances: int
    hn: int
    cn: int
    present_from_start: int  # no creation/scheduled time: arrives at 0
    until_end: int  # no deletion time: runs to the trace end
    zero_length: int  # deletion == start: given 1 s


def jobs_from_instances(rows: tuple[DlrmInstance, ...]) -> tuple[tuple[JobSpec, ...], DlrmCounts]:
    times = [t for r in rows for t in (r.creation_time, r.scheduled_time, r.deletion_time)
             if t is not None]
    end = max(times, default=0.0)
    jobs, from_start, until_end, zero = [], 0, 0, 0
    for r in rows:
        arrival = r.creation_time if r.creation_time is not None else 0.0
        began = r.scheduled_time if r.scheduled_time is not None else arrival
        from_start += r.creation_time is None and r.scheduled_time is None
        until_end += r.deletion_time is None
        stop = r.deletion_time if r.deletion_time is not None else end
        if stop - began <= 0:
            zero += 1
        gpu = GpuRequest("whole", count=r.gpu) if r.gpu else None
        task = TaskSpec(r.cpu * 1000, round(r.memory_gib * GiB), gpu)
        jobs.append(JobSpec(r.name, arrival, max(stop - began, 1.0), task, kind="inference"))
    hn = sum(r.role == "HN" for r in rows)
    counts = DlrmCounts(len(rows), hn, len(rows) - hn, from_start, until_end, zero)
    return tuple(jobs), counts


def _pool(jobs: list[JobSpec], shape: tuple[int, int, int]) -> int:
    gpus, cpu, mem = shape
    need = [
        max(concurrent_at_arrivals(jobs, lambda j: j.task.cpu_milli), default=0) / cpu,
        max(concurrent_at_arrivals(jobs, lambda j: j.task.memory_bytes), default=0) / mem,
    ]
    if gpus:
        per = concurrent_at_arrivals(jobs, lambda j: j.task.gpu.count if j.task.gpu else 0)
        need.append(max(per, default=0) / gpus)
    return math.ceil(max(need) - 1e-9) if jobs else 0


def cluster_for(jobs: tuple[JobSpec, ...]) -> tuple[NodeSpec, ...]:
    gpu_jobs = [j for j in jobs if j.task.gpu is not None]
    cpu_jobs = [j for j in jobs if j.task.gpu is None]
    n_gpu, n_cpu = _pool(gpu_jobs, GPU_NODE), _pool(cpu_jobs, CPU_NODE)
    return tuple(
        [NodeSpec(f"hn-{i:03d}", GPU_MODEL, GPU_NODE[0], GPU_NODE[1], GPU_NODE[2])
         for i in range(n_gpu)]
        + [NodeSpec(f"cn-{i:03d}", "", 0, CPU_NODE[1], CPU_NODE[2]) for i in range(n_cpu)]
    )


def dlrm(path: str | Path, *, gpu_pool_only: bool = False) -> Workload:
    """Both roles on both pools, or (`gpu_pool_only`) the HN instances on the GPU pool alone:
    what the GPU side sees when CPU-only pods are kept off GPU nodes (a taint), as in Prism,
    where CN and HN instances run on separate machines."""
    rows = load_dlrm_instances(path).rows
    jobs, c = jobs_from_instances(rows)
    if gpu_pool_only:
        jobs = tuple(j for j in jobs if j.task.gpu is not None)
    pool = "GPU pool only" if gpu_pool_only else "both pools"
    source = (f"dlrm {Path(path).name} ({pool}): {c.instances} instances ({c.hn} HN, "
              f"{c.cn} CN); "
              f"{c.present_from_start} present from start, {c.until_end} alive at the end, "
              f"{c.zero_length} zero-length (1 s)")
    return Workload(Path(path).name, cluster_for(jobs), jobs, source)
