"""Write a replay report folder: metrics.json, series.csv and report.html (table + SVG plot of
allocation over time; no plotting library needed)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from simulator.replay.driver import ReplayResult
from simulator.report.compare import COLUMNS, _fmt, _get, to_json

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def write_report(folder: str | Path, results: Sequence[ReplayResult]) -> list[Path]:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "metrics.json", out / "series.csv", out / "report.html"]
    paths[0].write_text(to_json(results, series=True) + "\n", encoding="utf-8")
    lines = ["workload,policy,time_s,allocated_pct,idle_gpus,free_mig_slices"]
    for r in results:
        lines += [f"{r.workload},{r.policy},{t},{a},{i},{m}" for t, a, i, m in r.series]
    paths[1].write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths[2].write_text(_html(results), encoding="utf-8")
    return paths


def _svg(results: Sequence[ReplayResult], w: int = 720, h: int = 260) -> str:
    tmax = max((s[0] for r in results for s in r.series), default=1.0) or 1.0
    parts = [
        f'<svg width="{w}" height="{h + 20}" xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="none" stroke="#999"/>',
    ]
    for k, r in enumerate(results):
        pts = " ".join(f"{s[0] / tmax * w:.1f},{h - s[1] / 100 * h:.1f}" for s in r.series)
        colour = _COLOURS[k % len(_COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" points="{pts}"/>')
        parts.append(
            f'<text x="{10 + 130 * k}" y="{h + 15}" fill="{colour}">{html.escape(r.policy)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _html(results: Sequence[ReplayResult]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c, _ in COLUMNS)
    rows = "".join(
        f"<tr><td>{html.escape(r.workload)}</td><td>{html.escape(r.policy)}</td>"
        + "".join(f"<td>{_fmt(_get(r.metrics, p))}</td>" for _, p in COLUMNS)
        + "</tr>"
        for r in results
    )
    by_workload: dict[str, list[ReplayResult]] = {}
    for r in results:
        by_workload.setdefault(r.workload, []).append(r)
    plots = "".join(
        f"<h3>{html.escape(w)}: allocated GPU % over time</h3>{_svg(rs)}"
        for w, rs in by_workload.items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Tessera replay</title>"
        "<style>td,th{padding:2px 8px;text-align:right}</style></head><body>"
        f"<h2>Replay comparison</h2><table><tr><th>workload</th><th>policy</th>{head}</tr>"
        f"{rows}</table>{plots}</body></html>\n"
    )
