"""Running the app under uvicorn: in the foreground (`tessera serve`) or on a background thread
(black-box tests, the benchmark), always on a socket we bind ourselves so port 0 works."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from scheduler.api.head_guard import HEAD_TIMEOUT_S, guarded


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY on accepted connections only
    # then, and without it Nagle + delayed ACK stall some replies by 40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def make_server(
    app: FastAPI,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    log_level: str = "warning",
    tls_client_ca: Path | None = None,
    head_timeout_s: float = HEAD_TIMEOUT_S,
    keep_alive_s: int = 30,
) -> uvicorn.Server:
    """`tls_client_ca`: clients must present a certificate signed by it (mutual TLS).
    `head_timeout_s`: how long a request's line and headers may take (`head_guard`);
    `keep_alive_s`: how long an idle connection stays open between requests."""
    mtls = {}
    if tls_client_ca is not None:
        mtls = {"ssl_ca_certs": str(tls_client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,  # one line per pod per verb would swamp the log at scheduler rates
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        lifespan="off",
        # httptools with one socket write per reply (scheduler/api/coalesce.py; the verbs'
        # replies were two sends each) and bounded request heads (scheduler/api/head_guard.py).
        http=guarded(head_timeout_s),
        timeout_keep_alive=keep_alive_s,  # kube-scheduler reuses connections between pods
        **mtls,  # type: ignore[arg-type]
    )
    return uvicorn.Server(config)


@contextmanager
def serve_in_thread(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    tls_client_ca: Path | None = None,
    head_timeout_s: float = HEAD_TIMEOUT_S,
    keep_alive_s: int = 30,
) -> Iterator[str]:
    """Serve `app` on a background thread; yields the base URL; stops the server on exit."""
    sock = bind_socket(host, port)
    server = make_server(
        app,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_client_ca=tls_client_ca,
        head_timeout_s=head_timeout_s,
        keep_alive_s=keep_alive_s,
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    scheme = "https" if tls_cert else "http"
    bound = sock.getsockname()
    try:
        yield f"{scheme}://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
