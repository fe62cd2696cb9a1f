"""A `Report` for a seed study (`tessera simulate compare`): the verdicts read from the 95 %
intervals over the seeds (a tie where intervals overlap), the summary with intervals as a table,
every seed's runs, and the replay and serving charts (time series and CDFs of the first seed;
their CSV and JSON hold every seed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from simulator.replay.seeds import STUDY_METRICS
from simulator.replay.study import SeedStudy
from simulator.report.document import ChartSpec, Report, Row
from simulator.report.from_replay import replay_report
from simulator.report.from_serving import serving_report
from simulator.serving.metrics import ServingResult
from simulator.serving.study import seed_summaries

# (summary metric, question, unit): replay half, then serving half
REPLAY_QUESTIONS = (
    ("useful_pct", "Which policy keeps the most GPU capacity usefully allocated (jobs whose "
     "gang is complete, time-weighted)?", "%"),
    ("job_wait_p95_s", "Which policy has the shortest p95 job wait?", "s"),
    ("pod_wait_p99_s", "Which policy has the shortest p99 pod wait?", "s"),
    ("unfinished", "Which policy leaves the fewest jobs unfinished?", ""),
)
SERVING_QUESTIONS = (
    ("slo_miss_pct", "Which policy misses the request SLO least?", "%"),
    ("gpu_hours", "Which policy serves with the fewest GPU-hours?", "GPU-h"),
    ("latency_p99_s", "Which policy has the lowest p99 request latency?", "s"),
)


def _pm(stats: Mapping[str, float], unit: str) -> str:
    return f"{stats['mean']:,.1f} +/- {stats['half']:,.1f} {unit}".rstrip()


def interval_sentence(question: str, unit: str, key: str,
                      studies: Sequence[tuple[str, Mapping[str, object]]]) -> str:
    """'<question> On <workload>: <best> (<mean +/- half>; next <policy> <mean +/- half>)', or
    '<a> and <b> tie (...)' when the intervals overlap; over every study that has `key`."""
    clauses = []
    for name, summary in studies:
        metrics = summary["metrics"]
        entry = metrics.get(key) if isinstance(metrics, Mapping) else None
        if not isinstance(entry, Mapping) or not isinstance(entry.get("verdict"), Mapping):
            continue
        stats, v = entry["by_policy"], entry["verdict"]
        sign = 1 if entry["better"] == "max" else -1
        ranked = sorted(stats, key=lambda p: (-sign * stats[p]["mean"], p))
        winners = [p for p in ranked if p in v["winners"]]  # the best first
        rest = [p for p in ranked if p not in winners]
        if len(winners) > 1:
            names = ", ".join(winners[:-1]) + " and " + winners[-1]
            who = f"{names} tie, intervals overlap (" + "; ".join(
                f"{p} {_pm(stats[p], unit)}" for p in winners) + ")"
        else:
            who = f"{v['best']} ({_pm(stats[v['best']], unit)}"
            who += f"; next {rest[0]} {_pm(stats[rest[0]], unit)})" if rest else ")"
        clauses.append(f"On {name}: {who}")
    return f"{question} " + ("; ".join(clauses) if clauses else "no runs") + "."


def summary_rows(half: str, studies: Sequence[tuple[str, Mapping[str, object]]]) -> list[Row]:
    """One row per (workload, metric, policy): n, mean, 95 % interval, and best/tie marks."""
    rows: list[Row] = []
    for name, summary in studies:
        metrics = summary["metrics"]
        by_class = summary.get("by_class", {})
        assert isinstance(metrics, Mapping) and isinstance(by_class, Mapping)
        entries = [(k, e) for k, e in metrics.items()] + [
            (f"{cls}.{k}", e) for cls, per in by_class.items() for k, e in per.items()]
        for key, entry in entries:
            v = entry.get("verdict")
            for policy, s in entry["by_policy"].items():
                mark = ("" if not isinstance(v, Mapping) else "best" if policy == v["best"]
                        else "tie" if policy in v["tied"] else "")
                rows.append({"half": half, "workload": name, "metric": key, "policy": policy,
                             "n": s["n"], "mean": s["mean"], "half_width": s["half"],
                             "low": s["low"], "high": s["high"], "verdict": mark})
    return rows


def study_report(studies: Sequence[SeedStudy], served: Sequence[ServingResult] = (),
                 title: str = "Tessera study") -> Report:
    replay = [(st.workload, st.summary) for st in studies]
    serving = seed_summaries(served)
    seeds = sorted({s for st in studies for s in st.seeds} | {r.seed for r in served})
    doc = replay_report([r for st in studies for r in st.runs], title)
    if served:
        doc = doc.merge(serving_report(served))
    intervals = summary_rows("replay", replay) + summary_rows("serving", serving)
    doc.verdicts = ([interval_sentence(q, u, k, replay) for k, q, u in REPLAY_QUESTIONS]
                    + [interval_sentence(q, u, k, serving) for k, q, u in SERVING_QUESTIONS
                       if serving])
    doc.tables = {"study_intervals": intervals, **doc.tables}
    doc.charts = [ChartSpec("study_seed_values", "point", "policy", "value", "policy",
                            "Every seed's value (means and 95 % intervals: study_intervals)",
                            "policy", "value (unit in the metric's name)", facet="facet"),
                  *doc.charts]
    doc.datasets = {"study_seed_values": _seed_values(studies, served), **doc.datasets}
    doc.sources = [f"seeds {', '.join(map(str, seeds))}: every run below, in the tables and "
                   "CSV/JSON; verdicts from the 95 % intervals over the seeds", *doc.sources]
    return doc


def metric_value(metrics: Mapping[str, object], path: tuple[str, ...]) -> float | None:
    cur: object = metrics
    for key in path:
        cur = cur.get(key) if isinstance(cur, Mapping) else None
    return float(cur) if isinstance(cur, int | float) else None


def _seed_values(studies: Sequence[SeedStudy], served: Sequence[ServingResult]) -> list[Row]:
    """Per run, the value of each metric a verdict is drawn from."""
    paths = {k: path for k, path, _ in STUDY_METRICS}
    rows: list[Row] = []
    for st in studies:
        for r in st.runs:
            for key, _, _ in REPLAY_QUESTIONS:
                value = metric_value(r.metrics, paths[key])
                if value is not None:
                    rows.append({"facet": f"{st.workload} / {key}", "workload": st.workload,
                                 "metric": key, "policy": r.policy, "seed": r.seed,
                                 "value": value})
    for q in served:
        for key, _, _ in SERVING_QUESTIONS:
            rows.append({"facet": f"{q.trace} / {key}", "workload": q.trace, "metric": key,
                         "policy": q.policy, "seed": q.seed, "value": q.summary[key]})
    return rows
