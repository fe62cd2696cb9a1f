"""The versioned node annotation `tessera.io/gpus` (schema v1, DESIGN.md): write and read.

Writing: `encode` renders a `NodeSample`; `fingerprint` is the part whose change justifies an
apiserver patch (inventory and health, not the ever-moving load). Reading: `decode` validates
strictly and raises `AnnotationError` naming the bad field, so a garbage annotation marks the
source stale instead of feeding nonsense to the policy.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from scheduler import safejson
from scheduler.policy.rules import DEFAULT_MAX_TEMPERATURE_C, NON_FATAL_XIDS
from scheduler.telemetry.readings import GpuReading, NodeSample, XidEvent

ANNOTATION = "tessera.io/gpus"
VERSION = 1
MIB = 1 << 20


class AnnotationError(ValueError):
    pass


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(v: float | None) -> int | None:
    return None if v is None else int(round(v))


def to_document(
    sample: NodeSample,
    hot_c: float = DEFAULT_MAX_TEMPERATURE_C,
    ignored_xids: frozenset[int] = NON_FATAL_XIDS,
) -> dict[str, Any]:
    """Schema v1. `xid_recent` lists only critical XIDs (application-caused ones are dropped)."""
    gpus = []
    for d in sample.devices:
        xids = [
            x.xid for x in sample.xids if x.gpu_uuid in ("", d.uuid) and x.xid not in ignored_xids
        ]
        hot = d.temperature_c is not None and d.temperature_c >= hot_c
        gpus.append(
            {
                "index": d.index,
                "uuid": d.uuid,
                "model": d.name,
                "memory_mib": None if d.memory_total_bytes is None else d.memory_total_bytes // MIB,
                "mig": {
                    "enabled": bool(d.mig_enabled),
                    "instances": [
                        {"profile": m.profile, "start": m.start, "in_use": m.in_use}
                        for m in d.mig_instances
                    ],
                    **(
                        {"placements": {p: list(s) for p, s in d.mig_placements}}
                        if d.mig_placements
                        else {}
                    ),
                },
                "health": {
                    "xid_recent": xids,
                    "ecc_uncorrectable": d.ecc_uncorrectable_volatile or 0,
                    "remap_failure": bool(d.remap_failure),
                    "temperature_c": _int(d.temperature_c),
                    "over_temperature": hot,
                },
                "load": {
                    "utilization_pct": _int(d.utilization_pct),
                    "memory_used_mib": None
                    if d.memory_used_bytes is None
                    else d.memory_used_bytes // MIB,
                    "power_w": _int(d.power_w),
                },
            }
        )
    return {"version": VERSION, "updated": _iso(sample.taken_at), "gpus": gpus}


def encode(sample: NodeSample, hot_c: float = DEFAULT_MAX_TEMPERATURE_C) -> str:
    return json.dumps(to_document(sample, hot_c), separators=(",", ":"), sort_keys=True)


def fingerprint(doc: dict[str, Any]) -> str:
    """Inventory + health only: temperature counts through its over-temperature flag."""
    core = [{k: v for k, v in g.items() if k != "load"} for g in doc["gpus"]]
    for g in core:
        g["health"] = {k: v for k, v in g["health"].items() if k != "temperature_c"}
    return json.dumps(core, sort_keys=True)


def _need(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise AnnotationError(f"{ANNOTATION}: {where} lacks '{key}'")
    v = obj[key]
    if not isinstance(v, kind) or isinstance(v, bool) and kind in (int, float, (int, float)):
        raise AnnotationError(f"{ANNOTATION}: {where}.{key} has bad value {v!r}")
    return v


def _num(obj: dict[str, Any], key: str, where: str) -> float | None:
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or v < 0:
        raise AnnotationError(f"{ANNOTATION}: {where}.{key} has bad value {v!r}")
    return float(v)


def decode(node: str, text: str) -> list[GpuReading]:
    try:
        doc = safejson.loads(text, safejson.ANNOTATION, ANNOTATION)
    except ValueError as exc:
        raise AnnotationError(f"{ANNOTATION} on node {node} is not JSON: {exc}") from None
    version = _need(doc, "version", int, "document")
    if version != VERSION:
        raise AnnotationError(f"{ANNOTATION} on node {node}: unsupported version {version}")
    try:
        at = datetime.strptime(_need(doc, "updated", str, "document"), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise AnnotationError(f"{ANNOTATION} on node {node}: bad 'updated' timestamp") from None
    observed = at.replace(tzinfo=UTC).timestamp()
    out = []
    for k, g in enumerate(_need(doc, "gpus", list, "document")):
        where = f"gpus[{k}]"
        health = _need(g, "health", dict, where)
        load = g.get("load") or {}
        xids = _need(health, "xid_recent", list, f"{where}.health")
        if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in xids):
            raise AnnotationError(f"{ANNOTATION}: {where}.health.xid_recent has bad value {xids!r}")
        uuid = _need(g, "uuid", str, where)
        out.append(
            GpuReading(
                node=node,
                index=_need(g, "index", int, where),
                observed_at=observed,
                source="annotation",
                uuid=uuid,
                utilization_pct=_num(load, "utilization_pct", f"{where}.load"),
                memory_used_mib=_num(load, "memory_used_mib", f"{where}.load"),
                memory_total_mib=_num(g, "memory_mib", where),
                power_w=_num(load, "power_w", f"{where}.load"),
                temperature_c=_num(health, "temperature_c", f"{where}.health"),
                xid_recent=tuple(XidEvent(xid=x, at=observed, gpu_uuid=uuid) for x in xids),
                ecc_uncorrectable=_int(_num(health, "ecc_uncorrectable", f"{where}.health")),
                remap_failure=bool(health.get("remap_failure", False)),
            )
        )
    return out
