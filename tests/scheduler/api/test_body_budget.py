"""Request bodies held at once, over a real socket: each connection may send up to
`body_limit_bytes` (64 MiB by default), and 100 connections sending that much slowly held 6.4 GB
before any was parsed. Bodies in flight now share a budget (`EdgeConfig.inflight_bytes`, 4 x
`body_limit` by default); a body that would pass it is a one-line 429, and what a request held
is given back when it is answered."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from scheduler.api.adapter import FacadePort
from scheduler.api.app import EdgeConfig, create_app
from scheduler.api.server import serve_in_thread
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.fuzz.rig import RecordingBinder

KIB = 1024


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    ext = Extender(ClusterStore(), RecordingBinder())
    edge = EdgeConfig(body_limit=1024 * KIB, token=None, token_on_verbs=False,
                      inflight_bytes=1536 * KIB)  # fmt: skip
    with serve_in_thread(create_app(FacadePort(ext), edge)) as url:
        yield int(url.rsplit(":", 1)[1])


def head(length: int) -> bytes:
    return f"POST /filter HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()


def status(s: socket.socket) -> int:
    return int(s.recv(65536).split(b" ", 2)[1])


def test_bodies_in_flight_share_a_budget(port: int) -> None:
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(head(1000 * KIB) + b"x" * (900 * KIB))  # most of its body, then it waits
    time.sleep(0.5)
    with socket.create_connection(("127.0.0.1", port)) as second:
        second.settimeout(10)
        second.sendall(head(900 * KIB) + b"x" * (900 * KIB))
        assert status(second) == 429  # 900 + 900 KiB would pass the 1,536 KiB budget
    slow.settimeout(10)
    slow.sendall(b"x" * (100 * KIB))
    assert status(slow) == 400  # answered (not JSON): what it held is given back
    slow.close()
    with socket.create_connection(("127.0.0.1", port)) as third:
        third.settimeout(10)
        third.sendall(head(900 * KIB) + b"x" * (900 * KIB))
        assert status(third) == 400
