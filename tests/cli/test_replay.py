"""`tessera simulate replay` / `compare`: output shapes and the exit-2 contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()
TINY = "synthetic:seed=1,jobs=20,nodes=2,mig_nodes=1"


def test_replay_json_has_one_entry_per_policy(tmp_path: Path) -> None:
    res = runner.invoke(app, ["simulate", "replay", "--trace", TINY, "--policies",
                              "tessera,volcano,kube-default", "--json", "--report",
                              str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [d["policy"] for d in doc] == ["tessera", "volcano", "kube-default"]
    assert all(d["metrics"]["jobs"] >= 20 for d in doc)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report.html", "report.json", "replay_summary.csv", "replay_allocation.csv"} <= names
    page = (tmp_path / "report.html").read_text()
    assert "<svg" in page and "role-axis" in page and page.index("Verdict") < page.index("<svg")


@pytest.mark.parametrize(("args", "needle"), [
    (["--trace", TINY, "--policies", "tessera,slurm"], "unknown replay policy 'slurm'"),
    (["--trace", "no/such/file.csv"], "trace file not found"),
    (["--trace", "synthetic:jobs=zero"], "bad synthetic trace option"),
])
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    res = runner.invoke(app, ["simulate", "replay", *args])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


@pytest.mark.slow
def test_compare_prints_the_bundled_study_table() -> None:
    res = runner.invoke(app, ["simulate", "compare"])
    assert res.exit_code == 0, res.output
    rows = res.stdout.strip().splitlines()[1:]
    # 2 workloads x 4 policies.
    assert len(rows) == 8
    assert {r.split()[1] for r in rows} == {"tessera", "tessera-static", "volcano", "kube-default"}
