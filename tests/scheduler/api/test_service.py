"""The real HTTP edge over the real `Extender` and `ClusterStore`, spoken to over loopback HTTP.

Only the API write is faked: `RecordingBinder` stands in for `scheduler.kube.binder.KubeBinder`
(which needs an apiserver; see tests/scheduler/kube/test_kube_real.py) and records each bind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from scheduler.api.adapter import FacadePort
from scheduler.api.app import EdgeConfig, create_app
from scheduler.api.server import serve_in_thread
from scheduler.policy.model import Placement
from scheduler.state.extender import BindError, Extender
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json

H100_SELECTOR = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}


class RecordingBinder:
    """FAKE API write for this test: records binds; refuses pods named 'refuse-*'."""

    def __init__(self) -> None:
        self.bound: list[tuple[str, str, Placement]] = []
        self.lock = threading.Lock()

    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Placement) -> None:
        if name.startswith("refuse-"):
            raise BindError("409 Conflict: pod is already assigned to node n9")
        with self.lock:
            self.bound.append((f"{namespace}/{name}", node, placement))


class Svc:
    def __init__(self, url: str, store: ClusterStore, binder: RecordingBinder) -> None:
        self.store, self.binder = store, binder
        self.http = httpx.Client(base_url=url, timeout=30)

    def post(self, verb: str, body: Any) -> httpx.Response:
        return self.http.post(f"/{verb}", content=orjson.dumps(body))

    def add_pod(self, name: str, requests: dict[str, str], **kw: Any) -> dict[str, Any]:
        pod = pod_json(name, requests, **kw)
        self.store.upsert_pod(pod)
        return pod


def cluster() -> list[dict[str, Any]]:
    return [
        node_json("n1", [gpu_json(0)], labels=H100_SELECTOR),
        node_json("n2", [gpu_json(0), gpu_json(1)], labels=H100_SELECTOR),
        node_json(
            "n3",
            None,
            annotate=False,
            labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
            allocatable={"nvidia.com/gpu": "4"},
        ),
    ]


@pytest.fixture
def svc(request: pytest.FixtureRequest) -> Iterator[Svc]:
    """The service in cache mode; `indirect` param True: full-Nodes mode (nodeCacheCapable:
    false), where a request's Nodes are folded when new (no Node watch here) or newer."""
    store = ClusterStore()
    store.replace(cluster())
    binder = RecordingBinder()
    ext = Extender(store, binder, fold_request_nodes=getattr(request, "param", False))
    app = create_app(FacadePort(ext), EdgeConfig(body_limit=1 << 20, token=None,
                                                 token_on_verbs=False))  # fmt: skip
    with serve_in_thread(app) as url:
        s = Svc(url, store, binder)
        yield s
        s.http.close()


def test_filter_prioritize_bind_cache_mode(svc: Svc) -> None:
    pod = svc.add_pod("train", {"nvidia.com/gpu": "1"}, node_selector=H100_SELECTOR)
    r = svc.post("filter", {"Pod": pod, "Nodes": None, "NodeNames": ["n1", "n2", "n3"]}).json()
    assert r["NodeNames"] == ["n1", "n2"] and r["Error"] == ""
    assert list(r["FailedAndUnresolvableNodes"]) == ["n3"]  # wrong model: preemption can't help
    scores = svc.post("prioritize", {"Pod": pod, "NodeNames": ["n1", "n2"]}).json()
    assert [s["Host"] for s in scores] == ["n1", "n2"]
    assert all(type(s["Score"]) is int and 0 <= s["Score"] <= 10 for s in scores)
    args = {"PodName": "train", "PodNamespace": "default", "PodUID": pod["metadata"]["uid"],
            "Node": "n1"}  # fmt: skip
    assert svc.post("bind", args).json() == {"Error": ""}
    assert svc.binder.bound[0][:2] == ("default/train", "n1")
    assert svc.binder.bound[0][2].gpus[0].index == 0
    # n1's only GPU is now held: the next 1-GPU pod cannot have it.
    other = svc.add_pod("other", {"nvidia.com/gpu": "1"}, node_selector=H100_SELECTOR)
    r = svc.post("filter", {"Pod": other, "NodeNames": ["n1", "n2"]}).json()
    assert r["NodeNames"] == ["n2"] and "n1" in r["FailedNodes"]
    bad = {**args, "PodName": "other", "PodUID": other["metadata"]["uid"]}
    err = svc.post("bind", bad).json()["Error"]
    assert "no longer fits on node n1" in err and len(svc.binder.bound) == 1


@pytest.mark.parametrize("svc", [True], indirect=True)
def test_full_nodes_mode_learns_nodes_from_the_request(svc: Svc) -> None:
    pod = svc.add_pod("p", {"nvidia.com/gpu": "2"})
    fresh = node_json("n4", [gpu_json(0), gpu_json(1)])
    nodes = {"metadata": {}, "items": [cluster()[0], fresh]}
    r = svc.post("filter", {"Pod": pod, "Nodes": nodes, "NodeNames": None})
    body = r.json()
    assert body["NodeNames"] is None
    assert [n["metadata"]["name"] for n in body["Nodes"]["items"]] == ["n4"]
    assert body["Nodes"]["items"][0] == fresh  # the Node object is echoed unchanged
    assert "n1" in body["FailedAndUnresolvableNodes"]  # 1 GPU in all, pod needs 2


