"""Charts as inline SVG: Vega-Lite specs built with altair, rendered offline by vl-convert
(the Vega runtime is compiled into the vl-convert wheel, so nothing is fetched at build or view
time)."""

from __future__ import annotations

import altair as alt
import vl_convert as vlc

from simulator.report.document import ChartSpec, Row

_WIDTH, _HEIGHT = 640, 240
# One colour per policy in every chart (Vega's category10-like defaults, fixed by name).
POLICY_COLOURS = {"tessera": "#f58518", "tessera-static": "#72b7b2", "volcano": "#e45756",
                  "kube-default": "#4c78a8"}
_MARKS = {"line": "line", "step": "line", "bar": "bar", "point": "point"}


def _types(rows: list[Row], name: str) -> str:
    return "Q" if all(isinstance(r[name], int | float) for r in rows) else "N"


def chart(spec: ChartSpec, rows: list[Row], title: str) -> alt.Chart:
    """One Vega-Lite chart with titled axes (units in the titles) and a colour legend."""
    x_scale = alt.Scale(type="log") if spec.x_log else alt.Scale(zero=False)
    x = alt.X(f"{spec.x}:{_types(rows, spec.x)}", title=spec.x_title, scale=x_scale)
    y = alt.Y(f"{spec.y}:{_types(rows, spec.y)}", title=spec.y_title)
    names = sorted({str(r[spec.color]) for r in rows})
    if spec.color == "policy" and set(names) <= set(POLICY_COLOURS):
        scale = alt.Scale(domain=names, range=[POLICY_COLOURS[n] for n in names])
        color = alt.Color(f"{spec.color}:N", title="policy", scale=scale)
    else:
        color = alt.Color(f"{spec.color}:N", title=spec.color.replace("_", " "))
    base = alt.Chart(alt.Data(values=rows))
    mark_kind = _MARKS[spec.kind]
    if mark_kind == "line":
        mark = base.mark_line(interpolate="step-after" if spec.kind == "step" else "linear")
    elif mark_kind == "bar":
        mark = base.mark_bar()
    else:
        mark = base.mark_point(filled=True, size=60)
    tooltip = [f"{k}:{_types(rows, k)}" for k in rows[0]]
    encoding: dict[str, object] = {"x": x, "y": y, "color": color, "tooltip": tooltip}
    if mark_kind == "bar":
        encoding["xOffset"] = alt.XOffset(f"{spec.color}:N")
    return mark.encode(**encoding).properties(title=title, width=_WIDTH, height=_HEIGHT)


def chart_svgs(spec: ChartSpec, rows: list[Row]) -> list[tuple[str, str | None]]:
    """(title, svg) per facet value, in first-seen order; none for an empty dataset. A facet
    whose y values are all 0 gets None (a flat line at 0 says less than a sentence)."""
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(str(r.get(spec.facet, "")), []).append(r)
    out: list[tuple[str, str | None]] = []
    for key, part in groups.items():
        title = f"{spec.title} -- {key}" if key else spec.title
        if all(r[spec.y] == 0 for r in part):
            out.append((title, None))
            continue
        out.append((title, vlc.vegalite_to_svg(chart(spec, part, title).to_dict())))
    return out
