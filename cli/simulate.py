"""`tessera simulate ...`: the trace-driven simulator.

``fgd-fill`` reproduces the FGD paper's "inflate until full" experiment on Alibaba openb CSVs.
(`cli/replay.py` adds ``replay`` and ``compare`` to this same group.)
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Annotated

import orjson
import typer

from cli.errors import BadInput, exits_2_on_bad_input
from simulator.fgd_fill.run import FillResult, run_fgd_fill
from simulator.policies.fill.registry import FILL_POLICIES
from simulator.traces import load_openb_nodes, load_openb_pods

MAX_INFLATE = 10.0  # the paper fills to 1.3x; the run's time grows with the multiple

simulate_app = typer.Typer(
    name="simulate", help="Trace-driven simulations of scheduling policies.", no_args_is_help=True
)


def _table(results: list[FillResult]) -> str:
    rows = [("POLICY", "SEED", "UNALLOCATED_GPU_%_AT_100", "PODS", "FAILED")]
    for r in results:
        at = "-" if r.unallocated_gpu_pct_at_100 is None else f"{r.unallocated_gpu_pct_at_100:.2f}"
        rows.append((r.policy, str(r.seed), at, str(r.pods_arrived), str(r.pods_failed)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    values = [
        r.unallocated_gpu_pct_at_100 for r in results if r.unallocated_gpu_pct_at_100 is not None
    ]
    if len(values) > 1:
        lines.append(f"median over {len(values)} seeds: {statistics.median(values):.2f}")
    return "\n".join(lines)


@simulate_app.command("fgd-fill")
@exits_2_on_bad_input
def fgd_fill(
    nodes: Annotated[Path, typer.Option("--nodes", help="openb node CSV (GPU nodes are used)")],
    pods: Annotated[Path, typer.Option("--pods", help="openb pod CSV (11- or 5-column form)")],
    policy: Annotated[str, typer.Option("--policy", help=f"one of: {', '.join(FILL_POLICIES)}")],
    seed: Annotated[
        list[int] | None, typer.Option("--seed", help="RNG seed; repeat for several runs")
    ] = None,
    inflate: Annotated[
        float,
        typer.Option(
            "--inflate",
            help="fill to this multiple of GPU capacity (a trace already above it is tuned down)",
        ),
    ] = 1.3,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON list, an object per seed")
    ] = False,
    lenient: Annotated[
        bool, typer.Option("--lenient", help="skip invalid CSV rows (counted on stderr)")
    ] = False,
) -> None:
    """The FGD paper's fill experiment: unallocated GPU % as arrived load grows to --inflate."""
    if policy not in FILL_POLICIES:
        raise BadInput(f"unknown --policy {policy!r}; known: {', '.join(FILL_POLICIES)}")
    if not 0 < inflate <= MAX_INFLATE:  # inf or 1e6 filled until killed
        raise BadInput(f"--inflate must be > 0 and <= {MAX_INFLATE:g}, got {inflate}")
    if any(s < 0 for s in seed or []):  # was numpy's "expected non-negative integer"
        raise BadInput(f"--seed must be >= 0, got {min(seed or [0])}")
    node_report = load_openb_nodes(nodes, lenient=lenient)
    pod_report = load_openb_pods(pods, lenient=lenient)
    for path, report in ((nodes, node_report), (pods, pod_report)):
        if report.skipped:
            first = report.first_errors[0] if report.first_errors else ""
            typer.echo(
                f"warning: skipped {report.skipped} invalid rows in {path} ({first})", err=True
            )
    node_rows, pod_rows = node_report.rows, pod_report.rows
    results = [
        run_fgd_fill(node_rows, pod_rows, policy, s, inflate=inflate) for s in (seed or [42])
    ]
    if as_json:
        typer.echo(orjson.dumps([r.to_json() for r in results]).decode())
    else:
        typer.echo(_table(results))


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")