def test_pod_without_gpu_request_passes_every_node(svc: Svc) -> None:
    pod = svc.add_pod("web", {"cpu": "1"})
    r = svc.post("filter", {"Pod": pod, "NodeNames": ["n1", "n2", "n3"]}).json()
    assert r["NodeNames"] == ["n1", "n2", "n3"] and r["FailedNodes"] == {}


def test_bad_input_leaks_no_reservation(svc: Svc) -> None:
    before = len(svc.store.ledger)
    for body in (b"{", b'{"Pod": 1}', b'{"Pod": {"metadata": {"name": "x"}}, "NodeNames": 5}'):
        assert svc.http.post("/filter", content=body).status_code == 400
    bad_pod = pod_json("weird", {"nvidia.com/gpu": "1", "nvidia.com/mig-3g.40gb": "1"})
    r = svc.post("filter", {"Pod": bad_pod, "NodeNames": ["n1"]})
    assert r.status_code == 200 and "weird" not in r.json()["NodeNames"]
    assert r.json()["Error"]  # two GPU kinds at once: the facade's one-line error
    assert len(svc.store.ledger) == before


def test_failed_api_bind_releases_the_hold(svc: Svc) -> None:
    pod = svc.add_pod("refuse-me", {"nvidia.com/gpu": "1"})
    args = {"PodName": "refuse-me", "PodNamespace": "default",
            "PodUID": pod["metadata"]["uid"], "Node": "n1"}  # fmt: skip
    err = svc.post("bind", args).json()["Error"]
    assert "409 Conflict" in err
    assert len(svc.store.ledger) == 0
    later = svc.add_pod("later", {"nvidia.com/gpu": "1"})
    r = svc.post("filter", {"Pod": later, "NodeNames": ["n1"]}).json()
    assert r["NodeNames"] == ["n1"]


def test_concurrent_binds_never_double_book(svc: Svc) -> None:
    # n1 + n2 hold 3 H100s; 12 one-GPU pods race for them from 12 threads, each filtering then
    # binding to the first node its filter passed: exactly 3 binds can succeed.
    pods = [svc.add_pod(f"race-{i}", {"nvidia.com/gpu": "1"}, node_selector=H100_SELECTOR)
            for i in range(12)]  # fmt: skip
    results: list[str] = []
    lock = threading.Lock()

    def run(pod: dict[str, Any]) -> None:
        with httpx.Client(base_url=str(svc.http.base_url), timeout=30) as c:
            f = c.post("/filter", content=orjson.dumps({"Pod": pod, "NodeNames": ["n1", "n2"]}))
            passed = f.json()["NodeNames"]
            if not passed:
                return
            args = {"PodName": pod["metadata"]["name"], "PodNamespace": "default",
                    "PodUID": pod["metadata"]["uid"], "Node": passed[0]}  # fmt: skip
            err = c.post("/bind", content=orjson.dumps(args)).json()["Error"]
            with lock:
                results.append(err)

    threads = [threading.Thread(target=run, args=(p,)) for p in pods]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grants = [(node, g.index) for _, node, p in svc.binder.bound for g in p.gpus]
    assert len(grants) == len(set(grants)) == 3
    assert sorted(grants) == [("n1", 0), ("n2", 0), ("n2", 1)]
    assert results.count("") == 3


def test_explain_over_http(svc: Svc) -> None:
    svc.add_pod("why", {"nvidia.com/gpu": "2"})
    r = svc.http.get("/explain", params={"pod": "default/why"})
    body = r.json()
    assert r.status_code == 200 and body["best"] == "n2"
    assert body["nodes"]["n1"]["fits"] is False and body["nodes"]["n2"]["fits"] is True
    assert svc.http.get("/explain", params={"pod": "default/ghost"}).status_code == 404


def test_metrics_gauges_from_the_store(svc: Svc) -> None:
    pod = svc.add_pod("one", {"nvidia.com/gpu": "1"})
    svc.post("filter", {"Pod": pod, "NodeNames": ["n1"]})  # a single passing node reserves
    text = svc.http.get("/metrics").text
    assert 'tessera_reservations{kind="reserved"} 1.0' in text
    assert "tessera_nodes 3.0" in text


@pytest.mark.parametrize("svc", [True], indirect=True)
def test_full_nodes_mode_relearns_a_node_only_when_its_version_changes(svc: Svc) -> None:
    pod = svc.add_pod("p2", {"nvidia.com/gpu": "2"})
    v1 = node_json("n5", [gpu_json(0), gpu_json(1)])
    v1["metadata"]["resourceVersion"] = "1"
    req = {"Pod": pod, "Nodes": {"metadata": {}, "items": [v1]}, "NodeNames": None}
    assert svc.post("filter", req).json()["Nodes"]["items"] == [v1]
    # Same resourceVersion and body: not re-parsed, the reply reuses the encoded bytes.
    assert svc.post("filter", req).json()["Nodes"]["items"] == [v1]
    # Same resourceVersion, another body (round 10: two bodies under one version, at most one
    # genuine): judged on the body this request sent, never on the copy learned first.
    same = node_json("n5", [gpu_json(0)])
    same["metadata"]["resourceVersion"] = "1"
    req["Nodes"]["items"] = [same]
    body = svc.post("filter", req).json()
    assert body["Nodes"]["items"] == [] and "n5" in body["FailedAndUnresolvableNodes"]
    # A new resourceVersion with one GPU left: re-learned, and 2 GPUs no longer fit.
    same["metadata"]["resourceVersion"] = "2"
    body = svc.post("filter", req).json()
    assert body["Nodes"]["items"] == [] and "n5" in body["FailedAndUnresolvableNodes"]
