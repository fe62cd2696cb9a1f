"""`tessera plan repartition --snapshot F --demand F [--out DIR] [--json]`.

The snapshot's MIG GPUs (from the `tessera.io/gpus` annotation) and the pods bound to them
(`tessera.io/placement`) give the current layouts; an instance is in use if the annotation says
so or a bound pod holds it.  The demand file says how many more instances of each profile are
wanted.  Output: the plan (JSON or a table) and, with --out, `mig-parted.yaml` (one
`tessera-<node>` config per node) and `plan.json` (exact starts) in DIR.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import yaml

from cli.errors import BadInput, bounded, exits_2_on_bad_input
from cli.serve import snapshot_store
from packing.gang.types import GpuSlot, NodeSlot
from packing.mig import MigInstance
from packing.repartition.types import RepartitionPlan, mig_devices, mig_parted_config, plan_json
from scheduler import safeyaml
from scheduler.policy.model import ClusterState


def load_demand(path: Path) -> dict[str, int]:
    """`{"1g.10gb": 3, ...}` or `{"demand": {...}}`, JSON or YAML; counts checked later."""
    try:
        text = path.read_text(encoding="utf-8")
        doc = safeyaml.load(text, f"--demand {path}", "not JSON or YAML")
    except FileNotFoundError:
        raise BadInput(f"--demand {path}: file not found") from None
    except safeyaml.YamlError as exc:
        raise BadInput(str(exc)) from None
    if isinstance(doc, dict) and set(doc) == {"demand"}:
        doc = doc["demand"]
    if not isinstance(doc, dict) or not doc:
        raise BadInput(f"--demand {path}: expected a mapping of MIG profile to count, "
                       f'e.g. {{"1g.10gb": 3}}')
    return {str(k): v for k, v in doc.items()}


def mig_nodes(state: ClusterState) -> list[NodeSlot]:
    """The snapshot's nodes as the planner sees them (MIG GPUs only)."""
    held: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for alloc in state.allocations.values():
        for g in alloc.placement.gpus:
            if g.profile is not None and g.start is not None:
                held.setdefault((alloc.placement.node, g.index), set()).add((g.profile, g.start))
    out = []
    for name in sorted(state.nodes):
        gpus = []
        for gpu in state.nodes[name].gpus:
            if not gpu.mig_enabled:
                continue
            busy = held.get((name, gpu.index), set())
            insts = {(s.profile, s.start): s.in_use or (s.profile, s.start) in busy
                     for s in gpu.instances}
            for key in busy:  # placed by Tessera (dynamic), not yet reported by the agent
                insts.setdefault(key, True)
            gpus.append(GpuSlot(gpu.index, gpu.model, True, tuple(
                (MigInstance(p, s), used) for (p, s), used in sorted(insts.items(),
                                                                      key=lambda kv: kv[0][1]))))
        if gpus:
            out.append(NodeSlot(name, tuple(gpus)))
    return out


def _table(plan: RepartitionPlan) -> str:
    lines = [f"status {plan.status} ({plan.reason}); {plan.changes} instance change(s)"]
    for n in plan.nodes:
        for g in n.gpus:
            what = ", ".join(f"{p}x{c}" for p, c in mig_devices(g.layout).items()) or "(none)"
            delta = " ".join([f"+{i.profile}@{i.start}" for i in g.created]
                             + [f"-{i.profile}@{i.start}" for i in g.destroyed])
            lines.append(f"{n.name:<20} gpu {g.index:<2} {what:<40} {delta or 'unchanged'}")
    served = ", ".join(f"{p} {c}" for p, c in plan.served.items())
    unmet = ", ".join(f"{p} {c}" for p, c in plan.unmet.items()) or "none"
    lines.append(f"served: {served}; unmet: {unmet}")
    return "\n".join(lines)


def _write(out: Path, doc: Mapping[str, Any], plan_doc: Mapping[str, Any]) -> None:
    (out / "mig-parted.yaml").write_text(yaml.safe_dump(dict(doc), sort_keys=False),
                                         encoding="utf-8")
    (out / "plan.json").write_bytes(orjson.dumps(plan_doc, option=orjson.OPT_INDENT_2) + b"\n")


def register(app: typer.Typer) -> None:
    plan = typer.Typer(help="Offline planners.", no_args_is_help=True)
    app.add_typer(plan, name="plan")

    @plan.command("repartition")
    @exits_2_on_bad_input
    def repartition(
        snapshot: Annotated[Path, typer.Option(help="Kubernetes List file (nodes, pods).")],
        demand: Annotated[Path, typer.Option(help='Pending demand: {"<profile>": count}.')],
        out: Annotated[Path | None, typer.Option(help="Write mig-parted.yaml, plan.json.")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
        time_limit: Annotated[float, typer.Option(help="CP-SAT time limit, seconds.")] = 10.0,
        seed: Annotated[int, typer.Option(help="CP-SAT random seed.")] = 0,
        workers: Annotated[int, typer.Option(help="CP-SAT worker threads.")] = 1,
    ) -> None:
        """Target MIG layouts serving the most DEMAND with the fewest instance changes."""
        bounded("--workers", workers, 1, 64)  # 100000 made CP-SAT's model invalid
        if out is not None:  # before planning; `afile/sub` was a NotADirectoryError traceback
            from simulator.report.document import prepare_report_dir

            prepare_report_dir(out, "--out")
        want = load_demand(demand)
        nodes = mig_nodes(snapshot_store(snapshot).snapshot(time.time()))
        from packing.repartition import plan_repartition  # loads OR-Tools

        result = plan_repartition(nodes, want, time_limit_s=time_limit, seed=seed,
                                  workers=workers)
        doc = plan_json(result)
        if out is not None:
            _write(out, mig_parted_config(result), doc)
        if json_out:
            sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        else:
            print(_table(result))
