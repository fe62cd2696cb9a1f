"""Sources against real local HTTP servers: good text, HTTP 500, timeouts, garbage."""

from __future__ import annotations

import logging

import pytest

from scheduler.telemetry.hub.sources import AnnotationSource, PrometheusSource, ScrapeSource
from scheduler.telemetry.hub.staleness import SourceError
from tests.scheduler.telemetry.conftest import A800_HOST
from tests.scheduler.telemetry.servers import serve


def test_scrape_of_the_real_sample_skips_bad_lines_once(
    dcgm_text: str, caplog: pytest.LogCaptureFixture
) -> None:
    with serve({"/metrics": (200, dcgm_text, 0.0)}) as url, caplog.at_level(logging.WARNING):
        src = ScrapeSource([f"{url}/metrics"])
        first = src.fetch(100.0)
        second = src.fetch(200.0)
    assert len(first) == 8 and {r.node for r in first} == {A800_HOST}
    assert all(r.observed_at == 200.0 for r in second)  # stamped with the fetch time
    assert sum("unparseable" in m for m in caplog.messages) == 1


@pytest.mark.parametrize(
    ("route", "needle"),
    [((500, "boom", 0.0), "HTTP 500"), ((200, "x", 1.0), "Timeout")],
)
def test_scrape_error_or_timeout_is_source_error(route: tuple, needle: str) -> None:
    with serve({"/metrics": route}) as url:
        src = ScrapeSource([f"{url}/metrics"], timeout_s=0.2)
        with pytest.raises(SourceError, match=needle):
            src.fetch(1.0)


def test_scrape_keeps_the_exporters_that_answer(dcgm_text: str) -> None:
    with serve({"/ok": (200, dcgm_text, 0.0), "/bad": (500, "", 0.0)}) as url:
        got = ScrapeSource([f"{url}/bad", f"{url}/ok"]).fetch(1.0)
    assert len(got) == 8


@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (500, '{"status":"error"}', "HTTP 500"),
        (200, "not json", "unexpected answer"),
        (200, '{"status":"error","errorType":"bad_data","error":"parse error"}', "bad_data"),
        (200, '{"status":"success","data":{"result":[{"metric":{}}]}}', "unexpected answer"),
    ],
)
def test_prometheus_bad_answers_are_source_errors(status: int, body: str, needle: str) -> None:
    with (
        serve({"/api/v1/query": (status, body, 0.0)}) as url,
        pytest.raises(SourceError, match=needle),
    ):
        PrometheusSource(url).fetch(1.0)


def test_prometheus_timeout_is_a_source_error() -> None:
    with (
        serve({"/api/v1/query": (200, "{}", 1.0)}) as url,
        pytest.raises(SourceError, match="Timeout"),
    ):
        PrometheusSource(url, timeout_s=0.2).fetch(1.0)


def test_annotation_source_skips_garbage_nodes_once(caplog: pytest.LogCaptureFixture) -> None:
    good = (
        '{"version":1,"updated":"2026-11-26T18:00:00Z","gpus":[{"index":0,"uuid":"U",'
        '"health":{"xid_recent":[79]},"load":{"utilization_pct":12}}]}'
    )
    nodes = [("a", {"tessera.io/gpus": good}), ("b", {"tessera.io/gpus": "]]garbage"}), ("c", {})]
    src = AnnotationSource(lambda: nodes)
    with caplog.at_level(logging.WARNING):
        got = src.fetch(0.0)
        src.fetch(0.0)
    assert [(r.node, r.utilization_pct, [x.xid for x in r.xid_recent]) for r in got] == [
        ("a", 12.0, [79])
    ]
    assert sum("ignoring node b" in m for m in caplog.messages) == 1
