"""A `Report` from serving results (`simulate serve`, the serving part of `simulate compare`)."""

from __future__ import annotations

from collections.abc import Sequence

from simulator.report.document import ChartSpec, Report, Row
from simulator.report.verdict import sentence
from simulator.serving.metrics import ServingResult

REPLICA_POINTS = 400  # buckets for the replicas-over-time chart (max per bucket)
SUMMARY_KEYS = ("requests", "served", "slo_misses", "slo_miss_pct", "latency_p50_s",
                "latency_p95_s", "latency_p99_s", "wait_p95_s", "wait_p99_s", "gpu_hours",
                "cold_starts", "replicas_max")


def _replica_rows(r: ServingResult) -> list[Row]:
    """Placed replicas over time, as the max per time bucket (bursts stay visible)."""
    if not r.replicas:
        return []
    end = max(p[0] for p in r.replicas) or 1.0
    width = end / REPLICA_POINTS
    buckets: dict[int, int] = {}
    level = 0
    series = sorted(r.replicas)
    for k, (t, placed, _pending) in enumerate(series):
        b = min(int(t / width), REPLICA_POINTS - 1)
        nxt = series[k + 1][0] if k + 1 < len(series) else t
        level = placed
        for bb in range(b, min(int(nxt / width), REPLICA_POINTS - 1) + 1):
            buckets[bb] = max(buckets.get(bb, 0), level)
    return [{"trace": r.trace, "policy": r.policy, "time_h": round(b * width / 3600, 4),
             "replicas": v} for b, v in sorted(buckets.items())]


def serving_report(results: Sequence[ServingResult], title: str = "Tessera serving") -> Report:
    summary: list[Row] = [{"trace": r.trace, "policy": r.policy,
                           **{k: r.summary[k] for k in SUMMARY_KEYS}} for r in results]
    by_modality: list[Row] = [{"trace": r.trace, "policy": r.policy, **row}
                              for r in results for row in r.by_modality]
    by_model: list[Row] = [{"trace": r.trace, "policy": r.policy, **row}
                           for r in results for row in r.by_model]
    cdf: list[Row] = [{"trace": r.trace, "policy": r.policy, **p} for r in results
                      for p in r.cdf]
    replicas = [row for r in results for row in _replica_rows(r)]
    verdicts = [
        sentence("Which policy misses the request SLO least?", summary, "slo_miss_pct", "%",
                 higher_better=False, group="trace"),
        sentence("Which policy serves with the fewest GPU-hours?", summary, "gpu_hours",
                 "GPU-h", higher_better=False, group="trace"),
        sentence("Which policy has the lowest p99 request latency?", summary, "latency_p99_s",
                 "s", higher_better=False, group="trace"),
    ]
    for row in cdf:
        row["facet"] = f"{row['trace']} / {row['group']} / {row['measure']}"
    charts = [
        ChartSpec("serving_cdf", "step", "seconds", "quantile", "policy",
                  "Request wait and latency CDF", "seconds (log scale)", "fraction of requests",
                  facet="facet", x_log=True),
        ChartSpec("serving_slo_misses", "bar", "modality", "slo_miss_pct", "policy",
                  "SLO misses per modality", "modality", "requests missing the SLO (%)",
                  facet="trace"),
        ChartSpec("serving_replicas", "step", "time_h", "replicas", "policy",
                  "Placed replicas over time (max per bucket)", "time (hours)", "replicas",
                  facet="trace"),
        ChartSpec("serving_summary", "bar", "policy", "gpu_hours", "policy",
                  "GPU-hours held by replicas", "policy", "GPU-hours", facet="trace"),
    ]
    return Report(
        title, verdicts=verdicts,
        sources=sorted({f"{r.trace}: {r.summary['requests']} requests, seed {r.seed}"
                        for r in results}),
        tables={"serving_summary": summary, "serving_by_modality": by_modality},
        datasets={"serving_cdf": [{**row, "seconds": max(float(row["seconds"]), 0.01)}
                                  for row in cdf],
                  "serving_slo_misses": by_modality, "serving_replicas": replicas,
                  "serving_by_model": by_model},
        charts=charts,
        notes=["Wait = arrival to start of execution (queueing plus any cold start); latency = "
               "wait + execution. The SLO applies to the wait: execution time is the model's.",
               "CDF seconds are floored at 0.01 s for the log axis (0 s means served at once)."],
    )
