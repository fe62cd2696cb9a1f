"""Black-box tests of the HTTP edge: a real uvicorn server on a free loopback port, spoken to over
HTTP. The scheduling core behind it is the FAKE in `fake_port.py` (edge behaviour only)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from scheduler.api.app import EdgeConfig, create_app
from scheduler.api.server import serve_in_thread
from tests.scheduler.api.fake_port import FakePort

POD = {"metadata": {"name": "p1", "namespace": "default", "uid": "u-1"}, "spec": {}, "status": {}}
TOKEN = "s3cret-token"


class Rig:
    def __init__(self, url: str, port: FakePort, state: dict[str, bool]) -> None:
        self.url, self.port, self.state = url, port, state
        self.client = httpx.Client(base_url=url, timeout=10)

    def post(self, verb: str, body: object | bytes, **kw: object) -> httpx.Response:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return self.client.post(f"/{verb}", content=content, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    port = FakePort()
    state = {"ready": True}
    config = EdgeConfig(body_limit=64 * 1024, token=TOKEN, token_on_verbs=False)
    app = create_app(port, config, ready=lambda: state["ready"])
    with serve_in_thread(app) as url:
        r = Rig(url, port, state)
        yield r
        r.client.close()


def test_filter_cache_mode(rig: Rig) -> None:
    r = rig.post("filter", {"Pod": POD, "Nodes": None, "NodeNames": ["ok-1", "busy-2", "wrong-3"]})
    assert r.status_code == 200
    assert r.json() == {
        "Nodes": None,
        "NodeNames": ["ok-1"],
        "FailedNodes": {"busy-2": "gpu_fit: 0 of 1 GPUs free"},
        "FailedAndUnresolvableNodes": {"wrong-3": "gpu_model: pod wants H100, node has A100"},
        "Error": "",
    }


def test_filter_full_nodes_mode_echoes_passing_node_objects(rig: Rig) -> None:
    items = [
        {"metadata": {"name": "ok-a", "labels": {"x": "1"}}, "status": {}},
        {"metadata": {"name": "busy-b"}, "status": {}},
    ]
    nodes = {"metadata": {}, "items": items}
    r = rig.post("filter", {"Pod": POD, "Nodes": nodes, "NodeNames": None})
    body = r.json()
    assert r.status_code == 200 and body["NodeNames"] is None
    assert body["Nodes"]["items"] == [items[0]]
    assert list(body["FailedNodes"]) == ["busy-b"]


def test_filter_rejects_names_it_was_not_sent(rig: Rig) -> None:
    # Gotcha 4: a reply naming an unsent node fails kube-scheduler's attempt; the edge refuses it.
    pod = {**POD, "metadata": {"name": "stray", "namespace": "default"}}
    r = rig.post("filter", {"Pod": pod, "NodeNames": ["ok-1"]})
    assert r.status_code == 500 and "not in the request" in r.json()["Error"]


def test_prioritize_is_a_bare_array(rig: Rig) -> None:
    r = rig.post("prioritize", {"Pod": POD, "NodeNames": ["ok-1", "ok-22"]})
    # Fake scores len(name) % 11: "ok-1" -> 4, "ok-22" -> 5.
    assert r.status_code == 200
    assert r.content == b'[{"Host":"ok-1","Score":4},{"Host":"ok-22","Score":5}]'


def test_bind_ok_and_conflict(rig: Rig) -> None:
    ok = {"PodName": "p1", "PodNamespace": "default", "PodUID": "u-1", "Node": "ok-1"}
    r = rig.post("bind", ok)
    assert r.status_code == 200 and r.content == b'{"Error":""}'
    r = rig.post("bind", {**ok, "Node": "taken"})
    assert r.status_code == 200 and r.json() == {"Error": "node taken: GPU 0 already bound"}


def test_preempt_answers_meta_victims(rig: Rig) -> None:
    body = {
        "Pod": POD,
        "NodeNameToMetaVictims": {
            "ok-1": {"Pods": [{"UID": "v1"}, {"UID": "v2"}], "NumPDBViolations": 0},
            "ok-2": {"Pods": [], "NumPDBViolations": 0},
        },
    }
    r = rig.post("preempt", body)
    assert r.status_code == 200
    assert r.json() == {
        "NodeNameToMetaVictims": {"ok-1": {"Pods": [{"UID": "v1"}], "NumPDBViolations": 0}}
    }


@pytest.mark.parametrize(
    ("verb", "body", "code", "needle"),
    [
        ("filter", b"{oops", 400, "malformed JSON"),
        ("filter", {"NodeNames": ["ok-1"]}, 400, "missing Pod"),
        ("prioritize", {"Pod": [], "NodeNames": []}, 400, "Pod must be an object"),
        ("filter", {"Pod": POD, "NodeNames": "ok-1"}, 400, "NodeNames: expected an array"),
        ("bind", {"PodName": "p"}, 400, "PodNamespace"),
        ("preempt", {"Pod": POD, "NodeNameToMetaVictims": []}, 400, "expected an object"),
        ("filter", {"Pod": {**POD, "metadata": {"name": "bad-profile"}}, "NodeNames": ["a"]},
         400, "unknown MIG profile"),
        ("filter", {"Pod": {**POD, "metadata": {"name": "boom"}}, "NodeNames": ["a"]},
         500, "internal error in filter: RuntimeError: core exploded with a second line"),
    ],
)  # fmt: skip
def test_bad_input_gets_one_line_error(
    rig: Rig, verb: str, body: object, code: int, needle: str
) -> None:
    r = rig.post(verb, body)
    assert r.status_code == code
    err = r.json()["Error"]
    assert needle in err
    assert "\n" not in err and "Traceback" not in r.text


def test_oversized_body_is_413(rig: Rig) -> None:
    huge = {"Pod": POD, "NodeNames": [f"node-{i:06d}" for i in range(10_000)]}  # ~140 KB > 64 KiB
    r = rig.post("filter", huge)
    assert r.status_code == 413 and "limit" in r.json()["Error"]
    # Chunked upload without Content-Length is cut off while streaming too.
    chunks = iter([orjson.dumps(huge)[i : i + 4096] for i in range(0, 150_000, 4096)])
    r = rig.client.post("/filter", content=chunks)
    assert r.status_code == 413


def test_not_ready_refuses_verbs_until_synced(rig: Rig) -> None:
    rig.state["ready"] = False
    try:
        assert rig.client.get("/readyz").status_code == 503
        r = rig.post("filter", {"Pod": POD, "NodeNames": ["ok-1"]})
        assert r.status_code == 503 and "not synced" in r.json()["Error"]
    finally:
        rig.state["ready"] = True
    assert rig.client.get("/readyz").status_code == 200
    assert rig.client.get("/healthz").text == "ok"


def test_token_guards_metrics_and_explain_not_verbs(rig: Rig) -> None:
    assert rig.client.get("/metrics").status_code == 401
    bad = rig.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    # kube-scheduler sends no Authorization header, so verbs stay open unless token_on_verbs.
    assert rig.post("filter", {"Pod": POD, "NodeNames": ["ok-1"]}).status_code == 200


def test_explain(rig: Rig) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = rig.client.get("/explain", params={"pod": "default/p1"}, headers=auth)
    assert r.status_code == 200 and r.json()["nodes"]["ok-1"]["score"] == 7
    r = rig.client.get("/explain", params={"pod": "default/nope"}, headers=auth)
    assert r.status_code == 404 and "default/nope" in r.json()["Error"]
    r = rig.client.get("/explain", params={"pod": "no-slash"}, headers=auth)
    assert r.status_code == 400 and "NAMESPACE/NAME" in r.json()["Error"]


def test_metrics_exposition(rig: Rig) -> None:
    rig.post("filter", {"Pod": POD, "NodeNames": ["ok-1", "busy-2", "wrong-3"]})
    text = rig.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert 'tessera_extender_request_duration_seconds_bucket{le="0.002",verb="filter"}' in text
    assert 'tessera_filter_failures_total{reason="gpu_fit"}' in text
    assert 'tessera_filter_failures_total{reason="gpu_model"}' in text
    assert 'tessera_extender_rejected_requests_total{reason="bad_request",verb="filter"}' in text
    assert 'tessera_reservations{kind="reserved"} 2.0' in text


def test_token_on_verbs() -> None:
    app = create_app(FakePort(), EdgeConfig(body_limit=4096, token=TOKEN, token_on_verbs=True))
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as c:
        body = orjson.dumps({"Pod": POD, "NodeNames": ["ok-1"]})
        assert c.post("/filter", content=body).status_code == 401
        ok = c.post("/filter", content=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["NodeNames"] == ["ok-1"]


def test_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    app = create_app(FakePort(), EdgeConfig(body_limit=4096, token=None, token_on_verbs=False))
    with serve_in_thread(app, tls_cert=cert, tls_key=key) as url:
        assert url.startswith("https://")
        # kube-scheduler with enableHTTPS and no CA skips verification (§3.1); so do we here.
        with httpx.Client(base_url=url, verify=False) as c:
            r = c.post("/filter", content=orjson.dumps({"Pod": POD, "NodeNames": ["ok-9"]}))
            assert r.json()["NodeNames"] == ["ok-9"]


def test_listening_socket_is_tcp_so_replies_are_not_nagled() -> None:
    # asyncio turns TCP_NODELAY on for accepted sockets only when proto == IPPROTO_TCP; with
    # proto 0 some replies waited 40 ms for a delayed ACK (measured: 44 ms -> 0.5 ms p50).
    import socket

    from scheduler.api.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
