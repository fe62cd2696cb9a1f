"""Slow-loris request heads over a real socket (`scheduler/api/head_guard.py`): a connection
that sends nothing, a head sent a byte at a time, an endless header, blank lines after a
response. Before the guard the first three stayed open for good and the endless header grew
the server's memory by its size."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from scheduler.api.head_guard import MAX_HEAD_BYTES
from scheduler.api.server import serve_in_thread
from tests.fuzz.rig import build_app

DEADLINE_S = 0.5
KEEP_ALIVE_S = 2


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    app, _ = build_app()
    with serve_in_thread(app, head_timeout_s=DEADLINE_S, keep_alive_s=KEEP_ALIVE_S) as url:
        yield int(url.rsplit(":", 1)[1])


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    return s


def read_all(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_a_connection_that_sends_nothing_is_closed_with_a_408(port: int) -> None:
    with connect(port) as s:
        t = time.monotonic()
        reply = read_all(s)
        assert time.monotonic() - t < 5
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert reply.split(b"\r\n\r\n", 1)[1].count(b"\n") == 1  # one line


def test_a_head_trickled_past_the_deadline_is_closed(port: int) -> None:
    with connect(port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        t = time.monotonic()
        try:
            while time.monotonic() - t < 5:
                s.sendall(b"X")
                time.sleep(0.05)
        except OSError:
            pass  # closed under us: what we want
        assert time.monotonic() - t < 5
        assert b"408" in read_all(s)[:20]


def test_an_endless_header_is_refused_at_the_bound(port: int) -> None:
    with connect(port) as s:
        s.sendall(b"POST /filter HTTP/1.1\r\nHost: x\r\nX-A: ")
        sent = 0
        try:
            while sent < 64 * MAX_HEAD_BYTES:
                s.sendall(b"a" * 8192)
                sent += 8192
        except OSError:
            pass
        assert sent < 64 * MAX_HEAD_BYTES  # refused long before 4 MiB
        assert read_all(s).startswith(b"HTTP/1.1 431 ")


def test_blank_lines_after_a_response_do_not_keep_the_connection(port: int) -> None:
    with connect(port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        t = time.monotonic()
        try:  # keep-alive + the head deadline, not for ever
            while time.monotonic() - t < 10:
                s.sendall(b"\r\n")
                time.sleep(0.2)
        except OSError:
            pass
        assert time.monotonic() - t < 10


def test_ordinary_requests_on_one_connection_still_pass(port: int) -> None:
    with connect(port) as s:
        for _ in range(3):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
            time.sleep(DEADLINE_S * 2)  # idle between requests: keep-alive, not the head
        big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 30000 + b"\r\n\r\n"
        s.sendall(big)
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
