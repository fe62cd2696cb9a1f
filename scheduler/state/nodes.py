"""Node JSON -> `Node`: the agent's `tessera.io/gpus` annotation, else GFD labels + allocatable.

`parse_node` never fails on a bad annotation: it falls back to GFD and returns the reason, so
one broken agent cannot hide a node (explain shows the reason). A Node without a name fails.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from packing.errors import PackingError
from packing.mig import MigInstance, check_layout
from scheduler.policy.model import Gpu, GpuHealth, GpuLoad, MigSlot, Node
from scheduler.policy.rules import resolve_model
from scheduler.state.errors import NodeParseError
from scheduler.state.pods import MAX_DEVICES, STATIC_MIG, WHOLE, canonical_profile
from scheduler.state.quantity import to_int, to_milli
from scheduler.telemetry import annotation
from scheduler.telemetry.annotation import HealthEntry

GPUS_ANNOTATION = annotation.ANNOTATION
VERSION = annotation.VERSION
PRODUCT = "nvidia.com/gpu.product"
MEMORY = "nvidia.com/gpu.memory"
STRATEGY = "nvidia.com/mig.strategy"


def _obj(d: object, where: str) -> Mapping[str, Any]:
    if d is None:
        return {}
    if not isinstance(d, Mapping):
        raise NodeParseError(f"{where} must be an object")
    return d


def parse_gpus_annotation(text: str) -> tuple[tuple[Gpu, ...], float | None]:
    """The agent's annotation -> GPUs and its `updated` time; `NodeParseError` when malformed.

    The fields are read by the one codec (`scheduler.telemetry.annotation.parse`); a GPU
    without a model or a memory size cannot be packed, so it fails the annotation here.
    """
    try:
        doc = annotation.parse(text)
    except annotation.AnnotationJsonError as exc:
        if "malformed JSON" not in str(exc):  # too large or too deep: say so, quote nothing
            raise NodeParseError(str(exc)) from None
        raise NodeParseError(f"{GPUS_ANNOTATION} is not valid JSON") from None
    except annotation.AnnotationError as exc:
        raise NodeParseError(str(exc)) from None
    if len(doc.gpus) > MAX_DEVICES:
        raise NodeParseError(f"{GPUS_ANNOTATION}: {len(doc.gpus)} GPUs, at most {MAX_DEVICES}")
    gpus = []
    for k, g in enumerate(doc.gpus):
        where = f"{GPUS_ANNOTATION} gpus[{k}]"
        if g.model is None:
            raise NodeParseError(f"{where}.model must be a non-empty string")
        if g.memory_mib is None:
            raise NodeParseError(f"{where}.memory_mib must be an integer >= 0, got None")
        h, ld = g.health or HealthEntry(), g.load
        slots = tuple(MigSlot(canonical_profile(m.profile), m.start, m.in_use) for m in g.instances)
        if g.mig_enabled:
            _check_geometry(slots, g.model, where)
        gpus.append(
            Gpu(
                index=g.index,
                uuid=g.uuid,
                model=_interned(g.model),  # one string per model, not per GPU
                memory_mib=g.memory_mib,
                mig_enabled=g.mig_enabled,
                instances=slots,
                health=GpuHealth(
                    h.xid_recent, h.ecc_uncorrectable, h.remap_failure, h.temperature_c,
                    h.over_temperature,
                ),  # fmt: skip
                load=None
                if ld is None
                else GpuLoad(
                    ld.utilization_pct,
                    None if ld.memory_used_mib is None else int(ld.memory_used_mib),
                    ld.power_w,
                    doc.updated,
                ),
            )
        )
    return tuple(gpus), doc.updated


def _check_geometry(slots: tuple[MigSlot, ...], model: str, where: str) -> None:
    """The MIG instances the agent lists must be a layout the GPU can hold: each profile the
    model's, at one of its starts, none overlapping (`packing.mig.check_layout`). Two
    instances at one start would be handed out twice; one past the memory, never. A model
    the catalogue does not know is checked for repeated starts only."""
    starts = [s.start for s in slots]
    if len(set(starts)) != len(starts):
        raise NodeParseError(f"{where}.mig.instances: two instances start at one memory slice")
    gpu_model = resolve_model(model)
    if gpu_model is None:
        return
    try:
        check_layout(gpu_model, (MigInstance(s.profile, s.start) for s in slots))
    except PackingError as exc:
        raise NodeParseError(f"{where}.mig.instances: {exc}") from None


def _interned(text: str) -> str:
    """One shared string per distinct value (node names, GPU models): thousands of nodes repeat
    them. Anything but a plain str (malformed input) is returned as it is."""
    return sys.intern(text) if type(text) is str else text


def _devices(value: object, what: str) -> int:
    """A device count from allocatable, at most `MAX_DEVICES`."""
    n = to_int(value, what)
    if n > MAX_DEVICES:
        raise ValueError(f"{what}: {n} devices on one node, at most {MAX_DEVICES}")
    return n


def gfd_inventory(
    labels: Mapping[str, str], alloc: Mapping[str, Any]
) -> tuple[tuple[Gpu, ...], dict[str, int]]:
    """Whole GPUs from allocatable `nvidia.com/gpu`, MIG devices by count (mixed/single)."""
    product = labels.get(PRODUCT, "")
    try:
        memory = to_int(labels.get(MEMORY, 0), MEMORY)
    except ValueError:
        memory = 0
    if memory > annotation.MAX_INT:  # garbage, not a GPU: the size is unknown
        memory = 0
    pool: dict[str, int] = {}
    for k, v in alloc.items():
        if k.startswith(STATIC_MIG):
            n = _devices(v, k)
            if n > 0:
                pool[canonical_profile(k.removeprefix(STATIC_MIG))] = n
    whole = _devices(alloc.get(WHOLE, 0), WHOLE)
    if labels.get(STRATEGY) == "single" and "-MIG-" in product:
        # Single strategy: every nvidia.com/gpu unit is one MIG device of the named profile.
        model, profile = product.split("-MIG-", 1)
        if profile != "INVALID" and whole > 0:
            pool[canonical_profile(profile)] = whole
        return (), pool
    gpus = tuple(Gpu(i, "", _interned(product), memory) for i in range(whole))
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
        name=_interned(name),  # shared with the pods on it (`parse_pod` interns nodeName)
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
