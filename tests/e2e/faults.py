"""Shared steps of the fault scenarios (tests/e2e/test_faults*.py): counting what was tried, the
invariants checked after each fault, and `FaultProxy`, a test-only relay between kube-scheduler
and Tessera that lets a scenario act at an exact verb (kill Tessera just before a /bind).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from devcluster.cluster import DevCluster
from devcluster.kubeapi import KubeApi, KubeError, wait_for
from devcluster.nodes import pod_object
from scheduler.state import placement as placement_codec
from tests.e2e.helpers import wait_bound


class Tally:
    """Scenarios x runs x failures, printed by each module's last test."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)  # wall time, for the report

    def run(self, name: str, fn: Callable[[], None], cleanup: Callable[[], None]) -> None:
        self.runs[name] += 1
        start = time.monotonic()
        try:
            fn()
        except BaseException:
            self.failures[name] += 1
            raise
        finally:
            self.seconds[name] += time.monotonic() - start
            cleanup()

    def table(self) -> str:
        rows = [
            f"{n} | {self.runs[n]} | {self.failures[n]} | {self.seconds[n] / self.runs[n]:.0f}"
            for n in sorted(self.runs)
        ]
        return "\n".join(["scenario | runs | failures | s per run", *rows])


def milli_pod(name: str, milli: int = 500) -> dict:
    return pod_object(name, {"tessera.io/gpu-milli": str(milli)})


def burst(api: KubeApi, prefix: str, n: int, milli: int = 500) -> list[str]:
    names = [f"{prefix}-{i}" for i in range(n)]
    for name in names:
        api.create_pod(milli_pod(name, milli))
    return names


def delete_pods(
    api: KubeApi, names: Iterable[str] | None = None, pending_only: bool = False
) -> None:
    only = None if names is None else set(names)
    for pod in api.pods():
        name = pod["metadata"]["name"]
        if only is not None and name not in only:
            continue
        if pending_only and pod["spec"].get("nodeName"):
            continue
        with contextlib.suppress(KubeError):  # already gone
            api.delete_pod(name)


def delete_nodes(api: KubeApi, names: Iterable[str]) -> None:
    for name in names:
        with contextlib.suppress(KubeError):
            api.request("DELETE", f"/api/v1/nodes/{name}")


def metric(url: str, line_start: str) -> float | None:
    """The value of the first /metrics line starting with `line_start` (None: no such line)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


def check_invariants(cluster: DevCluster, nodes: dict[str, int], expect_bound: list[str]) -> None:
    """`nodes`: name -> GPU count. No GPU double-booked, the pods that fit bound, no
    reservation left, Tessera ready."""
    api = cluster.api
    wait_bound(api, expect_bound, timeout_s=180)
    per_gpu: Counter[tuple[str, int]] = Counter()
    charged: Counter[str] = Counter()  # milli charged per node (annotated or by request)
    for pod in api.pods():
        node = pod["spec"].get("nodeName")
        if node not in nodes:
            continue
        limits = pod["spec"]["containers"][0].get("resources", {}).get("limits", {})
        want = int(limits.get("tessera.io/gpu-milli", 0)) or 1000 * int(
            limits.get("nvidia.com/gpu", 0)
        )
        charged[node] += want
        text = (pod["metadata"].get("annotations") or {}).get(placement_codec.ANNOTATION)
        try:
            p = placement_codec.decode(text) if text else None
        except ValueError:
            p = None  # a poison annotation: charged by request above
        if p is None:
            continue
        for g in p.gpus:
            assert 0 <= g.index < nodes[node], f"{pod['metadata']['name']}: GPU {g.index} on {node}"
            per_gpu[(node, g.index)] += g.milli or 1000
    assert all(v <= 1000 for v in per_gpu.values()), f"GPU double-booked: {per_gpu}"
    assert all(charged[n] <= 1000 * nodes[n] for n in nodes), f"node over-booked: {charged}"
    reserved = 'tessera_reservations{kind="reserved"}'
    wait_for("no reservation left", lambda: metric(cluster.tessera_url, reserved) == 0.0, 90)
    assert httpx.get(f"{cluster.tessera_url}/readyz", timeout=10).status_code == 200


def kill_tessera(cluster: DevCluster) -> None:
    """SIGKILL Tessera's process group (no shutdown path runs), as a crash or an OOM kill."""
    proc = cluster.procs.pop("tessera")
    assert proc.popen is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.popen.pid, signal.SIGKILL)
    proc.popen.wait(timeout=30)


# A verb hook: (verb, request body) -> None to forward the request to Tessera, or an
# (HTTP status, body) reply that kube-scheduler gets instead.
Hook = Callable[[str, dict[str, Any]], tuple[int, bytes] | None]


class FaultProxy:
    """Relays kube-scheduler's extender calls to Tessera (`target`), one thread per connection.

    `hook` runs before each request is forwarded and may act first (kill or restart Tessera)
    or answer in Tessera's place. Tessera unreachable: 502, as a refused connection looks to
    kube-scheduler. A test tool: it decides nothing about scheduling.
    """

    def __init__(self, target: Callable[[], str]) -> None:
        self.target = target
        self.hook: Hook | None = None
        self.seen: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                verb = self.path.strip("/").split("/")[-1]
                status, reply = proxy.relay(verb, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                """kube-scheduler dropping a kept-alive connection is no error of the test."""

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._client = httpx.Client(timeout=60)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def relay(self, verb: str, body: bytes) -> tuple[int, bytes]:
        self.seen[verb] += 1
        hook = self.hook
        if hook is not None:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = {}
            answer = hook(verb, parsed)
            if answer is not None:
                return answer
        try:
            resp = self._client.post(f"{self.target()}/{verb}", content=body)
        except httpx.HTTPError as exc:
            return 502, f'{{"Error": "fault proxy: {type(exc).__name__}"}}'.encode()
        return resp.status_code, resp.content

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


class ProxiedCluster(DevCluster):
    """A dev cluster whose kube-scheduler calls Tessera through a `FaultProxy`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.proxy = FaultProxy(lambda: self.tessera_url).start()

    def scheduler_config(self) -> str:
        text = super().scheduler_config()
        assert self.tessera_url in text, "the scheduler config no longer names Tessera's URL"
        return text.replace(self.tessera_url, self.proxy.url)

    def close(self, keep: bool = False) -> None:
        try:
            super().close(keep)
        finally:
            self.proxy.close()
