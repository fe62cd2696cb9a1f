"""`tessera plan repartition`: snapshot + demand -> plan, mig-parted files, exit-2 errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from tests.cli.one_line import one_line_error

runner = CliRunner()


def _node(name: str, instances: list[dict[str, object]], mig: bool = True) -> dict:
    gpus = {"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": [
        {"index": 0, "uuid": f"GPU-{name}", "model": "NVIDIA H100 80GB HBM3",
         "memory_mib": 81559, "mig": {"enabled": mig, "instances": instances},
         "health": {"xid_recent": [], "ecc_uncorrectable": 0, "remap_failure": False}}]}
    return {"kind": "Node", "metadata": {"name": name, "annotations": {
        "tessera.io/gpus": json.dumps(gpus)}},
        "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": "1"}}}


def _pod(name: str, node: str, profile: str, start: int) -> dict:
    placement = {"version": 1, "node": node, "gpus": [
        {"index": 0, "uuid": f"GPU-{node}", "profile": profile, "start": start}]}
    return {"kind": "Pod", "metadata": {
        "name": name, "namespace": "default", "uid": f"uid-{name}",
        "annotations": {"tessera.io/placement": json.dumps(placement)}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {
            "requests": {f"nvidia.com/mig-{profile}": "1"}}}]},
        "status": {"phase": "Running"}}


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    # mig-a: 3g@0 free, 3g@4 held by a bound pod (annotation says not in use: the placement
    # wins); mig-b: empty MIG GPU; plain: MIG off (left alone)
    snap = {"kind": "List", "items": [
        _node("mig-a", [{"profile": "3g.40gb", "start": 0, "in_use": False},
                        {"profile": "3g.40gb", "start": 4, "in_use": False}]),
        _node("mig-b", []), _node("plain", [], mig=False),
        _pod("infer-1", "mig-a", "3g.40gb", 4)]}
    s = tmp_path / "snap.json"
    s.write_text(json.dumps(snap))
    d = tmp_path / "demand.yaml"
    d.write_text("demand:\n  3g.40gb: 1\n  1g.10gb: 4\n")
    return s, d


def test_json_plan_keeps_held_instance_and_serves_demand(files: tuple[Path, Path]) -> None:
    snap, demand = files
    r = runner.invoke(app, ["plan", "repartition", "--snapshot", str(snap), "--demand",
                            str(demand), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    # 3g demand: the free 3g@0 on mig-a (0 changes); 4 x 1g.10gb on the empty mig-b (4
    # creations) -> everything served with 4 changes
    assert doc["status"] == "optimal" and doc["changes"] == 4
    assert doc["served"] == {"3g.40gb": 1, "1g.10gb": 4} and doc["unmet"] == {}
    a = next(n for n in doc["nodes"] if n["node"] == "mig-a")["gpus"][0]
    assert a["pinned"] == [{"profile": "3g.40gb", "start": 4}] and not a["changed"]
    assert [n["node"] for n in doc["nodes"]] == ["mig-a", "mig-b"]


def test_out_dir_gets_mig_parted_v1(files: tuple[Path, Path], tmp_path: Path) -> None:
    snap, demand = files
    out = tmp_path / "out"
    r = runner.invoke(app, ["plan", "repartition", "--snapshot", str(snap), "--demand",
                            str(demand), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "status optimal" in r.stdout and "unmet: none" in r.stdout
    cfg = yaml.safe_load((out / "mig-parted.yaml").read_text())
    assert cfg["version"] == "v1"
    assert cfg["mig-configs"]["tessera-mig-b"] == [
        {"devices": [0], "mig-enabled": True, "mig-devices": {"1g.10gb": 4}}]
    assert json.loads((out / "plan.json").read_text())["changes"] == 4


@pytest.mark.parametrize(
    ("demand_text", "needle"),
    [
        ("1g.5gb: 2\n", "'1g.5gb'"),  # an A100-40GB profile on H100s
        ("3g.40gb: -2\n", "-2"),
        ("3g.40gb: two\n", "'two'"),
        ("[1, 2]\n", "mapping of MIG profile to count"),
        ("{{{\n", "not JSON or YAML"),
    ],
)
def test_bad_demand_exits_2_with_one_line(files: tuple[Path, Path], tmp_path: Path,
                                          demand_text: str, needle: str) -> None:
    snap, _ = files
    bad = tmp_path / "bad.yaml"
    bad.write_text(demand_text)
    line = one_line_error(["plan", "repartition", "--snapshot", str(snap), "--demand", str(bad)])
    assert line.startswith("error:") and needle in line


def test_missing_files_exit_2(files: tuple[Path, Path], tmp_path: Path) -> None:
    snap, demand = files
    for args in (["--snapshot", str(tmp_path / "nope.json"), "--demand", str(demand)],
                 ["--snapshot", str(snap), "--demand", str(tmp_path / "nope.yaml")]):
        r = runner.invoke(app, ["plan", "repartition", *args])
        assert r.exit_code == 2 and "nope" in r.stderr
