"""Snapshot files: the shapes kubectl prints, and one-line errors for everything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scheduler.kube.snapshot import SnapshotError, load_snapshot
from tests.builders import gpu_json, node_json, pod_json
from tests.conftest import REPO


def test_bundled_example_loads() -> None:
    snap = load_snapshot(REPO / "examples" / "cluster.json")
    # examples/cluster.json: 3 nodes (gpu-a, gpu-b, gpu-c) and 2 bound pods.
    assert (snap.count("Node"), snap.count("Pod"), snap.skipped) == (3, 2, 0)


def test_typed_lists_get_their_kind_and_other_kinds_are_skipped(tmp_path: Path) -> None:
    node = {k: v for k, v in node_json("n", [gpu_json(0)]).items() if k != "kind"}
    text = (
        "kind: NodeList\napiVersion: v1\nitems:\n"
        + "\n".join("- " + line if i == 0 else "  " + line
                    for i, line in enumerate(json.dumps(node).splitlines()))
        + "\n---\nkind: List\nitems:\n- {kind: Service, metadata: {name: s}}\n"
        + f"- {json.dumps(pod_json('p'))}\n"
    )  # fmt: skip
    f = tmp_path / "snap.yaml"
    f.write_text(text)
    snap = load_snapshot(f)
    assert [o["kind"] for o in snap.objects] == ["Node", "Pod"] and snap.skipped == 1


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "not found"),
        ("{: nope", "neither JSON nor YAML"),
        ("[1, 2]", "expected a Kubernetes List"),
        ('{"items": []}', "no 'kind'"),
        ('{"kind": "List", "items": {}}', "'items' must be a list"),
        ('{"kind": "List", "items": [{"kind": "Node", "metadata": {}}]}', "items[0]: Node without"),
        ('{"kind": "List", "items": []}', "holds no Node objects"),
    ],
)
def test_bad_snapshots_name_the_problem(tmp_path: Path, content: str | None, needle: str) -> None:
    f = tmp_path / "s.json"
    if content is not None:
        f.write_text(content)
    with pytest.raises(SnapshotError) as info:
        load_snapshot(f)
    assert needle in str(info.value) and "\n" not in str(info.value)
