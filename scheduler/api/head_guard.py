"""Slow or endless request heads: a deadline and a size bound on each request's line and headers.

uvicorn's httptools protocol arms no timer until a first response is sent, and httptools keeps
a header's bytes until the header ends: a connection that sent nothing stayed open for good,
and one header of 50 MiB sent in pieces grew the server by 50 MiB (then more, without bound).
The body has its own deadline and limit in the app (`body_timeout_s`, `body_limit_bytes`); the
head never reached it. Here a request's head must be complete within `head_timeout_s` of the
connection opening or of its first byte, and of at most `max_head_bytes`; otherwise the
connection is answered 408 or 431 on one line and closed. After a response the next head must
be complete within the keep-alive time plus that deadline: a client sending only blank lines
reset the keep-alive timer with each one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scheduler.api.coalesce import CoalescingHttpToolsProtocol

HEAD_TIMEOUT_S = 10.0
# kube-scheduler's heads are a few hundred bytes; 64 KiB leaves room for any proxy's headers.
MAX_HEAD_BYTES = 64 * 1024


class HeadGuardProtocol(CoalescingHttpToolsProtocol):
    """`CoalescingHttpToolsProtocol` with a deadline and a size bound on request heads."""

    head_timeout_s = HEAD_TIMEOUT_S
    max_head_bytes = MAX_HEAD_BYTES

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0
        super().connection_made(transport)
        self._arm(self.head_timeout_s)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(seconds, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        self._refuse(408, f"request head not complete within {self.head_timeout_s:g} s")

    def _refuse(self, status: int, why: str) -> None:
        if self.transport.is_closing():
            return
        body = f'{{"Error": "{why}"}}\n'.encode()
        head = (
            f"HTTP/1.1 {status} {'Request Timeout' if status == 408 else 'Header Too Large'}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head:  # the head is still incomplete after this chunk
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._disarm()
                self._refuse(431, f"request head over {self.max_head_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        self._arm(self.head_timeout_s)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        idle = self.cycle is None or self.cycle.response_complete  # no pipelined request
        if idle and not self.transport.is_closing() and not self._in_head:
            self._in_head, self._head_bytes = True, 0
            self._arm(self.timeout_keep_alive + self.head_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def guarded(head_timeout_s: float) -> Any:
    """`HeadGuardProtocol` with another head deadline (uvicorn takes a protocol class)."""
    return type("HeadGuardProtocol", (HeadGuardProtocol,), {"head_timeout_s": head_timeout_s})
