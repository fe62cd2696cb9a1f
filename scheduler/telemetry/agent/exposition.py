"""The agent's Prometheus `/metrics`: conventional names and base units, one collector.

Labels: node, gpu (index), uuid, model; MIG series add mig_profile, gpu_instance and start.
Fields NVML did not support are absent (no series), never exported as zero.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from scheduler.telemetry.readings import DeviceSample, NodeSample

_LABELS = ["node", "gpu", "uuid", "model"]

# (metric name, help, unit conversion from the DeviceSample field)
_GAUGES: list[tuple[str, str, str, float]] = [
    (
        "tessera_gpu_utilization_ratio",
        "Fraction of time a kernel ran (NVML utilization.gpu)",
        "utilization_pct",
        0.01,
    ),
    (
        "tessera_gpu_memory_utilization_ratio",
        "Memory-controller busy fraction (not occupancy)",
        "memory_util_pct",
        0.01,
    ),
    ("tessera_gpu_memory_used_bytes", "Framebuffer memory used", "memory_used_bytes", 1.0),
    ("tessera_gpu_memory_total_bytes", "Framebuffer memory total", "memory_total_bytes", 1.0),
    ("tessera_gpu_temperature_celsius", "GPU core temperature", "temperature_c", 1.0),
    ("tessera_gpu_power_watts", "Power draw (NVML 1 s average)", "power_w", 1.0),
    ("tessera_gpu_power_limit_watts", "Enforced power limit", "power_limit_w", 1.0),
    ("tessera_gpu_sm_clock_hertz", "SM clock", "sm_clock_mhz", 1e6),
    (
        "tessera_gpu_ecc_uncorrectable_errors",
        "Volatile uncorrectable ECC error count",
        "ecc_uncorrectable_volatile",
        1.0,
    ),
    ("tessera_gpu_remap_failure", "1 if row remapping failed", "remap_failure", 1.0),
    ("tessera_gpu_remap_pending", "1 if a row remap waits for a reset", "remap_pending", 1.0),
    ("tessera_gpu_mig_enabled", "1 if MIG mode is on", "mig_enabled", 1.0),
    ("tessera_gpu_processes", "Compute processes running", "process_count", 1.0),
]


class AgentCollector(Collector):
    """Renders the latest `NodeSample`; the agent loop swaps it in with `update`."""

    def __init__(self, node: str) -> None:
        self._node = node
        self._sample: NodeSample | None = None
        self._nvml_up = 0.0
        self._lock = threading.Lock()

    def update(self, sample: NodeSample | None, nvml_up: bool) -> None:
        with self._lock:
            if sample is not None:
                self._sample = sample
            self._nvml_up = 1.0 if nvml_up else 0.0

    def _labels(self, d: DeviceSample) -> list[str]:
        return [self._node, str(d.index), d.uuid, d.name]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            sample, up = self._sample, self._nvml_up
        fam = GaugeMetricFamily(
            "tessera_agent_nvml_up", "1 if the last NVML sweep succeeded", labels=["node"]
        )
        fam.add_metric([self._node], up)
        yield fam
        if sample is None:
            return
        fam = GaugeMetricFamily(
            "tessera_agent_sample_timestamp_seconds",
            "When the exported sample was taken (Unix time)",
            labels=["node"],
        )
        fam.add_metric([self._node], sample.taken_at)
        yield fam
        info = GaugeMetricFamily(
            "tessera_gpu_info",
            "GPU inventory (value is always 1)",
            labels=[*_LABELS, "driver_version"],
        )
        for d in sample.devices:
            info.add_metric([*self._labels(d), sample.driver_version], 1.0)
        yield info
        for name, help_, field, scale in _GAUGES:
            fam = GaugeMetricFamily(name, help_, labels=_LABELS)
            for d in sample.devices:
                value = getattr(d, field)
                if value is not None:
                    fam.add_metric(self._labels(d), float(value) * scale)
            yield fam
        yield from self._xid_and_mig(sample)

    def _xid_and_mig(self, sample: NodeSample) -> Iterator[Metric]:
        recent = GaugeMetricFamily(
            "tessera_gpu_xid_recent_events",
            "XID critical events within the agent's window",
            labels=_LABELS,
        )
        last = GaugeMetricFamily(
            "tessera_gpu_xid_last", "Last XID code seen in the window", labels=_LABELS
        )
        codes = GaugeMetricFamily(
            "tessera_gpu_xid_events",
            "XID critical events within the agent's window, per XID code",
            labels=[*_LABELS, "xid"],
        )
        mig = GaugeMetricFamily(
            "tessera_gpu_mig_instance_in_use",
            "1 if a process runs on the MIG GPU instance",
            labels=[*_LABELS, "mig_profile", "gpu_instance", "start"],
        )
        for d in sample.devices:
            mine = [x for x in sample.xids if x.gpu_uuid in ("", d.uuid)]
            recent.add_metric(self._labels(d), float(len(mine)))
            if mine:
                last.add_metric(self._labels(d), float(mine[-1].xid))
            for code in sorted({x.xid for x in mine}):
                codes.add_metric(
                    [*self._labels(d), str(code)], float(sum(1 for x in mine if x.xid == code))
                )
            for m in d.mig_instances:
                mig.add_metric(
                    [*self._labels(d), m.profile, str(m.gi_id), str(m.start)],
                    1.0 if m.in_use else 0.0,
                )
        yield recent
        yield last
        yield codes
        yield mig


def make_registry(collector: AgentCollector) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    return reg
