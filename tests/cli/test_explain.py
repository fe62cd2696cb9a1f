"""`tessera explain` on the bundled example snapshot: table, JSON, and exit-2 errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.one_line import one_line_error
from tests.conftest import REPO

EX = REPO / "examples"
runner = CliRunner()


def test_table_names_the_best_node_and_each_reason() -> None:
    r = runner.invoke(app, ["explain", "--snapshot", str(EX / "cluster.json"),
                            "--pod", str(EX / "pod-h100.yaml")])  # fmt: skip
    assert r.exit_code == 0, r.output
    # gpu-a: 2 H100s, GPU 0 bound to train-1 -> GPU 1 is free; gpu-b: MIG on; gpu-c: an A100.
    assert "best: gpu-a" in r.output
    assert "gpus #1" in r.output
    assert "A100" in r.output.split("gpu-c", 1)[1].splitlines()[0]


def test_json_for_a_static_mig_pod() -> None:
    r = runner.invoke(app, ["explain", "--snapshot", str(EX / "cluster.json"),
                            "--pod", str(EX / "pod-mig.yaml"), "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    # gpu-b has 3g.40gb instances at starts 0 (free) and 4 (held by infer-1): only 0 is left.
    assert doc["best"] == "gpu-b"
    assert doc["nodes"]["gpu-b"]["placement"]["gpus"] == [
        {"index": 0, "uuid": "GPU-0000", "profile": "3g.40gb", "start": 0}
    ]


@pytest.mark.parametrize(
    ("snapshot", "pod", "needle"),
    [
        ("missing.json", "pod-h100.yaml", "missing.json not found"),
        ("cluster.json", "missing.yaml", "--pod"),
        ("cluster.json", "README.md", "not JSON or YAML"),
        ("cluster.json", "cluster.json", "expected a Pod object"),
    ],
)
def test_bad_input_exits_2_with_one_line(snapshot: str, pod: str, needle: str) -> None:
    line = one_line_error(["explain", "--snapshot", str(EX / snapshot), "--pod", str(EX / pod)])
    assert line.startswith("error:") and needle in line


def test_two_gpu_kinds_at_once_is_bad_input(tmp_path: Path) -> None:
    pod = tmp_path / "p.json"
    pod.write_text(
        json.dumps(
            {
                "kind": "Pod",
                "metadata": {"name": "x"},
                "spec": {
                    "containers": [
                        {
                            "name": "m",
                            "resources": {
                                "requests": {"nvidia.com/gpu": "1", "nvidia.com/mig-1g.10gb": "1"}
                            },
                        }
                    ]
                },
            }
        )
    )
    r = runner.invoke(app, ["explain", "--snapshot", str(EX / "cluster.json"), "--pod", str(pod)])
    assert r.exit_code == 2 and r.stderr.startswith("error:")
