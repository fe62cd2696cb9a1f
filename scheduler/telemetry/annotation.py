"""The one codec of the node annotation `tessera.io/gpus`, schema v1 (DESIGN.md).

The node agent writes it (`encode` renders a `NodeSample`; `fingerprint` is the part whose
change justifies an apiserver patch: inventory and health, not the ever-moving load). Every
reader parses it here (`parse` -> `GpusDocument`): the extender's node parser
(`scheduler.state.nodes`) and the hub's `AnnotationSource` (`decode` -> readings). One set of
required and optional fields, checked once:

- required: `version` (1), `gpus` (list), and per GPU `index` (int >= 0, unique);
- optional, typed when present (the agent always writes them all): `updated` (ISO-8601 time
  of the readings; unreadable counts as absent), per GPU `uuid` (string), `model` (non-empty
  string), `memory_mib` (int >= 0 or null), `mig` (absent: MIG off) with `enabled`,
  `instances` (`profile`, `start`, `in_use`) and `placements`; `health` with `xid_recent`
  (list of ints >= 0), `ecc_uncorrectable` (0), `remap_failure` (false), `temperature_c`
  (number >= 0) and `over_temperature` (false); `load` (absent: unknown) with
  `utilization_pct`, `memory_used_mib`, `power_w`, each a number >= 0 or null.

What each reader needs beyond that is said where it reads: the extender packs a GPU only with a
`model` and a `memory_mib` (`scheduler.state.nodes`); the hub uses a document only with an
`updated` time and a `health` block per GPU (`decode`).

A bad document raises `AnnotationError` naming every bad field of the first bad GPU, so a
garbage annotation marks the source stale (hub) or falls back to GFD labels (extender) instead
of feeding nonsense to the policy. The JSON itself is read by `read_json` only, through the
size- and depth-limited decoder `scheduler.safejson`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from packing.errors import echo
from scheduler import safejson
from scheduler.policy.rules import DEFAULT_MAX_TEMPERATURE_C, NON_FATAL_XIDS
from scheduler.telemetry.readings import GpuReading, NodeSample, XidEvent

ANNOTATION = "tessera.io/gpus"
VERSION = 1
MIB = 1 << 20


# Integer fields (GPU index, MIG start, memory MiB, ECC count) stay far below this; a larger one
# is garbage, and would overflow the int64 columns of the policy's fleet index.
MAX_INT = 2**31 - 1


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


class AnnotationJsonError(AnnotationError):
    """The text is not JSON at all (or is too large or too deep to read)."""


def read_json(text: str) -> Any:
    """The one JSON decode of this annotation (limits: `safejson.ANNOTATION`)."""
    try:
        return safejson.loads(text, safejson.ANNOTATION, ANNOTATION)
    except safejson.JsonLimitError as exc:
        raise AnnotationJsonError(str(exc)) from None


@dataclass(frozen=True)
class MigEntry:
    profile: str
    start: int
    in_use: bool = False


@dataclass(frozen=True)
class HealthEntry:
    xid_recent: tuple[int, ...] = ()
    ecc_uncorrectable: int = 0
    remap_failure: bool = False
    temperature_c: float | None = None
    over_temperature: bool = False


@dataclass(frozen=True)
class LoadEntry:
    utilization_pct: float | None = None
    memory_used_mib: float | None = None
    power_w: float | None = None


@dataclass(frozen=True)
class GpuEntry:
    index: int
    uuid: str = ""
    model: str | None = None
    memory_mib: int | None = None
    health: HealthEntry | None = None  # None: no `health` block
    mig_enabled: bool = False
    instances: tuple[MigEntry, ...] = ()
    load: LoadEntry | None = None


@dataclass(frozen=True)
class GpusDocument:
    updated: float | None  # epoch seconds; None: absent or unreadable
    gpus: tuple[GpuEntry, ...] = field(default_factory=tuple)


class _Fields:
    """Collects every bad field of one object, so one error names them all."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.bad: list[str] = []

    def obj(self, d: Any, key: str, *, need: bool) -> dict[str, Any] | None:
        v = d.get(key) if isinstance(d, dict) else None
        if v is None:
            if need:
                self.bad.append(f"{self.where} lacks '{key}'")
            return None
        if not isinstance(v, dict):
            self.bad.append(f"{self.where}.{key} must be an object")
            return None
        return v

    def int(self, d: dict[str, Any], key: str, where: str, *, need: bool, default: int = 0,
            null: bool = False) -> int | None:  # fmt: skip
        if key not in d or (d[key] is None and null):
            if need and key not in d:
                self.bad.append(f"{where}.{key} must be an integer >= 0, got None")
            return None if null or need else default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_INT:
            self.bad.append(f"{where}.{key} must be an integer 0..{MAX_INT}, got {echo(v, 40)}")
            return default
        return v

    def num(self, d: dict[str, Any], key: str, where: str) -> float | None:
        v = d.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf:
            self.bad.append(f"{where}.{key} has bad value {echo(v, 40)}")
            return None
        return float(v)

    def raise_if_bad(self) -> None:
        if self.bad:
            raise AnnotationError(f"{ANNOTATION}: {'; '.join(self.bad)}")


