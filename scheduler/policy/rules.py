"""The policy's ground floor: health, product-matching and load-freshness rules, with their
named defaults written once.

Every other module of the policy (the capacity view, the fleet index, the plugins), telemetry
and the node agent read these rules from here. This module imports nothing of
`scheduler.policy` (an import-linter layers contract in pyproject.toml keeps it so): it reads
GPUs and nodes through the small structural Protocols below, which the frozen records of
`scheduler.policy.records` satisfy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol, overload

import numpy as np
import numpy.typing as npt

from packing.catalogue import GpuModel, get_model
from packing.errors import PackingError

# A GPU at or above this temperature takes no new pods (NVIDIA's slowdown threshold on H100 is
# about 87-90 C; the node agent flags it, the health filter explains it).
DEFAULT_MAX_TEMPERATURE_C = 87.0
# A load reading older than this is unknown, never idle: dcgm-exporter samples every 30 s and
# Prometheus scrapes every 60 s, plus slack.
DEFAULT_MAX_LOAD_AGE_S = 120.0
# XIDs that applications cause are not GPU faults (NVIDIA/k8s-device-plugin#1340; see
# reference/peers.md): 13, 31, 43, 45, 68, 109.
NON_FATAL_XIDS = frozenset({13, 31, 43, 45, 68, 109})
PRODUCT_LABEL = "nvidia.com/gpu.product"

Qos = Literal["latency", "batch"]


class HealthView(Protocol):
    """What the health rules read of one GPU's health record."""

    @property
    def xid_recent(self) -> tuple[int, ...]: ...
    @property
    def ecc_uncorrectable(self) -> int: ...
    @property
    def remap_failure(self) -> bool: ...
    @property
    def temperature_c(self) -> float | None: ...
    @property
    def over_temperature(self) -> bool: ...


class LoadView(Protocol):
    @property
    def utilization_pct(self) -> float | None: ...
    @property
    def memory_used_mib(self) -> int | None: ...
    @property
    def observed_at(self) -> float | None: ...


class GpuView(Protocol):
    @property
    def model(self) -> str: ...
    @property
    def memory_mib(self) -> int: ...
    @property
    def health(self) -> HealthView: ...
    @property
    def load(self) -> LoadView | None: ...


class NodeView(Protocol):
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def gpus(self) -> tuple[GpuView, ...]: ...


# ---- health ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthThresholds:
    """The health filter's settings (and the temperature the node agent flags GPUs at)."""

    max_temperature_c: float = DEFAULT_MAX_TEMPERATURE_C
    ignored_xids: frozenset[int] = field(default=NON_FATAL_XIDS)


def gpu_faulted(gpu: GpuView) -> bool:
    """A GPU that offers nothing to any pod: a hard fault (uncorrectable ECC errors, a failed row
    remap) or a condition telemetry flagged (a critical XID inside the window, over-temperature).
    The health filter explains these with `gpu_health_reasons`."""
    h = gpu.health
    return h.ecc_uncorrectable > 0 or h.remap_failure or bool(h.xid_recent) or h.over_temperature


def gpu_health_reasons(gpu: GpuView, th: HealthThresholds) -> tuple[str, ...]:
    """Why `gpu` must not be used; empty when it is healthy (or nothing is known)."""
    h, out = gpu.health, []
    xids = sorted({x for x in h.xid_recent if x not in th.ignored_xids})
    if xids:
        out.append(f"XID {', '.join(map(str, xids))} within the health window")
    if h.ecc_uncorrectable > 0:
        out.append(f"{h.ecc_uncorrectable} uncorrectable ECC error(s)")
    if h.remap_failure:
        out.append("row remap failure")
    hot = h.temperature_c is not None and h.temperature_c >= th.max_temperature_c
    if hot or h.over_temperature:
        temp = "?" if h.temperature_c is None else f"{h.temperature_c:g}"
        out.append(f"temperature {temp} C >= limit {th.max_temperature_c:g} C")
    return tuple(out)


# ---- product matching -----------------------------------------------------------------------


@lru_cache(maxsize=4096)  # the catalogue is fixed at import; unknown names are the slow case
def resolve_model(name: str) -> GpuModel | None:
    """The catalogue entry for a model name, or None when the catalogue does not know it."""
    try:
        return get_model(name)
    except PackingError:
        return None


@lru_cache(maxsize=4096)
def canonical(name: str) -> str:
    """One spelling per GPU model: the catalogue key when the catalogue knows the name (a GFD
    label, an NVML name and a key all map to it), else the name itself, stripped."""
    model = resolve_model(name)
    return model.key if model is not None else name.strip()


def node_products(node: NodeView) -> frozenset[str]:
    """Canonical model names on the node: from its GPUs, else its GFD product label."""
    names = {canonical(g.model) for g in node.gpus}
    label = node.labels.get(PRODUCT_LABEL)
    if not names and label:
        names.add(canonical(label))
    return frozenset(names)


# ---- load freshness -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSettings:
    """The load scorer's settings: how old a reading may be, and the QoS of unlabelled pods."""

    max_age_s: float = DEFAULT_MAX_LOAD_AGE_S
    default_qos: Qos = "latency"


# A reading stamped further ahead of our clock than this is not a reading: from a broken clock
# or a forged annotation, it would otherwise stay fresh for ever (the telemetry hub's bound).
FUTURE_SKEW_S = 300.0


@overload
def is_fresh(age_s: float, max_age_s: float) -> bool: ...
@overload
def is_fresh(age_s: npt.NDArray[np.float64], max_age_s: float) -> npt.NDArray[np.bool_]: ...
def is_fresh(age_s: Any, max_age_s: float) -> Any:
    """Whether a reading `age_s` old counts (elementwise for an array, as the batch path asks):
    at most `max_age_s` old and not from the future beyond clock skew (NaN: no)."""
    return (age_s >= -FUTURE_SKEW_S) & (age_s <= max_age_s)


def fresh_load(gpu: GpuView, now: float, max_age_s: float) -> float | None:
    """Load 0..1 of `gpu` if a reading at most `max_age_s` old exists, else None."""
    ld = gpu.load
    if ld is None or ld.observed_at is None or not is_fresh(now - ld.observed_at, max_age_s):
        return None
    parts = []
    if ld.utilization_pct is not None and ld.utilization_pct == ld.utilization_pct:
        parts.append(ld.utilization_pct / 100.0)
    if ld.memory_used_mib is not None and gpu.memory_mib > 0:
        parts.append(ld.memory_used_mib / gpu.memory_mib)
    if not parts:
        return None
    return min(1.0, max(0.0, max(parts)))
