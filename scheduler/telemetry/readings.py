"""Plain readings passed between the telemetry pieces (no I/O here).

Agent side: `DeviceSample` is one NVML read of one GPU; every field the driver may refuse is
optional (None = not supported / not read), never a made-up zero.
Extender side: `GpuReading` is what a source knows about one (node, gpu index) at `observed_at`
(seconds since the epoch); `None` fields are unknown to that source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MigInstanceSample:
    profile: str  # e.g. "3g.40gb" (NVML's "MIG " prefix stripped)
    start: int  # first memory slice
    gi_id: int
    in_use: bool  # a compute process runs on it


@dataclass(frozen=True)
class XidEvent:
    xid: int
    at: float  # seconds since the epoch
    gpu_uuid: str = ""


@dataclass(frozen=True)
class DeviceSample:
    index: int
    uuid: str
    name: str
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None
    utilization_pct: float | None = None
    memory_util_pct: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: float | None = None
    ecc_uncorrectable_volatile: int | None = None
    remap_pending: bool | None = None
    remap_failure: bool | None = None
    mig_enabled: bool | None = None
    mig_instances: tuple[MigInstanceSample, ...] = ()
    process_count: int | None = None
    # Driver-reported starts per MIG profile (empty when the driver will not say: unprivileged,
    # no MIG, or a wrapper whose placements call fails); lets operators check the catalogue.
    mig_placements: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class NodeSample:
    """One sweep over every GPU of the node."""

    taken_at: float
    devices: tuple[DeviceSample, ...]
    xids: tuple[XidEvent, ...] = ()  # XID events seen since the agent started (bounded window)
    driver_version: str = ""


@dataclass(frozen=True)
class GpuReading:
    """What one source says about one GPU; merged by `hub.TelemetryHub`."""

    node: str
    index: int
    observed_at: float
    source: str
    uuid: str = ""
    utilization_pct: float | None = None
    memory_used_mib: float | None = None
    memory_total_mib: float | None = None
    power_w: float | None = None
    temperature_c: float | None = None
    xid_recent: tuple[XidEvent, ...] = ()
    ecc_uncorrectable: int | None = None
    remap_failure: bool | None = None
