"""Static MIG layouts for each cluster size a capacity search probes, derived from the trace's MIG
demand mix by the repartition planner (packing.repartition, CP-SAT).

The mix is each MIG profile's offered load: the summed execution seconds of the requests whose
model's replicas need that profile (instance-seconds). For G MIG GPUs the planner is asked for
instances in proportion to the mix, scaled so their memory slices fill the GPUs, and returns the
per-GPU layouts that serve as much of that as MIG geometry allows. It solves a block of at most
`BLOCK` GPUs and the block repeats over the cluster: a block solves to optimality in well under
a second, so the layouts never depend on a time limit (the whole cluster at 256 GPUs did not).

Counter-based policies (volcano, kube-default, tessera-static) see these instances; tessera with
dynamic MIG starts from empty MIG GPUs and places its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from packing.catalogue import get_model
from packing.gang.types import GpuSlot, NodeSlot
from simulator.serving.config import ServingSpec
from simulator.serving.requests import Request
from simulator.workloads.synthetic import STATIC_MIG_LAYOUT

Layout = tuple[tuple[str, int], ...]  # (profile, start) per instance
BLOCK = 16  # GPUs per planner call; larger clusters repeat the block


def replica_shapes(reqs: Sequence[Request], spec: ServingSpec) -> dict[str, str]:
    """Per model, the GPU shape of its replicas, as the serving run decides it (its first
    request's `gpu`, else the run's `replica_gpu`)."""
    out: dict[str, str] = {}
    for q in reqs:
        out.setdefault(q.model, q.gpu or spec.replica_gpu)
    return out


def mig_mix(reqs: Sequence[Request], spec: ServingSpec) -> dict[str, float]:
    """Offered instance-seconds per MIG profile, profiles in name order."""
    shapes = replica_shapes(reqs, spec)
    mix: dict[str, float] = {}
    for q in reqs:
        kind, _, value = shapes[q.model].partition(":")
        if kind == "mig":
            mix[value] = mix.get(value, 0.0) + q.exec_s
    return {p: mix[p] for p in sorted(mix)}


def mig_share(reqs: Sequence[Request], spec: ServingSpec) -> float:
    """Share of the offered load, in GPUs (a MIG instance = its memory slices / 8 of a GPU, a
    share = milli / 1000, whole:N = N), whose replicas need MIG."""
    model = get_model(spec.gpu_model)
    shapes = replica_shapes(reqs, spec)
    mig = total = 0.0
    for q in reqs:
        kind, _, value = shapes[q.model].partition(":")
        gpus = (model.profile(value).memory_slices / model.memory_slices if kind == "mig"
                else int(value) / 1000 if kind == "milli" else float(value))
        total += gpus * q.exec_s
        mig += gpus * q.exec_s if kind == "mig" else 0.0
    return mig / total if total else 0.0


def auto_mig_nodes(nodes: int, share: float) -> int:
    """MIG nodes for `--mig-fraction auto`: the MIG share of the load, rounded, keeping at least
    one node of each kind the load needs (when there are two nodes or more)."""
    if share <= 0:
        return 0
    if share >= 1:
        return nodes
    if nodes == 1:
        return 1 if share >= 0.5 else 0
    return min(max(round(nodes * share), 1), nodes - 1)


def describe(layout: Layout) -> str:
    """'1g.10gb x2 + 3g.40gb' (profiles in start order); 'empty' for no instance."""
    counts = Counter(p for p, _ in sorted(layout, key=lambda i: (i[1], i[0])))
    return " + ".join(p if n == 1 else f"{p} x{n}" for p, n in counts.items()) or "empty"


def _demand(mix: dict[str, float], gpu_model: str, gpus: int) -> dict[str, int]:
    """Instances per profile in proportion to `mix`, their memory slices filling `gpus` GPUs."""
    model = get_model(gpu_model)
    total = sum(mix.values())
    slices = model.memory_slices * gpus
    out = {p: max(1, round(slices * load / total / model.profile(p).memory_slices))
           for p, load in mix.items() if load > 0}
    return out


@dataclass
class PlannedLayouts:
    """Per MIG GPU count, the per-GPU layouts (computed once, kept in `used` for the report).
    `planner=False` gives the one static layout on every GPU, for comparison."""

    mix: dict[str, float]
    gpu_model: str
    planner: bool = True
    used: dict[int, tuple[Layout, ...]] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)

    def layouts(self, mig_gpus: int) -> tuple[Layout, ...]:
        if mig_gpus not in self.used:
            self.used[mig_gpus] = self._plan(mig_gpus)
        return self.used[mig_gpus]

    def _plan(self, mig_gpus: int) -> tuple[Layout, ...]:
        if mig_gpus == 0:
            return ()
        if not self.planner or not self.mix:
            self.reasons[mig_gpus] = ("static layout (--mig-layouts static)" if not self.planner
                                      else "static layout (no MIG demand in the trace)")
            return (STATIC_MIG_LAYOUT,) * mig_gpus
        block = min(mig_gpus, BLOCK)
        node = NodeSlot("block", tuple(GpuSlot(i, self.gpu_model, mig_enabled=True)
                                       for i in range(block)))
        from packing.repartition import plan_repartition  # loads OR-Tools

        plan = plan_repartition([node], _demand(self.mix, self.gpu_model, block),
                                time_limit_s=30.0)
        self.reasons[mig_gpus] = f"planner {plan.status} on {block} GPUs ({plan.reason})"
        per_gpu = [tuple((i.profile, i.start) for i in g.layout)
                   for t in plan.nodes for g in sorted(t.gpus, key=lambda g: g.index)]
        return tuple(per_gpu[i % block] for i in range(mig_gpus))

    def rows(self, gpus_per_node: int) -> list[dict[str, str | int | float]]:
        """One row per (MIG GPU count, distinct layout): how many GPUs hold it."""
        out: list[dict[str, str | int | float]] = []
        for n, lays in sorted(self.used.items()):
            for text, count in sorted(Counter(describe(x) for x in lays).items()):
                out.append({"mig_nodes": n // gpus_per_node, "mig_gpus": n, "layout": text,
                            "gpus_with_layout": count, "source": self.reasons.get(n, "")})
        return out