def parse_time(text: object) -> float | None:
    """ISO-8601 (`2026-11-26T18:00:00Z`, offsets and fractions too) -> epoch seconds."""
    if not isinstance(text, str) or not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def parse(text: str) -> GpusDocument:
    """The annotation -> `GpusDocument`; `AnnotationError` names what is wrong."""
    doc = read_json(text)
    if not isinstance(doc, dict):
        raise AnnotationError(f"{ANNOTATION} must be a JSON object")
    if doc.get("version") != VERSION:
        raise AnnotationError(f"{ANNOTATION}: unsupported version {echo(doc.get('version'), 40)}")
    updated = parse_time(doc.get("updated"))
    raw = doc.get("gpus")
    if not isinstance(raw, list):
        raise AnnotationError(f"{ANNOTATION}: gpus must be a list")
    gpus = tuple(_gpu(item, f"gpus[{k}]") for k, item in enumerate(raw))
    if len({g.index for g in gpus}) != len(gpus):
        raise AnnotationError(f"{ANNOTATION}: GPU indices repeat")
    return GpusDocument(updated, gpus)


def _gpu(g: Any, where: str) -> GpuEntry:
    f = _Fields(where)
    if not isinstance(g, dict):
        raise AnnotationError(f"{ANNOTATION}: {where} must be an object")
    index = f.int(g, "index", where, need=True)
    uuid = g.get("uuid", "")
    if not isinstance(uuid, str):
        f.bad.append(f"{where}.uuid must be a string, got {echo(uuid, 40)}")
    model = g.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        f.bad.append(f"{where}.model must be a non-empty string")
    memory = f.int(g, "memory_mib", where, need=False, null=True)
    health = _health(f, f.obj(g, "health", need=False), f"{where}.health")
    mig = f.obj(g, "mig", need=False) or {}
    listed = mig.get("instances") or []
    if not isinstance(listed, list):
        f.bad.append(f"{where}.mig.instances must be a list, got {type(listed).__name__}")
        listed = []
    instances = []
    for j, inst in enumerate(listed):
        at = f"{where}.mig.instances[{j}]"
        if not isinstance(inst, dict) or not isinstance(inst.get("profile"), str):
            f.bad.append(f"{at}.profile must be a string")
            continue
        start = f.int(inst, "start", at, need=True)
        instances.append(MigEntry(inst["profile"], start or 0, bool(inst.get("in_use"))))
    load_raw = f.obj(g, "load", need=False)
    load = None
    if load_raw is not None:
        w = f"{where}.load"
        load = LoadEntry(
            f.num(load_raw, "utilization_pct", w),
            f.num(load_raw, "memory_used_mib", w),
            f.num(load_raw, "power_w", w),
        )
    f.raise_if_bad()
    assert index is not None and isinstance(uuid, str)
    return GpuEntry(index, uuid, model, memory, health, bool(mig.get("enabled", False)),
                    tuple(instances), load)  # fmt: skip


def _health(f: _Fields, h: dict[str, Any] | None, where: str) -> HealthEntry | None:
    if h is None:
        return None
    xids = h.get("xid_recent")
    ok = isinstance(xids, list) and all(
        isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_INT for x in xids
    )
    if not ok:
        f.bad.append(f"{where}.xid_recent has bad value {xids!r}")
    ecc = f.int(h, "ecc_uncorrectable", where, need=False)
    return HealthEntry(
        tuple(xids) if ok and isinstance(xids, list) else (),
        ecc or 0,
        bool(h.get("remap_failure", False)),
        f.num(h, "temperature_c", where),
        bool(h.get("over_temperature", False)),
    )


def decode(node: str, text: str) -> list[GpuReading]:
    """The hub's reading of node `node`'s annotation: one `GpuReading` per GPU."""
    try:
        doc = parse(text)
    except AnnotationJsonError as exc:
        raise AnnotationError(f"{ANNOTATION} on node {node} is not JSON: {exc}") from None
    except AnnotationError as exc:
        raise AnnotationError(f"{exc} (node {node})") from None
    if doc.updated is None:  # readings without a time cannot be judged fresh or stale
        raise AnnotationError(f"{ANNOTATION} on node {node}: bad 'updated' timestamp")
    at = doc.updated
    out = []
    for k, g in enumerate(doc.gpus):
        h, ld = g.health, g.load or LoadEntry()
        if h is None:  # no health block: the hub must not read "no XIDs" as healthy
            raise AnnotationError(f"{ANNOTATION}: gpus[{k}] lacks 'health' (node {node})")
        out.append(
            GpuReading(
                node=node,
                index=g.index,
                observed_at=at,
                source="annotation",
                uuid=g.uuid,
                utilization_pct=ld.utilization_pct,
                memory_used_mib=ld.memory_used_mib,
                memory_total_mib=None if g.memory_mib is None else float(g.memory_mib),
                power_w=ld.power_w,
                temperature_c=h.temperature_c,
                xid_recent=tuple(XidEvent(xid=x, at=at, gpu_uuid=g.uuid)
                                 for x in h.xid_recent),  # fmt: skip
                ecc_uncorrectable=h.ecc_uncorrectable,
                remap_failure=h.remap_failure,
            )
        )
    return out
