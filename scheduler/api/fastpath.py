"""The four extender verbs as a pure ASGI layer in front of FastAPI's router.

kube-scheduler calls the verbs once per pod, serially, so per-request framework work is paid in
scheduling throughput; the verbs take raw bytes in and out anyway. This middleware answers
`POST /filter|/prioritize|/bind|/preempt` itself (no routing, dependency solving or Request
objects) and hands everything else to the FastAPI app underneath.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

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


class VerbEndpoints:
    def __init__(self, app: Callable[..., Awaitable[None]], routes: Mapping[str, VerbHandler]):
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            route = self.routes.get(scope["path"])
            if route is not None:
                code, body = await route(scope, receive)
                headers = [(b"content-type", b"application/json"),
                           (b"content-length", b"%d" % len(body))]  # fmt: skip
                await send({"type": "http.response.start", "status": code, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
