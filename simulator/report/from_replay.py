"""A `Report` from replay results (`simulate replay`, `simulate compare`, the twin run)."""

from __future__ import annotations

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


def _class_wait_rows(results: Sequence[ReplayResult]) -> list[Row]:
    """Job wait quantiles per job class (inference, training, pipeline, ...) when the replay
    metrics carry `by_class`."""
    rows: list[Row] = []
    for r in results:
        by_class = r.metrics.get("by_class")
        if not isinstance(by_class, dict):
            continue
        for cls, m in sorted(by_class.items()):
            waits = m.get("job_wait_s") if isinstance(m, dict) else None
            if not isinstance(waits, dict):
                continue
            for q in _WAIT_QUANTILES:
                value = waits.get(f"p{q}")
                if isinstance(value, int | float):
                    rows.append({"workload": r.workload, "policy": r.policy, "seed": r.seed,
                                 "facet": f"{r.workload} / {cls}", "quantile": q / 100,
                                 "wait_s": value})
    return rows


def _wait_rows(results: Sequence[ReplayResult]) -> list[Row]:
    rows: list[Row] = []
    for r in results:
        waits = r.metrics.get("queue_delay_s")
        if not isinstance(waits, dict):
            continue
        for q in _WAIT_QUANTILES:
            value = waits.get(f"p{q}")
            if isinstance(value, int | float):
                rows.append({"workload": r.workload, "policy": r.policy, "seed": r.seed,
                             "quantile": q / 100, "wait_s": value})
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
                  f"Pod wait quantiles (p50, p95, p99){tag}", "wait (s)", "fraction of pods",
                  where=where),
        ChartSpec("replay_class_waits", "step", "wait_s", "quantile", "policy",
                  f"Job wait quantiles per job class (p50, p95, p99){tag}", "wait (s)",
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
