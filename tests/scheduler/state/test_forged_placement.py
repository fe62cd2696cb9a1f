"""Issue 11: a forged `tessera.io/placement` is rejected at rebuild, counted, and its pod is
charged by its requests. Table-driven over the real `ClusterStore`."""

from __future__ import annotations

import json

import pytest

from scheduler.policy.model import UNKNOWN_INDEX
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json

NODE = node_json("n1", [gpu_json(0), gpu_json(1)])  # GPUs 0, 1 with UUIDs GPU-0000, GPU-0001


def placed(gpus: list[dict[str, object]], requests: dict[str, str] | None = None) -> dict:
    text = json.dumps({"version": 1, "node": "n1", "gpus": gpus})
    return pod_json("p", requests or {"nvidia.com/gpu": "1"}, node="n1", phase="Running",
                    annotations={"tessera.io/placement": text})  # fmt: skip


@pytest.mark.parametrize(
    ("gpus", "why"),
    [
        ([{"index": 12, "uuid": ""}], "placement names GPU 12, node n1 has 2 GPUs"),
        ([{"index": 1, "uuid": "GPU-9999"}], "placement names GPU 1 with UUID 'GPU-9999'"),
        ([{"index": 0, "uuid": "", "milli": 1500}], "gpus[].milli must be 1..1000, got 1500"),
        ([{"index": 0, "uuid": ""}, {"index": 0, "uuid": ""}], "whole GPU 0 twice"),
    ],
)
def test_forged_placement_is_rejected_counted_and_charged_by_requests(gpus, why) -> None:
    store = ClusterStore()
    store.upsert_node(NODE)
    store.upsert_pod(placed(gpus))
    rec = store.pod("default/p")
    assert rec is not None and why in rec.problem
    assert store.rejected_annotations == 1
    # Charged by its request: one whole GPU, on some GPU of the node.
    assert rec.allocation is not None
    assert [g.index for g in rec.allocation.placement.gpus] == [UNKNOWN_INDEX]


def test_honest_placement_is_trusted() -> None:
    store = ClusterStore()
    store.upsert_node(NODE)
    store.upsert_pod(placed([{"index": 1, "uuid": "GPU-0001"}]))
    rec = store.pod("default/p")
    assert rec is not None and rec.problem == "" and store.rejected_annotations == 0
    assert [g.index for g in rec.allocation.placement.gpus] == [1]


def test_pod_folded_before_its_node_is_checked_when_the_node_arrives() -> None:
    store = ClusterStore()
    store.upsert_pod(placed([{"index": 7, "uuid": ""}]))  # node unknown: nothing to check yet
    assert store.pod("default/p").allocation.placement.gpus[0].index == 7
    store.upsert_node(NODE)
    rec = store.pod("default/p")
    assert "GPU 7" in rec.problem and rec.allocation.placement.gpus[0].index == UNKNOWN_INDEX
    assert store.rejected_annotations == 1
    store.upsert_pod(placed([{"index": 7, "uuid": ""}]))  # the same object again: counted once
    assert store.rejected_annotations == 1
