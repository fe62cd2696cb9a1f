"""Serving runs per policy (the same requests, cluster and autoscaler for each)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from simulator.replay.seeds import interval, verdict
from simulator.serving.config import Autoscale, ServingSpec
from simulator.serving.metrics import ServingResult, summarise
from simulator.serving.requests import Request
from simulator.serving.sim import serve

SERVING_POLICIES = ("tessera", "volcano", "kube-default")


def run_serving(reqs: list[Request], spec: ServingSpec, scale: Autoscale, policy: str,
                trace: str, seed: int = 0) -> ServingResult:
    out = serve(reqs, spec, scale, policy, seed)
    return summarise(policy, Path(trace).name, seed, reqs, out, spec.slo_wait_s)


def serving_json(results: Sequence[ServingResult]) -> str:
    return json.dumps([r.to_dict() for r in results], sort_keys=True, separators=(",", ":"))


# (summary key, better) for the seed study of serving runs: "min" is better; None: no verdict
SEED_METRICS: tuple[tuple[str, str | None], ...] = (
    ("slo_miss_pct", "min"), ("wait_p95_s", "min"), ("wait_p99_s", "min"),
    ("latency_p99_s", "min"), ("gpu_hours", "min"), ("replicas_max", None),
)


def seed_summaries(results: Sequence[ServingResult]) -> list[tuple[str, dict[str, object]]]:
    """Per trace (in first-seen order), the seed study of its runs in the form of
    simulator.replay.seeds.summarize: per metric each policy's mean with a 95 % interval over
    the seeds, and the best policy (ties where intervals overlap)."""
    by_trace: dict[str, dict[str, list[ServingResult]]] = {}
    for r in results:
        by_trace.setdefault(r.trace, {}).setdefault(r.policy, []).append(r)
    out = []
    for trace, by_policy in by_trace.items():
        metrics: dict[str, object] = {}
        for key, better in SEED_METRICS:
            stats = {p: interval([float(r.summary[key]) for r in runs])
                     for p, runs in by_policy.items()}
            entry: dict[str, object] = {"better": better, "by_policy": stats}
            if better is not None:
                entry["verdict"] = verdict(stats, better)
            metrics[key] = entry
        out.append((trace, {"policies": list(by_policy),
                            "seeds": min(len(v) for v in by_policy.values()),
                            "metrics": metrics, "by_class": {}}))
    return out
