"""The extender's telemetry hub (`tessera serve`): sources (Prometheus, exporter scrapes, the
node annotation), staleness, merging, and folding live health and load into each snapshot.
Nothing here runs in the node agent."""

from scheduler.telemetry.hub.telemetry_hub import TelemetryHub

__all__ = ["TelemetryHub"]
