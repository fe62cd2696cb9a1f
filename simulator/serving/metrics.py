"""Serving results: request latency and wait percentiles per model and per modality, SLO
misses, GPU-hours and replicas over time. Rounded to fixed decimals, so the same seed gives
byte-identical JSON."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from simulator.serving.requests import Request
from simulator.serving.sim import Outcome

QUANTILES = (50, 95, 99)
CDF_POINTS = 50  # quantiles kept per (policy, group) for the CDF charts


def percentile(values: list[float], q: float) -> float:
    """Nearest rank on sorted values (deterministic, no interpolation); 0 for none."""
    if not values:
        return 0.0
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


def _r(x: float) -> float:
    return round(x, 3)


@dataclass(frozen=True)
class ServingResult:
    policy: str
    trace: str
    seed: int
    summary: dict[str, float | int]
    by_model: list[dict[str, float | int | str]]
    by_modality: list[dict[str, float | int | str]]
    cdf: list[dict[str, float | str]]  # group, measure (wait|latency), quantile, seconds
    replicas: list[tuple[float, int, int]]

    def to_dict(self) -> dict[str, object]:
        return {"policy": self.policy, "trace": self.trace, "seed": self.seed,
                "summary": self.summary, "by_model": self.by_model,
                "by_modality": self.by_modality, "cdf": self.cdf,
                "replicas": [list(p) for p in self.replicas]}


def _group_stats(waits: list[float], lat: list[float], misses: int, served: int,
                 total: int) -> dict[str, float | int]:
    waits, lat = sorted(waits), sorted(lat)
    out: dict[str, float | int] = {"requests": total, "served": served, "slo_misses": misses,
                                   "slo_miss_pct": _r(100 * misses / total) if total else 0.0}
    for q in QUANTILES:
        out[f"latency_p{q}_s"] = _r(percentile(lat, q))
        out[f"wait_p{q}_s"] = _r(percentile(waits, q))
    return out


def _cdf(group: str, measure: str, values: list[float]) -> Iterable[dict[str, float | str]]:
    values = sorted(values)
    for k in range(1, CDF_POINTS + 1):
        q = 100 * k / CDF_POINTS
        yield {"group": group, "measure": measure, "quantile": _r(q / 100),
               "seconds": _r(percentile(values, q))}


def summarise(policy: str, trace: str, seed: int, reqs: list[Request], out: Outcome,
              default_slo_s: float) -> ServingResult:
    per: dict[tuple[str, str], tuple[list[float], list[float], list[int]]] = {}
    all_w: list[float] = []
    all_l: list[float] = []
    misses = unserved = 0
    for q, s, e in zip(reqs, out.start, out.end, strict=True):
        slo = q.slo_wait_s if q.slo_wait_s is not None else default_slo_s
        for key in (("model", q.model), ("modality", q.modality)):
            w, lat, m = per.setdefault(key, ([], [], [0, 0]))
            m[1] += 1
            if math.isnan(s):
                m[0] += 1
                continue
            w.append(s - q.arrival_s)
            lat.append(e - q.arrival_s)
            m[0] += (s - q.arrival_s) > slo
        if math.isnan(s):
            unserved += 1
            misses += 1
            continue
        all_w.append(s - q.arrival_s)
        all_l.append(e - q.arrival_s)
        misses += (s - q.arrival_s) > slo
    gpu_hours = sum((b - a) * milli / 1000 for _, a, b, milli in out.replica_spans) / 3600
    summary = _group_stats(all_w, all_l, misses, len(all_w), len(reqs))
    summary.update({"unserved": unserved, "gpu_hours": _r(gpu_hours),
                    "cold_starts": out.cold_starts,
                    "replicas_max": max((p[1] for p in out.replica_series), default=0),
                    "pending_replicas_max": max((p[2] for p in out.replica_series), default=0)})
    rows = {"model": [], "modality": []}  # type: dict[str, list[dict[str, float | int | str]]]
    for (kind, name), (w, lat, m) in sorted(per.items()):
        rows[kind].append({kind: name, **_group_stats(w, lat, m[0], len(w), m[1])})
    cdf = [p for (kind, name), (w, lat, _) in sorted(per.items()) if kind == "modality"
           for measure, vals in (("wait", w), ("latency", lat)) for p in _cdf(name, measure, vals)]
    return ServingResult(policy, trace, seed, summary, rows["model"], rows["modality"], cdf,
                         out.replica_series)
