"""One report model for every producer (`simulate compare`, `simulate replay`, `serve-sim`,
`plan capacity`, the twin run): verdict sentences first, summary tables, and long-form datasets
that become charts, CSV files and one JSON document.

A producer builds a `Report`; `write_report_dir` renders it. Keeping the data long-form (one row
per observation, plain str/int/float values) is what lets the same rows feed Vega-Lite, CSV and
JSON without a second copy to drift.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

Value = str | int | float
Row = dict[str, Value]


@dataclass(frozen=True)
class ChartSpec:
    """How one dataset is drawn: `kind` is line | step | bar | point; `x`/`y`/`color` name
    fields; titles carry the units. `facet` splits the dataset into one chart per value."""

    dataset: str
    kind: str
    x: str
    y: str
    color: str
    title: str
    x_title: str
    y_title: str
    facet: str = "workload"
    x_log: bool = False
    # draw only rows with these field values (e.g. one seed of a study); the CSV/JSON keep all
    where: tuple[tuple[str, Value], ...] = ()

    def rows(self, dataset: list[Row]) -> list[Row]:
        return [r for r in dataset if all(r.get(k) == v for k, v in self.where)]


@dataclass
class Report:
    title: str
    verdicts: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    tables: dict[str, list[Row]] = field(default_factory=dict)
    datasets: dict[str, list[Row]] = field(default_factory=dict)
    charts: list[ChartSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def merge(self, other: Report) -> Report:
        """Both reports' content, `other`'s after this one's (names must not collide)."""
        clash = (set(self.tables) & set(other.tables)) | (set(self.datasets) & set(other.datasets))
        if clash:
            raise ValueError(f"reports share dataset/table names: {sorted(clash)}")
        return Report(
            self.title,
            self.verdicts + other.verdicts,
            self.sources + other.sources,
            {**self.tables, **other.tables},
            {**self.datasets, **other.datasets},
            self.charts + other.charts,
            self.notes + other.notes,
        )

    def to_json(self) -> str:
        """Keys sorted, no whitespace: the same runs give byte-identical text."""
        doc = {
            "title": self.title,
            "verdicts": self.verdicts,
            "sources": self.sources,
            "notes": self.notes,
            "tables": self.tables,
            "datasets": self.datasets,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def rows_to_csv(rows: list[Row]) -> str:
    if not rows:
        return ""
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def prepare_report_dir(folder: str | Path, option: str = "--report") -> Path:
    """`folder`, created if missing; a ValueError naming `--report` when it cannot be (a file
    in the way, a file as a parent, no permission). Commands call it before their run: a
    report folder that failed after a long simulation lost the run; `afile/sub` was a
    NotADirectoryError traceback."""
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{option} {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{option} {out}: cannot create the folder ({exc.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {out}: folder is not writable")
    return out


def write_report_dir(folder: str | Path, report: Report) -> list[Path]:
    """report.html (self-contained), report.json, and one CSV per table and dataset."""
    from simulator.report.html import render_html  # altair/vl-convert load only when writing

    out = prepare_report_dir(folder)
    written = [out / "report.html", out / "report.json"]
    written[1].write_text(report.to_json() + "\n", encoding="utf-8")
    for name, rows in sorted({**report.tables, **report.datasets}.items()):
        path = out / f"{name}.csv"
        path.write_text(rows_to_csv(rows), encoding="utf-8")
        written.append(path)
    written[0].write_text(render_html(report, [p.name for p in written[1:]]), encoding="utf-8")
    return written
