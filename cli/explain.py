"""`tessera explain --snapshot F --pod F [--json]`: why each node fits a pod or not, offline.

The snapshot (a Kubernetes List) becomes the cluster state; the pod (JSON or YAML) is added as a
pending pod unless the snapshot already holds it; the same facade `/explain` uses answers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from cli.errors import BadInput, exits_2_on_bad_input
from cli.serve import build_extender, snapshot_store
from scheduler import safeyaml
from scheduler.settings import Settings


def _load_pod(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"--pod {path}: file not found") from None
    try:
        doc = safeyaml.load(text, f"--pod {path}", "not JSON or YAML")  # YAML: a JSON superset
    except safeyaml.YamlError as exc:
        raise BadInput(str(exc)) from None
    if not isinstance(doc, dict) or doc.get("kind", "Pod") != "Pod":
        raise BadInput(f"--pod {path}: expected a Pod object")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise BadInput(f"--pod {path}: Pod without metadata.name")
    doc.setdefault("kind", "Pod")
    meta.setdefault("namespace", "default")
    meta.setdefault("uid", f"explain-{meta['namespace']}-{meta['name']}")
    return doc


def _table(result: dict[str, Any]) -> str:
    lines = [f"pod {result['pod']}  request {_request(result.get('request'))}"]
    if result.get("gang"):
        lines.append(f"gang {result['gang']['name']} (min {result['gang']['min_member']})")
    rows = [("NODE", "FITS", "SCORE", "DETAIL")]
    for name, entry in result["nodes"].items():
        if entry["fits"]:
            gpus = (entry.get("placement") or {}).get("gpus") or []
            detail = "gpus " + ", ".join(_grant(g) for g in gpus) if gpus else ""
            rows.append((name, "yes", str(entry.get("score", "")), detail))
        else:
            rows.append((name, "no", "-", "; ".join(entry.get("reasons", [])) or entry["code"]))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        )
    lines.append(f"best: {result.get('best') or 'none (no node fits)'}")
    return "\n".join(lines)


def _request(req: dict[str, Any] | None) -> str:
    if req is None:
        return "none (no GPU requested)"
    if req["kind"] == "whole":
        return f"{req['count']} whole GPU(s)"
    if req["kind"] == "mig":
        how = "new" if req.get("dynamic") else "existing"
        return f"{req['count']} x MIG {req['profile']} ({how})"
    return f"{req['milli']} milli-GPU + {req['memory_mib']} MiB"


def _grant(g: dict[str, Any]) -> str:
    if g.get("profile"):
        return f"#{g['index']} {g['profile']}@{g.get('start', '?')}"
    if g.get("milli") is not None:
        return f"#{g['index']} {g['milli']}m"
    return f"#{g['index']}"


def register(app: typer.Typer) -> None:
    @app.command("explain")
    @exits_2_on_bad_input
    def explain(
        snapshot: Annotated[Path, typer.Option(help="Kubernetes List file (nodes, pods).")],
        pod: Annotated[Path, typer.Option(help="The pod to place (JSON or YAML).")],
        json_out: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    ) -> None:
        """Why each node of the snapshot fits POD or not, and how the fitting ones score."""
        store = snapshot_store(snapshot)
        doc = _load_pod(pod)
        key = f"{doc['metadata']['namespace']}/{doc['metadata']['name']}"
        if store.pod(key) is None:
            store.upsert_pod(doc)
        result = build_extender(store, Settings()).explain(key)
        if json_out:
            sys.stdout.write(orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
        else:
            print(_table(result))
