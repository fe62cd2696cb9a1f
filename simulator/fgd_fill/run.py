"""One fill run on the event engine: each arrival is scheduled at once or fails for good."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from packing.fgd import FragTable, typical_workload
from simulator.engine import Engine, Event, EventKind
from simulator.fgd_fill.cluster import FillCluster
from simulator.fgd_fill.curve import AllocationLog, FragmentationLog
from simulator.fgd_fill.workload import fill_arrivals
from simulator.policies.fill.base import FillContext
from simulator.policies.fill.fgd import task_shape
from simulator.policies.fill.registry import make_fill_policy
from simulator.traces.openb import OpenbNode, OpenbPod


@dataclass(frozen=True)
class FillResult:
    policy: str
    seed: int
    unallocated_gpu_pct_at_100: float | None
    curve: list[tuple[int, float]]
    frag_curve: list[tuple[int, float]]  # Fig. 7 fragmentation amount, % of GPU capacity
    total_gpus: int
    pods_arrived: int
    pods_failed: int
    inflate: float = 1.3
    failed_gpu_milli: int = field(default=0)

    def to_json(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "seed": self.seed,
            "unallocated_gpu_pct_at_100": self.unallocated_gpu_pct_at_100,
            "curve": [[x, y] for x, y in self.curve],
            "frag_amount_pct_at_100": dict(self.frag_curve).get(100),
            "frag_curve": [[x, y] for x, y in self.frag_curve],
            "total_gpus": self.total_gpus,
            "inflate": self.inflate,
            "pods_arrived": self.pods_arrived,
            "pods_failed": self.pods_failed,
            "failed_gpu_milli": self.failed_gpu_milli,
        }


@contextmanager
def frozen_heap() -> Iterator[None]:
    """The objects alive on entry (the trace, the cluster, the policy's tables: held for the
    whole run) kept out of the garbage collector's scans until exit (`gc.freeze`): a full
    collection during the run then walks only what the run made. A caller that froze objects
    already is left as it is (`gc.unfreeze` would thaw its objects too)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_fgd_fill(
    nodes: Sequence[OpenbNode],
    pods: Sequence[OpenbPod],
    policy: str,
    seed: int,
    *,
    inflate: float = 1.3,
    debug: bool = False,
) -> FillResult:
    """The paper's experiment: GPU nodes only, shuffled + inflated arrivals, no departures."""
    with frozen_heap():
        return _run(nodes, pods, policy, seed, inflate, debug)


def _run(
    nodes: Sequence[OpenbNode],
    pods: Sequence[OpenbPod],
    policy: str,
    seed: int,
    inflate: float,
    debug: bool,
) -> FillResult:
    gpu_nodes = [n for n in nodes if n.num_gpu > 0]
    if not gpu_nodes:
        raise ValueError("the node list has no GPU nodes")
    cluster = FillCluster(gpu_nodes)
    rng = np.random.default_rng(seed)
    chooser = make_fill_policy(policy, FillContext(cluster, tuple(pods)))
    arrivals = fill_arrivals(pods, cluster.total_gpu_milli, inflate, rng)
    cluster.shuffle_rank(rng)  # drawn after the arrivals, in the published run's order

    log = AllocationLog(cluster.total_gpu_milli)
    # Fragmentation is measured against the trace's typical pods, as the paper's analysis does.
    shapes = (task_shape(p) for p in pods)
    frag_log = FragmentationLog(cluster, FragTable(typical_workload(shapes), cluster.models))
    state = {"arrived": 0, "failed": 0, "failed_milli": 0}

    def on_arrival(engine: Engine, event: Event) -> None:
        pod: OpenbPod = event.payload
        state["arrived"] += pod.total_gpu_milli
        feasible = cluster.feasible(pod)
        if feasible.size == 0:
            state["failed"] += 1
            state["failed_milli"] += pod.total_gpu_milli
            return
        node, gpus = chooser.choose(cluster, pod, feasible, engine.rng)
        cluster.place(pod, node, gpus)

    engine = Engine(rng, debug=debug)
    engine.on(EventKind.ARRIVAL, on_arrival)

    def record(engine: Engine, event: Event) -> None:  # both curves, after every arrival
        arrived = state["arrived"]
        log.record(arrived, cluster.used_gpu_milli)
        frag_log.record(arrived)

    engine.observe(record)
    engine.invariant(cluster.violations)
    for i, pod in enumerate(arrivals):
        engine.schedule(float(i), EventKind.ARRIVAL, pod)
    engine.run()

    curve = log.curve()
    at_100 = dict(curve).get(100)
    return FillResult(
        policy=policy,
        seed=seed,
        unallocated_gpu_pct_at_100=None if at_100 is None else round(100.0 - at_100, 2),
        curve=curve,
        frag_curve=frag_log.curve(),
        total_gpus=cluster.total_gpu_milli // 1000,
        pods_arrived=len(arrivals),
        pods_failed=state["failed"],
        inflate=inflate,
        failed_gpu_milli=state["failed_milli"],
    )
