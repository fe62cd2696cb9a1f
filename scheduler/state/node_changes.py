"""What the store asks of a node change and of a request's Node: whether room may have come
back for a failed gang plan, whether the GPU inventory changed (pods on it re-checked), whether
a resourceVersion is newer than the watch's. Pure helpers of `scheduler.state.store`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler.policy.model import Gpu, Node


def name_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return "?"
    ns, name = meta.get("namespace"), meta.get("name")
    return f"{ns}/{name}" if isinstance(ns, str) and ns else str(name)


def may_add_room(old: Node | None, new: Node) -> bool:
    """A node change after which a failed gang plan may fit: a new node, a GPU it did not have
    (or one whose MIG layout or health changed, either way), more static MIG slices of a
    profile, labels changed (selectors), uncordoned, or more CPU or memory. Losing GPUs, a
    cordon, or the annotation's timestamp alone (a heartbeat) is not one."""
    if old is None:
        return True
    before = {room_key(g) for g in old.gpus}
    return (
        any(room_key(g) not in before for g in new.gpus)
        or any(n > old.mig_pool.get(p, 0) for p, n in new.mig_pool.items())
        or old.labels != new.labels
        or (old.unschedulable and not new.unschedulable)
        or new.cpu_milli > old.cpu_milli
        or new.memory_bytes > old.memory_bytes
    )


def room_key(g: Gpu) -> tuple[object, ...]:
    """What of a GPU decides whether a pod fits on it (its load, which changes on every
    telemetry refresh, only scores)."""
    return (g.index, g.uuid, g.model, g.memory_mib, g.mig_enabled, g.instances, g.health)


def inventory(node: Node) -> tuple[tuple[int, str], ...]:
    return tuple((g.index, g.uuid) for g in node.gpus)


def newer(given: object, known: str | None) -> bool:
    """`given` is a later resourceVersion than `known` (unknown or non-numeric: not newer).
    A revision is an etcd int64: ASCII digits, at most 19 ('²' passes isdigit() and failed in
    int(), a 5,000-digit one hit int()'s digit limit: both were a 400 naming neither)."""
    if not isinstance(given, str) or not revision(given):
        return False
    return known is None or (revision(known) and int(given) > int(known))


def revision(rv: str) -> bool:
    return rv.isascii() and rv.isdigit() and len(rv) <= 19
