"""The serving event loop: request arrivals queue per model; an autoscaler tick sets desired
replicas from queue depth; replicas are submitted to a replay policy (tessera, volcano,
kube-default), which decides where each lands; a placed replica is ready after the cold start
and serves one request at a time (a diffusion pipeline runs one batch at once).

Deterministic: events are ordered by (time, sequence number); services are visited in name
order; the policy's own RNG is seeded from the run's seed.

A run ends when nothing can change any more: no request left to arrive, run or wait for a
replica that can be placed, and every service at the replica count the autoscaler wants (with
min_replicas >= 1 that count never reaches zero, so the run ends at the first tick that finds
the state settled; the replicas still held are removed there and their GPU time ends with it).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

from simulator.policies.replay.registry import make_replay_policy
from simulator.replay.protocol import ReplayPolicy
from simulator.serving.config import Autoscale, ServingSpec
from simulator.serving.requests import Request
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec, Workload
from simulator.workloads.schema import parse_gpu
from simulator.workloads.synthetic import STATIC_MIG_LAYOUT

MiB = 1024**2
_FOREVER = 1e12  # a replica's JobSpec duration; replicas end when the autoscaler removes them
ARRIVE, DONE, READY, TICK = 0, 1, 2, 3


@dataclass
class Replica:
    uid: str
    placed_at: float | None = None
    ready_at: float | None = None
    node: str = ""
    held_milli: int = 0
    busy: bool = False
    idle_since: float = 0.0


@dataclass
class Service:
    model: str
    queue: deque[int] = field(default_factory=deque)  # request indexes
    replicas: dict[str, Replica] = field(default_factory=dict)
    made: int = 0

    def in_service(self) -> int:
        return sum(r.busy for r in self.replicas.values())


@dataclass
class Outcome:
    """Per request: start and end times (NaN when never served); per replica lifetimes."""

    start: list[float]
    end: list[float]
    replica_spans: list[tuple[str, float, float, int]]  # model, placed, removed, held milli
    replica_series: list[tuple[float, int, int]]  # time, placed replicas, pending replicas
    cold_starts: int
    end_s: float


def serving_cluster(spec: ServingSpec) -> tuple[NodeSpec, ...]:
    """`nodes` nodes; the last `mig_nodes` have every GPU in MIG mode, each starting with the
    spec's per-GPU layouts, else the static layout 1g.10gb x 2 + 2g.20gb + 3g.40gb (counter-based
    policies see these instances; tessera's dynamic MIG places its own)."""
    first_mig = spec.nodes - spec.mig_nodes
    g = spec.gpus_per_node

    def layouts(i: int) -> tuple[tuple[tuple[str, int], ...], ...]:
        k = i - first_mig
        return spec.mig_layouts[k * g:(k + 1) * g] if spec.mig_layouts else ()

    return tuple(
        NodeSpec(f"gpu-{i:03d}", spec.gpu_model, g, 128_000,
                 2048 * 1024 * MiB, mig_gpus=g if i >= first_mig else 0,
                 mig_layout=STATIC_MIG_LAYOUT if i >= first_mig else (),
                 mig_layouts=layouts(i) if i >= first_mig else ())
        for i in range(spec.nodes))


