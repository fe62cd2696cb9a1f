"""kube-default: kube-scheduler's default profile as the GPU pods meet it, for replay.

Per event (no periodic cycle), one pod at a time in priority then arrival order, no gang:
NodeResourcesFit filter on device-plugin counters (`simulator.cluster.counters`), the
`numFeasibleNodesToFind` cut-off from a rotating start, LeastAllocated over cpu and memory
plus BalancedAllocation over cpu and memory (the default plugin args of v1.37; the k8s scorer
shared with the Volcano model, whose nodeorder adds nvidia.com/gpu), random choice among the
top scores. The other default scorers give every node the same score for these pods
(TaintToleration 3 x 100, the rest skip or 0) and are left out.
"""

from __future__ import annotations

import random

from simulator.cluster import resources as r
from simulator.cluster.counters import (
    counter_overuse,
    counter_usage,
    held_milli,
    node_counters,
    request_counters,
)
from simulator.cluster.resources import CPU, MEMORY, Res
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import Node as CounterNode
from simulator.policies.replay.volcano.objects import Task
from simulator.policies.replay.volcano.sampling import NodeSampler
from simulator.policies.replay.volcano.scoring import KUBE_BALANCED, balanced_allocation
from simulator.replay.pending import PendingPods
from simulator.replay.protocol import Start, Usage
from simulator.workloads.model import JobSpec, NodeSpec


def least_allocated(alloc: Res, used: Res, req: Res) -> int:
    """Integer mean over cpu, memory of (capacity - requested) * 100 // capacity."""
    scores = []
    for dim in (CPU, MEMORY):
        cap = alloc.get(dim, 0)
        want = used.get(dim, 0) + req.get(dim, 0)
        scores.append(0 if cap == 0 or want > cap else (cap - want) * 100 // cap)
    return sum(scores) // len(scores)


def score(node: CounterNode, pod: Task) -> int:
    """Default profile: NodeResourcesFit (LeastAllocated, cpu 1 / memory 1) x 1 +
    NodeResourcesBalancedAllocation (cpu 1 / memory 1) x 1."""
    return (least_allocated(node.allocatable, node.used, pod.resreq)
            + balanced_allocation(node, pod, KUBE_BALANCED))  # fmt: skip


class KubeDefaultPolicy:
    name = "kube-default"
    period_s: float | None = None

    def __init__(self, nodes: tuple[NodeSpec, ...], rng: random.Random) -> None:
        self._rng = rng
        self._nodes = [CounterNode(n.name, node_counters(n)) for n in nodes]
        self._by_name = {n.name: n for n in self._nodes}
        self._sampler = NodeSampler()
        self._cut = VolcanoConfig()  # same minimum-feasible-nodes / percentage defaults
        self._pending = PendingPods()
        self._held: dict[tuple[str, int], tuple[str, Res]] = {}

    def submit(self, job: JobSpec, now: float) -> None:
        self._pending.add(job, now)

    def finish(self, job_uid: str, now: float) -> None:
        for key in [k for k in self._held if k[0] == job_uid]:
            node, req = self._held.pop(key)
            r.sub(self._by_name[node].used, req)
        self._pending.drop_job(job_uid)

    def schedule(self, now: float) -> list[Start]:
        out: list[Start] = []
        failed: set[tuple[str, ...]] = set()
        for item, _fresh in self._pending.batch():
            _, _, uid, idx = item
            req = request_counters(self._pending.jobs[uid].task)
            shape = tuple(sorted(f"{k}={v}" for k, v in req.items()))
            node = None if shape in failed else self._pick(req)
            if node is None:
                failed.add(shape)
                self._pending.keep(item)
                continue
            r.add(node.used, req)
            self._held[(uid, idx)] = (node.name, req)
            out.append(Start(uid, idx, node.name, held_milli(req)))
        return out

    def _pick(self, req: Res) -> CounterNode | None:
        feasible = self._sampler.feasible(self._cut, self._nodes, lambda n: n.fits_idle(req))
        if not feasible:
            return None
        pod = Task("pod", "pod", "job", req)
        # Default profile: NodeResourcesFit (LeastAllocated) 1 + NodeResourcesBalancedAllocation 1.
        scores = [score(n, pod) for n in feasible]
        top = max(scores)
        best = [n for n, s in zip(feasible, scores, strict=True) if s == top]
        return best[0] if len(best) == 1 else best[self._rng.randrange(len(best))]

    def has_pending(self) -> bool:
        return len(self._pending) > 0

    def usage(self) -> Usage:
        return counter_usage(self._nodes)

    def check(self) -> str | None:
        return counter_overuse(self._nodes)
