"""The report page: verdict first, then sources, tables, charts, and links to the same data as
CSV/JSON. Everything is inline (SVG charts, CSS), so the file opens with no network."""

from __future__ import annotations

import html

from simulator.report.charts import chart_svgs
from simulator.report.document import Report, Row

_CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:1em auto;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
    "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
    "td:first-child,th:first-child{text-align:left}"
    ".verdict li{margin:0.3em 0;font-size:1.05em}"
    "figure{margin:1em 0}"
)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def _table(name: str, rows: list[Row]) -> str:
    if not rows:
        return f"<h3>{html.escape(name)}</h3><p>(no rows)</p>"
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return (f"<h3>{html.escape(name)}</h3><div style='overflow-x:auto'><table><tr>{head}</tr>"
            f"{body}</table></div>")


def render_html(report: Report, data_files: list[str]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        "<h2>Verdict</h2><ul class='verdict'>",
        *(f"<li>{html.escape(v)}</li>" for v in report.verdicts),
        "</ul>",
    ]
    if report.sources:
        parts.append("<h2>Runs</h2><ul>")
        parts += [f"<li>{html.escape(s)}</li>" for s in report.sources]
        parts.append("</ul>")
    parts.append("<h2>Summary</h2>")
    parts += [_table(n, rows) for n, rows in report.tables.items()]
    parts.append("<h2>Charts</h2>")
    for spec in report.charts:
        rows = spec.rows(report.datasets.get(spec.dataset) or report.tables.get(spec.dataset, []))
        for title, svg in chart_svgs(spec, rows):
            if svg is None:
                parts.append(f"<p>{html.escape(title)}: every value is 0.</p>")
                continue
            parts.append(f"<figure class='chart' aria-label='{html.escape(title, quote=True)}'>"
                         f"{svg}</figure>")
    if report.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{html.escape(n)}</li>" for n in report.notes]
        parts.append("</ul>")
    links = " ".join(f"<a href='{html.escape(f, quote=True)}'>{html.escape(f)}</a>"
                     for f in data_files)
    parts.append(f"<h2>Data</h2><p>The same numbers: {links}</p></body></html>\n")
    return "".join(parts)
