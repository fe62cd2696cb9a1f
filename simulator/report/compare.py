"""Replay results side by side: deterministic JSON and a plain-text comparison table."""

from __future__ import annotations

import json
from collections.abc import Sequence

from simulator.replay.driver import ReplayResult

# (column title, path into the metrics dict)
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("alloc %", ("allocated_pct_mean",)),
    ("held %", ("held_pct_mean",)),
    ("idle GPUs", ("idle_gpus_mean",)),
    ("free MIG sl", ("free_mig_slices_mean",)),
    ("wait p50 s", ("queue_delay_s", "p50")),
    ("wait p95 s", ("queue_delay_s", "p95")),
    ("wait p99 s", ("queue_delay_s", "p99")),
    ("JCT mean s", ("jct_s", "mean")),
    ("makespan s", ("makespan_s",)),
    ("gang wait s", ("gang_wait_s", "mean")),
    ("partial gangs", ("partial_gang_deadlocks",)),
    ("MIG reconf", ("mig_reconfigurations",)),
    ("unfinished", ("unfinished",)),
)


def _get(metrics: dict[str, object], path: tuple[str, ...]) -> object:
    cur: object = metrics
    for key in path:
        assert isinstance(cur, dict)
        cur = cur[key]
    return cur


def to_json(results: Sequence[ReplayResult], *, series: bool = False) -> str:
    """One JSON document, keys sorted: same results -> byte-identical text."""
    doc = [
        {
            "policy": r.policy,
            "workload": r.workload,
            "seed": r.seed,
            "events": r.events,
            "metrics": r.metrics,
            **({"series": r.series} if series else {}),
        }
        for r in results
    ]
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def table(results: Sequence[ReplayResult]) -> str:
    head = ["workload", "policy", *(c for c, _ in COLUMNS)]
    rows = [
        [r.workload, r.policy, *(_fmt(_get(r.metrics, p)) for _, p in COLUMNS)] for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += [
        "  ".join(
            c.rjust(w) if i > 1 else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
