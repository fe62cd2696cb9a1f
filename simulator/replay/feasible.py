"""Jobs no node of a workload's cluster could ever hold, found before a replay.

A trace whose every job asks more than any node has (a Tiresias job of 64 GPUs on 2 x 8 H100)
replayed to a table of zeros and a negative makespan, with verdicts ("tessera best") drawn from
nothing; one such job among many just counted as unfinished. The check is by capacity alone
(GPUs, CPU, memory of the largest node; a gang's GPUs against the whole cluster's), so it
holds for every policy.
"""

from __future__ import annotations

from simulator.workloads.model import JobSpec, NodeSpec, Workload


def why_unplaceable(job: JobSpec, nodes: tuple[NodeSpec, ...]) -> str | None:
    """Why no node can ever hold one of `job`'s tasks (or its gang), else None."""
    t = job.task
    gpus = 0 if t.gpu is None else (t.gpu.count if t.gpu.kind == "whole" else 1)
    if not any(
        n.gpus >= gpus and n.cpu_milli >= t.cpu_milli and n.memory_bytes >= t.memory_bytes
        for n in nodes
    ):
        most = max((n.gpus for n in nodes), default=0)
        return (
            f"a pod asks {gpus} GPU(s), {t.cpu_milli} CPU milli, {t.memory_bytes >> 20} MiB; "
            f"no node holds that (the largest has {most} GPUs)"
        )
    total = sum(n.gpus for n in nodes)
    if gpus * job.min_member > total:
        return f"its gang of {job.min_member} x {gpus} GPUs exceeds the cluster's {total} GPUs"
    return None


def check_placeable(workload: Workload) -> str | None:
    """ValueError when no job can ever be placed; a one-line warning when some cannot."""
    bad = [
        (j.uid, why)
        for j in workload.jobs
        if (why := why_unplaceable(j, workload.nodes)) is not None
    ]
    if not bad:
        return None
    uid, why = bad[0]
    if len(bad) == len(workload.jobs):
        raise ValueError(
            f"{workload.name}: none of its {len(bad)} jobs fits the cluster "
            f"({len(workload.nodes)} nodes); job {uid}: {why}"
        )
    return (
        f"{workload.name}: {len(bad)} of {len(workload.jobs)} jobs can never be placed on "
        f"its cluster and count as unfinished (first: job {uid}: {why})"
    )
