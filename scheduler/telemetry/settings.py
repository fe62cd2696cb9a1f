"""Telemetry thresholds and windows in one typed object (the service settings embed it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.policy.plugins.health import NON_FATAL_XIDS


@dataclass(frozen=True)
class TelemetrySettings:
    max_age_s: float = 120.0  # a reading older than this is unknown (exporter 30 s + scrape 60 s)
    xid_window_s: float = 3600.0  # an XID keeps a GPU out this long
    max_temperature_c: float = 87.0
    ignored_xids: frozenset[int] = field(default=NON_FATAL_XIDS)
    lag_s: float = 90.0  # a just-placed pod counts as load until a reading this much newer
    recent_ttl_s: float = 300.0  # ... and never longer than this (Trimaran cleans every 5 min)
    timeout_s: float = 2.0  # per HTTP request to Prometheus or an exporter
