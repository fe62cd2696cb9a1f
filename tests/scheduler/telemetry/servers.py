"""Small real HTTP servers for the source tests: serve text, fail with 500, or hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's handler: no access log on stderr, and a client that hung up mid-answer
    (the timeouts under test do) is no error."""

    HUNG_UP = (BrokenPipeError, ConnectionResetError)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(routes: dict[str, tuple[int, str, float]]) -> Iterator[str]:
    """routes: path -> (status, body, delay_s). Yields the base URL on a free loopback port."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status, body, delay = routes.get(self.path.split("?")[0], (404, "not found", 0.0))
            if delay:
                time.sleep(delay)
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except self.HUNG_UP:
                pass

    with serving(Handler) as url:
        yield url


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` on a threaded server on a free loopback port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
