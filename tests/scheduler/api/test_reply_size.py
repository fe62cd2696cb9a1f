"""A filter reply's size must not grow with what the pod says times the number of nodes: a
required node-affinity term naming 20,000 GPU products was quoted whole in every node's
failure reason (about 140 KB each: 2 MB for the 14 nodes here, gigabytes for thousands)."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from scheduler.api.wire import MAX_REASON
from tests.builders import pod_json
from tests.fuzz.rig import build_app

APP, STORE = build_app()
CLIENT = TestClient(APP)
NODES = sorted(STORE.snapshot(0).nodes)


def test_a_pod_quoting_20000_products_gets_a_reply_of_bounded_size() -> None:
    values = [f"product-{i}" for i in range(20_000)]
    term = {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In",
                                  "values": values}]}  # fmt: skip
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}  # fmt: skip
    pod = pod_json("p", {"nvidia.com/gpu": "1"}, affinity=affinity)
    r = CLIENT.post("/filter", content=orjson.dumps({"Pod": pod, "NodeNames": NODES}))
    assert r.status_code == 200
    doc = r.json()
    reasons = [*doc["FailedNodes"].values(), *doc["FailedAndUnresolvableNodes"].values()]
    assert len(reasons) == len(NODES)  # every node still fails, with a reason
    assert all(len(t) <= MAX_REASON for t in reasons)
    assert any(t.endswith("...") for t in reasons)
    assert len(r.content) < len(NODES) * (MAX_REASON + 64)


def test_short_reasons_are_sent_as_they_are() -> None:
    pod = pod_json("p", {"nvidia.com/gpu": "64"})
    r = CLIENT.post("/filter", content=orjson.dumps({"Pod": pod, "NodeNames": NODES}))
    doc = r.json()
    reasons = [*doc["FailedNodes"].values(), *doc["FailedAndUnresolvableNodes"].values()]
    assert reasons and not any(t.endswith("...") for t in reasons)
