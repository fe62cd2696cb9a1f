"""`tessera plan capacity` on a small MIG request file: the answer, the MIG layouts the planner
chose (printed and in the report), bad input as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from simulator.workloads.schema import TraceRecord, write_records

runner = CliRunner()


def _trace(tmp_path: Path, gpu: str = "mig:3g.40gb") -> Path:
    # 4 models on 3g.40gb instances, one 100 s request each at t=0 (as in
    # tests/simulator/capacity: the planner gives 3g.40gb x2 per GPU -> 2 one-GPU nodes each)
    recs = [TraceRecord(f"q{i}", 0.0, 100.0, "image", "request", model=f"m{i}",
                        gpu=gpu) for i in range(4)]
    path = tmp_path / "reqs.csv"
    write_records(path, recs)
    return path


@pytest.mark.parametrize(("records", "override"), [
    ("mig:3g.40gb", []),
    # the records ask shares; --replica-gpu overrides every model's shape
    ("milli:250", ["--replica-gpu", "mig:3g.40gb"]),
])
def test_plan_capacity_names_the_planner_layouts(tmp_path: Path, records: str,
                                                 override: list[str]) -> None:
    res = runner.invoke(app, ["plan", "capacity", "--trace", str(_trace(tmp_path, records)),
                              "--slo", "p99=15s", "--gpus-per-node", "1", "--cold-start", "10",
                              "--max-nodes", "8", "--report", str(tmp_path / "rep"),
                              *override])
    assert res.exit_code == 0, res.output
    assert "tessera saves 0 GPUs against volcano (2 vs 2)" in res.stdout
    assert "MIG layout at 2 MIG GPUs: 3g.40gb x2 on 2 GPUs (planner optimal" in res.stdout
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert {r["layout"] for r in doc["tables"]["mig_layouts"]} == {"3g.40gb x2"}
    assert any("3g.40gb x2 (planner optimal" in n for n in doc["notes"])


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--mig-fraction", "lots", "--mig-fraction must be a number"),
    ("--mig-fraction", "1.5", "--mig-fraction must be in 0..1"),
    ("--mig-layouts", "random", "--mig-layouts must be planner or static"),
    ("--replica-gpu", "mig:9g.99gb", "9g.99gb"),
])
def test_bad_mig_options_are_one_line(tmp_path: Path, flag: str, value: str, says: str) -> None:
    res = runner.invoke(app, ["plan", "capacity", "--trace", str(_trace(tmp_path)), "--slo",
                              "p99=15s", flag, value])
    assert res.exit_code == 2
    assert says in res.output and "Traceback" not in res.output