class ServingRun:
    def __init__(self, reqs: list[Request], spec: ServingSpec, scale: Autoscale,
                 policy: ReplayPolicy) -> None:
        self.reqs, self.spec, self.scale, self.p = reqs, spec, scale, policy
        default = TaskSpec(spec.replica_cpu_milli, spec.replica_memory_mib * MiB,
                           parse_gpu(spec.replica_gpu, spec.replica_gpu_memory_mib))
        self.services = {m: Service(m) for m in sorted({q.model for q in reqs})}
        self.task: dict[str, TaskSpec] = {}  # per model: its first request's shape, or default
        for q in reqs:
            if q.model not in self.task:
                self.task[q.model] = default if not q.gpu else TaskSpec(
                    spec.replica_cpu_milli, spec.replica_memory_mib * MiB,
                    parse_gpu(q.gpu, q.gpu_memory_mib or spec.replica_gpu_memory_mib))
        self.owner: dict[str, Replica] = {}
        self.events: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.start = [math.nan] * len(reqs)
        self.end = [math.nan] * len(reqs)
        self.spans: list[tuple[str, float, float, int]] = []
        self.series: list[tuple[float, int, int]] = []
        self.placed = self.pending = self.cold = 0
        # False once a scheduling pass placed nothing and no replica was added or removed since:
        # the same state gives the same decisions (simulator.replay.driver pauses ticks on the
        # same ground), so the autoscaler's ticks skip the pass until something changes
        self.changed = True
        self.last_arrival = max((q.arrival_s for q in reqs), default=0.0)

    def push(self, t: float, kind: int, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, payload))

    def run(self) -> Outcome:
        for i, q in enumerate(self.reqs):
            self.push(q.arrival_s, ARRIVE, i)
        self.push(0.0, TICK, None)
        now = 0.0
        while self.events:
            now, kind, _, payload = heapq.heappop(self.events)
            if kind == ARRIVE:
                assert isinstance(payload, int)
                svc = self.services[self.reqs[payload].model]
                svc.queue.append(payload)
                if not svc.replicas:  # activator: a request to a scaled-to-zero service
                    self.add_replicas(svc, 1, now)
                self.dispatch(svc, now)
            elif kind == DONE:
                assert isinstance(payload, Replica)
                payload.busy, payload.idle_since = False, now
                self.dispatch(self.services[payload.uid.rsplit("/", 1)[0]], now)
            elif kind == READY:
                assert isinstance(payload, Replica)
                if payload.uid in self.owner:
                    payload.idle_since = now
                    self.dispatch(self.services[payload.uid.rsplit("/", 1)[0]], now)
            else:
                self.tick(now)
        for svc in self.services.values():
            for rep in list(svc.replicas.values()):
                self.remove(svc, rep, now)
        return Outcome(self.start, self.end, self.spans, self.series, self.cold, now)

    def dispatch(self, svc: Service, now: float) -> None:
        for rep in svc.replicas.values():
            if not svc.queue:
                return
            if rep.busy or rep.ready_at is None or rep.ready_at > now:
                continue
            i = svc.queue.popleft()
            rep.busy = True
            self.start[i] = now
            self.end[i] = now + self.reqs[i].exec_s
            self.push(self.end[i], DONE, rep)

    def tick(self, now: float) -> None:
        steady = True  # every service already has the replicas the autoscaler wants
        for svc in self.services.values():
            if not svc.replicas and not svc.queue:
                continue
            load = len(svc.queue) + svc.in_service()
            want = min(max(math.ceil(load / self.scale.target_queue), self.scale.min_replicas),
                       self.scale.max_replicas)
            have = len(svc.replicas)
            if want > have:
                self.add_replicas(svc, want - have, now)
            elif want < have:
                self.scale_down(svc, have - want, now)
            steady = steady and len(svc.replicas) == want
        if self.pending and self.changed:
            self.place(now)
        if not self.events and self.placed == 0:
            return  # nothing runs, nothing arrives: unplaceable replicas never will be; the
            # requests still queued stay unserved (counted as SLO misses)
        if not self.events and steady and not (self.pending and self.changed):
            return  # settled: nothing arrives, runs or loads (each of those is an event), every
            # service holds what it wants (so no tick adds or removes one) and no pass is due:
            # every later tick would find this same state, so the run ends here with the
            # replicas min_replicas keeps (they looped on ticks for ever before)
        busy = any(s.replicas or s.queue for s in self.services.values())
        if busy or now < self.last_arrival:
            nxt = now + self.scale.interval_s
            if not busy:  # nothing to watch: jump to the tick before the next arrival
                upcoming = min((e[0] for e in self.events if e[1] == ARRIVE), default=nxt)
                nxt = max(nxt, math.floor(upcoming / self.scale.interval_s)
                          * self.scale.interval_s)
            self.push(nxt, TICK, None)

    def add_replicas(self, svc: Service, n: int, now: float) -> None:
        for _ in range(n):
            rep = Replica(f"{svc.model}/{svc.made}")
            svc.made += 1
            svc.replicas[rep.uid] = rep
            self.owner[rep.uid] = rep
            self.p.submit(JobSpec(rep.uid, now, _FOREVER, self.task[svc.model],
                                  kind="inference"), now)
            self.pending += 1
        self.changed = True
        self.place(now)

    def place(self, now: float) -> None:
        decisions = self.p.schedule(now)
        # a periodic policy may progress without starting anything (Volcano admits a job)
        self.changed = bool(getattr(self.p, "progressed", decisions))
        for s in decisions:
            rep = self.owner[s.job]
            rep.placed_at, rep.node, rep.held_milli = now, s.node, s.held_milli
            rep.ready_at, rep.idle_since = now + self.scale.cold_start_s, now
            self.cold += 1
            self.pending -= 1
            self.placed += 1
            self.push(rep.ready_at, READY, rep)
        self.record(now)

    def scale_down(self, svc: Service, n: int, now: float) -> None:
        # unplaced replicas first (nothing to lose), then the longest-idle ready ones
        idle = sorted((r for r in svc.replicas.values() if not r.busy),
                      key=lambda r: (r.placed_at is not None, r.idle_since, r.uid))
        for rep in idle[:n]:
            if rep.placed_at is None or now - rep.idle_since >= self.scale.cooldown_s:
                self.remove(svc, rep, now)

    def remove(self, svc: Service, rep: Replica, now: float) -> None:
        del svc.replicas[rep.uid]
        del self.owner[rep.uid]
        self.p.finish(rep.uid, now)
        self.changed = True
        if rep.placed_at is None:
            self.pending -= 1
        else:
            self.placed -= 1
            self.spans.append((svc.model, rep.placed_at, now, rep.held_milli))
        self.record(now)

    def record(self, now: float) -> None:
        point = (round(now, 3), self.placed, self.pending)
        if self.series and self.series[-1][0] == point[0]:
            self.series[-1] = point
        elif not self.series or self.series[-1][1:] != point[1:]:
            self.series.append(point)


def serve(reqs: list[Request], spec: ServingSpec, scale: Autoscale, policy: str,
          seed: int = 0) -> Outcome:
    nodes = serving_cluster(spec)
    p = make_replay_policy(policy, Workload("serving", nodes, (), "serving"), seed)
    return ServingRun(reqs, spec, scale, p).run()
