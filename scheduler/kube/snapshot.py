"""Snapshot mode: read a Kubernetes List file (what `kubectl get nodes,pods -o json` prints).

Accepts JSON or YAML; a `List` of mixed objects, a typed list (`NodeList`, `PodList`, whose
items carry no kind), or several such documents in one YAML stream. Only Nodes, Pods and
PodGroups are kept; anything else is counted and skipped. Errors name the file and the item.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler import safejson, safeyaml

KINDS = ("Node", "Pod", "PodGroup")


class SnapshotError(ValueError):
    """The snapshot file is missing, unreadable or not a Kubernetes List; names the problem."""


@dataclass(frozen=True)
class Snapshot:
    objects: list[dict[str, Any]]
    skipped: int  # objects of other kinds (Services, Events...)

    def count(self, kind: str) -> int:
        return sum(1 for o in self.objects if o["kind"] == kind)


# A List of 10,000 nodes and 100,000 pods is a few hundred MB; past this the file is not a
# cluster (`--snapshot /dev/zero` read until memory ran out). Nesting as for any document.
MAX_BYTES = 1 << 30
LIMITS = safejson.Limits(max_bytes=MAX_BYTES, max_depth=safejson.DOCUMENT.max_depth)


def _documents(path: Path) -> list[Any]:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SnapshotError(f"snapshot file {path} not found") from None
    except OSError as exc:
        raise SnapshotError(f"snapshot file {path}: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise SnapshotError(f"snapshot file {path}: larger than the {MAX_BYTES}-byte limit")
    try:
        return [safejson.loads(raw, LIMITS, f"snapshot file {path}")]
    except safejson.JsonLimitError as exc:
        if "malformed JSON" not in str(exc):  # JSON, but too deep: say so, YAML would recurse
            raise SnapshotError(str(exc)) from None
    try:  # no aliases, at most 64 levels (scheduler.safeyaml)
        text = raw.decode("utf-8", "replace")
        return safeyaml.load_all(text, f"snapshot file {path}", "neither JSON nor YAML")
    except safeyaml.YamlError as exc:
        raise SnapshotError(str(exc)) from None


def _items(doc: Any, path: Path, n: int) -> Iterable[tuple[str, Any]]:
    where = f"{path} document {n}"
    if not isinstance(doc, dict):
        raise SnapshotError(f"{where}: expected a Kubernetes List object")
    kind = doc.get("kind")
    if not isinstance(kind, str):
        raise SnapshotError(f"{where}: no 'kind' (expected List, NodeList, PodList or an object)")
    if kind.endswith("List"):
        items = doc.get("items")
        if items is None:
            return []
        if not isinstance(items, list):
            raise SnapshotError(f"{where}: 'items' must be a list")
        default = kind[: -len("List")] or None
        return [(f"{where} items[{i}]", _kinded(it, default)) for i, it in enumerate(items)]
    return [(where, doc)]


def _kinded(item: Any, default: str | None) -> Any:
    if isinstance(item, dict) and "kind" not in item and default:
        return {**item, "kind": default}
    return item


def load_snapshot(path: Path) -> Snapshot:
    objects: list[dict[str, Any]] = []
    skipped = 0
    for n, doc in enumerate(_documents(Path(path))):
        for where, obj in _items(doc, Path(path), n):
            if not isinstance(obj, dict):
                raise SnapshotError(f"{where}: expected an object")
            kind = obj.get("kind")
            meta = obj.get("metadata")
            if not isinstance(kind, str):
                raise SnapshotError(f"{where}: no 'kind'")
            if kind not in KINDS:
                skipped += 1
                continue
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
                raise SnapshotError(f"{where}: {kind} without metadata.name")
            objects.append(obj)
    if not any(o["kind"] == "Node" for o in objects):
        raise SnapshotError(f"snapshot file {path} holds no Node objects")
    return Snapshot(objects, skipped)
