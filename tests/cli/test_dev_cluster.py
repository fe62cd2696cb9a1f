"""`tessera dev-cluster`: the config printer and the one-line exit-2 errors (no cluster started)."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_scheduler_config_prints_the_rendered_template():
    res = runner.invoke(
        app, ["dev-cluster", "scheduler-config", "--url", "http://127.0.0.1:8888",
              "--no-node-cache", "--ignorable", "--http-timeout", "2s"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (ext,) = yaml.safe_load(res.stdout)["extenders"]
    assert (ext["urlPrefix"], ext["nodeCacheCapable"], ext["ignorable"], ext["httpTimeout"]) == (
        "http://127.0.0.1:8888", False, True, "2s",
    )  # fmt: skip


def test_scheduler_config_bad_url_is_one_line_exit_2():
    res = runner.invoke(app, ["dev-cluster", "scheduler-config", "--url", "tessera:8888"])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: url_prefix: 'tessera:8888' must start with http:// or https://"
    ]


def test_up_with_incomplete_bin_dir_names_the_missing_binaries(tmp_path):
    (tmp_path / "etcd").write_text("")
    res = runner.invoke(app, ["dev-cluster", "up", "--bin-dir", str(tmp_path)])
    assert res.exit_code == 2
    assert (
        res.stderr.strip() == f"error: --bin-dir {tmp_path}: missing kube-apiserver, kube-scheduler"
    )


def test_up_rejects_negative_node_count():
    res = runner.invoke(app, ["dev-cluster", "up", "--nodes", "-1"])
    assert res.exit_code == 2
    assert "error: --nodes -1: must be >= 0" in res.stderr
