"""One socket write per HTTP response: uvicorn's httptools protocol behind a corked transport.

uvicorn writes a response's status line and headers on `http.response.start` and the body on
`http.response.body`: two `send()` calls per reply. On loopback each send runs the receiver's
TCP work inline with the GIL held, and the profile under a request stream charged ~24 % of the
server's time to those two writes (benchmarks/RESULTS.md, "Where the server's time per request
goes"). The corked transport collects what one loop step writes and hands it to the socket as
one buffer at the end of that step (`call_soon`), so a reply whose two ASGI messages are sent
back to back, as the verbs send them, leaves in one write. Bytes and their order are unchanged;
`close()` flushes first, as the real transport does with its own buffer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CorkedTransport:
    """Wraps an asyncio transport: writes within one loop step go out as one `write`."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = []
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a `CorkedTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]
