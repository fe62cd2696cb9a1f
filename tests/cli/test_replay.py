"""`tessera simulate replay` / `compare`: output shapes and the exit-2 contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.one_line import one_line_error

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
    assert needle in one_line_error(["simulate", "replay", *args])


@pytest.mark.slow
def test_compare_prints_the_bundled_study_table() -> None:
    res = runner.invoke(app, ["simulate", "compare", "--seeds", "2", "--workers", "2",
                              "--genai", "no-such-genai.csv"])
    assert res.exit_code == 0, res.output
    # the serving half: the multimodal day's requests per policy (no GenAI file: a note)
    assert "no-such-genai.csv not found" in res.stderr
    replay, serving = res.stdout.split("\nServing:\n")
    # the serving half over both seeds: the multimodal day, policies as columns
    head, cols, *rows = serving.strip().splitlines()
    assert head.startswith("multimodal day: mean +/- 95 % interval over 2 seeds")
    assert cols.split() == ["metric", "tessera", "volcano", "kube-default", "verdict"]
    assert rows[0].startswith("slo_miss_pct ")
    # Two studies (the synthetic day and the Tiresias trace), each with its own header.
    heads = [r for r in replay.splitlines() if "mean +/- 95 % interval over 2 seeds" in r]
    assert [h.split(":")[0] for h in heads] == ["synthetic", "tiresias_60_job.csv"]
    cols = res.stdout.splitlines()[1].split()
    assert cols == ["metric", "tessera", "tessera-static", "volcano", "kube-default", "verdict"]


@pytest.mark.parametrize(("args", "needle"), [
    (["--trace", "synthetic:colour=3"], "bad synthetic trace option"),
    (["--trace", "synthetic:jobs=-2"], "jobs must be finite and >= 0"),
    (["--seeds", "1"], "--seeds must be 2..1000"),
    (["--policies", "slurm"], "unknown replay policy 'slurm'"),
])
def test_compare_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    line = one_line_error(["simulate", "compare", *args])
    assert needle in line, line


def test_compare_over_seeds_prints_intervals_and_verdicts() -> None:
    spec = "synthetic:jobs=12,nodes=2,mig_nodes=1,mean_interarrival_s=120"
    res = runner.invoke(app, ["simulate", "compare", "--trace", spec, "--seeds", "2",
                              "--policies", "tessera,kube-default"])
    assert res.exit_code == 0, res.output
    head, cols, *rows = res.stdout.strip().splitlines()
    assert head.startswith("synthetic: mean +/- 95 % interval over 2 seeds")
    assert cols.split()[:3] == ["metric", "tessera", "kube-default"]
    useful = next(r for r in rows if r.startswith("useful_pct "))
    assert "+/-" in useful and ("best" in useful or "tie:" in useful)
    res = runner.invoke(app, ["simulate", "compare", "--trace", spec, "--seeds", "2",
                              "--policies", "tessera,kube-default", "--json"])
    doc = json.loads(res.stdout)
    assert [r["seed"] for r in doc[0]["runs"]] == [0, 0, 1, 1]
    assert set(doc[0]["summary"]["metrics"]["job_wait_p99_s"]["by_policy"]) == {
        "tessera", "kube-default"}


def test_compare_report_covers_every_seed_byte_identically(tmp_path: Path) -> None:
    spec = "synthetic:jobs=12,nodes=2,mig_nodes=1,mean_interarrival_s=120"
    texts = []
    for run in ("a", "b"):
        res = runner.invoke(app, ["simulate", "compare", "--trace", spec, "--seeds", "2",
                                  "--seed", "5", "--policies", "tessera,kube-default",
                                  "--report", str(tmp_path / run)])
        assert res.exit_code == 0, res.output
        texts.append((tmp_path / run / "report.json").read_bytes())
    assert texts[0] == texts[1]  # the report's numbers are reproducible from the seed
    doc = json.loads(texts[0])
    assert sorted({r["seed"] for r in doc["tables"]["replay_summary"]}) == [5, 6]
    # study metrics have both seeds; a job class absent from one seed's jobs has n = 1
    assert {r["n"] for r in doc["tables"]["study_intervals"] if "." not in r["metric"]} == {2}
    runs_csv = (tmp_path / "a" / "replay_summary.csv").read_text().splitlines()
    assert runs_csv[0].startswith("workload,policy,seed,") and len(runs_csv) == 1 + 2 * 2
