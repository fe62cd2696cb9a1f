"""A `Report` from replay results (`simulate replay`, `simulate compare`, the twin run)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from simulator.replay.driver import ReplayResult
from simulator.report.compare import COLUMNS, _get
from simulator.report.document import ChartSpec, Report, Row
from simulator.report.verdict import sentence

_WAIT_QUANTILES = (50, 95, 99)


def summary_rows(results: Sequence[ReplayResult]) -> list[Row]:
    rows: list[Row] = []
    for r in results:
        row: Row = {"workload": r.workload, "policy": r.policy, "seed": r.seed}
        useful = r.metrics.get("useful_pct_mean")
        if isinstance(useful, int | float):  # GPU time of jobs whose gang is complete
            row["useful %"] = useful
        for title, path in COLUMNS:
            value = _get(r.metrics, path)
            if isinstance(value, int | float):
                row[title] = value
        rows.append(row)
    return rows


def _series_rows(results: Sequence[ReplayResult]) -> tuple[list[Row], list[Row]]:
    alloc: list[Row] = []
    frag: list[Row] = []
    for r in results:
        for t, pct, idle, free_mig, *_ in r.series:
            base: Row = {"workload": r.workload, "policy": r.policy, "seed": r.seed,
                         "time_h": round(t / 3600, 4)}
            alloc.append({**base, "allocated_pct": pct})
            frag.append({**base, "measure": "idle GPUs", "value": idle})
            frag.append({**base, "measure": "free MIG slices", "value": free_mig})
    return alloc, frag


CDF_POINTS = 100  # steps per CDF curve at most (every sample when there are fewer)


def cdf_points(values: Sequence[float]) -> list[tuple[float, float]]:
    """(value, fraction of samples <= value) at up to CDF_POINTS evenly spaced ranks of the
    sorted samples (nearest rank), ending at (max, 1.0): the empirical CDF, thinned."""
    n = len(values)
    if n == 0:
        return []
    ranks = sorted({math.ceil(k * n / CDF_POINTS) for k in range(1, CDF_POINTS + 1)})
    return [(values[r - 1], round(r / n, 4)) for r in ranks]


def _quantile_rows(metrics: object) -> list[tuple[float, float]]:
    """Fallback for results without samples: the p50/p95/p99 steps."""
    if not isinstance(metrics, dict):
        return []
    return [(float(metrics[f"p{q}"]), q / 100) for q in _WAIT_QUANTILES
            if isinstance(metrics.get(f"p{q}"), int | float)]


def _class_wait_rows(results: Sequence[ReplayResult]) -> list[Row]:
    """The job wait CDF per job class (inference, training, pipeline, ...)."""
    rows: list[Row] = []
    for r in results:
        curves: dict[str, list[tuple[float, float]]] = {
            k.removeprefix("jobs/"): cdf_points(v) for k, v in r.waits.items()
            if k.startswith("jobs/")}
        if not curves:
            by_class = r.metrics.get("by_class")
            if isinstance(by_class, dict):
                curves = {cls: _quantile_rows(m.get("job_wait_s") if isinstance(m, dict)
                                              else None) for cls, m in sorted(by_class.items())}
        for cls, points in curves.items():
            rows += [{"workload": r.workload, "policy": r.policy, "seed": r.seed,
                      "facet": f"{r.workload} / {cls}", "quantile": q, "wait_s": v}
                     for v, q in points]
    return rows


def _wait_rows(results: Sequence[ReplayResult]) -> list[Row]:
    """The pod wait CDF (every pod's delay from its job's submission to its start)."""
    rows: list[Row] = []
    for r in results:
        points = (cdf_points(r.waits["pods"]) if "pods" in r.waits
                  else _quantile_rows(r.metrics.get("queue_delay_s")))
        rows += [{"workload": r.workload, "policy": r.policy, "seed": r.seed,
                  "quantile": q, "wait_s": v} for v, q in points]
    return rows


def replay_report(results: Sequence[ReplayResult], title: str = "Tessera replay") -> Report:
    """Every run's rows carry its seed. With several seeds the charts draw the first seed's
    runs (said in their titles); tables, CSV and JSON keep every seed."""
    summary = summary_rows(results)
    seeds = sorted({r.seed for r in results})
    where: tuple[tuple[str, int], ...] = ((("seed", seeds[0]),) if len(seeds) > 1 else ())
    tag = f" (seed {seeds[0]} of {len(seeds)})" if where else ""
    alloc, frag = _series_rows(results)
    frag_by_measure = {m: [r for r in frag if r["measure"] == m]
                       for m in ("idle GPUs", "free MIG slices")}
    verdicts = [
        sentence("Which policy keeps the most GPU capacity usefully allocated (jobs whose gang "
                 "is complete, time-weighted)?", summary,
                 "useful %" if any("useful %" in r for r in summary) else "alloc %", "%",
                 higher_better=True),
        sentence("Which policy holds the least GPU capacity (lower held means less waste)?",
                 summary, "held %", "%", higher_better=False),
        sentence("Which policy has the shortest p95 wait?", summary, "wait p95 s", "s",
                 higher_better=False),
        sentence("Which policy has the shortest p99 wait?", summary, "wait p99 s", "s",
                 higher_better=False),
        sentence("Which policy leaves the fewest jobs unfinished?", summary, "unfinished", "",
                 higher_better=False),
    ]
    charts = [
        ChartSpec("replay_allocation", "step", "time_h", "allocated_pct", "policy",
                  f"GPU capacity allocated over time{tag}", "time (hours)",
                  "allocated GPU (%)", where=where),
        ChartSpec("replay_waits", "step", "wait_s", "quantile", "policy",
                  f"Pod wait CDF{tag}", "wait (s)", "fraction of pods",
                  where=where),
        ChartSpec("replay_class_waits", "step", "wait_s", "quantile", "policy",
                  f"Job wait CDF per job class{tag}", "wait (s)",
                  "fraction of jobs", facet="facet", where=where),
        ChartSpec("replay_idle_gpus", "step", "time_h", "value", "policy",
                  f"Fragmentation: idle whole GPUs over time{tag}", "time (hours)",
                  "idle GPUs", where=where),
        ChartSpec("replay_free_mig", "step", "time_h", "value", "policy",
                  f"Fragmentation: free MIG memory slices over time{tag}", "time (hours)",
                  "free MIG slices", where=where),
    ]
    return Report(
        title,
        verdicts=verdicts,
        sources=sorted({f"{r.workload}: seed {r.seed}" for r in results}),
        tables={"replay_summary": summary},
        datasets={
            "replay_allocation": alloc,
            "replay_waits": _wait_rows(results),
            "replay_class_waits": _class_wait_rows(results),
            "replay_idle_gpus": frag_by_measure["idle GPUs"],
            "replay_free_mig": frag_by_measure["free MIG slices"],
        },
        charts=charts,
    )
