"""Static fill (no departures): the same pods in the same order through a real scheduler and
its model; how often the real node choice is one the model would make.

The model is teacher-forced: before each pod its state is the real placements so far, so one
disagreement does not cascade. A real choice *agrees* when it is among the model's top-scored
feasible nodes (both schedulers break ties at random, so "the same node" is not defined for a
tie); `exact` is the chance the model's random tie-break picks that very node (1 / ties).

Pods are created in batches and the order is the order the watch saw them bound: batch 1 for
kube-scheduler (one pod per scheduling cycle, exact order); for Volcano a batch of 10 goes into
one 1 s session, whose allocation order the bind order reflects.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

from devcluster.cluster import ClusterOptions, DevCluster
from devcluster.kubeapi import KubeApi
from devcluster.nodes import pod_object
from devcluster.twin.objects import node_for
from devcluster.twin.real import Binaries
from devcluster.twin.watch import PodWatch
from devcluster.volcano import GROUP_ANNOTATION, create_podgroup, podgroup
from simulator.cluster import resources as r
from simulator.cluster.counters import node_counters
from simulator.cluster.resources import CPU, GPU, MEMORY, MILLI, Res, mig_resource
from simulator.policies.replay.kube_default import least_allocated
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import Node, Task
from simulator.policies.replay.volcano.scoring import balanced_allocation, binpack, node_score
from simulator.workloads.model import NodeSpec
from simulator.workloads.synthetic import STATIC_MIG_LAYOUT, GiB

MIG_PROFILES = ("1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb")


def _balanced(node: Node, task: Task, dims: tuple[str, ...]) -> int:
    if GPU in dims:
        return balanced_allocation(node, task)
    return balanced_allocation(node, Task(task.uid, task.name, task.job,
                                          {k: v for k, v in task.resreq.items() if k in dims}))


@dataclass
class FillResult:
    scheduler: str
    shape: str
    pods: int
    bound: int
    agree: int
    exact: float
    wall_s: float
    agree_alt: int = 0

    @property
    def agreement_pct(self) -> float:
        return 100.0 * self.agree / self.bound if self.bound else 0.0


def fill_nodes(shape: str, n: int) -> tuple[NodeSpec, ...]:
    mig = 8 if shape == "mig" else 0
    layout = STATIC_MIG_LAYOUT if mig else ()
    return tuple(NodeSpec(f"h100-{i:03d}", "H100-80GB", 8, 96_000, 1024 * GiB, mig, layout)
                 for i in range(n))  # fmt: skip


def fill_pods(shape: str, count: int, seed: int) -> list[Res]:
    """Whole GPUs: 1, 1, 1 or 2 cards with 4 CPUs and 32 GiB per card, +-50 % CPU/memory so
    LeastAllocated and BalancedAllocation differ between nodes. MIG: a static profile."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        k = rng.choice((1, 1, 1, 2))
        cpu = int(4000 * k * rng.uniform(0.5, 1.5))
        mem = int(32 * GiB * k * rng.uniform(0.5, 1.5))
        if shape == "mig":
            profile = mig_resource(rng.choice(MIG_PROFILES))
            out.append({CPU: cpu // k, MEMORY: mem // k, profile: MILLI})
        else:
            out.append({CPU: cpu, MEMORY: mem, GPU: k * MILLI})
    return out


def _quantities(req: Res) -> dict[str, str]:
    return {k: (f"{v}m" if k == CPU else str(v) if k == MEMORY else str(v // MILLI))
            for k, v in req.items()}  # fmt: skip


def model_top(scheduler: str, nodes: list[Node], req: Res, variant: str = "model") -> list[str]:
    """The model's top-scored feasible nodes. `variant` "alt" scores with the node-order term
    the measurement points at: Volcano binpack alone (cpu, memory), or kube-scheduler's
    BalancedAllocation over cpu and memory only."""
    feasible = [n for n in nodes if n.fits_idle(req)]
    if not feasible:
        return []
    task = Task("pod", "pod", "job", req)
    if scheduler == "volcano":
        cfg = VolcanoConfig()
        if variant == "alt":
            scores = [binpack(cfg, n, task) for n in feasible]
        else:
            scores = [node_score(cfg, n, task) for n in feasible]
    else:
        # As simulator.policies.replay.kube_default._pick scores a node.
        dims = (CPU, MEMORY) if variant == "alt" else (CPU, MEMORY, GPU)
        scores = [float(least_allocated(n.allocatable, n.used, req) + _balanced(n, task, dims))
                  for n in feasible]  # fmt: skip
    top = max(scores)
    return [n.name for n, s in zip(feasible, scores, strict=True) if s == top]


def run_fill(scheduler: str, shape: str, bins: Binaries, *, pods: int = 500, nodes: int = 80,
             seed: int = 0) -> FillResult:  # fmt: skip
    specs = fill_nodes(shape, nodes)
    reqs = fill_pods(shape, pods, seed)
    opts = ClusterOptions(bin_dir=bins.k8s, scheduler=scheduler, volcano_dir=bins.volcano)
    batch = int(os.environ.get("TESSERA_FILL_BATCH", "10")) if scheduler == "volcano" else 1
    t0 = time.monotonic()
    order: list[tuple[int, str]] = []
    with DevCluster(opts) as cluster:
        for s in specs:
            cluster.api.create_node(node_for(s))
        watch = PodWatch(KubeApi(cluster.server, cluster.token, cluster.ca_file)).start()
        try:
            for start in range(0, pods, batch):
                names = []
                for i in range(start, min(start + batch, pods)):
                    name = f"fill-{i}"
                    ann = {}
                    if scheduler == "volcano":
                        create_podgroup(cluster, podgroup(name, 1))
                        ann[GROUP_ANNOTATION] = name
                    cluster.api.create_pod(pod_object(name, _quantities(reqs[i]), annotations=ann,
                                                      scheduler_name=cluster.scheduler_name))
                    names.append(name)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    with watch.changed:
                        if all(n in watch.pods and watch.pods[n].bound for n in names):
                            break
                        watch.changed.wait(0.05)
            got = [(t.bound, name, t.node) for name, t in watch.pods.items() if t.bound]
        finally:
            watch.stop()
    got.sort()
    order = [(int(name.split("-")[1]), node) for _b, name, node in got if node]
    model = [Node(s.name, node_counters(s)) for s in specs]
    by = {n.name: n for n in model}
    agree, exact, alt = 0, 0.0, 0
    for i, node in order:
        alt += node in model_top(scheduler, model, reqs[i], "alt")
        top = model_top(scheduler, model, reqs[i])
        if os.environ.get("TESSERA_FILL_TRACE"):
            print(i, reqs[i], node, top[:5], len(top))
        if node in top:
            agree += 1
            exact += 1.0 / len(top)
        r.add(by[node].used, reqs[i])
    return FillResult(scheduler, shape, pods, len(order), agree,
                      100.0 * exact / max(len(order), 1), time.monotonic() - t0, alt)  # fmt: skip
