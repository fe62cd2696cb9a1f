"""`tessera explain` (and `serve --snapshot`, through the same `snapshot_store`) over a snapshot
holding objects Tessera cannot read (round 9 adversarial pass): the bad ones are left out and
named on stderr, one line each; the rest of the cluster is still explained."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.conftest import REPO

EX = REPO / "examples"
runner = CliRunner()


def test_one_bad_pod_and_one_bad_node_do_not_refuse_the_snapshot(tmp_path: Path) -> None:
    """Before: `error: pod default/bad: tessera.io/qos must be ...`, exit 2, nothing explained."""
    doc = json.loads((EX / "cluster.json").read_text())
    doc["items"].append({"kind": "Pod", "metadata": {"name": "bad", "namespace": "default",
                         "annotations": {"tessera.io/qos": "bogus"}},
                         "spec": {"containers": [{"name": "c", "resources": {
                             "requests": {"nvidia.com/gpu": "1"}}}]}})  # fmt: skip
    doc["items"].append({"kind": "Node", "metadata": {"name": "weird"},
                         "status": {"allocatable": {"cpu": "1e99999"}}})  # fmt: skip
    snap = tmp_path / "cluster.json"
    snap.write_text(json.dumps(doc))
    r = runner.invoke(app, ["explain", "--snapshot", str(snap), "--pod",
                            str(EX / "pod-h100.yaml"), "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["best"] == "gpu-a"  # as on the clean example
    warnings = r.stderr.strip().splitlines()
    assert len(warnings) == 2
    assert "skipped Pod default/bad" in warnings[0] and "tessera.io/qos" in warnings[0]
    assert "skipped Node weird" in warnings[1] and "1e99999" in warnings[1]
