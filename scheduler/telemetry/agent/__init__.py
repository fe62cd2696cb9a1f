"""The node agent process (`tessera agent`): NVML (real or replayed) -> `/metrics` and the
`tessera.io/gpus` node annotation. Nothing here runs in the extender."""

from scheduler.telemetry.agent.runner import Agent

__all__ = ["Agent"]
