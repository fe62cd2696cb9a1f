"""`tessera simulate replay` on slices of the shipped DLRM v2025 and GenAI v2026 traces:
format detection by header, `--format`, and one full three-policy replay per trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.simulator.trace_slices import DLRM, DLRM_LINES, GENAI, GENAI_LINES, write_slice

runner = CliRunner()
POLICIES = "tessera,volcano,kube-default"


def _replay(*args: str) -> list[dict]:
    res = runner.invoke(app, ["simulate", "replay", *args, "--policies", POLICIES, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_dlrm_slice_replays_through_every_policy(tmp_path: Path) -> None:
    doc = _replay("--trace", str(write_slice(DLRM, DLRM_LINES, tmp_path / "dlrm.csv")))
    assert [d["policy"] for d in doc] == POLICIES.split(",")
    for d in doc:
        m = d["metrics"]
        # 6 instances, all fit at once on one 8-GPU node + one CPU node: no one waits; the
        # last to finish is the zero-length instance_17763, arriving at 1,799,786 for 1 s.
        assert (m["jobs"], m["finished"], m["queue_delay_s"]["p99"]) == (6, 6, 0.0)
        assert m["makespan_s"] == pytest.approx(1_799_787.0)


def test_dlrm_gpu_pool_format_keeps_only_hn_instances(tmp_path: Path) -> None:
    path = write_slice(DLRM, DLRM_LINES, tmp_path / "dlrm.csv")
    doc = _replay("--trace", str(path), "--format", "dlrm-gpu")
    assert {d["metrics"]["jobs"] for d in doc} == {2}  # instance_0 and instance_17763


def test_genai_slice_replays_through_every_policy(tmp_path: Path) -> None:
    doc = _replay("--trace", str(write_slice(GENAI, GENAI_LINES, tmp_path / "genai.csv")))
    for d in doc:
        m = d["metrics"]
        # 5 requests (PENDING dropped) on one 4-GPU node, peak demand 2 GPUs: no waits; the
        # last ends at 128,770 + 3 s.
        assert (m["jobs"], m["finished"], m["queue_delay_s"]["p99"]) == (5, 5, 0.0)
        assert m["makespan_s"] == pytest.approx(128_773.0)


@pytest.mark.parametrize(("args", "needle"), [
    (["--format", "parquet"], "unknown trace format 'parquet'"),
    (["--format", "genai"], "unexpected header"),
])
def test_bad_format_exits_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    path = write_slice(DLRM, DLRM_LINES, tmp_path / "dlrm.csv")
    res = runner.invoke(app, ["simulate", "replay", "--trace", str(path), *args])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_bad_row_exits_2_naming_file_line_and_column(tmp_path: Path) -> None:
    path = write_slice(DLRM, DLRM_LINES, tmp_path / "dlrm.csv")
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(",CN,", ",XN,")  # file line 4: instance_7280
    path.write_text("".join(lines))
    res = runner.invoke(app, ["simulate", "replay", "--trace", str(path)])
    assert res.exit_code == 2
    out = res.stderr.strip().splitlines()
    assert len(out) == 1 and "dlrm.csv:4: column 'role': unknown role 'XN'" in out[0]


def test_same_seed_gives_byte_identical_json(tmp_path: Path) -> None:
    path = str(write_slice(DLRM, DLRM_LINES, tmp_path / "dlrm.csv"))
    runs = [runner.invoke(app, ["simulate", "replay", "--trace", path, "--policies", POLICIES,
                                "--json", "--seed", "3"]).stdout for _ in range(2)]
    assert runs[0] == runs[1] and json.loads(runs[0])
