"""Telemetry thresholds and windows in one typed object (the service settings embed it)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from scheduler.policy.rules import (
    DEFAULT_MAX_LOAD_AGE_S,
    DEFAULT_MAX_TEMPERATURE_C,
    NON_FATAL_XIDS,
)


@dataclass(frozen=True)
class TelemetrySettings:
    max_age_s: float = DEFAULT_MAX_LOAD_AGE_S  # a reading older than this is unknown
    xid_window_s: float = 3600.0  # an XID keeps a GPU out this long
    max_temperature_c: float = DEFAULT_MAX_TEMPERATURE_C
    ignored_xids: frozenset[int] = field(default=NON_FATAL_XIDS)
    lag_s: float = 90.0  # a just-placed pod counts as load until a reading this much newer
    recent_ttl_s: float = 300.0  # ... and never longer than this (Trimaran cleans every 5 min)
    timeout_s: float = 2.0  # per HTTP request to Prometheus or an exporter
    poll_s: float = 15.0  # how often the extender polls its sources (keep well under max_age_s)

    @classmethod
    def from_thresholds(cls, values: Mapping[str, float]) -> TelemetrySettings:
        """From the service settings' `thresholds` map; names are this class's fields, plus
        `temperature_c` for `max_temperature_c`. Unknown names or bad numbers raise ValueError."""
        known = {f.name for f in dataclasses.fields(cls)} - {"ignored_xids"}
        out: dict[str, float] = {}
        for key, value in values.items():
            name = "max_temperature_c" if key == "temperature_c" else key
            if name not in known:
                raise ValueError(f"thresholds.{key}: unknown; known: {', '.join(sorted(known))}")
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value < math.inf  # poll_s infinity: OverflowError in the poller's wait
            ):
                raise ValueError(f"thresholds.{key}: {value!r} must be a finite number > 0")
            out[name] = float(value)
        return cls(**out)  # type: ignore[arg-type]
