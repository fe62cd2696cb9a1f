"""Write a replay report folder (`simulate replay/compare --report DIR`): report.html with
Vega-Lite charts, report.json and one CSV per dataset (simulator.report.document)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from simulator.replay.driver import ReplayResult
from simulator.report.document import write_report_dir
from simulator.report.from_replay import replay_report


def write_report(folder: str | Path, results: Sequence[ReplayResult],
                 title: str = "Tessera replay") -> list[Path]:
    return write_report_dir(folder, replay_report(results, title))
