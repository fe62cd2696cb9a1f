"""kube-scheduler around the Tessera extender, as the real control plane runs it (opt-in).

The study's `tessera` replay takes the extender's own choice (highest score, node order breaks
ties). Under a real kube-scheduler three more things decide, each read in kube-scheduler
v1.37.2 (`pkg/scheduler/schedule_one.go`, `backend/queue`) and measured by `tessera twin run`
(docs/twin.md):

1. Node choice: kube-scheduler adds the extender's 0..10 score, scaled by
   `weight * MaxNodeScore / MaxExtenderPriority`, to its own default scorers and picks at
   random among the top totals (`selectHost`). For GPU pods the in-tree scorers that differ
   between nodes are NodeResourcesFit (LeastAllocated) and BalancedAllocation over cpu and
   memory; with weight 5 one extender step is 50 points, so they break the extender's ties
   (spreading) and can outvote a one-step difference.
2. The extender sees a departure late: kube-scheduler's informer hears that a pod succeeded
   and retries the pods it moves within a millisecond, before Tessera's own watch has the
   same event, so that retry is decided on the state before the departure. Nothing tells
   kube-scheduler when Tessera catches up (extenders have no queueing hints): the freed room
   is offered at the next cluster event or by the unschedulable-pods flush.
3. A failed gang plan stands for `FAILED_RETRY_S` (5 s wall, `scheduler.state.gangs`): members
   retried meanwhile fail without planning, until the extender sees a departure (its store
   drops every failed plan then; `hold_until_departure`, off for the Tessera before that fix)
   or nodes leave the kept set (the keeper starts, the keep moves: `keep_release_ends_holds`,
   off for the Tessera before round 7, whose failures stood then).
4. kube-scheduler's own filters run before the extender's: while no node has room for one
   member on the device plugin's counters (`nvidia.com/gpu`), no member reaches the extender,
   so the gang is not planned and cannot get nodes kept for it while they drain; a smaller
   gang that does reach it takes the keep first (`gang_needs_host_fit`; measured in a `--v=5`
   log: benchmarks/RESULTS.md, digital twin round 6). A gang whose failed plan still stands
   is answered from that record and gets no keep either.
5. The extender's periodic pass (`GangCoordinator.recover`, every `EXPIRE_EVERY_S`, 2 s wall,
   `cli.serve`) gives the keep to the first waiting gang (priority, then arrival) that does not
   fit now and that drained nodes would host, whether or not a member reaches the extender;
   it examines at most `KEEP_EXAMINED` gangs per pass and passes over a gang no drained set
   hosts for `NO_ROOM_RETRY_S` (`keep_pass_s`; 0: the model before round 6b, where only (4)
   gave the keep). At a member's filter an earlier gang takes the keep from a later one.
6. The keeper's nodes follow the drain: they are chosen again at the first filter after room
   comes back (`GangCoordinator.earlier_first`, round 8), which the model does before every
   pass (`keep_follows_drain`; off: only at the pass and at the keeper's own filter, the
   extender before round 8, whose later pods took a node a departure emptied outside the
   keep before the next pass moved it there). And with no keep held (its keeper started),
   the first waiting gang that does not fit takes it at the next filter, as the pass would
   (`keep_in_filters`; off: whichever gang's member reached its own filter first took it, and
   the first waiting gang only at the next pass).

7. A pod binds some time after the decision the model makes at an event: kube-scheduler pops
   pods one at a time, each a scheduling cycle (filter and prioritize, with the extender's
   HTTP round trip when there is one) and a bind, and the watch hears of it after that. The
   twin adds this to each pod's wait (`bind_latency`, `BindLatency`; none by default, and
   none in the bundled study): the k-th pod (from 0) of one decision's binds waits
   `first + k x per_pod` times a log-normal factor of median 1, drawn from its own random
   stream (`latency_rng`), so the tie-breaks drawn from `rng` are the same with or without
   it. Measured on the real runs (benchmarks/RESULTS.md, digital twin round 8b).

All times here are trace seconds; the twin passes wall seconds x speedup.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from simulator.cluster.resources import CPU, MEMORY
from simulator.cluster.state import SimCluster
from simulator.policies.replay.kube_default import least_allocated
from simulator.policies.replay.volcano.objects import Node as CounterNode
from simulator.policies.replay.volcano.objects import Task
from simulator.policies.replay.volcano.scoring import KUBE_BALANCED, balanced_allocation

MAX_NODE_SCORE = 100  # k8s framework.MaxNodeScore
MAX_EXTENDER_PRIORITY = 10  # k8s extenderv1.MaxExtenderPriority
EXTENDER_WEIGHT = 5  # devcluster/schedconfig.py, the chart's default
GANG_FAILED_HOLD_S = 5.0  # scheduler.state.gangs.FAILED_RETRY_S (wall seconds)
FLUSH_PERIOD_S = 30.0  # PriorityQueue.Run: flushUnschedulableEntitiesLeftover every 30 s
FLUSH_AGE_S = 10.0  # the twin's --pod-max-in-unschedulable-pods-duration
BACKOFF_INITIAL_S, BACKOFF_MAX_S = 1.0, 10.0  # podInitialBackoffSeconds, podMaxBackoffSeconds
BACKOFF_WINDOW_S = 1.0  # backoffQOrderingWindowDuration: expiries truncated to whole seconds
KEEP_PASS_S = 2.0  # cli.serve.EXPIRE_EVERY_S: GangCoordinator.recover's period (wall seconds)
KEEP_EXAMINED = 4  # scheduler.state.gangs.KEEP_EXAMINED: gangs planned per pass
NO_ROOM_RETRY_S = 30.0  # scheduler.state.gangs.NO_ROOM_RETRY_S (wall seconds)


@dataclass(frozen=True)
class BindLatency:
    """(7) above: creation (or the event that frees room) to bind, per pod of one decision.

    `first_s` and `per_pod_s` are the median latency of the first pod and what each later pod
    of the same decision adds (kube-scheduler binds them one cycle after another); `sigma` is
    the log-normal spread around that median (0: none)."""

    first_s: float = 0.0
    per_pod_s: float = 0.0
    sigma: float = 0.0

    def scaled(self, speedup: float) -> BindLatency:
        """Wall seconds as trace seconds at `speedup`."""
        return BindLatency(self.first_s * speedup, self.per_pod_s * speedup, self.sigma)

    def draws(self, rng: random.Random, n: int) -> list[float]:
        """The latencies of the `n` pods one decision binds, in the order it binds them; no
        draw from `rng` when the latency is zero."""
        if self.first_s <= 0 and self.per_pod_s <= 0:
            return [0.0] * n
        out = []
        for k in range(n):
            factor = rng.lognormvariate(0.0, self.sigma) if self.sigma > 0 else 1.0
            out.append((self.first_s + k * self.per_pod_s) * factor)
        return out


# (7) Measured (wall seconds; benchmarks/RESULTS.md, digital twin round 8b): on the five
# real 200-job Tessera runs of round 8 at speedup 300, the pods of jobs bound whole within
# 100 trace s took a median 9.3, 16.5, 22.6 and 27.1 trace s from creation for the 1st-4th
# pod bound (a line of 9.8 + 6.0 x k trace s; the interquartile range about x 0.7-1.4 of the
# median, a log-normal sigma of 0.5); kube-scheduler alone (`d200`): 5.8, 10.6, 13.1, 16.7
# (6.3 + 3.5 x k).
TESSERA_BIND_LATENCY = BindLatency(0.033, 0.020, 0.5)  # kube-scheduler + the extender
KUBE_BIND_LATENCY = BindLatency(0.021, 0.012, 0.5)  # kube-scheduler alone


@dataclass
class KubeHost:
    """kube-scheduler's part, in trace seconds (`scaled` builds it from wall seconds)."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    extender_weight: int = EXTENDER_WEIGHT
    gang_failed_hold_s: float = GANG_FAILED_HOLD_S
    flush_period_s: float = FLUSH_PERIOD_S
    flush_age_s: float = FLUSH_AGE_S
    late_departures: bool = True  # (2) above
    hold_until_departure: bool = True  # (3) above: a departure the extender sees ends holds
    keep_release_ends_holds: bool = True  # (3) above: so do nodes leaving the kept set
    # A departing job's pods leave one by one, each followed by a retry pass (KWOK's per-pod
    # timers: a gang's pods end milliseconds apart). Off: all at once, one pass.
    pods_leave_apart: bool = False
    # Retry waiting pods in kube-scheduler's queue order (`queue_key`). Off: measured, it moved
    # gang waits toward the real ones on Tiresias but useful allocation 2 pp away (docs/twin.md).
    backoff_order: bool = False
    flush_after_hold: bool = True  # a lapsed hold waits for an event or the flush (else: lapse)
    # (4) A gang reaches the extender (is planned, may get nodes kept for it) only when one
    # member passes kube-scheduler's own fit on some node; off: the model before round 6.
    gang_needs_host_fit: bool = True
    # (5) The periodic keep pass, every `keep_pass_s` (0: off, the model before round 6b).
    keep_pass_s: float = KEEP_PASS_S
    keep_examined: int = KEEP_EXAMINED
    no_room_retry_s: float = NO_ROOM_RETRY_S
    keep_follows_drain: bool = True  # (6) above
    keep_in_filters: bool = True  # (6) above
    backoff_initial_s: float = BACKOFF_INITIAL_S
    backoff_max_s: float = BACKOFF_MAX_S
    backoff_window_s: float = BACKOFF_WINDOW_S
    bind_latency: BindLatency = BindLatency()  # (7) above, trace seconds
    latency_rng: random.Random = field(default_factory=lambda: random.Random("bind-latency:0"))

    @classmethod
    def scaled(cls, speedup: float, seed: int = 0, hold_until_departure: bool = True,
               keep_follows_drain: bool = True,
               bind_latency: BindLatency = BindLatency()) -> KubeHost:  # fmt: skip
        """Wall-clock constants as a run compressed `speedup` times sees them in trace time
        (`bind_latency` too, given in wall seconds)."""
        return cls(
            random.Random(seed),
            gang_failed_hold_s=GANG_FAILED_HOLD_S * speedup,
            flush_period_s=FLUSH_PERIOD_S * speedup,
            flush_age_s=FLUSH_AGE_S * speedup,
            hold_until_departure=hold_until_departure,
            keep_follows_drain=keep_follows_drain,
            keep_in_filters=keep_follows_drain,
            backoff_initial_s=BACKOFF_INITIAL_S * speedup,
            backoff_max_s=BACKOFF_MAX_S * speedup,
            backoff_window_s=BACKOFF_WINDOW_S * speedup,
            keep_pass_s=KEEP_PASS_S * speedup,
            no_room_retry_s=NO_ROOM_RETRY_S * speedup,
            bind_latency=bind_latency.scaled(speedup),
            latency_rng=random.Random(f"bind-latency:{seed}"),
        )

    def bind_latencies(self, n: int) -> list[float]:
        """(7) above: the latencies of the `n` pods one decision binds, from `latency_rng`."""
        return self.bind_latency.draws(self.latency_rng, n)

    def pick(self, cluster: SimCluster, names: list[str], cpu_milli: int, memory_bytes: int,
             extender: list[int] | None) -> str:  # fmt: skip
        """kube-scheduler's choice among the feasible `names`: the extender's scores (None:
        the extender is not asked, e.g. a pod without GPUs) plus the in-tree ones; random
        among equal totals."""
        scale = self.extender_weight * (MAX_NODE_SCORE // MAX_EXTENDER_PRIORITY)
        totals = [host_score(cluster, n, cpu_milli, memory_bytes)
                  + (0 if extender is None else extender[i] * scale)
                  for i, n in enumerate(names)]  # fmt: skip
        top = max(totals)
        best = [n for n, t in zip(names, totals, strict=True) if t == top]
        return best[0] if len(best) == 1 else best[self.rng.randrange(len(best))]

    def backoff_expiry(self, fails: int, last_fail: float) -> float:
        """When a pod that failed `fails` times, last at `last_fail`, ends its backoff
        (`getBackoffTime`): initial x 2^(fails-1), at most max, truncated to the window."""
        backoff = min(self.backoff_initial_s * 2 ** (fails - 1), self.backoff_max_s)
        return self._window(last_fail + backoff)

    def queue_key(self, now: float, priority: int, fails: int,
                  last_fail: float) -> tuple[int, float, int, float]:  # fmt: skip
        """The order kube-scheduler tries waiting pods in after an event moved them: the active
        queue first (backoff over: priority, then the time it last failed or was created),
        then, as the active queue empties, the backoff queue by expiry (`SchedulerPopFromBackoffQ`,
        on by default since v1.33). So a pod that failed often waits behind newer ones."""
        if fails == 0:
            return (0, 0.0, -priority, last_fail)
        expiry = self.backoff_expiry(fails, last_fail)
        if expiry < self._window(now):
            return (0, 0.0, -priority, last_fail)
        return (1, expiry, -priority, last_fail)

    def _window(self, t: float) -> float:
        w = self.backoff_window_s
        return t if w <= 0 else math.floor(t / w + 1e-9) * w

    def flush_at(self, attempt: float) -> float:
        """When the leftover flush moves a pod last tried at `attempt`: the first tick (every
        `flush_period_s` from the start) at which it has been unschedulable `flush_age_s`."""
        due = attempt + self.flush_age_s
        return math.ceil(due / self.flush_period_s - 1e-9) * self.flush_period_s


def host_score(cluster: SimCluster, name: str, cpu_milli: int, memory_bytes: int) -> int:
    """kube-scheduler's default scorers that differ between nodes for these pods:
    NodeResourcesFit LeastAllocated + NodeResourcesBalancedAllocation, cpu and memory, weight
    1 each (TaintToleration, NodeAffinity and the rest give every node the same score)."""
    spec = cluster.nodes[name]
    node = CounterNode(name, {CPU: spec.cpu_milli, MEMORY: spec.memory_bytes},
                       used={CPU: cluster.cpu_used[name], MEMORY: cluster.mem_used[name]})
    req = {CPU: cpu_milli, MEMORY: memory_bytes}
    return (least_allocated(node.allocatable, node.used, req)
            + balanced_allocation(node, Task("pod", "pod", "job", req), KUBE_BALANCED))
