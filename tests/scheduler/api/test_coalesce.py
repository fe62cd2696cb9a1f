"""One socket write per reply: the corked transport's contract, then the real server's replies."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from scheduler.api import coalesce
from scheduler.api.app import EdgeConfig, create_app
from scheduler.api.coalesce import CorkedTransport
from scheduler.api.server import serve_in_thread
from tests.scheduler.api.fake_port import FakePort


class RecordingTransport:
    """Stands in for an asyncio transport: records what reaches it, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []

    def write(self, data: bytes) -> None:
        self.events.append(("write", data))

    def close(self) -> None:
        self.events.append(("close", b""))

    def abort(self) -> None:
        self.events.append(("abort", b""))

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def run_step(actions: Any) -> list[tuple[str, bytes]]:
    """Run `actions(corked)` in one loop step, then let the loop flush; what the socket saw."""
    real = RecordingTransport()

    async def main() -> None:
        corked = CorkedTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        actions(corked)
        await asyncio.sleep(0)  # the step ends: call_soon(flush) runs
        await asyncio.sleep(0)

    asyncio.run(main())
    return real.events


def test_writes_in_one_step_leave_as_one_write_in_order() -> None:
    def act(t: CorkedTransport) -> None:
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.write(bytearray(b"{}"))
        t.write(memoryview(b"!"))

    assert run_step(act) == [("write", b"HTTP/1.1 200 OK\r\n\r\n{}!")]


def test_close_flushes_first_and_abort_drops() -> None:
    assert run_step(lambda t: (t.write(b"a"), t.write(b"b"), t.close())) == [
        ("write", b"ab"),
        ("close", b""),
    ]
    assert run_step(lambda t: (t.write(b"a"), t.abort())) == [("abort", b"")]


def test_everything_else_is_the_real_transports() -> None:
    seen: list[str] = []
    run_step(lambda t: seen.append(t.get_extra_info("peername")))
    assert seen == ["info:peername"]


def test_the_server_sends_each_verb_reply_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[list[bytes]] = []
    flush = CorkedTransport.flush

    def spy(self: CorkedTransport) -> None:
        flushed.append(list(self._pending))
        flush(self)

    monkeypatch.setattr(coalesce.CorkedTransport, "flush", spy)
    app = create_app(FakePort(), EdgeConfig(body_limit=1 << 20, token=None, token_on_verbs=False))
    body = b'{"Pod":{"metadata":{"name":"p"}},"NodeNames":["n1","n2"]}'
    with serve_in_thread(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as s:
            for path in ("/filter", "/prioritize"):  # two requests on one kept-alive connection
                head = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                s.sendall(head % (path.encode(), len(body)) + body)
                reply = b""
                while b"\r\n\r\n" not in reply or not reply.endswith((b"}", b"]")):
                    reply += s.recv(65536)
                assert reply.startswith(b"HTTP/1.1 200")
    replies = [parts for parts in flushed if parts and parts[0].startswith(b"HTTP/1.1")]
    assert len(replies) == 2
    for parts in replies:  # status line + headers and the body, handed to the socket together
        assert len(parts) == 2 and parts[0].endswith(b"\r\n\r\n")
