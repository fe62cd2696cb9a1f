"""Schema records (simulator.workloads.schema) as a replay workload.

A gang's records become one job of `gang_size` identical tasks (the first record's shape);
other records are one job each. `upstream` becomes the job's `after` list (a stage naming any
member of a gang waits for the whole gang). Requests replay as short inference jobs, as the
GenAI workload does; `simulator.serving` drives them through autoscaled services instead.
The schema carries no cluster, so one is sized to the 99th percentile of concurrent GPU demand
(8 x H100 nodes, a quarter with four statically partitioned MIG GPUs when any record asks for a
MIG slice), at least one node.
"""

from __future__ import annotations

import math
from pathlib import Path

from simulator.replay.protocol import demand_milli
from simulator.workloads.model import JobSpec, Kind, TaskSpec, Workload
from simulator.workloads.schema import TraceRecord
from simulator.workloads.sizing import concurrent_at_arrivals, quantile
from simulator.workloads.synthetic import cluster

MiB = 1024**2
JOB_KIND: dict[str, Kind] = {
    "service": "inference", "request": "inference", "training": "training", "batch": "batch",
    "pipeline_stage": "pipeline",
}  # fmt: skip


def jobs_from_records(records: tuple[TraceRecord, ...]) -> tuple[JobSpec, ...]:
    owner = {r.id: (r.gang_id or r.id) for r in records}
    groups: dict[str, list[TraceRecord]] = {}
    for r in records:
        groups.setdefault(r.gang_id or r.id, []).append(r)
    jobs = []
    for uid, members in groups.items():
        r = members[0]
        size = r.gang_size if r.gang_id else 1
        after = tuple(sorted({owner[u] for m in members for u in m.upstream} - {uid}))
        task = TaskSpec(r.cpu_milli, r.memory_mib * MiB, r.gpu_request())
        jobs.append(JobSpec(uid, min(m.arrival_s for m in members), r.duration_s, task,
                            replicas=size, min_member=size, kind=JOB_KIND[r.kind],
                            priority=r.priority, after=after))
    return tuple(sorted(jobs, key=lambda j: (j.arrival, j.uid)))


def workload_from_records(records: tuple[TraceRecord, ...], name: str) -> Workload:
    jobs = jobs_from_records(records)
    gpus = quantile(concurrent_at_arrivals(jobs, lambda j: demand_milli(j.task)), 0.99) / 1000
    nodes = max(1, math.ceil(gpus / 8 - 1e-9))
    mig = any(r.gpu.startswith("mig:") for r in records)
    return Workload(Path(name).name, cluster(nodes, math.ceil(nodes / 4) if mig else 0), jobs,
                    f"schema v1 {Path(name).name}: {len(records)} records, {len(jobs)} jobs")
