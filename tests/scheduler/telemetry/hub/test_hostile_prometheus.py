"""A Prometheus (or anything at its URL) answering hostile JSON (round 10): the poller must go
on, the source is marked down with a one-line reason, and a later correct answer is read.
Over a real HTTP server (`tests.scheduler.telemetry.servers`) and the real source and hub."""

from __future__ import annotations

import json

import pytest

from scheduler.telemetry.hub import TelemetryHub
from scheduler.telemetry.hub.sources import PrometheusSource
from tests.scheduler.telemetry.servers import serve

NOW = 1_000_000.0
GOOD = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {"__name__": "DCGM_FI_DEV_GPU_UTIL", "Hostname": "a", "gpu": "0"},
     "values": [[NOW - 1, "37"]]}]}})  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,  # json.loads: RecursionError, not a ValueError
        '{"status": "success", "data": {"result": [' + "[" * 5000 + "]" * 5000 + "]}}",
        '{"status": "success", "data": {"result": [{"metric": {"__name__": "x"}, '
        '"values": [[1, ' + "[" * 3000 + "]" * 3000 + "]]}]}}",
    ],
    ids=["deep", "deep-result", "deep-value"],
)
def test_a_deep_answer_marks_the_source_down_and_the_next_answer_is_read(body: str) -> None:
    routes = {"/api/v1/query": (200, body, 0.0)}
    with serve(routes) as url:
        src = PrometheusSource(url, timeout_s=5.0)
        hub = TelemetryHub([src])
        hub.refresh(NOW)  # was: RecursionError out of refresh, ending the poller thread
        up = hub.gauges(NOW)["tessera_telemetry_source_up"]
        assert up == {"prometheus": 0.0}
        routes["/api/v1/query"] = (200, GOOD, 0.0)
        hub.refresh(NOW)
        assert hub.gauges(NOW)["tessera_telemetry_source_up"] == {"prometheus": 1.0}
        src.close()


class BrokenSource:
    """A source with a defect (stand-in): raises something other than `SourceError`."""

    name, max_age_s = "broken", 60.0

    def fetch(self, now: float) -> list:
        raise IndexError("tuple index out of range")


def test_a_source_that_raises_anything_is_down_and_the_others_still_refresh() -> None:
    """Any exception but SourceError left refresh, ending the poller thread for every source
    (round 9 fixed one such cause, int('²'), not the class)."""
    with serve({"/api/v1/query": (200, GOOD, 0.0)}) as url:
        good = PrometheusSource(url, timeout_s=5.0)
        hub = TelemetryHub([BrokenSource(), good])  # type: ignore[list-item]
        hub.refresh(NOW)
        up = hub.gauges(NOW)["tessera_telemetry_source_up"]
        assert up == {"broken": 0.0, "prometheus": 1.0}
        why = next(s.last_error for s in hub.statuses() if s.name == "broken")
        assert why == "internal error: IndexError: tuple index out of range"
        good.close()
