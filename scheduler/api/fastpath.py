"""The four extender verbs answered before FastAPI: `ExtenderApp.__call__` dispatches them.

kube-scheduler calls the verbs once per pod, serially, so per-request framework work is paid in
scheduling throughput; the verbs take raw bytes in and out anyway. `ExtenderApp` answers
`POST /filter|/prioritize|/bind|/preempt` itself, ahead of FastAPI's per-request telemetry check,
its error and body-limit middlewares and its router (no routing, dependency solving or Request
objects), and hands everything else (health, readiness, metrics, explain, OpenAPI) to FastAPI.
The verbs' own handler (`app.verb`) is the one place their errors become replies, so nothing
FastAPI would have caught is lost: it catches every exception itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# A verb: (scope, receive) -> (HTTP status, JSON body).
VerbHandler = Callable[[Scope, Receive], Awaitable[tuple[int, bytes]]]


def header(scope: Scope, name: bytes) -> str | None:
    """One request header (lower-case `name`), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class ExtenderApp(FastAPI):
    """FastAPI plus the verbs (`set_verbs`), which never enter FastAPI's middleware stack."""

    verb_routes: dict[str, VerbHandler]

    def set_verbs(self, routes: Mapping[str, VerbHandler]) -> None:
        self.verb_routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] == "http" and scope["method"] == "POST":
            route = self.verb_routes.get(scope["path"])
            if route is not None:
                code, body = await route(scope, receive)
                # Content-Length set and the two messages sent back to back: with
                # `coalesce.CoalescingHttpToolsProtocol` the reply leaves in one socket write.
                headers = [(b"content-type", b"application/json"),
                           (b"content-length", b"%d" % len(body))]  # fmt: skip
                await send({"type": "http.response.start", "status": code, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await super().__call__(scope, receive, send)  # type: ignore[arg-type]
