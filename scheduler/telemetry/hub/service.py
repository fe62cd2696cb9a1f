"""Wiring for the extender process: build the hub from URLs and keep it refreshed.

The service (`tessera serve`) calls `build_hub(...)`, starts a `Poller` when the hub has
sources, and passes `hub.overlay` to `Extender(telemetry=...)`. With no source the hub still
applies the temperature limit to what the node annotations say; load scoring is then
allocation-only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from scheduler.policy.model import ClusterState
from scheduler.policy.rules import HealthThresholds, LoadSettings
from scheduler.telemetry.hub import TelemetryHub
from scheduler.telemetry.hub.settings import TelemetrySettings
from scheduler.telemetry.hub.sources import AnnotationSource, PrometheusSource, ScrapeSource, Source

NodesFn = Callable[[], Iterable[tuple[str, Mapping[str, str]]]]


def build_hub(
    settings: TelemetrySettings,
    *,
    prometheus_url: str = "",
    scrape_urls: Sequence[str] = (),
    nodes: NodesFn | None = None,
) -> TelemetryHub:
    sources: list[Source] = []
    if prometheus_url:
        sources.append(
            PrometheusSource(
                prometheus_url, max_age_s=settings.max_age_s, timeout_s=settings.timeout_s
            )
        )
    if scrape_urls:
        sources.append(
            ScrapeSource(scrape_urls, max_age_s=settings.max_age_s, timeout_s=settings.timeout_s)
        )
    if nodes is not None:
        sources.append(AnnotationSource(nodes))
    # Even with no source the hub folds the temperature limit into the annotation's readings.
    return TelemetryHub(sources, settings)


def plugin_args(settings: TelemetrySettings) -> dict[str, object]:
    """Settings for the health filter and the load scorer, by plugin name, for
    `registry.build_profile(args=...)`: the same thresholds the hub flags GPUs with."""
    return {
        "GpuHealth": HealthThresholds(settings.max_temperature_c, settings.ignored_xids),
        "GpuLoad": LoadSettings(max_age_s=settings.max_age_s),
    }


class Poller:
    """Refreshes the hub every `interval_s` on a daemon thread (a slow source delays only this)."""

    def __init__(
        self,
        hub: TelemetryHub,
        interval_s: float = 15.0,
        clock: Callable[[], float] = time.time,
        warm: Callable[[float], ClusterState] | None = None,
    ) -> None:
        self.hub, self.interval_s, self.clock = hub, interval_s, clock
        self._warm = warm  # e.g. store.snapshot: fold here, so requests find it cached
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tessera-telemetry")

    def start(self) -> Poller:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:  # refresh at once, then every interval until stopped
            self.hub.refresh(self.clock())
            if self._warm is not None:
                self.hub.overlay(self._warm(self.clock()))
            if self._stop.wait(self.interval_s):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def telemetry_gauges(
    hook: object, clock: Callable[[], float] = time.time
) -> dict[str, Callable[[], Mapping[str, float]]]:
    """Gauges for the extender's /metrics (FacadePort's `extra_gauges`) when `hook` (the
    Extender's `telemetry`) is a hub; none otherwise."""
    if not isinstance(hook, TelemetryHub):
        return {}
    hub = hook
    return {
        name: (lambda name=name: hub.gauges(clock()).get(name, {}))  # type: ignore[misc]
        for name in ("tessera_telemetry_source_up", "tessera_telemetry_source_age_seconds")
    }
