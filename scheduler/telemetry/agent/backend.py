"""What the agent reads GPUs through: a Protocol; real (pynvml) and replay implementations."""

from __future__ import annotations

from typing import Protocol

from scheduler.telemetry.readings import NodeSample


class NvmlUnavailable(RuntimeError):
    """NVML is absent or failed to initialise; the message says which and why."""


class NvmlBackend(Protocol):
    name: str

    def start(self) -> None:
        """Initialise; raise `NvmlUnavailable` with a one-line reason on failure."""

    def sample(self, now: float) -> NodeSample:
        """One sweep over every GPU. Unsupported fields are None, never an exception."""

    def close(self) -> None:
        """Release the library; safe to call twice."""
