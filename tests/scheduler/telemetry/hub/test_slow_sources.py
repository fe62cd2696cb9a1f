"""An exporter or Prometheus that answers slowly or without end, over a real socket. httpx's
timeout bounds each read, not the answer: a server sending a byte every 0.3 s held `fetch` (and
so the poller's refresh of every source) for as long as it went on, and an endless answer was
read whole into memory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from scheduler.telemetry.hub import sources
from scheduler.telemetry.hub.sources import PrometheusSource, ScrapeSource
from scheduler.telemetry.hub.staleness import SourceError
from tests.scheduler.telemetry.servers import QuietHandler, serving


@contextmanager
def dripping(pause_s: float, chunk: bytes, count: int) -> Iterator[str]:
    """A server answering 200 with `count` chunks of `chunk`, `pause_s` apart (no length)."""

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            try:
                self.send_response(200)
                self.end_headers()
                for _ in range(count):
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    time.sleep(pause_s)
            except self.HUNG_UP:
                pass

    with serving(Handler) as url:
        yield url


@pytest.mark.parametrize("kind", ["prometheus", "scrape"])
def test_a_dripping_answer_ends_at_the_deadline(kind: str) -> None:
    with dripping(0.2, b"#", 200) as url:  # 40 s of one byte every 0.2 s
        src = PrometheusSource(url, timeout_s=0.4) if kind == "prometheus" \
            else ScrapeSource([f"{url}/metrics"], timeout_s=0.4)  # fmt: skip
        t = time.monotonic()
        with pytest.raises(SourceError, match="not whole within 2 s"):
            src.fetch(1_000_000.0)
        assert time.monotonic() - t < 6
        src.close()


def test_an_endless_answer_is_refused_at_the_size_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_ANSWER_BYTES", 1 << 20)  # 1 MiB for the test's sake
    with dripping(0.0, b"[" * 65536, 1000) as url:  # 64 MiB, as fast as it goes
        src = PrometheusSource(url, timeout_s=5.0)
        with pytest.raises(SourceError, match="over 1048576 bytes"):
            src.fetch(1_000_000.0)
        src.close()
