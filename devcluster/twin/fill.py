"""Static fill (no departures): the same pods in the same order through a real scheduler and
its model; how often the real node choice is one the model would make.

The model is teacher-forced: before each pod its state is the real placements so far, so one
disagreement does not cascade. A real choice *agrees* when it is among the model's top-scored
feasible nodes: both schedulers break ties at random, so this is agreement up to ties; `exact`
is the chance the model's random tie-break picks that very node (1 / ties), and `tied` the
share of pods whose top score several nodes shared.

kube-scheduler gets one pod at a time (one scheduling cycle each), so the order is the bind
order. Volcano gets batches of 10 pods per 1 s session; binds run in parallel goroutines, so
within a session the order is the model's job order (PodGroup creation second, then the job
UID `namespace/name` as a string), the one claim about ordering this measures with the rest.
Sessions are told apart by the gaps between binds (binds of one session come milliseconds
apart, sessions a period apart).
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from devcluster.cluster import ClusterOptions, DevCluster
from devcluster.kubeapi import KubeApi
from devcluster.nodes import pod_object
from devcluster.twin.objects import node_for
from devcluster.twin.real import Binaries
from devcluster.twin.watch import PodWatch
from devcluster.volcano import GROUP_ANNOTATION, PODGROUPS, create_podgroup, podgroup
from simulator.cluster import resources as r
from simulator.cluster.counters import node_counters
from simulator.cluster.resources import CPU, GPU, MEMORY, MILLI, Res, mig_resource
from simulator.policies.replay import kube_default
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import Node, Task
from simulator.policies.replay.volcano.scoring import balance, binpack, least_allocated, node_score
from simulator.workloads.model import NodeSpec
from simulator.workloads.synthetic import STATIC_MIG_LAYOUT, GiB

MIG_PROFILES = ("1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb")
SESSION_GAP_S = 0.4  # binds further apart than this belong to different Volcano sessions


@dataclass
class RealFill:
    """What the real scheduler did: pod requests, and per bound pod (index, node, bind time)."""

    scheduler: str
    shape: str
    nodes: int
    seed: int
    pods: list[Res]
    bound: list[tuple[int, str, float]]
    created: dict[int, str] = field(default_factory=dict)  # PodGroup creationTimestamp
    wall_s: float = 0.0

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)) + "\n")

    @classmethod
    def load(cls, path: Path) -> RealFill:
        d = json.loads(path.read_text())
        d["bound"] = [tuple(b) for b in d["bound"]]
        d["created"] = {int(k): v for k, v in d["created"].items()}
        return cls(**d)


@dataclass
class FillResult:
    scheduler: str
    shape: str
    variant: str
    pods: int
    bound: int
    agree: int
    exact: float
    tied: float
    wall_s: float

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


def _score_before(scheduler: str, node: Node, task: Task) -> float:
    """The models before the calibration fixes, kept to measure the fixes on the same real
    run: BalancedAllocation as int((1 - std) * 100) of the node with the pod (the pre-v1.36
    formula) over cpu, memory and GPU for both, and no TaintToleration constant."""
    fracs = []
    for dim in (CPU, MEMORY, GPU):
        req = task.resreq.get(dim, 0)
        cap = node.allocatable.get(dim, 0)
        if (dim == GPU and req == 0) or cap == 0:
            continue
        fracs.append(min(1.0, (node.used.get(dim, 0) + req) / cap))
    s = float(least_allocated(node, task) + balance(fracs))
    return s + binpack(VolcanoConfig(), node, task) if scheduler == "volcano" else s


def model_top(scheduler: str, nodes: list[Node], req: Res, variant: str = "model") -> list[str]:
    """The model's top-scored feasible nodes (`variant` "before": the pre-fix formulas)."""
    feasible = [n for n in nodes if n.fits_idle(req)]
    task = Task("pod", "pod", "job", req)
    if variant == "before":
        scores = [_score_before(scheduler, n, task) for n in feasible]
    elif scheduler == "volcano":
        cfg = VolcanoConfig()
        scores = [node_score(cfg, n, task) for n in feasible]
    else:
        scores = [float(kube_default.score(n, task)) for n in feasible]
    top = max(scores, default=0.0)
    return [n.name for n, s in zip(feasible, scores, strict=True) if s == top]


def sequence(real: RealFill) -> list[tuple[int, str]]:
    """The order the scheduler decided in (see the module docstring)."""
    got = sorted(real.bound, key=lambda b: b[2])
    if real.scheduler != "volcano":
        return [(i, node) for i, node, _t in got]
    sessions: list[list[tuple[int, str, float]]] = []
    for b in got:
        if not sessions or b[2] - sessions[-1][-1][2] > SESSION_GAP_S:
            sessions.append([])
        sessions[-1].append(b)
    out = []
    for ses in sessions:
        ses.sort(key=lambda b: (real.created.get(b[0], ""), f"default/fill-{b[0]}"))
        out += [(i, node) for i, node, _t in ses]
    return out


def agreement(real: RealFill, variant: str = "model") -> FillResult:
    model = [Node(s.name, node_counters(s)) for s in fill_nodes(real.shape, real.nodes)]
    by = {n.name: n for n in model}
    order = sequence(real)
    agree, exact, tied = 0, 0.0, 0
    for i, node in order:
        top = model_top(real.scheduler, model, real.pods[i], variant)
        if os.environ.get("TESSERA_FILL_TRACE"):
            print(i, real.pods[i], node, top[:5], len(top))
        tied += len(top) > 1
        if node in top:
            agree += 1
            exact += 1.0 / len(top)
        r.add(by[node].used, real.pods[i])
    n = max(len(order), 1)
    return FillResult(real.scheduler, real.shape, variant, len(real.pods), len(order), agree,
                      100.0 * exact / n, 100.0 * tied / n, real.wall_s)  # fmt: skip


def run_real_fill(scheduler: str, shape: str, bins: Binaries, *, pods: int = 500,
                  nodes: int = 80, seed: int = 0) -> RealFill:  # fmt: skip
    specs = fill_nodes(shape, nodes)
    reqs = fill_pods(shape, pods, seed)
    opts = ClusterOptions(bin_dir=bins.k8s, scheduler=scheduler, volcano_dir=bins.volcano)
    batch = int(os.environ.get("TESSERA_FILL_BATCH", "10")) if scheduler == "volcano" else 1
    t0 = time.monotonic()
    created: dict[int, str] = {}
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
            bound = [(int(name.split("-")[1]), t.node, t.bound)
                     for name, t in watch.pods.items() if t.bound and t.node]  # fmt: skip
            if scheduler == "volcano":
                for pg in cluster.api.request("GET", PODGROUPS.format(ns="default"))["items"]:
                    md = pg["metadata"]
                    created[int(md["name"].split("-")[1])] = md["creationTimestamp"]
        finally:
            watch.stop()
    return RealFill(scheduler, shape, nodes, seed, reqs, bound, created, time.monotonic() - t0)
