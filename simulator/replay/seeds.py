"""A study over several seeds: per policy and metric, the mean with a 95 % interval, the best
policy, and a tie when intervals overlap. Plain data (dicts, lists) a report can render.

The interval is Student's t over the seeds (mean +/- t(0.975, n-1) * s / sqrt(n)). Two policies
whose intervals overlap are not told apart: the verdict lists them all as tied.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

# Two-sided 95 % Student t quantiles t(0.975, df) for df = 1..30 (standard table values).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)

# (key, path into a run's metrics, better): "max" or "min"; None is shown without a verdict.
STUDY_METRICS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("useful_pct", ("useful_pct_mean",), "max"),
    ("held_pct", ("held_pct_mean",), None),
    ("held_waiting_pct", ("held_waiting_pct_mean",), "min"),
    ("held_rounding_pct", ("held_rounding_pct_mean",), "min"),
    ("job_wait_p50_s", ("job_wait_s", "p50"), "min"),
    ("job_wait_p95_s", ("job_wait_s", "p95"), "min"),
    ("job_wait_p99_s", ("job_wait_s", "p99"), "min"),
    ("pod_wait_p99_s", ("queue_delay_s", "p99"), "min"),
    ("jct_mean_s", ("jct_s", "mean"), "min"),
    ("makespan_s", ("makespan_s",), "min"),
    ("unfinished", ("unfinished",), "min"),
)
CLASS_METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("job_wait_p50_s", ("job_wait_s", "p50")),
    ("job_wait_p95_s", ("job_wait_s", "p95")),
    ("job_wait_p99_s", ("job_wait_s", "p99")),
    ("jct_mean_s", ("jct_s", "mean")),
)


def t975(n: int) -> float:
    """t(0.975, n-1); the normal 1.96 beyond 31 samples; 0 for fewer than 2 (no interval)."""
    if n < 2:
        return 0.0
    return _T975[n - 2] if n - 1 <= len(_T975) else 1.96


def interval(values: Sequence[float]) -> dict[str, float]:
    """Mean, half-width of the 95 % interval, and the bounds; n = number of values."""
    n = len(values)
    if n == 0:
        raise ValueError("interval of no values")
    mean = statistics.fmean(values)
    half = t975(n) * statistics.stdev(values) / math.sqrt(n) if n > 1 else 0.0
    return {"n": n, "mean": round(mean, 3), "half": round(half, 3),
            "low": round(mean - half, 3), "high": round(mean + half, 3)}


def verdict(stats: Mapping[str, Mapping[str, float]], better: str) -> dict[str, object]:
    """The best policy by mean and every policy whose interval overlaps the best's (a tie)."""
    if better not in ("max", "min"):
        raise ValueError(f"better must be 'max' or 'min', got {better!r}")
    sign = 1.0 if better == "max" else -1.0
    best = max(sorted(stats), key=lambda p: sign * stats[p]["mean"])
    b = stats[best]
    tied = sorted(p for p in stats if p != best
                  and stats[p]["low"] <= b["high"] and b["low"] <= stats[p]["high"])
    return {"best": best, "tied": tied, "winners": sorted([best, *tied])}


def _get(metrics: Mapping[str, object], path: tuple[str, ...]) -> float | None:
    cur: object = metrics
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return float(cur) if isinstance(cur, (int, float)) else None


def summarize(runs: Mapping[str, Sequence[Mapping[str, object]]]) -> dict[str, object]:
    """`runs`: policy -> its per-seed metrics (one workload). Returns, per study metric, each
    policy's interval and the verdict; per job class, each policy's intervals."""
    out: dict[str, object] = {"policies": list(runs), "seeds": min(len(v) for v in runs.values())}
    metrics: dict[str, object] = {}
    for key, path, better in STUDY_METRICS:
        stats = {}
        for policy, per_seed in runs.items():
            values = [v for m in per_seed if (v := _get(m, path)) is not None]
            if values:
                stats[policy] = interval(values)
        if len(stats) != len(runs):
            continue
        entry: dict[str, object] = {"better": better, "by_policy": stats}
        if better is not None:
            entry["verdict"] = verdict(stats, better)
        metrics[key] = entry
    out["metrics"] = metrics
    classes: dict[str, dict[str, object]] = {}
    names = sorted({c for per_seed in runs.values() for m in per_seed
                    for c in _classes(m)})
    for cls in names:
        per_metric: dict[str, object] = {}
        for key, path in CLASS_METRICS:
            stats = {}
            for policy, per_seed in runs.items():
                values = [v for m in per_seed
                          if (v := _get(m, ("by_class", cls, *path))) is not None]
                if values:
                    stats[policy] = interval(values)
            if len(stats) == len(runs):
                per_metric[key] = {"by_policy": stats, "verdict": verdict(stats, "min")}
        classes[cls] = per_metric
    out["by_class"] = classes
    return out


def _classes(metrics: Mapping[str, object]) -> list[str]:
    by = metrics.get("by_class")
    return list(by) if isinstance(by, Mapping) else []


def table(workload: str, summary: Mapping[str, object]) -> str:
    """Plain text: one row per metric, `mean +/- half` per policy, `*` on the best, `=` on each
    policy tied with it (intervals overlap), and the verdict in words."""
    policies = list(summary["policies"])  # type: ignore[call-overload]
    rows = [["metric", *policies, "verdict"]]
    metrics = summary["metrics"]
    assert isinstance(metrics, Mapping)
    for key, entry in metrics.items():
        rows.append([key, *_cells(entry, policies), _words(entry)])
    by_class = summary["by_class"]
    assert isinstance(by_class, Mapping)
    for cls, per_metric in by_class.items():
        for key, entry in per_metric.items():
            rows.append([f"{cls}.{key}", *_cells(entry, policies), _words(entry)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    head = f"{workload}: mean +/- 95 % interval over {summary['seeds']} seeds (* best, = tie)"
    lines = [head]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i in (0, len(r) - 1) else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    return "\n".join(lines)


def _cells(entry: Mapping[str, object], policies: list[str]) -> list[str]:
    stats = entry["by_policy"]
    assert isinstance(stats, Mapping)
    v = entry.get("verdict")
    best = v["best"] if isinstance(v, Mapping) else None
    tied = v["tied"] if isinstance(v, Mapping) else []
    out = []
    for p in policies:
        s = stats[p]
        mark = "*" if p == best else "=" if p in tied else " "
        out.append(f"{s['mean']:.1f} +/- {s['half']:.1f}{mark}")
    return out


def _words(entry: Mapping[str, object]) -> str:
    v = entry.get("verdict")
    if not isinstance(v, Mapping):
        return ""
    if v["tied"]:
        return "tie: " + ", ".join(v["winners"])
    return f"{v['best']} best"
