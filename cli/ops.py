"""`tessera serve --metrics-port`: an operations port of its own, serving only /metrics (the same
registry as the verbs port's), /healthz and /readyz.

With it the verbs port can listen on loopback alone (the Helm chart's sidecar: only the
kube-scheduler in the same pod can call filter/prioritize/bind/preempt), while the kubelet's
probes and Prometheus use this port, which a network policy opens to the monitoring namespace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

IDLE_TIMEOUT_S = 10.0


def _text() -> list[tuple[str, str]]:
    """A new header list per reply: wsgiref keeps the very list given to start_response and
    adds Content-Length to it, so a shared list carried the first reply's length into every
    later one (an "ok" sent as 22 bytes: the malformed /readyz of the chart e2e runs)."""
    return [("Content-Type", "text/plain; charset=utf-8")]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        """No access log: a probe every few seconds would swamp it."""


def ops_app(
    registry: CollectorRegistry, ready: Callable[[], bool]
) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthz":
            start_response("200 OK", _text())
            return [b"ok"]
        if path == "/readyz":
            if ready():
                start_response("200 OK", _text())
                return [b"ok"]
            start_response("503 Service Unavailable", _text())
            return [b"watch cache not synced"]
        start_response("404 Not Found", _text())
        return [b"only /metrics, /healthz and /readyz are served on this port"]

    return app


def serve_ops(
    registry: CollectorRegistry, ready: Callable[[], bool], host: str, port: int,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
) -> int:  # fmt: skip
    """Serve the operations port on a daemon thread; returns the bound port. Raises OSError.
    The server class is prometheus_client's own (`start_http_server` uses it): wsgiref with a
    daemon thread per connection, so a connection idle for `idle_timeout_s` is closed (50 idle
    connections held 50 threads for good; a probe or a scrape sends at once)."""
    handler = type("_Handler", (_QuietHandler,), {"timeout": idle_timeout_s})
    server = make_server(host, port, ops_app(registry, ready), ThreadingWSGIServer, handler)
    threading.Thread(target=server.serve_forever, name="tessera-ops", daemon=True).start()
    return int(server.server_address[1])
