"""The report opened in a real headless Chromium: every chart renders with axes, tick labels
and a legend, the screenshot is not blank, and the same data lands in CSV and JSON."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from simulator.replay.study import run_policies
from simulator.report.document import write_report_dir
from simulator.report.from_replay import replay_report
from simulator.workloads.traces import load
from tests.simulator.report.chromium import dump_dom_with_probe, screenshot

TRACE = Path(__file__).parents[3] / "simulator" / "workloads" / "tiresias_60_job.csv"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = run_policies(load(str(TRACE)), ["tessera", "volcano", "kube-default"])
    out = tmp_path_factory.mktemp("report")
    write_report_dir(out, replay_report(results))
    return out


def test_charts_render_in_chromium_with_axes_and_legends(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    # nothing is fetched at view time: no external src/href, stylesheet or script file
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html
    figures = html.count("<figure class='chart'")
    # allocation, pod wait CDF, job wait CDF of the one job class (training) and idle GPUs
    # (the Tiresias cluster has no MIG: that chart is replaced by a sentence)
    assert figures == 4
    dom = dump_dom_with_probe(report_dir / "report.html", report_dir)
    probes = re.findall(r"<pre class=\"probe\">(\d+) (\d+) (\d+) (\d+) (\d+) (\d+)</pre>", dom)
    assert len(probes) == figures
    for _, width, height, axes, legends, ticks in probes:
        assert int(width) > 300 and int(height) > 150  # laid out, not collapsed
        assert int(axes) >= 2 and int(legends) == 1
        assert int(ticks) >= 4  # tick labels drawn with a real box on both axes
    assert "every value is 0" in dom  # the free-MIG chart's replacement sentence


def test_screenshot_is_not_blank(report_dir: Path) -> None:
    image = Image.open(screenshot(report_dir / "report.html", report_dir)).convert("RGB")
    assert image.size == (1200, 2400)
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text, lines and anti-aliasing, not a flat page
    white = sum(n for n, c in colours if c == (255, 255, 255))
    assert white < 0.97 * image.size[0] * image.size[1]
    # the chart lines use Vega's category colours (blue, orange, red): at least two appear
    palette = {(76, 120, 168), (245, 133, 24), (228, 87, 86)}
    assert len(palette & {c for _, c in colours}) >= 2


def test_same_numbers_in_csv_and_json(report_dir: Path) -> None:
    doc = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert doc["verdicts"][0].startswith(
        "Which policy keeps the most GPU capacity usefully allocated")
    with (report_dir / "replay_summary.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["policy"] for r in rows] == ["tessera", "volcano", "kube-default"]
    for row, js in zip(rows, doc["tables"]["replay_summary"], strict=True):
        assert float(row["alloc %"]) == js["alloc %"]
        assert float(row["wait p99 s"]) == js["wait p99 s"]
    with (report_dir / "replay_allocation.csv").open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == len(doc["datasets"]["replay_allocation"])


def test_study_report_renders_every_chart_in_chromium(tmp_path: Path) -> None:
    from tests.simulator.report.test_study_report import _build

    write_report_dir(tmp_path, _build([0, 1]))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    figures = html.count("<figure class='chart'")
    assert "Every seed&#x27;s value" in html and "(seed 0 of 2)" in html
    dom = dump_dom_with_probe(tmp_path / "report.html", tmp_path)
    probes = re.findall(r"<pre class=\"probe\">(\d+) (\d+) (\d+) (\d+) (\d+) (\d+)</pre>", dom)
    assert len(probes) == figures > 10
    for _, width, height, axes, legends, ticks in probes:
        assert int(width) > 300 and int(height) > 150
        assert int(axes) >= 2 and int(legends) == 1 and int(ticks) >= 4
