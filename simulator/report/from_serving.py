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
    return [{"trace": r.trace, "policy": r.policy, "seed": r.seed,
             "time_h": round(b * width / 3600, 4), "replicas": v}
            for b, v in sorted(buckets.items())]


def serving_report(results: Sequence[ServingResult], title: str = "Tessera serving") -> Report:
    """Every row carries its run's seed. With several seeds the verdicts and charts use the
    first seed's runs (simulator.report.from_study states the intervals over all of them);
    tables, CSV and JSON keep every seed."""
    summary: list[Row] = [{"trace": r.trace, "policy": r.policy, "seed": r.seed,
                           **{k: r.summary[k] for k in SUMMARY_KEYS}} for r in results]
    by_modality: list[Row] = [{"trace": r.trace, "policy": r.policy, "seed": r.seed, **row}
                              for r in results for row in r.by_modality]
    by_model: list[Row] = [{"trace": r.trace, "policy": r.policy, "seed": r.seed, **row}
                           for r in results for row in r.by_model]
    cdf: list[Row] = [{"trace": r.trace, "policy": r.policy, "seed": r.seed, **p}
                      for r in results for p in r.cdf]
    seeds = sorted({r.seed for r in results})
    where: tuple[tuple[str, int], ...] = ((("seed", seeds[0]),) if len(seeds) > 1 else ())
    tag = f" (seed {seeds[0]} of {len(seeds)})" if where else ""
    first = [r for r in summary if not where or r["seed"] == seeds[0]]
    replicas = [row for r in results for row in _replica_rows(r)]
    verdicts = [
        sentence("Which policy misses the request SLO least?", first, "slo_miss_pct", "%",
                 higher_better=False, group="trace"),
        sentence("Which policy serves with the fewest GPU-hours?", first, "gpu_hours",
                 "GPU-h", higher_better=False, group="trace"),
        sentence("Which policy has the lowest p99 request latency?", first, "latency_p99_s",
                 "s", higher_better=False, group="trace"),
    ]
    for row in cdf:
        row["facet"] = f"{row['trace']} / {row['group']} / {row['measure']}"
    charts = [
        ChartSpec("serving_cdf", "step", "seconds", "quantile", "policy",
                  f"Request wait and latency CDF{tag}", "seconds (log scale)",
                  "fraction of requests", facet="facet", x_log=True, where=where),
        ChartSpec("serving_slo_misses", "bar", "modality", "slo_miss_pct", "policy",
                  f"SLO misses per modality{tag}", "modality", "requests missing the SLO (%)",
                  facet="trace", where=where),
        ChartSpec("serving_replicas", "step", "time_h", "replicas", "policy",
                  f"Placed replicas over time (max per bucket){tag}", "time (hours)",
                  "replicas", facet="trace", where=where),
        ChartSpec("serving_summary", "bar", "policy", "gpu_hours", "policy",
                  f"GPU-hours held by replicas{tag}", "policy", "GPU-hours", facet="trace",
                  where=where),
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
