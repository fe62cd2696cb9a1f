"""The `tessera.io/placement` pod annotation (schema v1, DESIGN.md) <-> `Placement`."""

from __future__ import annotations

import json
from typing import Any

from scheduler.policy.model import GpuGrant, Placement
from scheduler.state.envelope import gpus_list, load_document
from scheduler.state.errors import PodParseError

ANNOTATION = "tessera.io/placement"
VERSION = 1


def encode(p: Placement) -> str:
    gpus: list[dict[str, Any]] = []
    for g in p.gpus:
        item: dict[str, Any] = {"index": g.index, "uuid": g.uuid}
        if g.profile is not None:
            item["profile"] = g.profile
            if g.start is not None:
                item["start"] = g.start
        if g.milli is not None:
            item["milli"] = g.milli
            if g.memory_mib:
                item["memory_mib"] = g.memory_mib
        gpus.append(item)
    return json.dumps({"version": VERSION, "node": p.node, "gpus": gpus}, separators=(",", ":"))


def _int(item: dict[str, Any], key: str, default: int | None = None) -> int | None:
    v = item.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise PodParseError(f"{ANNOTATION}: gpus[].{key} must be an integer, got {v!r}")
    return v


def decode(text: str) -> Placement:
    """Parse the annotation; `PodParseError` naming the bad field otherwise."""
    doc = load_document(text, ANNOTATION, VERSION, PodParseError, quote=True)
    node = doc.get("node")
    if not isinstance(node, str) or not node:
        raise PodParseError(f"{ANNOTATION}: node is missing")
    raw = gpus_list(doc, ANNOTATION, PodParseError)
    grants = []
    for item in raw:
        if not isinstance(item, dict):
            raise PodParseError(f"{ANNOTATION}: each gpus[] entry must be an object")
        profile = item.get("profile")
        if profile is not None and not isinstance(profile, str):
            raise PodParseError(f"{ANNOTATION}: gpus[].profile must be a string")
        milli = _int(item, "milli")
        if milli is not None and not 0 < milli <= 1000:
            raise PodParseError(f"{ANNOTATION}: gpus[].milli must be 1..1000, got {milli}")
        index = _int(item, "index")
        uuid = item.get("uuid", "")
        grants.append(
            GpuGrant(
                index=-1 if index is None else index,
                uuid=uuid if isinstance(uuid, str) else "",
                profile=profile,
                start=_int(item, "start"),
                milli=milli,
                memory_mib=_int(item, "memory_mib") if milli is not None else None,
            )
        )
    return Placement(node, tuple(grants))
