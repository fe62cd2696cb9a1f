"""The operations port (`tessera serve --metrics-port`, cli/ops.py) over real sockets: every
reply parses, whatever came before it and whatever runs beside it."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from cli.ops import serve_ops


class Flag:
    """Readiness that the test flips; thread-safe enough for a bool."""

    def __init__(self) -> None:
        self.value = False

    def __call__(self) -> bool:
        return self.value


@pytest.fixture
def ops() -> Iterator[tuple[str, Flag, Counter]]:
    registry = CollectorRegistry()
    hits = Counter("tessera_test_hits", "requests seen by the test", registry=registry)
    ready = Flag()
    port = serve_ops(registry, ready, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}", ready, hits


def _check(resp: httpx.Response, ready_now: bool | None) -> None:
    """One reply: its body is all there (httpx raises on a short body) and says what its
    status says."""
    if "content-encoding" not in resp.headers:  # /metrics may come gzipped
        assert resp.headers.get("content-length") in (None, str(len(resp.content)))
    if resp.url.path == "/readyz":
        assert (resp.status_code, resp.text) in ((200, "ok"), (503, "watch cache not synced"))
        if ready_now is not None:
            assert resp.status_code == (200 if ready_now else 503)
    elif resp.url.path == "/healthz":
        assert (resp.status_code, resp.text) == (200, "ok")
    else:
        assert resp.status_code == 200
        names = {f.name for f in text_string_to_metric_families(resp.text)}
        assert "tessera_test_hits" in names


def test_a_not_ready_reply_does_not_shape_later_ready_replies(ops) -> None:
    """Regression: the first reply's Content-Length (22, "watch cache not synced") stuck to
    every later reply, so the next "ok" came as 2 bytes of a promised 22 (RemoteProtocolError)."""
    url, ready, _ = ops
    with httpx.Client(base_url=url, timeout=10) as c:
        for value in (False, True, False, True):
            ready.value = value
            _check(c.get("/readyz"), value)
            _check(c.get("/healthz"), None)
        missing = c.get("/nope")
        assert missing.status_code == 404 and missing.text.startswith("only /metrics")


def test_readyz_healthz_and_metrics_hammered_concurrently_all_parse(ops) -> None:
    url, ready, hits = ops
    stop = threading.Event()

    def flipper() -> None:  # readiness changes under the requests
        for value in itertools.cycle((True, False)):
            if stop.wait(0.002):
                return
            ready.value = value

    paths = ["/readyz", "/metrics", "/healthz", "/readyz"]

    def worker(i: int) -> int:
        done = 0
        with httpx.Client(base_url=url, timeout=30) as c:
            for j in range(60):
                hits.inc()
                _check(c.get(paths[(i + j) % len(paths)]), None)
                done += 1
        return done

    t = threading.Thread(target=flipper, daemon=True)
    t.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            total = sum(pool.map(worker, range(8)))
    finally:
        stop.set()
        t.join()
    assert total == 8 * 60  # every request answered and every answer parsed


def test_an_idle_connection_is_closed() -> None:
    """A connection that sends nothing is dropped after the idle timeout (it held a server
    thread for good: 50 of them, 50 threads)."""
    import socket

    port = serve_ops(CollectorRegistry(), Flag(), "127.0.0.1", 0, idle_timeout_s=0.3)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
    for sock in idle:
        sock.settimeout(5)
        assert sock.recv(1) == b""  # closed by the server (before: blocked until this timeout)
        sock.close()
    reply = httpx.get(f"http://127.0.0.1:{port}/healthz")  # the port still answers
    assert reply.status_code == 200 and reply.text == "ok"
