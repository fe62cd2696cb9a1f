"""Per-source freshness: when a source last answered, and its last error (logged once)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from scheduler.telemetry.logonce import LogOnce

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """A source could not be read this time (timeout, HTTP 500, garbage); one line, no trace."""


@dataclass
class SourceStatus:
    name: str
    max_age_s: float
    last_ok_at: float | None = None
    last_error: str | None = None
    failures: int = 0

    def fresh(self, now: float) -> bool:
        return self.last_ok_at is not None and now - self.last_ok_at <= self.max_age_s


class Freshness:
    def __init__(self) -> None:
        self._status: dict[str, SourceStatus] = {}
        self._once = LogOnce(log)

    def status(self, name: str, max_age_s: float) -> SourceStatus:
        return self._status.setdefault(name, SourceStatus(name, max_age_s))

    def ok(self, name: str, max_age_s: float, now: float) -> None:
        st = self.status(name, max_age_s)
        if st.last_error is not None:
            log.info("telemetry source %s answers again", name)
        st.last_ok_at, st.last_error, st.failures = now, None, 0
        self._once.clear(name)

    def failed(self, name: str, max_age_s: float, error: str) -> None:
        st = self.status(name, max_age_s)
        st.last_error, st.failures = error, st.failures + 1
        self._once.warning(
            name,
            "telemetry source %s failed: %s (its data ages out; scheduling goes on without it)",
            name,
            error,
        )

    def all(self) -> list[SourceStatus]:
        return list(self._status.values())
