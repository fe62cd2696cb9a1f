"""Turn metric samples (dcgm-exporter's DCGM_FI_* or the agent's tessera_gpu_*) into per-GPU
readings, from either the Prometheus HTTP API or a direct scrape.

Rules from reference/telemetry.md section 5:
- host label: `node` (agent, or Prometheus relabelling), else `Hostname` or `hostname`;
- MIG GPUs have no DCGM_FI_DEV_GPU_UTIL: utilisation is DCGM_FI_PROF_GR_ENGINE_ACTIVE per GPU
  instance, weighted by the instance's compute slices (e.g. "2g.20gb" = 2 of the model's 7);
- FB_USED/FB_FREE are per instance on MIG GPUs (summed), device values (temperature, power,
  clocks) repeat per instance (taken once per (host, gpu), never summed);
- NaN, negative, or DCGM "blank" sentinels (>= 0x7FFFFFFFFFFFFFF0) are unknown, not values.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from packing.catalogue import get_model
from packing.errors import PackingError
from scheduler.telemetry.hub.textparse import Sample
from scheduler.telemetry.logonce import LogOnce
from scheduler.telemetry.readings import GpuReading, XidEvent

log = logging.getLogger(__name__)
_once = LogOnce(log)
DCGM_BLANK = float(0x7FFFFFFFFFFFFFF0)
HOST_LABELS = ("node", "Hostname", "hostname")

# Device-level fields: one value per (host, gpu) even when repeated per GPU instance.
_DEVICE = {
    "DCGM_FI_DEV_GPU_UTIL": ("util", 1.0),
    "DCGM_FI_DEV_GPU_TEMP": ("temp", 1.0),
    "DCGM_FI_DEV_POWER_USAGE": ("power", 1.0),
    "DCGM_FI_DEV_XID_ERRORS": ("xid", 1.0),
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": ("remap", 1.0),
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": ("ecc", 1.0),
    "tessera_gpu_utilization_ratio": ("util", 100.0),
    "tessera_gpu_temperature_celsius": ("temp", 1.0),
    "tessera_gpu_power_watts": ("power", 1.0),
    "tessera_gpu_xid_last": ("xid", 1.0),
    "tessera_gpu_remap_failure": ("remap", 1.0),
    "tessera_gpu_ecc_uncorrectable_errors": ("ecc", 1.0),
    "tessera_gpu_memory_used_bytes": ("fb_used", 1.0 / (1 << 20)),
    "tessera_gpu_memory_total_bytes": ("fb_total", 1.0 / (1 << 20)),
}
# Per-instance fields on MIG GPUs (summed over instances), device values otherwise.
_PER_INSTANCE = {"DCGM_FI_DEV_FB_USED": "fb_used", "DCGM_FI_DEV_FB_FREE": "fb_free"}
GR_ACTIVE = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
XID_CODES = "tessera_gpu_xid_events"  # one series per XID code seen in the agent's window
METRIC_NAMES = (*_DEVICE, *_PER_INSTANCE, GR_ACTIVE, XID_CODES)


@dataclass
class _Acc:
    t: float = 0.0
    uuid: str = ""
    model: str = ""
    dev: dict[str, float] = field(default_factory=dict)
    inst: dict[str, dict[str, float]] = field(default_factory=dict)  # field -> gi -> value
    gr: dict[str, tuple[str, float]] = field(default_factory=dict)  # gi -> (profile, ratio)
    xids: set[int] = field(default_factory=set)


def host_of(labels: dict[str, str]) -> str | None:
    for key in HOST_LABELS:
        if labels.get(key):
            return labels[key]
    return None


def _number(label: str) -> bool:
    """A label `int()` reads: ASCII digits, a few of them. ('²'.isdigit() is true and
    int('²') raises: such a label once ended the telemetry poller thread.)"""
    return label.isascii() and label.isdigit() and len(label) <= 6


def _good(s: Sample, where: str) -> bool:
    v = s.value
    if math.isnan(v) or math.isinf(v) or v < 0 or v >= DCGM_BLANK:
        _once.warning(
            f"value/{where}/{s.name}",
            "ignoring bad value %r of %s on %s (unknown)",
            v,
            s.name,
            where,
        )
        return False
    return True


def _slices(profile: str, model: str) -> tuple[int, int] | None:
    """(compute slices of the instance, of the whole GPU), or None for an unknown profile."""
    try:
        m = get_model(model)
        return m.profile(profile).compute_slices, m.compute_slices
    except PackingError:
        pass
    head = profile.split("g.", 1)[0]
    if _number(head) and "." in profile:  # "<n>g.<mem>gb[...]": the name states its slices
        return int(head), 7
    return None


def readings(samples: Iterable[tuple[Sample, float]], source: str) -> list[GpuReading]:
    """(sample, observed_at) pairs -> one reading per (host, gpu index)."""
    acc: dict[tuple[str, int], _Acc] = {}
    for s, t in samples:
        if s.name not in METRIC_NAMES:
            continue
        host, gpu = host_of(s.labels), s.labels.get("gpu", "")
        if host is None or not _number(gpu):
            _once.warning(
                f"labels/{source}/{s.name}",
                "%s sample without host or gpu label skipped (labels %s)",
                s.name,
                sorted(s.labels),
            )
            continue
        if not _good(s, f"{host}/gpu{gpu}"):
            continue
        a = acc.setdefault((host, int(gpu)), _Acc())
        a.t = max(a.t, t)
        a.uuid = a.uuid or s.labels.get("UUID") or s.labels.get("uuid", "")
        a.model = a.model or s.labels.get("modelName") or s.labels.get("model", "")
        gi, prof = s.labels.get("GPU_I_ID"), s.labels.get("GPU_I_PROFILE")
        if s.name == XID_CODES:
            code = s.labels.get("xid", "")
            if _number(code) and s.value > 0:
                a.xids.add(int(code))
        elif s.name == GR_ACTIVE:
            if gi is not None and prof is not None:
                a.gr[gi] = (prof, s.value / 100.0 if s.value > 1.0 else s.value)
            else:
                a.dev.setdefault("gr", s.value / 100.0 if s.value > 1.0 else s.value)
        elif s.name in _PER_INSTANCE:
            a.inst.setdefault(_PER_INSTANCE[s.name], {})[gi or ""] = s.value
        else:
            key, scale = _DEVICE[s.name]
            a.dev.setdefault(key, s.value * scale)  # first value wins: repeats are not summed
    return [_reading(host, gpu, a, source) for (host, gpu), a in sorted(acc.items())]


def _mig_util(host: str, gpu: int, a: _Acc) -> float | None:
    used, total = 0.0, None
    for gi, (prof, ratio) in sorted(a.gr.items()):
        sl = _slices(prof, a.model)
        if sl is None:
            _once.warning(
                f"profile/{host}/{gpu}/{prof}",
                "unknown MIG profile %r on %s GPU %d (GPU_I_ID %s): its activity is ignored",
                prof,
                host,
                gpu,
                gi,
            )
            continue
        used += ratio * sl[0]
        total = sl[1]
    return None if total is None else min(100.0, 100.0 * used / total)


def _reading(host: str, gpu: int, a: _Acc, source: str) -> GpuReading:
    util = a.dev.get("util")
    if util is None and a.gr:
        util = _mig_util(host, gpu, a)
    elif util is None and "gr" in a.dev:
        util = 100.0 * a.dev["gr"]
    fb_used = a.dev.get("fb_used")
    if fb_used is None and "fb_used" in a.inst:
        fb_used = sum(a.inst["fb_used"].values())
    total = a.dev.get("fb_total")
    if total is None and "fb_used" in a.inst and "fb_free" in a.inst:
        total = sum(a.inst["fb_used"].values()) + sum(a.inst["fb_free"].values())
    xids = a.xids | ({int(a.dev["xid"])} if a.dev.get("xid", 0) > 0 else set())
    return GpuReading(
        node=host,
        index=gpu,
        observed_at=a.t,
        source=source,
        uuid=a.uuid,
        utilization_pct=util,
        memory_used_mib=fb_used,
        memory_total_mib=total,
        power_w=a.dev.get("power"),
        temperature_c=a.dev.get("temp"),
        xid_recent=tuple(XidEvent(xid=x, at=a.t, gpu_uuid=a.uuid) for x in sorted(xids)),
        ecc_uncorrectable=None if "ecc" not in a.dev else int(a.dev["ecc"]),
        remap_failure=None if "remap" not in a.dev else a.dev["remap"] > 0,
    )
