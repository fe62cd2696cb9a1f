"""Capacity per policy for a request trace: the same requests, autoscaler and node shape; the
node count is searched (simulator.capacity.search) until every objective holds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from simulator.capacity.layouts import PlannedLayouts, auto_mig_nodes, mig_mix, mig_share
from simulator.capacity.search import Probe, smallest
from simulator.capacity.slo import Objective
from simulator.serving.config import Autoscale, ServingSpec
from simulator.serving.metrics import percentile
from simulator.serving.requests import Request
from simulator.serving.sim import serve


@dataclass(frozen=True)
class PolicyCapacity:
    policy: str
    nodes: int | None  # None: not met within max_nodes
    gpus: int | None
    probes: list[Probe]


def measure(reqs: list[Request], spec: ServingSpec, scale: Autoscale, policy: str,
            objectives: Sequence[Objective], seed: int) -> Probe:
    out = serve(reqs, spec, scale, policy, seed)
    waits = sorted(float("inf") if s != s else s - q.arrival_s  # unserved: never meets
                   for q, s in zip(reqs, out.start, strict=True))
    detail: dict[str, float] = {"gpus": spec.nodes * spec.gpus_per_node,
                                "mig_gpus": spec.mig_nodes * spec.gpus_per_node}
    met = True
    for o in objectives:
        value = percentile(waits, o.quantile)
        detail[f"wait_p{o.quantile:g}_s"] = round(value, 3) if value != float("inf") else -1.0
        detail[f"attain_p{o.quantile:g}_pct"] = round(
            100 * sum(w <= o.seconds for w in waits) / len(waits), 3)
        met = met and value <= o.seconds
    detail["gpu_hours"] = round(sum((b - a) * m / 1000 for _, a, b, m in out.replica_spans)
                                / 3600, 3)
    return Probe(spec.nodes, met, detail)


def sized(reqs: list[Request], base: ServingSpec, nodes: int, mig_fraction: float | None,
          layouts: PlannedLayouts) -> ServingSpec:
    """The cluster probed at `nodes`: MIG nodes by `mig_fraction` (None: the trace's MIG share of
    load, layouts.auto_mig_nodes), their GPUs holding the layouts `layouts` derives for them."""
    mig = (auto_mig_nodes(nodes, mig_share(reqs, base)) if mig_fraction is None
           else round(nodes * mig_fraction))
    return replace(base, nodes=nodes, mig_nodes=mig,
                   mig_layouts=layouts.layouts(mig * base.gpus_per_node))


def plan_capacity(reqs: list[Request], base: ServingSpec, scale: Autoscale,
                  policies: Sequence[str], objectives: Sequence[Objective], *,
                  mig_fraction: float | None = 0.0, max_nodes: int = 64, seed: int = 0,
                  layouts: PlannedLayouts | None = None,
                  on_probe: Callable[[str, Probe], None] | None = None,
                  ) -> list[PolicyCapacity]:
    """Per policy, the smallest node count meeting `objectives`. MIG GPUs hold the layouts
    `layouts` gives (default: the repartition planner's, from the trace's MIG demand mix)."""
    if mig_fraction is not None and not 0 <= mig_fraction <= 1:
        raise ValueError(f"--mig-fraction must be in 0..1 or auto, got {mig_fraction}")
    if layouts is None:
        layouts = PlannedLayouts(mig_mix(reqs, base), base.gpu_model)
    out = []
    for policy in policies:
        def probe(n: int, policy: str = policy) -> Probe:
            spec = sized(reqs, base, n, mig_fraction, layouts)
            p = measure(reqs, spec, scale, policy, objectives, seed)
            if on_probe is not None:
                on_probe(policy, p)
            return p

        nodes, probes = smallest(probe, max_nodes)
        out.append(PolicyCapacity(policy, nodes,
                                  None if nodes is None else nodes * base.gpus_per_node,
                                  sorted(probes, key=lambda p: p.nodes)))
    return out


def savings_sentence(caps: Sequence[PolicyCapacity], objectives: Sequence[Objective],
                     ours: str = "tessera") -> str:
    """'N GPUs saved by tessera against volcano and M against kube-default for the same SLO'."""
    slo = ", ".join(o.label() for o in objectives)
    by = {c.policy: c for c in caps}
    mine = by.get(ours)
    if mine is None:
        return f"{ours} was not run, so no savings are stated ({slo})."
    if mine.gpus is None:
        return f"{ours} does not meet {slo} within the largest cluster tried."
    parts = []
    for c in caps:
        if c.policy == ours:
            continue
        if c.gpus is None:
            parts.append(f"at least {c.probes[-1].detail['gpus'] - mine.gpus + 1:g} GPUs "
                         f"against {c.policy} (which does not meet it within "
                         f"{c.probes[-1].detail['gpus']:g} GPUs)")
        elif c.gpus >= mine.gpus:
            parts.append(f"{c.gpus - mine.gpus} GPUs against {c.policy} "
                         f"({mine.gpus} vs {c.gpus})")
        else:
            parts.append(f"-{mine.gpus - c.gpus} GPUs against {c.policy} (it needs fewer: "
                         f"{mine.gpus} vs {c.gpus})")
    if not parts:
        return f"{ours} needs {mine.gpus} GPUs for {slo}."
    return f"{ours} saves " + " and ".join(parts) + f" for the same SLO ({slo})."
