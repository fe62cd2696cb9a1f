"""`tessera serve` wires the telemetry sources its settings name: `prometheus_url` and
`scrape_urls` (node agents' /metrics scraped directly, against a real local HTTP server)."""

from __future__ import annotations

import pytest

from cli.serve import build_extender
from scheduler.settings import Settings, SettingsError, load_settings
from scheduler.state.store import ClusterStore
from scheduler.telemetry.hub import TelemetryHub
from tests.scheduler.telemetry.servers import serve


def test_scrape_urls_setting_reaches_the_hub(dcgm_text: str) -> None:
    with serve({"/metrics": (200, dcgm_text, 0.0)}) as url:
        ext = build_extender(ClusterStore(), Settings(scrape_urls=(f"{url}/metrics",)))
        hub = ext.telemetry
        assert isinstance(hub, TelemetryHub)
        assert [s.name for s in hub.sources] == ["scrape"]
        hub.refresh(1000.0)
        [status] = hub.statuses()
        assert status.last_ok_at == 1000.0  # the real exporter text was fetched and parsed


def test_scrape_urls_from_the_environment_and_bad_values() -> None:
    env = {"TESSERA_SCRAPE_URLS": "http://a:9400/metrics, http://b:9400/metrics"}
    assert load_settings(env=env).scrape_urls == ("http://a:9400/metrics", "http://b:9400/metrics")
    with pytest.raises(SettingsError, match="scrape_urls"):
        load_settings(env={"TESSERA_SCRAPE_URLS": "a:9400/metrics"})
