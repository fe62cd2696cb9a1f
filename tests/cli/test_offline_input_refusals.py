"""Offline inputs that were taken silently or echoed whole (adversarial pass of 2026-12-07):
a snapshot naming a Node twice or a Node by a name Kubernetes refuses, a placement past its
node's GPUs, a 5,000-character `--gpu`, a negative `--seeds`, a gang waiting on itself. Each is
one line: an error (exit 2) or, for the placement, a warning beside the explained result."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import app
from tests.cli.one_line import one_line_error, runner
from tests.conftest import REPO

EX = REPO / "examples"
POD = str(EX / "pod-h100.yaml")


def _snapshot(tmp_path: Path, edit: Any) -> str:
    doc = json.loads((EX / "cluster.json").read_text())
    edit(doc["items"])
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _renamed_node(items: list[dict[str, Any]], name: str) -> None:
    node = copy.deepcopy(next(o for o in items if o["kind"] == "Node"))
    node["metadata"]["name"] = name
    items.append(node)


def test_a_node_named_twice_in_a_snapshot_is_refused(tmp_path: Path) -> None:
    """Before: the second gpu-a silently replaced the first and the explain went on."""
    snap = _snapshot(tmp_path, lambda items: _renamed_node(items, "gpu-a"))
    msg = one_line_error(["explain", "--snapshot", snap, "--pod", POD])
    assert "Node 'gpu-a' appears twice" in msg and snap in msg


@pytest.mark.parametrize("name", ["a/../../x", "-lead", "gpu a", "x" * 254])
def test_a_node_name_kubernetes_would_refuse_is_refused(tmp_path: Path, name: str) -> None:
    """Before: 'a/../../x' was listed and scored as a node like any other."""
    snap = _snapshot(tmp_path, lambda items: _renamed_node(items, name))
    msg = one_line_error(["explain", "--snapshot", snap, "--pod", POD])
    assert "is not a Kubernetes object name" in msg and repr(name[:60]) in msg
    assert len(msg) < 400  # a 254-character name is cut, not echoed whole


def test_a_253_character_node_name_is_accepted(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path, lambda items: _renamed_node(items, "x" * 253))
    r = runner.invoke(app, ["explain", "--snapshot", snap, "--pod", POD])
    assert r.exit_code == 0, r.output


def _past_last_gpu(items: list[dict[str, Any]]) -> None:
    pod = next(o for o in items if o["metadata"]["name"] == "train-1")
    pod["metadata"]["annotations"]["tessera.io/placement"] = json.dumps(
        {"version": 1, "node": "gpu-a", "gpus": [{"index": 7, "uuid": "GPU-0007"}]}
    )


@pytest.mark.parametrize("pods_first", [False, True])
def test_a_placement_past_the_nodes_gpus_is_named(tmp_path: Path, pods_first: bool) -> None:
    """Before: the store refused the annotation (charged the pod by its requests) and said
    nothing; the explain looked clean. Pods before their nodes are checked as the node comes."""

    def edit(items: list[dict[str, Any]]) -> None:
        _past_last_gpu(items)
        if pods_first:
            items.sort(key=lambda o: o["kind"] != "Pod")

    snap = _snapshot(tmp_path, edit)
    r = runner.invoke(app, ["explain", "--snapshot", snap, "--pod", POD, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["best"] == "gpu-a"
    warnings = r.stderr.strip().splitlines()
    assert len(warnings) == 1, r.stderr
    assert "pod default/train-1" in warnings[0] and "placement names GPU 7" in warnings[0]


def test_a_long_gpu_name_is_cut_in_the_error() -> None:
    """Before: all 5,000 characters came back in the message."""
    msg = one_line_error(["mig", "profiles", "--gpu", "Z" * 5000])
    assert "unknown GPU model 'ZZZZ" in msg and "known models: H100-80GB" in msg
    assert len(msg) < 300


@pytest.mark.parametrize("seeds", ["-1", "0,-5", str(2**63)])
def test_a_seed_out_of_range_names_the_option(seeds: str) -> None:
    """Before: 'multimodal option seed: need 0 <= seed <= ...', an option never given."""
    msg = one_line_error(["simulate", "sweep", "--seeds", seeds])
    assert msg.startswith("error: --seeds") and "multimodal" not in msg


def test_a_gang_member_waiting_on_its_own_gang_is_refused(tmp_path: Path) -> None:
    """Before: the wait was dropped (`after` minus the gang itself) and the gang ran at once."""
    trace = tmp_path / "t.csv"
    trace.write_text(
        "id,arrival_s,duration_s,modality,kind,upstream,gang_id,gang_size\n"
        "g0,0,10,text,pipeline_stage,,g,2\n"
        "g1,0,10,text,pipeline_stage,g0,g,2\n"
        "c,0,10,text,batch,,,\n"
    )
    msg = one_line_error(["simulate", "replay", "--trace", str(trace), "--policies", "tessera"])
    assert f"{trace}:3:1: field 'upstream'" in msg and "gang 'g'" in msg and "'g1'" in msg


def test_an_unknown_gpu_model_for_serve_is_refused() -> None:
    """Before: without MIG nodes, `--gpu ZZZ` served every request on a generic GPU and
    printed results for a model that does not exist."""
    day = "multimodal:models=5,requests=30,training_jobs=0,pipelines=0,ensembles=0"
    msg = one_line_error(["simulate", "serve", "--trace", day, "--nodes", "1", "--gpu", "ZZZ"])
    assert "unknown GPU model 'ZZZ'" in msg and "H100-80GB" in msg


def test_a_pod_named_twice_in_a_snapshot_is_refused(tmp_path: Path) -> None:
    """Before: the second copy of a pod silently replaced the first."""

    def twice(items: list[dict[str, Any]]) -> None:
        items.append(copy.deepcopy(next(o for o in items if o["kind"] == "Pod")))

    msg = one_line_error(["explain", "--snapshot", _snapshot(tmp_path, twice), "--pod", POD])
    assert "appears twice" in msg and "Pod" in msg
