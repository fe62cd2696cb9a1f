"""A replay workload as API objects: the same device-plugin inventory for every scheduler.

Nodes advertise what the NVIDIA device plugin would (`nvidia.com/gpu` for GPUs with MIG off,
`nvidia.com/mig-<profile>` per static instance; `simulator.cluster.counters.node_counters`) plus
Tessera's `tessera.io/gpus` annotation (the static MIG instances on the first `mig_gpus` GPUs).
Pods ask in device-plugin terms too; a milli share asks Tessera for `tessera.io/gpu-milli` and
the other schedulers for a whole card (what the plain device plugin offers).
"""

from __future__ import annotations

import re
from typing import Any

from devcluster.kwok import DURATION_ANNOTATION, duration_value
from devcluster.nodes import GpuSpec, node_object, pod_object
from devcluster.nodes import NodeSpec as KubeNodeSpec
from devcluster.volcano import GROUP_ANNOTATION, SCHEDULER_NAME, podgroup
from simulator.cluster.counters import node_counters, request_counters
from simulator.cluster.resources import CPU, MEMORY, MILLI
from simulator.workloads.model import JobSpec, NodeSpec

JOB_LABEL = "twin.tessera.io/job"
TASK_LABEL = "twin.tessera.io/task"
TESSERA_GANG_LABEL = "scheduling.x-k8s.io/pod-group"
TESSERA_GANG_MIN = "tessera.io/gang-min-member"


def _quantity(name: str, value: int) -> str:
    if name == CPU:
        return f"{value}m"
    if name == MEMORY:
        return str(value)
    return str(value // MILLI)  # device counters are whole devices


def node_for(spec: NodeSpec) -> dict[str, Any]:
    counters = node_counters(spec)
    gpus = [
        GpuSpec(mig=True, instances=[(p, s, False) for p, s in spec.gpu_layout(i)])
        if i < spec.mig_gpus
        else GpuSpec()
        for i in range(spec.gpus)
    ]
    extra = {k: _quantity(k, v) for k, v in counters.items() if k not in (CPU, MEMORY)}
    return node_object(
        KubeNodeSpec(
            spec.name,
            gpus=gpus,
            cpu=_quantity(CPU, spec.cpu_milli),
            memory=_quantity(MEMORY, spec.memory_bytes),
            extra_allocatable=extra,
        )
    )


def pod_name(job_uid: str, task: int) -> str:
    """A DNS-1123 pod name for task `task` of job `job_uid` (uids are lower-cased, other
    characters become '-')."""
    base = re.sub(r"[^a-z0-9-]+", "-", job_uid.lower()).strip("-") or "job"
    return f"{base}-{task}"


def pod_resources(job: JobSpec, scheduler: str) -> dict[str, str]:
    req = request_counters(job.task)
    g = job.task.gpu
    if scheduler == "tessera" and g is not None and g.kind == "milli":
        req = {k: v for k, v in req.items() if k in (CPU, MEMORY)}
        out = {k: _quantity(k, v) for k, v in req.items()}
        out["tessera.io/gpu-milli"] = str(g.milli)
        return out
    return {k: _quantity(k, v) for k, v in req.items()}


def defers_duration(job: JobSpec) -> bool:
    return job.min_member > 1


def job_objects(
    job: JobSpec, scheduler: str, speedup: float
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(PodGroup or None, pods) for one job on a cluster run by `scheduler`.

    A gang's pods carry no duration yet: KWOK completes a pod only once the replay writes it,
    when the gang is complete (`devcluster.twin.real`), so the job runs for its duration from
    the gang's completion, as the simulator runs it, whatever order the members bound in."""
    res = pod_resources(job, scheduler)
    annotations = {} if defers_duration(job) else {
        DURATION_ANNOTATION: duration_value(job.duration / speedup)}
    labels = {JOB_LABEL: pod_name(job.uid, 0)[:-2]}
    group = None
    name = "default-scheduler"
    if scheduler == "volcano":
        name = SCHEDULER_NAME
        pg_name = labels[JOB_LABEL]
        annotations[GROUP_ANNOTATION] = pg_name
        # As Volcano's job controller writes it for a vcjob: minResources = minMember x request.
        min_res = {
            k: _quantity(k, v * job.min_member) for k, v in request_counters(job.task).items()
        }
        group = podgroup(pg_name, job.min_member, min_res)
    elif scheduler == "tessera" and job.min_member > 1:
        labels[TESSERA_GANG_LABEL] = labels[JOB_LABEL]
        annotations[TESSERA_GANG_MIN] = str(job.min_member)
    pods = []
    for i in range(job.replicas):
        pod = pod_object(
            pod_name(job.uid, i),
            res,
            labels={**labels, TASK_LABEL: str(i)},
            annotations=annotations,
            scheduler_name=name,
        )
        pods.append(pod)
    return group, pods
