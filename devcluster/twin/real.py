"""Replay a workload on a fresh real cluster through one real scheduler, KWOK running the pods.

Times are compressed by `speedup`: a job arriving at trace time `a` is created at wall time
`a / speedup` after the start, and its pods run `duration / speedup` (KWOK's Stage reads it from
the pod). A job whose predecessors (`after`) have not all finished waits for them, as in the
simulator. The run ends when every job finished or at the deadline; what the watch saw is
returned in trace seconds.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devcluster.cluster import ClusterOptions, DevCluster
from devcluster.kubeapi import KubeApi
from devcluster.kwok import DURATION_ANNOTATION, duration_value
from devcluster.twin.objects import defers_duration, job_objects, node_for, pod_name
from devcluster.twin.watch import PodWatch
from devcluster.volcano import create_podgroup
from simulator.workloads.model import JobSpec, Workload

# kube-scheduler's --v for a diagnostic run (its log is kept with --report); 0: its default.
SCHEDULER_V_ENV = "TESSERA_TWIN_KUBE_SCHEDULER_V"
# The same for vc-scheduler (3: a line per session's job tried and task bound; 4: why a job was
# skipped, e.g. still Pending, not admitted by enqueue; 5: every node's predicate result).
VC_SCHEDULER_V_ENV = "TESSERA_TWIN_VC_SCHEDULER_V"


@dataclass
class RealRun:
    """What one real run observed, in trace seconds from the start."""

    scheduler: str
    submit: dict[str, float] = field(default_factory=dict)  # job -> created
    # (job, task index) -> (node, bound, succeeded or None)
    pods: dict[tuple[str, int], tuple[str, float, float | None]] = field(default_factory=dict)
    wall_s: float = 0.0
    end: float = 0.0
    logs: Path | None = None


@dataclass(frozen=True)
class Binaries:
    k8s: Path
    kwok: Path
    volcano: Path | None = None


def run_real(
    workload: Workload,
    scheduler: str,
    bins: Binaries,
    *,
    speedup: float,
    deadline_s: float,
    progress: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    tessera_env: dict[str, str] | None = None,
    work_dir: Path | None = None,
    keep_logs: bool = False,
) -> RealRun:
    """Run `workload` (trace seconds) on a new cluster; `deadline_s` is in trace seconds."""
    opts = ClusterOptions(
        bin_dir=bins.k8s, scheduler=scheduler, volcano_dir=bins.volcano, kwok_bin=bins.kwok,
        tessera_env=tessera_env, work_dir=work_dir,
        scheduler_verbosity=_verbosity(scheduler),
    )  # fmt: skip
    cluster = DevCluster(opts)
    failed = True
    try:
        progress(f"twin {scheduler}: starting a fresh cluster in {cluster.work}")
        cluster.start()
        for spec in workload.nodes:
            cluster.api.create_node(node_for(spec))
        if scheduler == "tessera":
            _wait_tessera_nodes(cluster, len(workload.nodes))
        out = _replay(cluster, workload, scheduler, speedup, deadline_s, progress)
        out.logs = cluster.logs
        failed = False
        return out
    finally:
        cluster.close(keep=failed or keep_logs)


def _verbosity(scheduler: str) -> int:
    """The diagnostic --v for the scheduler under test (0: its default); a bad value: 0."""
    text = os.environ.get(VC_SCHEDULER_V_ENV if scheduler == "volcano" else SCHEDULER_V_ENV, "")
    return int(text) if text.strip().isdigit() else 0


def _wait_tessera_nodes(cluster: DevCluster, n: int) -> None:
    """Give Tessera's node watch a moment to see the new nodes (it is synced already, so
    each node arrives within milliseconds; a pod filtered before that would only back off)."""
    del cluster, n
    time.sleep(1.0)


# Nothing left to submit and nothing running: a pod still pending fits no empty cluster, so
# after this much quiet (wall seconds) the run ends instead of waiting for its deadline. It must
# outlast kube-scheduler's slowest retry path: the leftover flush runs every 30 s for pods
# unschedulable for 10 s (`--pod-max-in-unschedulable-pods-duration`), so a pod rejected just
# before the cluster emptied may come back only 40 s later (a 5 s wait stopped Tessera runs early).
STUCK_WALL_S = 45.0


def _stuck(watch: PodWatch, out: RealRun, todo: list[JobSpec], ready_at: dict[str, float],
           idle_since: list[float | None]) -> bool:  # fmt: skip
    del idle_since
    if todo or any(c not in out.submit for c in ready_at):
        return False
    with watch.changed:
        return not any(t.bound is not None and t.succeeded is None for t in watch.pods.values())


def _replay(
    cluster: DevCluster,
    w: Workload,
    scheduler: str,
    speedup: float,
    deadline_s: float,
    progress: Callable[[str], None],
) -> RealRun:
    out = RealRun(scheduler)
    jobs = {j.uid: j for j in w.jobs}
    waiting = {j.uid: set(j.after) for j in w.jobs}
    todo = sorted((j for j in w.jobs if not j.after), key=lambda j: j.arrival)
    done: set[str] = set()
    ready_at: dict[str, float] = {}  # DAG children: when the last predecessor finished
    watch = PodWatch(KubeApi(cluster.server, cluster.token, cluster.ca_file)).start()
    api = cluster.api
    t0 = time.monotonic()
    last_note = 0.0
    idle_since: list[float | None] = [None]

    def trace_now() -> float:
        return (time.monotonic() - t0) * speedup

    gang_start: dict[str, float] = {}  # gang job -> trace time its min_member-th pod bound
    timed: set[tuple[str, int]] = set()  # pods given their duration annotation

    def start_durations(uid: str, now: float) -> None:
        """A complete gang's bound pods run from now; members bound later, to the job's end."""
        job = jobs[uid]
        bound = [i for i in range(job.replicas)
                 if (t := watch.pods.get(pod_name(uid, i))) is not None and t.bound is not None]
        if uid not in gang_start:
            if len(bound) < job.min_member:
                return
            gang_start[uid] = now
        for i in bound:
            if (uid, i) not in timed:
                timed.add((uid, i))
                left = max(0.0, gang_start[uid] + job.duration - now)
                api.request("PATCH", f"/api/v1/namespaces/default/pods/{pod_name(uid, i)}",
                            {"metadata": {"annotations": {
                                DURATION_ANNOTATION: duration_value(left / speedup)}}})

    def submit(job: JobSpec) -> None:
        group, pods = job_objects(job, scheduler, speedup)
        out.submit[job.uid] = trace_now()
        if group is not None:
            create_podgroup(cluster, group)
        for p in pods:
            api.create_pod(p)

    try:
        while True:
            now = trace_now()
            while todo and todo[0].arrival <= now:
                submit(todo.pop(0))
            # Finished jobs: every pod Succeeded.
            with watch.changed:
                for uid in list(out.submit):
                    if uid in done:
                        continue
                    job = jobs[uid]
                    if defers_duration(job):
                        start_durations(uid, now)
                    times = [watch.pods.get(pod_name(uid, i)) for i in range(job.replicas)]
                    if all(t is not None and t.succeeded is not None for t in times):
                        done.add(uid)
                        for child, preds in waiting.items():
                            if uid in preds:
                                preds.discard(uid)
                                if not preds and child not in out.submit:
                                    ready_at[child] = now
                for child in [c for c in ready_at if c not in out.submit]:
                    c = jobs[child]
                    if max(c.arrival, ready_at[child]) <= now:
                        submit(c)
            if len(done) == len(jobs) or now >= deadline_s:
                break
            if _stuck(watch, out, todo, ready_at, idle_since):
                if idle_since[0] is None:
                    idle_since[0] = time.monotonic()
                elif time.monotonic() - idle_since[0] >= STUCK_WALL_S:
                    progress(f"twin {scheduler}: {len(jobs) - len(done)} job(s) never fit the "
                             "idle cluster; stopping")  # fmt: skip
                    break
            else:
                idle_since[0] = None
            if now - last_note >= 10 * speedup:
                last_note = now
                progress(f"twin {scheduler}: t={now:,.0f}s submitted {len(out.submit)} "
                         f"finished {len(done)}/{len(jobs)}")  # fmt: skip
            with watch.changed:
                watch.changed.wait(timeout=0.05)
        out.end = trace_now()
    finally:
        watch.stop()
    out.wall_s = time.monotonic() - t0
    for uid in out.submit:
        for i in range(jobs[uid].replicas):
            t = watch.pods.get(pod_name(uid, i))
            if t is not None and t.bound is not None and t.node is not None:
                succ = None if t.succeeded is None else (t.succeeded - t0) * speedup
                out.pods[(uid, i)] = (t.node, (t.bound - t0) * speedup, succ)
    return out
