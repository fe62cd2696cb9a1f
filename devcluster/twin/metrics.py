"""A real run's observations through the simulator's own metric definitions.

The watch gives, per job, its creation time and, per pod, its node, bind time and completion
time. They are replayed in time order into `simulator.replay.metrics.Recorder`, the object the
simulator's driver fills, so "useful allocation" (GPU work asked for, `demand_milli`), "held
allocation" (capacity tied up: a whole card for a share on the plain device plugin), waits,
JCT and gang wait mean exactly what they mean in a simulated run. A job starts when its
`min_member`-th pod is bound and ends when its last pod succeeded.
"""

from __future__ import annotations

from devcluster.twin.real import RealRun
from simulator.cluster.counters import held_milli, request_counters
from simulator.replay.metrics import Recorder
from simulator.replay.protocol import Usage, demand_milli
from simulator.workloads.model import JobSpec, Workload

# Event order at one instant: arrivals, then releases, then starts (as the driver's queue).
_ARRIVE, _END, _START = 0, 1, 2


def held_for(job: JobSpec, scheduler: str, gpu_model: str) -> int:
    """GPU capacity one pod of `job` ties up under `scheduler`."""
    g = job.task.gpu
    if scheduler == "tessera" and g is not None and g.kind == "milli":
        return demand_milli(job.task, gpu_model)  # Tessera packs shares onto one card
    return held_milli(request_counters(job.task))


def real_metrics(w: Workload, run: RealRun, samples: int = 200) -> dict[str, object]:
    jobs = {j.uid: j for j in w.jobs}
    model = {n.name: n.gpu_model for n in w.nodes}
    gpus = {n.name: n.gpus - n.mig_gpus for n in w.nodes}
    rec = Recorder(sum(n.gpus for n in w.nodes) * 1000)
    events: list[tuple[float, int, str, int]] = []
    for uid, t in run.submit.items():
        events.append((t, _ARRIVE, uid, -1))
    for (uid, i), (_node, bound, succ) in run.pods.items():
        events.append((bound, _START, uid, i))
        if succ is not None:
            events.append((succ, _END, uid, i))
    events.sort()
    last = max((j.arrival for j in w.jobs), default=0.0)
    every = max(last / max(samples, 1), 1.0)
    next_sample = -1.0
    running: dict[tuple[str, int], tuple[int, int, str, int]] = {}
    ends: dict[str, int] = {}
    for t, kind, uid, i in events:
        if t > next_sample:
            rec.sample(t, _usage(running, gpus))
            next_sample = t + every
        rec.advance(t)
        job = jobs[uid]
        if kind == _ARRIVE:
            if rec.first_arrival is None:
                rec.first_arrival = t
            rec.submit[uid] = t
        elif kind == _START:
            node = run.pods[(uid, i)][0]
            demand = demand_milli(job.task, model.get(node, "H100-80GB"))
            held = held_for(job, run.scheduler, model.get(node, "H100-80GB"))
            cards = held // 1000 if job.task.gpu is not None and job.task.gpu.kind != "mig" else 0
            running[(uid, i)] = (held, demand, node, cards)
            rec.held_in_use += held
            rec.demand_in_use += demand
            rec.delays.append(t - rec.submit[uid])
            n = rec.started[uid] = rec.started.get(uid, 0) + 1
            if n >= job.min_member and uid not in rec.job_start:
                rec.job_start[uid] = t
        else:
            held, demand, _node, _cards = running.pop((uid, i))
            rec.held_in_use -= held
            rec.demand_in_use -= demand
            ends[uid] = ends.get(uid, 0) + 1
            if ends[uid] == job.replicas:
                rec.job_end[uid] = t
                rec.last_finish = t
    # The simulator's span ends at its last event; so does this one (not at the deadline).
    end = events[-1][0] if events else 0.0
    rec.sample(end, _usage(running, gpus))
    rec.advance(end)
    gangs = {j.uid: j.min_member for j in w.jobs if j.min_member > 1}
    return rec.summary(gangs)


Running = dict[tuple[str, int], tuple[int, int, str, int]]  # pod -> (held, demand, node, cards)


def _usage(running: Running, gpus: dict[str, int]) -> Usage:
    """Idle GPUs (MIG off) by the device-plugin count; MIG slices are not sampled (0)."""
    used: dict[str, int] = {}
    for _held, _demand, node, cards in running.values():
        used[node] = used.get(node, 0) + cards
    return Usage(sum(max(0, g - used.get(n, 0)) for n, g in gpus.items()), 0)


def completed_gangs(w: Workload, metrics_source: dict[str, float]) -> set[str]:
    """Gang jobs (min_member > 1) that started, from a job -> start-time mapping."""
    return {j.uid for j in w.jobs if j.min_member > 1 and j.uid in metrics_source}
