"""`tessera trace convert/check` and replaying a converted trace."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()
TIRESIAS = Path(__file__).parents[2] / "simulator" / "workloads" / "tiresias_60_job.csv"


def test_convert_check_and_replay(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    res = runner.invoke(app, ["trace", "convert", str(TIRESIAS), "--from", "tiresias",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote 80 records" in res.stdout  # 60 jobs, 20 of them two-pod gangs
    res = runner.invoke(app, ["trace", "check", str(out)])
    assert res.exit_code == 0 and "training/image: 80" in res.stdout
    res = runner.invoke(app, ["simulate", "replay", "--trace", str(out), "--policies", "tessera"])
    assert res.exit_code == 0, res.output
    assert "t.jsonl" in res.stdout


def test_bad_row_exits_2_and_lenient_counts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,arrival_s,duration_s,modality,kind\na,0,5,text,batch\nb,-1,5,text,batch\n",
                   encoding="utf-8")
    res = runner.invoke(app, ["trace", "check", str(bad)])
    assert res.exit_code == 2
    assert f"error: {bad}:3:2: field 'arrival_s'" in res.stderr
    res = runner.invoke(app, ["trace", "check", str(bad), "--lenient"])
    assert res.exit_code == 0 and "1 valid records, 1 skipped" in res.stdout
    assert "skipped 1 invalid rows" in res.stderr


def test_generate_writes_a_seeded_day(tmp_path: Path) -> None:
    out = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for path in out:
        res = runner.invoke(app, ["trace", "generate", "--out", str(path), "--params",
                                  "seed=4,models=30,requests=200,training_jobs=2,pipelines=1,"
                                  "ensembles=1"])
        assert res.exit_code == 0, res.output
    assert out[0].read_bytes() == out[1].read_bytes()
    res = runner.invoke(app, ["trace", "generate", "--out", str(out[0]), "--params", "nope=1"])
    assert res.exit_code == 2 and "unknown multimodal option 'nope'" in res.stderr
