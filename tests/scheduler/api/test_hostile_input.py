"""Issue 11, findings 2-5, over loopback HTTP against the real edge, `Extender` and `ClusterStore`.

2: a full-NodeList /filter cannot poison the cache in cache mode (and only newer versions fold
   in full mode); 3: a huge or truncated body cannot stall the server; 4: hostile preempt and
   filter bodies are 400s, not 500s; 5: /openapi.json describes the four verbs.
Only finding 3's blocking core is a FAKE (`BlockingPort`), to hold a request in flight.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from scheduler.api.adapter import FacadePort
from scheduler.api.app import EdgeConfig, create_app
from scheduler.api.server import serve_in_thread
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json
from tests.scheduler.api.fake_port import FakePort

EDGE = {"body_limit": 64 << 20, "token": None, "token_on_verbs": False}


class Rig:
    def __init__(self, url: str, store: ClusterStore) -> None:
        self.url, self.store = url, store
        self.http = httpx.Client(base_url=url, timeout=60)

    def post(self, verb: str, body: Any) -> httpx.Response:
        return self.http.post(f"/{verb}", content=orjson.dumps(body))


def serve(fold: bool, **edge: Any) -> Iterator[Rig]:
    store = ClusterStore()
    store.replace([node_json("n1", [gpu_json(0), gpu_json(1)])])
    ext = Extender(store, None, fold_request_nodes=fold) if fold else Extender(store, None)
    app = create_app(FacadePort(ext), EdgeConfig(**{**EDGE, **edge}))
    with serve_in_thread(app) as url:
        rig = Rig(url, store)
        yield rig
        rig.http.close()


@pytest.fixture
def rig() -> Iterator[Rig]:
    yield from serve(False, body_timeout_s=1.0)


@pytest.fixture
def full_rig() -> Iterator[Rig]:
    yield from serve(True)


def fake_n1(rv: str | None = None) -> dict[str, Any]:
    """The reported poison: a node of a real name with 64 GPUs and no annotation."""
    n = node_json("n1", None, annotate=False, allocatable={"nvidia.com/gpu": "64"})
    if rv is not None:
        n["metadata"]["resourceVersion"] = rv
    return n


def four_gpu_pod(name: str) -> dict[str, Any]:
    return pod_json(name, {"nvidia.com/gpu": "4"})


# ---- finding 2 -----------------------------------------------------------------------------


def test_full_nodelist_request_does_not_poison_the_cache_in_cache_mode(rig: Rig) -> None:
    nodes = {"metadata": {}, "items": [fake_n1("999999")]}
    r = rig.post("filter", {"Pod": four_gpu_pod("attacker"), "Nodes": nodes})
    assert r.status_code == 200 and r.json()["Nodes"]["items"] == []  # judged on the cache
    assert len(rig.store.snapshot(0).nodes["n1"].gpus) == 2  # the cache still says 2 GPUs
    # kube-scheduler's next real pod (cache mode) cannot be given GPUs 2..5 of a 2-GPU node.
    r = rig.post("filter", {"Pod": four_gpu_pod("victim"), "NodeNames": ["n1"]})
    assert r.json()["NodeNames"] == [] and "n1" in r.json()["FailedAndUnresolvableNodes"]
    e = rig.http.get("/explain", params={"pod": "default/victim"})
    assert e.headers["content-type"] == "application/json"


def test_full_mode_folds_only_newer_resource_versions(full_rig: Rig) -> None:
    rig = full_rig
    rig.store.upsert_node({**node_json("n1", [gpu_json(0), gpu_json(1)]),
                           "metadata": {**node_json("n1", [gpu_json(0), gpu_json(1)])["metadata"],
                                        "resourceVersion": "50"}})  # fmt: skip
    for rv in (None, "49", "50", "not-a-number"):  # none of these is newer than 50
        nodes = {"metadata": {}, "items": [fake_n1(rv)]}
        assert rig.post("filter", {"Pod": four_gpu_pod("p"), "Nodes": nodes}).status_code == 200
        assert len(rig.store.snapshot(0).nodes["n1"].gpus) == 2, rv
    nodes = {"metadata": {}, "items": [fake_n1("51")]}  # newer: full mode trusts it
    r = rig.post("filter", {"Pod": four_gpu_pod("p"), "Nodes": nodes})
    assert [n["metadata"]["name"] for n in r.json()["Nodes"]["items"]] == ["n1"]
    rig.store.ledger.release("uid-default-p")


def test_full_mode_a_forged_newer_node_lasts_only_until_a_correct_request(full_rig: Rig) -> None:
    """Round 9: the fake n1 at resourceVersion 999999999 was kept until the watch's next
    event for n1, and every correct request meanwhile (n1 at the watch's version 50) was
    answered from it: four GPUs on a two-GPU node."""
    rig = full_rig
    real = node_json("n1", [gpu_json(0), gpu_json(1)])
    real["metadata"]["resourceVersion"] = "50"
    rig.store.upsert_node(real)
    forged = {"metadata": {}, "items": [fake_n1("999999999")]}
    rig.post("filter", {"Pod": four_gpu_pod("attacker"), "Nodes": forged})
    rig.store.ledger.release("uid-default-attacker")
    r = rig.post("filter", {"Pod": four_gpu_pod("victim"), "Nodes": {"items": [real]}})
    assert r.json()["Nodes"]["items"] == [] and "n1" in r.json()["FailedAndUnresolvableNodes"]
    assert len(rig.store.snapshot(0).nodes["n1"].gpus) == 2
    rig.store.upsert_node(real)  # the watch's own event: nothing of the request is left
    assert len(rig.store.snapshot(0).nodes["n1"].gpus) == 2


# ---- finding 3 -----------------------------------------------------------------------------


def test_too_many_node_names_is_a_400_naming_the_limit(rig: Rig) -> None:
    names = [f"n{i}" for i in range(20_001)]
    r = rig.post("filter", {"Pod": four_gpu_pod("p"), "NodeNames": names})
    assert r.status_code == 400
    assert r.json()["Error"] == "NodeNames: 20001 names exceeds the limit of 20000 per request"


def test_too_many_victims_is_a_400(rig: Rig) -> None:
    meta = {"n1": {"Pods": [{"UID": f"u{i}"} for i in range(20_001)], "NumPDBViolations": 0}}
    r = rig.post("preempt", {"Pod": four_gpu_pod("p"), "NodeNameToMetaVictims": meta})
    assert r.status_code == 400 and "more than 20000 victims" in r.json()["Error"]


def test_content_length_larger_than_body_is_answered_408(rig: Rig) -> None:
    host, port = rig.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(
            b"POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"Pod": {}}'
        )
        reply = b""
        while b"\r\n\r\n" not in reply:  # on the old code this waited forever (socket timeout)
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]


class BlockingPort(FakePort):
    """FAKE core: filter blocks until released, so a large request stays in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def filter(self, pod: Any, node_names: Any, nodes: Any) -> Any:
        self.entered.set()
        self.release.wait(60)
        return super().filter(pod, node_names, nodes)


def test_a_large_request_in_flight_does_not_block_health_or_small_requests() -> None:
    port = BlockingPort()
    app = create_app(port, EdgeConfig(**EDGE))
    names = [f"ok-node-{i:06d}" for i in range(18_000)]  # 306 KB: over the 256 KiB off-loop bar
    big = orjson.dumps({"Pod": {"metadata": {"name": "big"}}, "NodeNames": names})
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        t = threading.Thread(target=lambda: http.post("/filter", content=big), daemon=True)
        t.start()
        try:
            assert port.entered.wait(30)
            with httpx.Client(base_url=url, timeout=20) as other:
                assert other.get("/healthz").status_code == 200  # the loop is free
        finally:
            port.release.set()
            t.join(30)


# ---- finding 4 -----------------------------------------------------------------------------


def test_preempt_victim_with_null_metadata_is_a_400(rig: Rig) -> None:
    victims = {"n1": {"Pods": [{"metadata": None}], "NumPDBViolations": 0}}
    r = rig.post("preempt", {"Pod": four_gpu_pod("p"), "NodeNameToVictims": victims})
    assert r.status_code == 400
    assert r.json()["Error"] == "victims of node n1.Pods[0]: UID missing or not a string"


@pytest.mark.parametrize("fold", [False, True])
def test_deeply_nested_node_annotation_in_a_request_is_not_a_500(fold: bool) -> None:
    node = node_json("n2", None, annotate=False)
    node["metadata"]["annotations"] = {"tessera.io/gpus": "[" * 5000}
    node["metadata"]["resourceVersion"] = "7"
    for rig in serve(fold):
        r = rig.post("filter", {"Pod": four_gpu_pod("p"), "Nodes": {"items": [node]}})
        assert r.status_code == 200, r.text
        if fold:  # folded with the annotation ignored, and the reason kept for /explain
            assert "nested deeper than 16" in rig.store.node_problem("n2")


def test_deep_request_body_is_a_400_naming_the_depth() -> None:
    for rig in serve(False):
        body = b'{"Pod": {"metadata": {"name": "p"}, "spec": ' + b"[" * 300 + b"]" * 300 + b"}}"
        r = rig.http.post("/filter", content=body)
        assert r.status_code == 400
        assert r.json()["Error"] == "request body: nested deeper than 64 levels"


# ---- finding 5 -----------------------------------------------------------------------------


def test_openapi_document_describes_the_four_verbs(rig: Rig) -> None:
    doc = rig.http.get("/openapi.json").json()
    for verb, model in (
        ("filter", "ExtenderArgs"),
        ("prioritize", "ExtenderArgs"),
        ("bind", "ExtenderBindingArgs"),
        ("preempt", "ExtenderPreemptionArgs"),
    ):
        body = doc["paths"][f"/{verb}"]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{model}"}
    args = doc["components"]["schemas"]["ExtenderArgs"]
    assert set(args["properties"]) == {"Pod", "Nodes", "NodeNames"}
    assert args["required"] == ["Pod"]
    score = doc["components"]["schemas"]["HostPriority"]["properties"]["Score"]
    assert (score["minimum"], score["maximum"]) == (0, 10)
