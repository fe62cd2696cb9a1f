"""`tessera simulate serve` on a small schema request file: table, JSON, report, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from simulator.workloads.schema import TraceRecord, write_records

runner = CliRunner()


def _trace(tmp_path: Path) -> Path:
    recs = [TraceRecord(f"q{i}", float(i * 20), 40.0, "text" if i % 2 else "image", "request",
                        model=f"m{i % 3}", gpu="milli:250", slo_ms=15000.0) for i in range(30)]
    path = tmp_path / "reqs.jsonl"
    write_records(path, recs)
    return path


def test_serve_prints_table_json_and_report(tmp_path: Path) -> None:
    trace = _trace(tmp_path)
    res = runner.invoke(app, ["simulate", "serve", "--trace", str(trace), "--nodes", "1",
                              "--gpus-per-node", "1", "--json", "--report",
                              str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [d["policy"] for d in doc] == ["tessera", "volcano", "kube-default"]
    assert all(d["summary"]["requests"] == 30 for d in doc)
    assert {m["modality"] for m in doc[0]["by_modality"]} == {"image", "text"}
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "Which policy misses the request SLO least?" in page and "role-axis" in page
    res = runner.invoke(app, ["simulate", "serve", "--trace", str(trace), "--nodes", "1",
                              "--policies", "tessera"])
    assert res.exit_code == 0 and "latency_p99_s" in res.stdout


def test_bad_replica_gpu_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["simulate", "serve", "--trace", str(_trace(tmp_path)),
                              "--replica-gpu", "mig:5g.50gb"])
    assert res.exit_code == 2 and "unknown MIG profile '5g.50gb'" in res.stderr


def test_plan_capacity_states_gpus_saved(tmp_path: Path) -> None:
    res = runner.invoke(app, ["plan", "capacity", "--trace", str(_trace(tmp_path)),
                              "--slo", "p95=45s", "--gpus-per-node", "1", "--max-nodes", "8",
                              "--report", str(tmp_path / "cap")])
    assert res.exit_code == 0, res.output
    assert "tessera saves" in res.stdout and "for the same SLO (p95 wait <= 45 s)" in res.stdout
    page = (tmp_path / "cap" / "report.html").read_text()
    assert "Capacity curve" in page and "capacity_runs" in page
    bad = runner.invoke(app, ["plan", "capacity", "--trace", str(_trace(tmp_path)),
                              "--slo", "p95=fast"])
    assert bad.exit_code == 2 and "bad --slo term 'p95=fast'" in bad.stderr


def test_sweep_prints_one_json_cell_per_combination() -> None:
    spec = "multimodal:models=10,requests=60,training_jobs=0,pipelines=0,ensembles=0"
    res = runner.invoke(app, ["simulate", "sweep", "--traces", spec, "--nodes", "1",
                              "--mig-nodes", "1", "--policies", "tessera,kube-default",
                              "--loads", "1,2"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [(d["cell"]["load"], d["cell"]["policy"]) for d in doc] == [
        (1.0, "tessera"), (1.0, "kube-default"), (2.0, "tessera"), (2.0, "kube-default")]
    bad = runner.invoke(app, ["simulate", "sweep", "--loads", "fast"])
    assert bad.exit_code == 2 and "--seeds/--loads" in bad.stderr
