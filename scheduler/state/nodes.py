"""Node JSON -> `Node`: the agent's `tessera.io/gpus` annotation, else GFD labels + allocatable.

`parse_node` never fails on a bad annotation: it falls back to GFD and returns the reason, so
one broken agent cannot hide a node (explain shows the reason). A Node without a name fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from scheduler.policy.model import Gpu, GpuHealth, GpuLoad, MigSlot, Node
from scheduler.state.envelope import gpus_list, load_document
from scheduler.state.errors import NodeParseError
from scheduler.state.pods import STATIC_MIG, WHOLE, canonical_profile
from scheduler.state.quantity import to_int, to_milli

GPUS_ANNOTATION = "tessera.io/gpus"
VERSION = 1
PRODUCT = "nvidia.com/gpu.product"
MEMORY = "nvidia.com/gpu.memory"
STRATEGY = "nvidia.com/mig.strategy"


def parse_time(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _int(d: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise NodeParseError(f"{where}.{key} must be an integer >= 0, got {v!r}")
    return v


def _num(d: Mapping[str, Any], key: str) -> float | None:
    v = d.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _obj(d: object, where: str) -> Mapping[str, Any]:
    if d is None:
        return {}
    if not isinstance(d, Mapping):
        raise NodeParseError(f"{where} must be an object")
    return d


def parse_gpus_annotation(text: str) -> tuple[tuple[Gpu, ...], float | None]:
    """The agent's annotation -> GPUs and its `updated` time; `NodeParseError` when malformed."""
    doc = load_document(text, GPUS_ANNOTATION, VERSION, NodeParseError)
    updated = parse_time(doc.get("updated"))
    raw = gpus_list(doc, GPUS_ANNOTATION, NodeParseError)
    gpus = []
    for i, item in enumerate(raw):
        where = f"{GPUS_ANNOTATION} gpus[{i}]"
        g = _obj(item, where)
        model = g.get("model")
        if not isinstance(model, str) or not model:
            raise NodeParseError(f"{where}.model must be a non-empty string")
        mig = _obj(g.get("mig"), f"{where}.mig")
        slots = []
        for j, inst in enumerate(mig.get("instances") or []):
            inst = _obj(inst, f"{where}.mig.instances[{j}]")
            profile = inst.get("profile")
            if not isinstance(profile, str):
                raise NodeParseError(f"{where}.mig.instances[{j}].profile must be a string")
            start = _int(inst, "start", f"{where}.mig.instances[{j}]")
            slots.append(MigSlot(canonical_profile(profile), start, bool(inst.get("in_use"))))
        h = _obj(g.get("health"), f"{where}.health")
        xids = h.get("xid_recent") or []
        if not isinstance(xids, list):
            raise NodeParseError(f"{where}.health.xid_recent must be a list")
        health = GpuHealth(
            xid_recent=tuple(int(x) for x in xids if isinstance(x, int)),
            ecc_uncorrectable=_int(h, "ecc_uncorrectable", f"{where}.health", 0),
            remap_failure=bool(h.get("remap_failure", False)),
            temperature_c=_num(h, "temperature_c"),
            over_temperature=bool(h.get("over_temperature", False)),
        )
        load_raw = g.get("load")
        load = None
        if isinstance(load_raw, Mapping):
            used = load_raw.get("memory_used_mib")
            load = GpuLoad(
                utilization_pct=_num(load_raw, "utilization_pct"),
                memory_used_mib=used if isinstance(used, int) else None,
                power_w=_num(load_raw, "power_w"),
                observed_at=updated,
            )
        uuid = g.get("uuid", "")
        gpus.append(
            Gpu(
                index=_int(g, "index", where),
                uuid=uuid if isinstance(uuid, str) else "",
                model=model,
                memory_mib=_int(g, "memory_mib", where),
                mig_enabled=bool(mig.get("enabled", False)),
                instances=tuple(slots),
                health=health,
                load=load,
            )
        )
    if len({g.index for g in gpus}) != len(gpus):
        raise NodeParseError(f"{GPUS_ANNOTATION}: GPU indices repeat")
    return tuple(gpus), updated


def gfd_inventory(
    labels: Mapping[str, str], alloc: Mapping[str, Any]
) -> tuple[tuple[Gpu, ...], dict[str, int]]:
    """Whole GPUs from allocatable `nvidia.com/gpu`, MIG devices by count (mixed/single)."""
    product = labels.get(PRODUCT, "")
    try:
        memory = to_int(labels.get(MEMORY, 0), MEMORY)
    except ValueError:
        memory = 0
    pool: dict[str, int] = {}
    for k, v in alloc.items():
        if k.startswith(STATIC_MIG):
            n = to_int(v, k)
            if n > 0:
                pool[canonical_profile(k.removeprefix(STATIC_MIG))] = n
    whole = to_int(alloc.get(WHOLE, 0), WHOLE)
    if labels.get(STRATEGY) == "single" and "-MIG-" in product:
        # Single strategy: every nvidia.com/gpu unit is one MIG device of the named profile.
        model, profile = product.split("-MIG-", 1)
        if profile != "INVALID" and whole > 0:
            pool[canonical_profile(profile)] = whole
        return (), pool
    gpus = tuple(Gpu(i, "", product, memory) for i in range(whole))
    return gpus, pool


def parse_node(obj: Mapping[str, Any]) -> tuple[Node, str]:
    """A Node dict -> (`Node`, problem): problem is "" or why the annotation was not used."""
    if not isinstance(obj, Mapping):
        raise NodeParseError(f"node must be an object, got {type(obj).__name__}")
    meta = _obj(obj.get("metadata"), "node metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise NodeParseError("node metadata.name is missing")
    labels = {str(k): str(v) for k, v in _obj(meta.get("labels"), "labels").items()}
    annotations = _obj(meta.get("annotations"), "annotations")
    status = _obj(obj.get("status"), "node status")
    alloc = _obj(status.get("allocatable") or status.get("capacity"), "allocatable")
    spec = _obj(obj.get("spec"), "node spec")
    try:
        cpu = to_milli(alloc.get("cpu", 0), f"node {name} cpu")
        mem = to_int(alloc.get("memory", 0), f"node {name} memory")
    except ValueError as exc:
        raise NodeParseError(str(exc)) from None
    problem = ""
    gpus: tuple[Gpu, ...] = ()
    pool: dict[str, int] = {}
    updated = None
    source = "none"
    text = annotations.get(GPUS_ANNOTATION)
    if text is not None:
        try:
            gpus, updated = parse_gpus_annotation(text)
            source = "annotation"
        except NodeParseError as exc:
            problem = f"{exc}; using GFD labels instead"
    if source != "annotation":
        try:
            gpus, pool = gfd_inventory(labels, alloc)
            source = "gfd" if gpus or pool else "none"
        except ValueError as exc:
            problem = (problem + "; " if problem else "") + f"GFD inventory unreadable: {exc}"
    node = Node(
        name=name,
        labels=MappingProxyType(labels),
        gpus=gpus,
        cpu_milli=cpu,
        memory_bytes=mem,
        unschedulable=bool(spec.get("unschedulable", False)),
        mig_pool=MappingProxyType(pool),
        source=source,
        updated_at=updated,
    )
    return node, problem
