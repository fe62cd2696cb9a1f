"""tessera in the fill experiment: the shipped policy core (`scheduler.policy`) picks every node
and GPU, through the simulator's `SimCluster` (the same `ClusterState` the extender builds).

Per pod, like kube-scheduler running Tessera's profile as its only score plugin (the FGD
setup): the candidates are the nodes passing NodeResourcesFit and GPU fit; the registry's
profile filters and scores them (`filter_and_score`) on kube-scheduler's 0..100
node-score scale (`NodeScores.levels`; the HTTP extender can only return 0..10); the best score
wins, ties to the lowest node rank as for every fill policy; `choose_placement` gives the GPUs
(its `fit.choose`, called straight).
The profile sees every pod the run has asked about so far (`DemandLog`), as the extender does.

Speed without a second copy of the logic: every feasible node goes to the policy core at once,
which answers from its fleet index (the plugins' batch methods); the index is updated row by row
for the node each bind touched (`SimCluster.snapshot`).
"""

from __future__ import annotations

import numpy as np

from packing.fgd import TargetWorkload, typical_workload
from scheduler.policy.demand import DemandLog
from scheduler.policy.fit import choose
from scheduler.policy.fleet_index import FleetIndex, RowNames
from scheduler.policy.framework import Profile, filter_and_score
from scheduler.policy.model import PodRequest
from scheduler.policy.plugins.fragmentation import FragmentationArgs, FragmentationScore
from scheduler.policy.registry import build_profile
from simulator.cluster.state import SimCluster
from simulator.fgd_fill.cluster import FillCluster
from simulator.policies.fill.base import Choice, FillContext, pick_max
from simulator.policies.fill.fgd import task_shape
from simulator.traces.openb import OpenbPod
from simulator.workloads.model import NodeSpec
from simulator.workloads.traces import openb_gpu

MIB = 2**20


def pod_request(pod: OpenbPod) -> PodRequest:
    """An openb pod as the policy core sees it (the annotations a user would set)."""
    gpu = openb_gpu(pod)
    allowed = frozenset(pod.gpu_spec.split("|")) if pod.gpu_spec and gpu else None
    return PodRequest(
        key=f"fill/{pod.name}",
        uid=pod.name,
        gpu=gpu,
        cpu_milli=pod.cpu_milli,
        memory_bytes=pod.memory_mib * MIB,
        allowed_products=allowed,
    )


def trace_profile(workload: TargetWorkload) -> Profile:
    """The default profile with the fragmentation scorer aimed at the trace's typical pods."""
    return build_profile(
        name="fill-trace-mix", args={FragmentationScore.name: FragmentationArgs(workload)}
    )


class TesseraFill:
    name = "tessera"

    def __init__(self, ctx: FillContext, *, trace_mix: bool = False) -> None:
        c = ctx.cluster
        specs = tuple(
            NodeSpec(c.names[i], c.models[c.model_idx[i]], int(c.gpu_count[i]),
                     int(c.cpu_cap[i]), int(c.mem_cap[i]) * MIB)
            for i in range(c.size)
        )  # fmt: skip
        self.sim = SimCluster(specs)
        if trace_mix:
            self.name = "tessera-mix"
            self.profile = trace_profile(typical_workload(task_shape(p) for p in ctx.trace_pods))
        else:
            self.profile = build_profile()
        self._bound = 0
        self.demand = DemandLog()
        self._names = np.array(c.names, dtype=object)
        self._row = {n: i for i, n in enumerate(c.names)}
        self._index_rows: tuple[dict[str, int], np.ndarray] | None = None
        # `_row_names`' last answer, keyed by the node positions' dtype and bytes
        self._last_names: tuple[tuple[str, bytes], RowNames] | None = None

    def _row_names(self, idx: FleetIndex, nodes: np.ndarray) -> RowNames:
        """The names of `nodes` (fill cluster positions) with their rows in `idx`, so the
        policy core looks no name up (`FleetIndex.rows_of`); the rows come from the index's
        own row map (looked up once per map)."""
        held = self._index_rows
        if held is None or held[0] is not idx.row:
            rows = np.array([idx.row[n] for n in self._names.tolist()], np.intp)
            held = self._index_rows = (idx.row, rows)
            self._last_names = None
        # Consecutive pods often get the same feasible nodes (45 % of a default run's pods):
        # the previous list then serves again (read only: the policy core never changes it).
        key = (nodes.dtype.str, nodes.tobytes())
        last = self._last_names
        if last is not None and last[0] == key:
            return last[1]
        got = RowNames(self._names[nodes].tolist(), held[1].take(nodes), held[0])
        self._last_names = (key, got)
        return got

    def choose(
        self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray, rng: np.random.Generator
    ) -> Choice:
        req = pod_request(pod)
        self.demand.observe(req)  # every pod the scheduler is asked about, placed or not
        state = self.sim.snapshot(now=0.0, demand=self.demand.mix())
        names = self._row_names(state.fleet(), nodes)
        filtered, scores = filter_and_score(state, req, names, self.profile, rank=True)
        passing = filtered.passed
        if scores is None:
            raise ValueError(f"no candidate node passes the policy filters for pod {pod.name}")
        if len(passing) == len(names):  # (passed keeps the input order: every node passed)
            keep = nodes
        else:
            keep = np.fromiter(map(self._row.__getitem__, passing), np.int64, len(passing))
        levels = scores.level_array
        if levels is None:
            assert scores.levels is not None
            levels = np.asarray(scores.levels, np.int64)
        node = pick_max(keep, levels, cluster.rank)
        placement = choose(state.capacity(cluster.names[node]), req)  # = `choose_placement`
        if placement is None:  # pragma: no cover - filters passed, so a placement exists
            raise ValueError(f"no placement for pod {pod.name} on {cluster.names[node]}")
        self.sim.bind(f"{pod.name}#{self._bound}", placement, req.cpu_milli, req.memory_bytes)
        self._bound += 1
        return node, tuple([g.index for g in placement.gpus])


class TesseraFillTraceMix(TesseraFill):
    """tessera with its fragmentation scorer given the trace's typical pods (as FGD gets)."""

    def __init__(self, ctx: FillContext) -> None:
        super().__init__(ctx, trace_mix=True)
